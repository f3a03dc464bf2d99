"""Hostile endpoints beyond the outbox's fault matrix: huge or endless answers, unfinished headers.

Each case runs the example app in a real subprocess against the loopback server. The host's exit
code, stdout and stderr must be those of a run with telemetry off, the exit must stay within the
exit bound (0.25 s plus start-up), the host's memory must not grow with the answer's size, and
once the server is healthy the report must have reached it exactly once (by event_id).
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from .conftest import Run, run_mytool, run_python
from .sentry_server import SentryServer
from .test_delivery import check_host_unchanged, event_ids, on, outbox, patient, queued_event_ids

#: Measured runs for the README's Reliability table: ``pytest -s`` prints them.
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_figures() -> object:
    yield
    print("\nnetwork figures:", {k: round(v, 3) for k, v in FIGURES.items()})

_WRAPPER = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.run(sys.argv[2:])
    with open(sys.argv[1], "w") as f:
        f.write(str(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss))
    sys.exit(proc.returncode)
""")


def measured(home: Path, *args: str, env: dict[str, str] | None = None) -> tuple[Run, int]:
    """Run ``python *args`` under a wrapper that reports the child's peak RSS (KiB)."""
    out = home / "rss.txt"
    run = run_python(home, "-c", _WRAPPER, str(out), sys.executable, *args, env=env)
    return run, int(out.read_text())


@pytest.mark.parametrize("mode", ["huge", "endless", "headers", "trickle"])
def test_crash_against_a_hostile_answer_exits_in_bound_and_is_delivered_once(
    home: Path, sentry_server: SentryServer, mode: str
) -> None:
    off = run_mytool(home, "crash")
    sentry_server.fault(mode)
    run = run_mytool(home, "crash", env=on(sentry_server))
    check_host_unchanged(run, off)
    FIGURES[f"exit_{mode}"] = run.seconds - off.seconds
    assert run.seconds < off.seconds + 1.5  # 0.25 s exit bound, import and init; not 5 s reads
    during = event_ids(sentry_server)
    queued = queued_event_ids(outbox())
    if mode in ("huge", "endless"):
        # The server said 200 before its body: the report counts as delivered, not queued again.
        assert len(during) == 1
        assert queued == set()
    else:
        assert during == []
        assert len(queued) == 1
    sentry_server.fault("ok")
    run_mytool(home, "hello", env=patient(home, sentry_server))
    delivered = event_ids(sentry_server)
    assert len(delivered) == 1  # exactly once, whichever run sent it
    assert set(delivered) == set(during) | queued
    box = outbox()
    assert box.pending() == []
    assert box.claimed() == []


_LONG_RUN = textwrap.dedent("""
    import logging, time, crashreport
    crashreport.init("mytool", dsn={dsn!r})
    logging.getLogger("mytool").error("something failed")
    time.sleep(2.5)  # the courier reads the answer while the host still runs
    print("done")
""")


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["huge", "endless"])
def test_a_huge_answer_does_not_grow_the_host(
    home: Path, sentry_server: SentryServer, mode: str
) -> None:
    code = _LONG_RUN.format(dsn=sentry_server.dsn)
    env = {"MYTOOL_TELEMETRY": "1"}
    normal, normal_rss = measured(home, "-c", code, env=env)
    assert normal.returncode == 0, normal.stderr
    sentry_server.fault(mode)
    run, rss = measured(home, "-c", code, env=env)
    assert (run.returncode, run.stdout, run.stderr) == (0, "done\n", "something failed\n")
    FIGURES[f"rss_kib_normal_{mode}"] = normal_rss
    FIGURES[f"rss_kib_{mode}"] = rss
    # The answer is 50 MiB (huge) or ~250 MiB over the run (endless); none of it is kept.
    assert rss - normal_rss < 16 * 1024, (normal_rss, rss)
    assert len(event_ids(sentry_server)) == 2  # both runs' reports arrived, each once
