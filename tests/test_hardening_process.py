"""Threads and forks: errors everywhere are reported, the run is counted once."""

from __future__ import annotations

import textwrap
from pathlib import Path

from .conftest import run_python
from .sentry_server import SentryServer


def test_fork_does_not_duplicate_the_session(home: Path, sentry_server: SentryServer) -> None:
    code = textwrap.dedent(f"""
        import os, sys, multiprocessing, crashreport, logging
        crashreport.init('mytool', dsn={sentry_server.dsn!r}, subcommand='fan-out')

        def work(n):
            if n == 2:
                logging.getLogger('worker').error('worker %d failed', n)
            return n * n

        ctx = multiprocessing.get_context('fork')
        with ctx.Pool(3) as pool:
            print(sum(pool.map(work, range(5))))
        pid = os.fork()
        if pid == 0:
            sys.exit(0)  # a bare fork whose child ends normally, running atexit handlers
        os.waitpid(pid, 0)
    """)
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "30\n"
    import time

    time.sleep(0.5)
    sessions = sentry_server.items("session")
    assert len({s["sid"] for s in sessions}) == 1
    assert sessions[-1]["status"] == "exited"
    assert len(sentry_server.items("transaction")) == 1
