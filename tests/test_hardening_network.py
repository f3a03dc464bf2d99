"""Hostile endpoints beyond the outbox's fault matrix: huge or endless answers, unfinished headers.

Each case runs the example app in a real subprocess against the loopback server. The host's exit
code, stdout and stderr must be those of a run with telemetry off, the exit must not wait for
the answer (the sender reads it, after the program), the sender must neither keep the answer
in memory nor wait for it past its request deadline, and once the server is healthy the report
must have reached it exactly once (by event_id).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from .conftest import run_mytool, settle
from .sentry_server import SentryServer
from .test_delivery import check_host_unchanged, event_ids, next_run, on, outbox, queued_event_ids

#: Measured runs for the README's Reliability table: ``pytest -s`` prints them.
FIGURES: dict[str, float] = {}


@pytest.fixture(scope="module", autouse=True)
def _print_figures() -> object:
    yield
    print("\nnetwork figures:", {k: round(v, 3) for k, v in FIGURES.items()})

@pytest.mark.parametrize("mode", ["huge", "endless", "headers", "trickle"])
def test_crash_against_a_hostile_answer_exits_at_once_and_is_delivered_once(
    home: Path, sentry_server: SentryServer, mode: str
) -> None:
    off = run_mytool(home, "crash")
    sentry_server.fault(mode)
    run = run_mytool(home, "crash", env=on(sentry_server), wait=False)
    check_host_unchanged(run, off)
    FIGURES[f"exit_{mode}"] = run.seconds - off.seconds
    assert run.seconds < off.seconds + 1.5  # the answer is the sender's business, after exit
    if mode in ("huge", "endless"):
        # The server said 200 before its body: the report counts as delivered, not queued again.
        settle()
        assert len(event_ids(sentry_server)) == 1
        assert queued_event_ids(outbox()) == set()
    else:
        deadline = time.monotonic() + 10
        while not outbox().claimed() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(queued_event_ids(outbox())) == 1  # claimed: the sender waits for an answer
        assert event_ids(sentry_server) == []
    sentry_server.fault("ok")
    settle()
    next_run(home, sentry_server)
    assert len(event_ids(sentry_server)) == 1  # exactly once, whichever sender sent it
    box = outbox()
    assert box.pending() == []
    assert box.claimed() == []


def test_a_trickled_answer_is_cut_at_the_request_deadline(sentry_server: SentryServer) -> None:
    """A server that sends its headers a byte every 0.2 s never trips a read timeout."""
    from crashreport.delivery.http import Dsn, Poster

    sentry_server.fault("trickle")
    poster = Poster(Dsn.parse(sentry_server.dsn), timeout=0.5)  # a 1 s deadline in all
    start = time.monotonic()
    answer = poster.post(b'{}\n{"type":"event"}\n{}\n')
    assert time.monotonic() - start < 3
    assert answer.status is None and answer.error
    poster.close()
    sentry_server.fault("ok")


@pytest.mark.parametrize("mode", ["huge", "endless"])
def test_a_huge_answer_is_not_read_into_memory(sentry_server: SentryServer, mode: str) -> None:
    import tracemalloc

    from crashreport.delivery.http import Dsn, Poster

    poster = Poster(Dsn.parse(sentry_server.dsn))
    assert poster.post(b'{}\n{"type":"event"}\n{}\n').status == 200  # imports and buffers warm
    sentry_server.fault(mode)
    tracemalloc.start()
    try:
        start = time.monotonic()
        answer = poster.post(b'{}\n{"type":"event"}\n{}\n')
        seconds = time.monotonic() - start
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        poster.close()
    FIGURES[f"post_{mode}_seconds"] = seconds
    FIGURES[f"post_{mode}_peak_kib"] = peak / 1024
    assert answer.status == 200
    assert seconds < 2  # the 50 MiB (or endless) body is not waited for
    assert peak < 2 * 1024 * 1024  # nor kept: the body is 50 MiB (or endless); we read MAX_BODY
    sentry_server.fault("ok")
