"""The sender in process: runs turned into reports, the drain, each answer settled, entry points.

Against a real loopback server (tests/sentry_server.py) and real files in the isolated HOME.
The whole life of a report across real processes: tests/test_delivery.py and test_lifecycle.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import trustme

from crashreport import journal
from crashreport.delivery.drain import (
    Drain,
    SendResult,
    backoff,
    copy_to_spotlight,
    restamp,
    send_from_memory,
)
from crashreport.delivery.http import Answer
from crashreport.delivery.outbox import Outbox
from crashreport.paths import Paths
from crashreport.sender import Sender, _parser, run_in_process, send_now, wait_and_collect

from .conftest import ROOT, as_from_a_terminal, child_env
from .sentry_server import PUBLIC_KEY, SentryServer
from .test_delivery import event_ids, fill, outbox
from .test_http import https_dsn
from .test_outbox import _dead_pid, envelope


# -- sending ---------------------------------------------------------------------------------------
def test_send_now_posts_each_report_once_with_sentrys_headers(sentry_server: SentryServer) -> None:
    box = outbox()
    ids = fill(box, 3)
    calls: list[tuple[int, int]] = []
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5,
                      progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert result == SendResult(sent=3, kept=0, held=0, dropped=0)
    assert sorted(event_ids(sentry_server)) == sorted(ids)
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert box.pending() == []
    assert {e.event_id for e in box.sent()} == ids
    assert box.stats()["sent"] == 3
    first = sentry_server.envelopes[0]
    auth = first.request_headers["x-sentry-auth"]
    assert f"sentry_key={PUBLIC_KEY}" in auth and "sentry_version=7" in auth
    assert first.request_headers["user-agent"].startswith("crashreport/")
    assert first.request_headers["content-encoding"] == "gzip"
    assert time.time() - 60 < _ts(first.headers["sent_at"]) <= time.time() + 1
    assert _lock_is_free()  # the next program can start its sender


def _ts(text: str) -> float:
    from datetime import datetime, timezone

    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=timezone.utc).timestamp()


@pytest.mark.parametrize("mode", ["refuse", "500", "garbage", "reset", "hang"])
def test_a_failing_server_keeps_everything_and_stops_at_once(
    sentry_server: SentryServer, mode: str
) -> None:
    box = outbox()
    ids = fill(box, 3)
    sentry_server.fault(mode)
    start = time.monotonic()
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=0.5)
    assert time.monotonic() - start < 3  # one attempt, then it stops
    assert result == SendResult(sent=0, kept=3, held=0, dropped=0)
    assert {e.event_id for e in box.pending()} == ids
    assert sum(e.attempts for e in box.pending()) == 1
    assert sentry_server.requests <= 1
    sentry_server.fault("ok")
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(3, 0, 0, 0)  # fmt: skip
    assert sorted(event_ids(sentry_server)) == sorted(ids)


@pytest.mark.parametrize("mode", ["400", "413"])
def test_a_refusal_drops_and_is_remembered(sentry_server: SentryServer, mode: str) -> None:
    box = outbox()
    fill(box, 2)
    sentry_server.fault(mode)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(0, 0, 0, 2)  # fmt: skip
    assert box.pending() == []
    stats = box.stats()
    assert stats["dropped_4xx"] == 2
    assert stats["last_refusal"]["status"] == int(mode)
    assert time.time() - 60 < stats["last_refusal"]["at"] <= time.time()


def test_429_holds_each_category_for_its_own_limit(sentry_server: SentryServer) -> None:
    box = outbox()
    events = fill(box, 2)
    sentry_server.fault("429", retry_after=60)  # "60::organization": every category
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert result == SendResult(0, 0, 2, 0)
    assert sentry_server.requests == 1
    assert all(e.attempts == 0 for e in box.pending())  # a 429 is not a failed attempt
    sentry_server.fault("ok")
    # the next sender (a fresh Outbox, another process) honours the persisted limit
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(0, 0, 2, 0)  # fmt: skip
    assert sentry_server.requests == 1
    assert {e.event_id for e in box.pending()} == events


def test_a_transaction_limit_never_holds_a_crash_report(sentry_server: SentryServer) -> None:
    """Bugsink answers every envelope with ``86400:transaction;span:organization``."""
    box = outbox()
    box.limit({"transaction": time.time() + 86400, "span": time.time() + 86400})
    [event] = fill(box, 1)
    [txn] = fill(box, 1, kind="transaction")
    [session] = fill(box, 1, kind="session")
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert result.sent == 2
    assert event_ids(sentry_server) == [event]
    assert len(sentry_server.items("session")) == 1
    assert sentry_server.items("transaction") == []  # dropped while limited, and counted
    assert box.stats()["dropped_ratelimit"] == 1
    assert box.pending() == []
    assert txn not in {e.event_id for e in box.sent()}
    assert session in {e.event_id for e in box.sent()}


def test_limits_sent_with_a_200_apply_to_the_next_reports(sentry_server: SentryServer) -> None:
    """Bugsink's way: every answer, 200 too, carries a 24 h limit on transactions."""
    sentry_server.answer_headers = {"X-Sentry-Rate-Limits": "86400:transaction;span:organization"}
    box = outbox()
    [event] = fill(box, 1)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5).sent == 1
    limits = box.rate_limits()
    assert set(limits) == {"transaction", "span"}
    assert 86300 < limits["transaction"] - time.time() <= 86400
    fill(box, 1, kind="transaction")
    [later] = fill(box, 1)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(sent=1, kept=0, held=0, dropped=1)  # fmt: skip
    assert event_ids(sentry_server) == [event, later]
    assert sentry_server.items("transaction") == []


def test_sessions_go_a_hundred_per_request(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 150, kind="session")
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=10)
    assert result == SendResult(150, 0, 0, 0)
    assert sentry_server.requests == 2
    assert sorted(len(e.items) for e in sentry_server.envelopes) == [50, 100]
    assert len(sentry_server.items("session")) == 150


def test_crash_reports_go_first(sentry_server: SentryServer) -> None:
    """Then release health (a session aggregate left by an older version too), then the rest."""
    box = outbox()
    fill(box, 2, kind="transaction")
    fill(box, 1, kind="sessions")
    fill(box, 1, kind="session")
    [event] = fill(box, 1)
    send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert [e.items[0].type for e in sentry_server.envelopes] == \
        ["event", "sessions", "session", "transaction", "transaction"]  # fmt: skip
    assert event_ids(sentry_server) == [event]


def test_restamp_sets_sent_at_to_the_sending_time() -> None:
    data = envelope()
    out = restamp(data, now=0)
    head, _, rest = out.partition(b"\n")
    assert json.loads(head)["sent_at"] == "1970-01-01T00:00:00.000000Z"
    assert rest == data.partition(b"\n")[2]
    assert restamp(b"not json\nx") == b"not json\nx"


def test_send_now_skips_backoff_but_not_rate_limits(sentry_server: SentryServer) -> None:
    box = outbox()
    [eid] = fill(box, 1)
    [entry] = box.pending()
    claim = box.claim(entry)
    assert claim is not None
    box.retry(claim, time.time() + 3600)  # backing off after failures
    assert box.due() == []
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(1, 0, 0, 0)  # fmt: skip
    assert event_ids(sentry_server) == [eid]
    fill(box, 1)
    box.limit({"error": time.time() + 3600})  # the server asked us to hold errors
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == \
        SendResult(0, 0, 1, 0)  # fmt: skip
    assert len(box.pending()) == 1


def test_send_now_in_two_processes_sends_each_once(home: Path, sentry_server: SentryServer) -> None:
    ids = fill(outbox(), 40)
    code = ("from crashreport.sender import send_now\n"
            f"print(send_now('mytool', config=None, dsn={sentry_server.dsn!r}, timeout=30).sent)\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=home, env=child_env(home),
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    sent = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(sent) == 40
    assert sorted(event_ids(sentry_server)) == sorted(ids)


def test_switching_off_stops_a_sender_at_once(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 5)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    Paths.for_app("mytool").paused.write_text("{}")  # set_level("off") in a running program
    result = sender.drain(time.time() + 5)
    assert result.sent == 0 and sentry_server.requests == 0
    Paths.for_app("mytool").paused.unlink()
    os.environ["MYTOOL_TELEMETRY"] = "off"
    try:
        assert sender.drain(time.time() + 5).sent == 0
    finally:
        del os.environ["MYTOOL_TELEMETRY"]
    assert sentry_server.requests == 0
    assert sender.drain(time.time() + 5).sent == 5
    sender.close()


# -- every answer, settled -------------------------------------------------------------------------
@pytest.mark.parametrize("status", ["200", "202", "299"])
def test_any_2xx_is_delivered_and_never_sent_again(sentry_server: SentryServer, status: str) -> None:
    box = outbox()
    ids = fill(box, 2)
    sentry_server.fault(status)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(2, 0, 0, 0)
    assert {e.event_id for e in box.sent()} == ids and box.pending() == []
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(0, 0, 0, 0)
    assert sorted(event_ids(sentry_server)) == sorted(ids)


@pytest.mark.parametrize("status", ["199", "300", "301", "302", "307", "308", "399", "500", "502",
                                    "503", "599"])
def test_a_redirect_or_a_server_error_keeps_the_report(sentry_server: SentryServer, status: str) -> None:
    """A redirect is not followed (a captive portal would take the report) and not a refusal;
    an informational answer is no acceptance."""
    box = outbox()
    ids = fill(box, 2)
    sentry_server.answer_headers = {"Location": "http://127.0.0.1:9/elsewhere"}
    sentry_server.fault(status)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(0, 2, 0, 0)
    assert sentry_server.requests == 1  # a server that fails is not asked again at once
    [entry, other] = box.pending()
    assert {entry.event_id, other.event_id} == ids
    assert (entry.attempts, other.attempts) == (1, 0)
    assert box.stats()["failures"] == 1 and box.stats()["dropped_4xx"] == 0


@pytest.mark.parametrize("status", ["400", "401", "403", "404", "413", "499"])
def test_a_4xx_drops_the_report_and_says_which(sentry_server: SentryServer, status: str) -> None:
    box = outbox()
    fill(box, 1)
    sentry_server.fault(status)
    start = time.time()
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(0, 0, 0, 1)
    stats = box.stats()
    assert (stats["dropped_4xx"], stats["pending"], stats["failures"]) == (1, 0, 0)
    assert stats["last_refusal"]["status"] == int(status)
    assert start - 1 <= stats["last_refusal"]["at"] <= time.time() + 1


def test_a_429_with_only_retry_after_holds_everything_that_long(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 1)
    fill(box, 1, kind="session")
    fill(box, 1, kind="transaction")
    sentry_server.fault("429", retry_after=120, rate_limits=False)
    start = time.time()
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert sentry_server.requests == 1  # the limit holds the rest without asking again
    assert result == SendResult(0, 0, 2, 1)  # the usage record is dropped while limited
    limits = box.rate_limits()
    assert set(limits) == {""} and start + 119 <= limits[""] <= time.time() + 121
    assert all(e.attempts == 0 for e in box.pending())
    assert box.stats()["dropped_ratelimit"] == 1
    assert box.due() == [] and box.due(now=time.time() + 122) != []


def test_a_retry_after_date_is_honoured(sentry_server: SentryServer) -> None:
    from email.utils import formatdate

    box = outbox()
    fill(box, 1)
    sentry_server.answer_headers = {"Retry-After": formatdate(time.time() + 300, usegmt=True)}
    sentry_server.fault("429", rate_limits=False)
    send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    [entry] = box.pending()
    assert time.time() + 250 < entry.not_before <= time.time() + 302


def test_a_server_that_answers_nothing_keeps_everything(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 2)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.poster is not None
    [entry, _] = box.pending()
    claim = box.claim(entry)
    assert claim is not None
    result = Drain(box, sender.poster, sender.allowed)._settle(Answer(error="timed out"), [claim], 0)
    assert result == SendResult(0, 1, 0, 0)
    assert {e.attempts for e in box.pending()} == {0, 1}
    sender.close()


@pytest.mark.parametrize(("attempts", "seconds"), [(0, 0.0), (1, 0.0), (2, 0.0), (3, 60.0),
                                                   (4, 120.0), (5, 240.0), (10, 7680.0),
                                                   (11, 15360.0), (12, 21600.0), (50, 21600.0)])  # fmt: skip
def test_backoff_after_the_third_failure_doubles_up_to_six_hours(attempts: int, seconds: float) -> None:
    assert backoff(attempts) == seconds


def test_a_failing_report_waits_longer_each_time(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 1)
    sentry_server.fault("503")
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.poster is not None
    drain = Drain(box, sender.poster, sender.allowed)
    waits = []
    for _ in range(5):
        [entry] = box.pending()
        claim = box.claim(entry)
        assert claim is not None
        start = time.time()
        drain._deliver([claim])
        [entry] = box.pending()
        waits.append(entry.not_before - start if entry.not_before else 0)
    assert [e.attempts for e in box.pending()] == [5]
    assert waits[:2] == [0, 0]
    assert all(w <= wait <= w + 1.5 for w, wait in zip([60, 120, 240], waits[2:]))  # whole seconds
    assert sender.drain(time.time() + 5) == SendResult(0, 1, 0, 0)  # backing off: not sent
    assert sentry_server.requests == 5
    sender.close()


# -- what may be sent, decided afresh ----------------------------------------------------------------
def _write_config(text: str) -> str:
    path = Path.home() / "config.yaml"
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize(("program", "config", "environ", "allowed"), [
    ("all", None, {}, "all"),
    ("errors", None, {}, "errors"),
    ("errors", "telemetry:\n  collect: true\n", {}, "all"),
    ("all", "telemetry:\n  collect: errors\n", {}, "errors"),
    ("all", "telemetry:\n  collect: false\n", {}, None),  # `crashreport disable` since
    ("all", "telemetry: [broken\n", {}, None),
    ("all", None, {"MYTOOL_TELEMETRY": "errors"}, "errors"),
    ("errors", None, {"MYTOOL_TELEMETRY": "all"}, "all"),
    ("all", None, {"MYTOOL_TELEMETRY": "off"}, None),
    ("all", "telemetry:\n  collect: true\n", {"DO_NOT_TRACK": "1"}, None),
    ("all", None, {"CI": "true"}, None),
])  # fmt: skip
def test_the_sender_asks_again_whether_it_may_send(
    monkeypatch: pytest.MonkeyPatch, program: str, config: str | None, environ: dict[str, str],
    allowed: str | None,
) -> None:
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    sender = Sender("mytool", config=_write_config(config) if config else None, level=program)
    assert sender.allowed() == allowed


def test_a_program_that_switched_off_pauses_every_sender() -> None:
    sender = Sender("mytool", level="all")
    paths = Paths.for_app("mytool")
    paths.paused.parent.mkdir(parents=True)
    paths.paused.write_text("{}")
    assert sender.allowed() is None
    paths.paused.unlink()
    assert sender.allowed() == "all"


def test_switching_off_mid_drain_stops_after_the_report_in_flight(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 5)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    paused = Paths.for_app("mytool").paused

    def switch_off(n: int) -> None:  # the user runs `telemetry disable` while the sender works
        paused.write_text("{}")

    assert sender.drain(time.time() + 5, progress=switch_off) == SendResult(1, 4, 0, 0)
    assert sentry_server.requests == 1
    sender.close()


def test_at_level_errors_only_crash_reports_go(sentry_server: SentryServer) -> None:
    box = outbox()
    [event] = fill(box, 1)
    fill(box, 1, kind="session")
    fill(box, 1, kind="transaction")
    sender = Sender("mytool", dsn=sentry_server.dsn, level="errors")
    assert sender.drain(time.time() + 5) == SendResult(1, 2, 0, 0)
    assert event_ids(sentry_server) == [event] and sentry_server.items("session") == []
    sender.close()


def test_without_a_dsn_nothing_is_sent_and_everything_is_kept() -> None:
    box = outbox()
    fill(box, 3)
    sender = Sender("mytool")
    assert sender.drain(time.time() + 5) == SendResult(0, 3, 0, 0)
    assert len(box.pending()) == 3


def test_a_deadline_already_past_sends_nothing(sentry_server: SentryServer) -> None:
    fill(outbox(), 2)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() - 1) == SendResult(0, 2, 0, 0)
    assert sender.drain(time.time() + 5, backoff_wait=False) == SendResult(2, 0, 0, 0)
    sender.close()


def test_a_truncated_envelope_is_dropped_never_sent(sentry_server: SentryServer) -> None:
    box = outbox()
    [good] = fill(box, 1)
    box.put(envelope()[:-20])  # cut off by a power cut, say
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() + 5) == SendResult(1, 0, 0, 1)
    assert event_ids(sentry_server) == [good]
    assert box.stats()["dropped_corrupt"] == 1 and box.pending() == []
    sender.close()


def test_a_session_batch_merges_the_items_under_the_first_header(sentry_server: SentryServer) -> None:
    box = outbox()
    sids = fill(box, 3, kind="session")
    fill(box, 1, kind="transaction")
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.drain(time.time() + 5)
    sender.close()
    first, second = sentry_server.envelopes
    assert [i.type for i in first.items] == ["session"] * 3
    assert {i.payload["event_id"] for i in first.items} == sids
    assert [i.type for i in second.items] == ["transaction"]
    assert time.time() - 60 < _ts(first.headers["sent_at"]) <= time.time() + 1


def test_two_sessions_are_one_envelope_of_both_items_byte_for_byte(sentry_server: SentryServer) -> None:
    box = outbox()
    datas = [envelope("session"), envelope("session")]
    for data in datas:
        box.put(data)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() + 5) == SendResult(2, 0, 0, 0)
    sender.close()
    [sent] = sentry_server.envelopes
    head, _, items = sent.raw.partition(b"\n")
    assert json.loads(head).keys() == {"sent_at"}  # the first envelope's header, restamped
    assert items == b"".join(d.partition(b"\n")[2] for d in datas)


def test_an_empty_header_line_gets_one_saying_when_it_was_sent() -> None:
    items = envelope().partition(b"\n")[2]
    head, _, rest = restamp(b"\n" + items, now=0).partition(b"\n")
    assert json.loads(head) == {"sent_at": "1970-01-01T00:00:00.000000Z"}
    assert rest == items


def test_restamp_leaves_what_it_cannot_read() -> None:
    assert restamp(b"[1, 2]\nrest") == b"[1, 2]\nrest"
    assert restamp(b"not json") == b"not json"
    out = restamp(b'{"event_id": "x"}', now=86400)
    assert json.loads(out) == {"event_id": "x", "sent_at": "1970-01-02T00:00:00.000000Z"}


# -- runs turned into reports ------------------------------------------------------------------------
def _record(**fields: Any) -> dict[str, Any]:
    """A run's journal record as a real run writes it (crashreport.run.Run._record)."""
    record = {"v": 1, "sid": str(uuid.uuid4()), "trace_id": uuid.uuid4().hex,
              "span_id": uuid.uuid4().hex[:16], "did": "ab" * 16, "app": "mytool",
              "version": "1.0", "environment": "production", "dsn": None, "level": "all",
              "started": time.time() - 10, "pid": 1, "subcommand": "sync", "python": "3.11.7",
              "implementation": "cpython", "scrub": {"patterns": [], "keys": [], "words": []}}  # fmt: skip
    record.update(fields)
    return record


FINISHED = {"outcome": "ok", "exit_code": 0, "errors": 0, "crashed": False, "spans": [],
            "counters": {}}  # fmt: skip


def _leave(record: dict[str, Any], fault: str | None = None, app: str = "mytool") -> Path:
    """What a run of ``app`` leaves in the journal: its record, and its fault file if it had one."""
    runs = Paths.for_app(app).runs_dir
    journal.ensure_dir(runs)
    path = runs / f"{record['sid']}.json"
    journal.write(path, record)
    if fault is not None:
        path.with_suffix(".fault").write_text(fault)
    return path


def _kinds(box: Outbox) -> list[str]:
    return sorted(k for e in box.pending() for k in e.kinds)


def test_a_finished_run_becomes_its_session_and_usage_record() -> None:
    record = _record(ended=time.time() - 5, **FINISHED)
    path = _leave(record)
    sender = Sender("mytool")
    assert sender.collect() == 1
    box = outbox()
    assert _kinds(box) == ["session", "transaction"]
    assert not path.exists()
    [session] = [e for e in box.pending() if e.kinds == ("session",)]
    assert session.event_id == record["sid"].replace("-", "")
    assert abs(session.created - record["started"]) < 0.001  # as old as the run
    assert sender.collect() == 0  # once


def test_a_run_that_vanished_is_one_abnormal_session(sentry_server: SentryServer) -> None:
    _leave(_record())  # no end, no fault file: its process is gone
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.collect()
    sender.drain(time.time() + 5)
    [session] = sentry_server.items("session")
    assert (session["status"], session["init"]) == ("abnormal", True)
    assert sentry_server.items("transaction") == []
    sender.close()


FAULT = ('Fatal Python error: Segmentation fault\n\nCurrent thread 0x1 (most recent call first):\n'
         '  File "/usr/lib/python3/json/x.py", line 3 in convert\n')  # fmt: skip


def test_a_segfault_becomes_a_crashed_session_and_a_crash_report(sentry_server: SentryServer) -> None:
    dump = FAULT
    record = _record(level="errors")
    _leave(record, dump)
    crashed = _record()
    _leave(crashed, dump)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.collect() == 2
    sender.drain(time.time() + 5)
    events = sentry_server.items("event")
    assert len(events) == 2 and {e["exception"]["values"][0]["type"] for e in events} == {"SIGSEGV"}
    [session] = sentry_server.items("session")  # level errors sends no session
    assert (session["sid"], session["status"]) == (crashed["sid"], "crashed")
    [envelope_] = [e for e in sentry_server.envelopes if e.items[0].type == "event"][:1]
    assert envelope_.headers["event_id"] == envelope_.items[0].payload["event_id"]
    assert envelope_.headers["trace"]["public_key"] == PUBLIC_KEY
    sender.close()


def test_a_record_of_an_unknown_level_or_shape_is_removed_unsent() -> None:
    off = _leave(_record(level="off", ended=time.time(), **FINISHED))
    broken = _leave({"sid": "x", "level": "all"})  # no "started": not a record we can read
    assert Sender("mytool").collect() == 1
    assert not off.exists() and not broken.exists()
    assert outbox().pending() == []


def test_a_report_already_queued_is_not_queued_twice() -> None:
    """A sender killed halfway through a run leaves some of its reports queued, and the record."""
    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    Sender("mytool").collect()
    box = outbox()
    first = sorted(e.path.name for e in box.pending())
    _leave(record)  # the record is still there
    Sender("mytool").collect()
    assert sorted(e.path.name for e in box.pending()) == first


def test_a_session_too_old_for_sentry_is_counted_not_queued() -> None:
    _leave(_record(started=time.time() - 6 * 86400, ended=time.time() - 6 * 86400, **FINISHED))
    _leave(_record(started=time.time() - 4 * 86400, ended=time.time() - 4 * 86400, **FINISHED))
    Sender("mytool").collect()
    box = outbox()
    assert _kinds(box) == ["session", "transaction", "transaction"]
    assert box.stats()["dropped_old"] == 1


def test_what_a_run_leaves_is_scrubbed_before_it_is_queued() -> None:
    home = str(Path.home())
    record = _record(ended=time.time(), subcommand=f"open {home}/Steuerbescheid.pdf", **FINISHED,
                     scrub={"patterns": ["secret-[0-9]+"], "keys": [], "words": []})  # fmt: skip
    record["spans"] = [{"name": "fetch", "start": time.time(), "duration": 0.1, "outcome": "error",
                        "error": {"type": "OSError", "message": f"{home}/x secret-42"}}]
    _leave(record)
    Sender("mytool").collect()
    box = outbox()
    text = b"".join(box.read(e) for e in box.pending()).decode()
    assert home not in text and "secret-42" not in text and "Steuerbescheid" not in text


def test_a_scrub_pattern_that_does_not_compile_falls_back_to_the_defaults() -> None:
    home = str(Path.home())
    record = _record(ended=time.time(), subcommand=f"open {home}/Steuerbescheid.pdf", **FINISHED,
                     scrub={"patterns": ["(unclosed"], "keys": [], "words": []})  # fmt: skip
    _leave(record)
    Sender("mytool").collect()
    box = outbox()
    text = b"".join(box.read(e) for e in box.pending()).decode()
    assert len(box.pending()) == 2 and home not in text


def test_every_envelope_carries_its_header(sentry_server: SentryServer) -> None:
    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.collect()
    sender.drain(time.time() + 5)
    by_type = {e.items[0].type: e for e in sentry_server.envelopes}
    assert set(by_type) == {"session", "transaction"}
    assert "event_id" not in by_type["session"].headers and "trace" not in by_type["session"].headers
    txn = by_type["transaction"]
    assert txn.headers["event_id"] == txn.items[0].payload["event_id"]
    assert txn.headers["trace"]["trace_id"] == record["trace_id"]
    assert txn.headers["trace"]["public_key"] == PUBLIC_KEY
    sender.close()


def test_echo_prints_each_report_as_it_is_queued(capsys: pytest.CaptureFixture[str]) -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    Sender("mytool", echo=True).collect()
    err = capsys.readouterr().err
    assert err.count("crashreport: queued envelope") == 2
    assert "--- session ---" in err and '"type": "transaction"' in err


def test_spotlight_gets_a_copy_of_each_report(sentry_server: SentryServer) -> None:
    spotlight = SentryServer()
    try:
        url = f"http://127.0.0.1:{spotlight.port}/stream"
        _leave(_record(ended=time.time(), **FINISHED))
        sender = Sender("mytool", dsn=sentry_server.dsn, spotlight=url)
        sender.collect()
        assert sender.spool is not None
        assert copy_to_spotlight(sender.spool, url, time.time() - 1) == 0
        assert copy_to_spotlight(sender.spool, url, time.time() + 5) == 2
        assert copy_to_spotlight(sender.spool, url, time.time() + 5) == 0  # once
        assert sorted(e.items[0].type for e in spotlight.envelopes) == ["session", "transaction"]
        stats = sender.spool.stats()  # nothing left on disk, not even a claim
        assert (stats["sent"], stats["pending"], stats["claimed"]) == (2, 0, 0)
        sender.close()
    finally:
        spotlight.close()


# -- the entry points ----------------------------------------------------------------------------
def test_work_collects_and_delivers_until_nothing_is_left(sentry_server: SentryServer) -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    fill(outbox(), 2)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.work(time.time() + 10)
    assert len(sentry_server.items("event")) == 2 and len(sentry_server.items("session")) == 1
    assert outbox().pending() == []
    sender.close()


def test_work_does_nothing_while_off(sentry_server: SentryServer, monkeypatch: pytest.MonkeyPatch) -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    monkeypatch.setenv("DO_NOT_TRACK", "1")
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.work(time.time() + 10)
    assert sentry_server.requests == 0 and outbox().pending() == []
    assert len(list(journal.ended_runs(Paths.for_app("mytool").runs_dir))) == 1  # kept for later


def test_the_detached_sender_delivers_and_exits_silently(home: Path, sentry_server: SentryServer) -> None:
    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    proc = subprocess.run([sys.executable, "-m", "crashreport.sender", "--app", "mytool", "--dsn",
                           sentry_server.dsn, "--seconds", "20"], cwd=home, env=child_env(home),
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    [session] = sentry_server.items("session")
    assert session["sid"] == record["sid"]
    assert outbox().pending() == []


def test_in_process_delivery_at_exit_within_its_bound(sentry_server: SentryServer) -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    run_in_process(["--app", "mytool", "--dsn", sentry_server.dsn], timeout=5)
    assert len(sentry_server.items("session")) == 1 and outbox().pending() == []


def test_in_process_with_no_time_queues_without_sending(sentry_server: SentryServer) -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    run_in_process(["--app", "mytool", "--dsn", sentry_server.dsn], timeout=0)
    assert sentry_server.requests == 0 and _kinds(outbox()) == ["session", "transaction"]


def test_wait_and_collect_queues_the_finished_runs_now() -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    wait_and_collect("mytool", timeout=1)
    assert _kinds(outbox()) == ["session", "transaction"]


def test_reports_that_found_no_disk_go_from_memory(sentry_server: SentryServer) -> None:
    datas = [envelope(event_id=uuid.uuid4().hex) for _ in range(3)]
    send_from_memory(sentry_server.dsn, datas, timeout=2, ca_certs=None)
    assert len(event_ids(sentry_server)) == 3


@pytest.mark.parametrize("mode", ["500", "hang"])
def test_from_memory_a_failing_server_ends_the_attempt(sentry_server: SentryServer, mode: str) -> None:
    sentry_server.fault(mode)
    start = time.monotonic()
    send_from_memory(sentry_server.dsn, [envelope(), envelope(), envelope()], timeout=0.3,
                     ca_certs=None)
    assert time.monotonic() - start < 1.5
    assert sentry_server.requests == 1


@pytest.mark.parametrize("status", ["400", "499"])
def test_from_memory_a_refusal_does_not_stop_the_rest(sentry_server: SentryServer, status: str) -> None:
    sentry_server.fault(status)
    send_from_memory(sentry_server.dsn, [envelope(), envelope()], timeout=2, ca_certs=None)
    assert sentry_server.requests == 2


# -- every report accounted for, whatever the answer -------------------------------------------------
def test_a_4xx_for_each_report_still_tries_every_one(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 3)
    sentry_server.fault("400")
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(0, 0, 0, 3)
    assert box.stats()["dropped_4xx"] == 3


def test_corrupt_reports_first_do_not_stop_the_good_ones(sentry_server: SentryServer) -> None:
    box = outbox()
    for _ in range(2):
        box.put(envelope()[:-20])
    good = fill(box, 2)
    calls: list[tuple[int, int]] = []
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5,
                      progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert result == SendResult(2, 0, 0, 2)
    assert sorted(event_ids(sentry_server)) == sorted(good)
    assert calls[-1] == (4, 4) and box.stats()["dropped_corrupt"] == 2


def test_a_429_drops_a_usage_record_once_and_counts_it(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 1, kind="transaction")
    sentry_server.fault("429", retry_after=60)
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(0, 0, 0, 1)
    assert box.stats()["dropped_ratelimit"] == 1 and box.pending() == []


def test_a_report_waiting_out_its_backoff_does_not_hold_back_the_next(sentry_server: SentryServer) -> None:
    box = outbox()
    waiting = fill(box, 1)
    claim = box.claim(box.pending()[0])
    assert claim is not None
    box.retry(claim, time.time() + 3600)  # failed before: not due for an hour
    [fresh] = fill(box, 1)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() + 5) == SendResult(1, 1, 0, 0)
    assert event_ids(sentry_server) == [fresh]
    assert {e.event_id for e in box.pending()} == waiting
    sender.close()


def test_every_report_rate_limited_for_good_is_counted(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 3, kind="transaction")
    box.limit({"transaction": time.time() + 3600})  # usage records are not held: dropped
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() + 5) == SendResult(0, 0, 0, 3)
    sender.close()
    assert box.stats()["dropped_ratelimit"] == 3 and sentry_server.requests == 0


def test_at_level_errors_a_crash_report_with_more_does_not_hold_back_the_next(
        sentry_server: SentryServer) -> None:  # fmt: skip
    """Queued at level all with another item; the user has since chosen crash reports only."""
    box = outbox()
    event = envelope()
    usage = envelope("transaction").partition(b"\n")[2]
    box.put(event + usage)
    [alone] = fill(box, 1)
    sender = Sender("mytool", dsn=sentry_server.dsn, level="errors")
    assert sender.drain(time.time() + 5) == SendResult(1, 1, 0, 0)
    sender.close()
    assert event_ids(sentry_server) == [alone]
    [kept] = box.pending()
    assert kept.kinds == ("event", "transaction")


def test_a_sender_works_at_most_the_two_minutes_the_docs_promise() -> None:
    assert _parser().parse_args(["--app", "mytool"]).seconds == 120
    assert "it works at most 2 minutes" in (ROOT / "docs" / "outbox.md").read_text()


# -- what the sender's mutants showed unpinned --------------------------------------------------------
def _queued(kind: str, app: str = "mytool") -> dict[str, Any]:
    """The payload of the one queued report of ``kind``."""
    box = Outbox(Paths.for_app(app).outbox_dir, Paths.for_app(app).sent_dir)
    [entry] = [e for e in box.pending() if kind in e.kinds]
    payload: dict[str, Any] = json.loads(box.read(entry).split(b"\n")[2])
    return payload


@pytest.mark.parametrize("patterns", [["quux"], ["(unclosed"]])
def test_the_apps_own_scrub_settings_reach_the_sender(patterns: list[str]) -> None:
    """init(scrub_patterns=, scrub_keys=, safe_words=) as the run recorded them; a pattern that
    does not compile here leaves the defaults and the safe words, never no scrubbing."""
    record = _record(ended=time.time(), **FINISHED, scrub={
        "patterns": patterns, "keys": ["customer"], "words": ["frobnicate", "quux", "zork"]})  # fmt: skip
    record["spans"] = [{"name": "fetch", "start": time.time(), "duration": 0.1, "outcome": "error",
                        "data": {"customer": "zork", "other": "zork"},
                        "error": {"type": "OSError", "message": "frobnicate quux"}}]  # fmt: skip
    _leave(record)
    Sender("mytool").collect()
    [span] = _queued("transaction")["spans"]
    if patterns == ["quux"]:
        assert span["data"] == {"outcome": "error", "<text>": "[Filtered]", "other": "zork",
                                "error.type": "OSError", "error.message": "frobnicate [Filtered]"}
    else:  # the defaults: the app's keys and patterns are gone with the pattern that failed
        assert span["data"]["error.message"] == "frobnicate quux" and span["data"]["other"] == "zork"


def test_collecting_prints_nothing_and_copies_nothing_unless_asked(
        capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _leave(_record(ended=time.time(), **FINISHED))
    Sender("mytool").collect()
    assert capsys.readouterr() == ("", "")
    assert _kinds(outbox()) == ["session", "transaction"]
    assert not Paths.for_app("mytool").spotlight_dir.exists()


def test_a_reports_release_is_the_one_the_run_had(sentry_server: SentryServer) -> None:
    _leave(_record(ended=time.time(), version="9.9.9", **FINISHED))
    Sender("mytool").collect()
    payload = _queued("transaction")
    assert payload["release"] == "mytool@9.9.9"


def test_a_crash_report_is_as_old_as_the_crash_not_the_run() -> None:
    record = _record(started=time.time() - 3600)
    path = _leave(record, fault=FAULT)
    crashed_at = time.time() - 600
    os.utime(path.with_suffix(".fault"), (crashed_at, crashed_at))
    Sender("mytool").collect()
    [event] = [e for e in outbox().pending() if "event" in e.kinds]
    assert abs(event.created - crashed_at) < 1


def test_a_queued_envelope_says_when_it_was_made() -> None:
    _leave(_record(ended=time.time(), **FINISHED))
    Sender("mytool").collect()
    box = outbox()
    for entry in box.pending():
        header = json.loads(box.read(entry).split(b"\n")[0])
        assert time.time() - 60 < _ts(header["sent_at"]) <= time.time() + 1
        assert "public_key" not in header.get("trace", {})  # no DSN: no key to name


def test_a_sender_that_died_after_the_first_report_of_a_run_queues_the_rest() -> None:
    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    Sender("mytool").collect()
    box = outbox()
    [txn] = [e for e in box.pending() if "transaction" in e.kinds]
    claim = box.claim(txn)
    assert claim is not None
    box.drop(claim, "sent")  # as if this report had not been queued yet
    _leave(record)  # the record is still there: the sender died before removing it
    Sender("mytool").collect()
    assert _kinds(box) == ["session", "transaction"]


def test_work_returns_a_dead_senders_claims_and_delivers_them(sentry_server: SentryServer) -> None:
    box = outbox()
    [eid] = fill(box, 1)
    [entry] = box.pending()
    os.rename(entry.path, f"{entry.path}.claimed-{_dead_pid()}-{int(time.time())}-abcdef01")
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.work(time.time() + 10)
    sender.close()
    assert event_ids(sentry_server) == [eid]


def test_work_copies_to_spotlight(sentry_server: SentryServer) -> None:
    spotlight = SentryServer()
    try:
        _leave(_record(ended=time.time(), **FINISHED))
        sender = Sender("mytool", dsn=sentry_server.dsn,
                        spotlight=f"http://127.0.0.1:{spotlight.port}/stream")  # fmt: skip
        sender.work(time.time() + 10)
        sender.close()
        assert sorted(e.items[0].type for e in spotlight.envelopes) == ["session", "transaction"]
    finally:
        spotlight.close()


def test_send_now_queues_finished_runs_and_returns_dead_claims(sentry_server: SentryServer) -> None:
    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    box = outbox()
    [eid] = fill(box, 1)
    [entry] = [e for e in box.pending() if e.event_id == eid]
    os.rename(entry.path, f"{entry.path}.claimed-{_dead_pid()}-{int(time.time())}-abcdef01")
    assert send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5) == SendResult(3, 0, 0, 0)
    assert event_ids(sentry_server) == [eid]
    [session] = sentry_server.items("session")
    assert session["sid"] == record["sid"]


def _lock_is_free() -> bool:
    from crashreport.locks import take_lock

    fd = take_lock(Paths.for_app("mytool").sender_lock)
    if fd is None:
        return False
    os.close(fd)
    return True


def test_in_process_delivery_lets_go_of_the_lock_and_honours_a_short_bound(
        sentry_server: SentryServer) -> None:  # fmt: skip
    _leave(_record(ended=time.time(), **FINISHED))
    run_in_process(["--app", "mytool", "--dsn", sentry_server.dsn], timeout=0.9)
    assert len(sentry_server.items("session")) == 1 and _lock_is_free()
    _leave(_record(ended=time.time(), **FINISHED))
    sentry_server.fault("hang")
    start = time.monotonic()
    run_in_process(["--app", "mytool", "--dsn", sentry_server.dsn], timeout=0.5)
    assert time.monotonic() - start < 2.5  # the program's exit bound, not the sender's 60 s
    assert _lock_is_free()


def test_wait_and_collect_waits_for_a_running_sender_then_lets_go() -> None:
    import threading

    from crashreport.locks import take_lock

    _leave(_record(ended=time.time(), **FINISHED))
    held = take_lock(Paths.for_app("mytool").sender_lock)
    assert held is not None  # a sender is running
    start = time.monotonic()
    wait_and_collect("mytool", timeout=0.3)
    assert 0.25 < time.monotonic() - start < 2 and outbox().pending() == []  # gave up
    threading.Timer(0.3, os.close, args=(held,)).start()  # that sender ends
    wait_and_collect("mytool", timeout=5)
    assert _kinds(outbox()) == ["session", "transaction"] and _lock_is_free()


def test_the_detached_sender_is_not_stopped_by_a_closed_terminal_or_ctrl_c(
        home: Path, sentry_server: SentryServer) -> None:  # fmt: skip
    import signal

    record = _record(ended=time.time(), **FINISHED)
    _leave(record)
    sentry_server.fault("hang")

    proc = subprocess.Popen([sys.executable, "-m", "crashreport.sender", "--app", "mytool", "--dsn",
                             sentry_server.dsn, "--seconds", "20"], cwd=home, env=child_env(home),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=as_from_a_terminal)  # fmt: skip
    deadline = time.time() + 20
    while sentry_server.requests == 0 and time.time() < deadline:
        time.sleep(0.02)
    for sig in (signal.SIGHUP, signal.SIGINT):
        proc.send_signal(sig)
        time.sleep(0.2)
        assert proc.poll() is None  # still waiting for the answer
    sentry_server.fault("ok")  # the answer comes after all
    assert proc.wait(timeout=30) == 0
    assert proc.communicate() == (b"", b"")
    assert outbox().pending() == []


def test_a_sender_about_to_exit_sees_the_work_left_for_it(sentry_server: SentryServer) -> None:
    """Its last look before it lets go of the lock (the hand-over, see sender.main): a run that
    ended, or a report queued since it started and never tried, is work; what failed, what
    was there before it started, a run the disk refused and anything while off are not."""
    from crashreport.sender import _more_work

    box = outbox()
    fill(box, 1)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert not _more_work(sender)  # queued before this sender started: it has had its chance
    [new] = fill(box, 1)
    assert _more_work(sender)
    [entry] = [e for e in box.pending() if e.event_id == new]
    claim = box.claim(entry)
    assert claim is not None
    box.retry(claim, 0.0)  # tried, failed: waits for the next program's sender
    assert not _more_work(sender)
    path = _leave(_record(ended=time.time(), **FINISHED))
    assert _more_work(sender)
    sender.stuck.add(path)  # the disk refused its reports just now
    assert not _more_work(sender)
    sender.stuck.clear()
    Paths.for_app("mytool").paused.write_text("{}")  # switched off meanwhile
    assert not _more_work(sender)
    sender.close()


def test_every_corrupt_report_of_a_batch_is_counted(sentry_server: SentryServer) -> None:
    box = outbox()
    fill(box, 3, kind="session")
    for entry in box.pending()[:2]:  # damaged on disk after they were queued
        os.truncate(entry.path, 20)
    sender = Sender("mytool", dsn=sentry_server.dsn)
    assert sender.drain(time.time() + 5) == SendResult(1, 0, 0, 2)
    sender.close()
    assert box.stats()["dropped_corrupt"] == 2 and len(sentry_server.items("session")) == 1


# -- the detached sender's loop, its hand-over and its command line -----------------------------------
#: The detached sender (sender.main, handed the program's lock as the run's launch does), with
#: something happening at its looks for more work: ``leave`` a run that ended at look N (before
#: it looks, "N+": after), or ``take`` the lock as a starting program would at look N.
_WITH_A_RACE = """
import json, sys
from crashreport import journal, sender
from crashreport.locks import take_lock
from crashreport.paths import Paths

events, record = json.loads(sys.argv[1]), json.loads(sys.argv[2])
paths, looks = Paths.for_app("mytool"), []
real = sender._more_work

def act(when):
    if events.get("leave") in (when, "every"):
        journal.ensure_dir(paths.runs_dir)
        journal.write(paths.runs_dir / (record["sid"] + ".json"), record)
    if events.get("take") == when:
        take_lock(paths.sender_lock)  # held until this process exits

def more_work(s):
    looks.append(1)
    act(str(len(looks)))
    found = real(s)
    act(f"{len(looks)}+")
    return found

sender._more_work = more_work
paths.sender_lock.parent.mkdir(parents=True, exist_ok=True)
sender.main([*sys.argv[3:], "--lock-fd", str(take_lock(paths.sender_lock))])
"""


def _detached_with(home: Path, events: dict[str, str], record: dict[str, Any], *args: str,
                   timeout: float = 20) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return subprocess.run([sys.executable, "-c", _WITH_A_RACE, json.dumps(events), json.dumps(record),
                           "--app", "mytool", *args], cwd=home, env=child_env(home),
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


@pytest.mark.parametrize("leave", ["1", "1+"])
def test_a_run_that_ends_as_the_sender_finishes_is_delivered_by_it(
        home: Path, sentry_server: SentryServer, leave: str) -> None:  # fmt: skip
    """A program that ended just before the sender's last look ("1": the sender keeps its lock
    and works on) or between that look and letting go of the lock ("1+": its program found
    the lock taken and started nothing, so the sender takes the lock back and delivers)."""
    record = _record(ended=time.time(), **FINISHED)
    proc = _detached_with(home, {"leave": leave}, record, "--dsn", sentry_server.dsn)
    assert (proc.returncode, proc.stderr) == (0, "")
    [session] = sentry_server.items("session")
    assert session["sid"] == record["sid"]
    assert list(journal.ended_runs(Paths.for_app("mytool").runs_dir)) == []
    assert _lock_is_free()


def test_a_sender_that_finds_the_lock_taken_leaves_the_run_to_the_program_that_took_it(
        home: Path, sentry_server: SentryServer) -> None:  # fmt: skip
    """At most one sender at a time: the program that took the lock starts the next one."""
    record = _record(ended=time.time(), **FINISHED)
    proc = _detached_with(home, {"leave": "1+", "take": "2"}, record, "--dsn", sentry_server.dsn)
    assert (proc.returncode, proc.stderr) == (0, "")
    assert sentry_server.requests == 0
    [left] = journal.ended_runs(Paths.for_app("mytool").runs_dir)
    assert left.record["sid"] == record["sid"]


def test_a_sender_starts_no_request_after_its_time_and_then_exits(
        home: Path, sentry_server: SentryServer) -> None:  # fmt: skip
    """``--seconds 0`` still gives it a second; at that second it stops, with work left (here
    a queue too long to send and a run that ends at every look) for the next sender."""
    fill(outbox(), 30)
    sentry_server.latency = 0.1
    arrivals: list[float] = []
    sentry_server.on_request = lambda n: arrivals.append(time.monotonic())
    proc = _detached_with(home, {"leave": "every"}, _record(ended=time.time(), **FINISHED),
                          "--dsn", sentry_server.dsn, "--seconds", "0", timeout=15)  # fmt: skip
    assert (proc.returncode, proc.stderr) == (0, "")
    assert 0.55 < arrivals[-1] - arrivals[0] < 1.0  # requests start within its second, not after
    assert len(outbox().pending()) == 30 - len(arrivals)


@pytest.mark.parametrize("dropped", [0, 1])
def test_work_goes_on_while_reports_move_and_collects_runs_that_ended_meanwhile(
        sentry_server: SentryServer, dropped: int) -> None:  # fmt: skip
    """A round that delivered (or refused) something is followed by another: a run that ended
    while the sender was sending is collected and delivered by this sender, not the next."""
    fill(outbox(), 1 + dropped)
    record = _record(ended=time.time(), **FINISHED)

    def while_sending(n: int) -> None:
        if n == 1:
            _leave(record)
        sentry_server.fault("400" if n == 2 and dropped else "ok")  # the second is refused

    sentry_server.on_request = while_sending
    sender = Sender("mytool", dsn=sentry_server.dsn)
    sender.work(time.time() + 10)
    sender.close()
    [session] = sentry_server.items("session")
    assert session["sid"] == record["sid"]
    assert outbox().stats()["dropped_4xx"] == dropped


def test_in_process_delivery_holds_the_lock_while_it_sends_and_prints_nothing_unasked(
        sentry_server: SentryServer, capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    _leave(_record(ended=time.time(), **FINISHED))
    free_while_sending: list[bool] = []
    sentry_server.on_request = lambda n: free_while_sending.append(_lock_is_free())
    run_in_process(["--app", "mytool", "--dsn", sentry_server.dsn], timeout=5)
    assert free_while_sending == [False, False]  # a sender started meanwhile finds it taken
    assert _lock_is_free() and len(sentry_server.items("session")) == 1
    assert capsys.readouterr() == ("", "")


def test_the_senders_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    parser = _parser()
    assert parser.parse_args(["--app", "mytool", "--level", "errors"]).level == "errors"
    for wrong in ([], ["--app", "mytool", "--level", "off"]):
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args(wrong)
        assert exit_.value.code == 2
    assert "the following arguments are required: --app" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["--help"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.startswith("usage: python -m crashreport.sender [-h] --app APP")


def test_a_run_the_disk_refuses_is_kept_and_not_worked_on_again_by_this_sender() -> None:
    from crashreport.sender import _more_work

    path = _leave(_record(ended=time.time(), **FINISHED))
    box_dir = Paths.for_app("mytool").outbox_dir
    box_dir.parent.mkdir(parents=True, exist_ok=True)
    box_dir.write_text("")  # the outbox cannot be written
    sender = Sender("mytool")
    assert sender.collect() == 0
    assert path.exists()  # nothing lost: the next program's sender tries again
    assert not _more_work(sender)  # and this one does not spin on it until its time is up


def test_a_crash_report_marks_the_apps_own_frames() -> None:
    """The app named by the run is an installed distribution (PyYAML here): its files are the
    app's code (in_app), the standard library's are not."""
    import yaml

    own = Path(yaml.__file__).parent / "constructor.py"
    fault = FAULT + f'  File "{own}", line 40 in construct_document\n'
    _leave(_record(app="pyyaml"), fault, app="pyyaml")
    Sender("pyyaml").collect()
    frames = _queued("event", app="pyyaml")["exception"]["values"][0]["stacktrace"]["frames"]
    assert {f["filename"].rsplit("/", 1)[-1]: f["in_app"] for f in frames} == {
        "x.py": False, "constructor.py": True}


def test_a_sender_given_no_config_reads_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Not even a file in the folder it runs in (whatever its name)."""
    for name in (" ", "config.yaml", "crashreport.yaml"):
        (tmp_path / name).write_text("telemetry:\n  collect: false\n")
    monkeypatch.chdir(tmp_path)
    assert Sender("mytool").allowed() == "all"
    assert Sender("mytool", config=str(tmp_path / "config.yaml")).allowed() is None


def test_a_sender_trusts_the_ca_bundle_the_environment_names(
        tls_server: SentryServer, ca: trustme.CA, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    [eid] = fill(outbox(), 1)
    sender = Sender("mytool", dsn=https_dsn(tls_server))
    assert sender.drain(time.time() + 5) == SendResult(1, 0, 0, 0)
    sender.close()
    assert event_ids(tls_server) == [eid]
