"""Threads and forks: errors everywhere are reported, the run is counted once."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .conftest import run_python
from .sentry_server import SentryServer, parse_envelope
from .test_delivery import next_run, outbox


def test_fork_does_not_duplicate_the_session(home: Path, sentry_server: SentryServer) -> None:
    code = textwrap.dedent(f"""
        import os, sys, multiprocessing, crashreport, logging
        crashreport.init('mytool', dsn={sentry_server.dsn!r}, subcommand='fan-out',
                         safe_words=['worker', 'fan'])

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


def test_exceptions_in_eight_threads_at_once_are_all_reported(
    home: Path, sentry_server: SentryServer
) -> None:
    code = textwrap.dedent(f"""
        import threading, crashreport
        crashreport.init('mytool', dsn={sentry_server.dsn!r})
        barrier = threading.Barrier(8)

        def work(n):
            barrier.wait()
            raise LookupError(f"thread {{n}} failed")

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        print("main carried on")
    """)
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "all"})
    assert run.returncode == 0, run.stderr
    assert run.stdout == "main carried on\n"
    # Python's own reports are there, but concurrent threads interleave their stderr lines
    # (with telemetry off too), so only their presence is checked.
    assert run.stderr.count("Exception in thread") >= 1
    events = sentry_server.wait_for("event", 8, timeout=10)
    messages = sorted(e["exception"]["values"][-1]["value"] for e in events)
    assert messages == [f"thread {n} failed" for n in range(8)]
    assert len(sentry_server.items("transaction")) == 1


FAN_OUT = '''
import logging, multiprocessing, os, sys
import crashreport

DSN = os.environ["FAN_DSN"] or None


def setup():
    # A spawned worker starts a fresh interpreter: it calls init itself, as an app would.
    if multiprocessing.get_start_method() == "spawn":
        crashreport.init("mytool", dsn=DSN, subcommand="worker", safe_words=["worker", "fan"])


def work(n):
    if n == 3:
        logging.getLogger("worker").error("worker %d failed (%s)", n, os.getpid())
    return n * n


if __name__ == "__main__":
    crashreport.init("mytool", dsn=DSN, subcommand="fan-out", safe_words=["worker", "fan"])
    ctx = multiprocessing.get_context(sys.argv[1])
    with ctx.Pool(3, initializer=setup) as pool:
        print(sum(pool.map(work, range(8))))
'''


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_multiprocessing_workers_share_the_run_and_their_errors_arrive(
    home: Path, sentry_server: SentryServer, method: str
) -> None:
    script = home / "fan_out.py"
    script.write_text(FAN_OUT)
    run = run_python(home, str(script), method,
                     env={"MYTOOL_TELEMETRY": "all", "FAN_DSN": sentry_server.dsn})  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert run.stdout == "140\n"
    box = outbox()
    for entry in box.pending():  # whatever is left on disk is a whole envelope
        parsed = parse_envelope(box.read(entry))
        assert parsed.items, entry
    # The next run delivers what the workers queued, if the parent did not already.
    next_run(home, sentry_server)
    events = [e for e in sentry_server.items("event") if e.get("logger") == "worker"]
    assert len(events) == 1
    assert events[0]["logentry"]["message"] == "worker %d failed (%s)"
    assert box.pending() == []
    assert box.claimed() == []
    runs = [t["transaction"] for t in sentry_server.items("transaction")]
    assert sorted(runs) == ["fan-out", "hello"]  # one run record each; none for the workers
    sessions = sentry_server.items("session")
    assert len({s["sid"] for s in sessions}) == 2  # the fan-out's and the next run's
