"""reports: a run's journal record as the payloads Sentry receives (pure; no files but sources).

tests/test_journal.py makes a real faulthandler dump and checks the session table; this file
pins every field an app author reads in Sentry, for each way a run can end.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crashreport.reports import iso, report_id, sample_rand, trace_header
from crashreport.reports.fatal import fatal_event, fault_signal, parse_threads
from crashreport.reports.session import session as run_session
from crashreport.reports.session import status_of
from crashreport.reports.usage import http_status, transaction

SID = "0f2b6a31-8a1c-4c55-9d0e-5b5d6f7e8a9b"
RECORD: dict[str, Any] = {
    "sid": SID, "did": "ab" * 16, "app": "mytool", "version": "1.0", "environment": "staging",
    "level": "all", "started": 1.7e9, "trace_id": "c" * 26 + "800000", "span_id": "d" * 16,
    "python": "3.11.7", "implementation": "cpython", "subcommand": "sync",
}  # fmt: skip
ENDED = {"ended": 1.7e9 + 2.5, "outcome": "ok", "exit_code": 0, "errors": 0}
STARTED = "2023-11-14T22:13:20.000000Z"


def test_times_are_utc_with_microseconds() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000000Z"
    assert iso(1.7e9 + 2.25) == "2023-11-14T22:13:22.250000Z"


def test_report_ids_never_change_for_a_run() -> None:
    """A later version of the sender must derive the same ids, or a run is reported twice."""
    assert report_id(RECORD, "session") == SID.replace("-", "")
    assert report_id(RECORD, "transaction") == "04e6e153f95afd4356797041cd530388"
    assert report_id(RECORD, "fatal") == "902f5301c2d28e0d160f47b9fa493c63"


@pytest.mark.parametrize(("tail", "value"), [("000000", "0.000000"), ("800000", "0.500000"),
                                             ("123456", "0.071111"), ("fffff8", "0.999999"),
                                             ("ffffff", "0.999999")])  # fmt: skip
def test_sample_rand_is_below_one_from_the_trace_ids_last_digits(tail: str, value: str) -> None:
    assert sample_rand("0" * 26 + tail) == value
    assert sample_rand("f" * 26 + tail) == value


def test_the_trace_header_as_sentry_sdk_writes_it() -> None:
    assert trace_header(RECORD, "mytool@1.0", "pk") == {
        "trace_id": RECORD["trace_id"], "environment": "staging", "release": "mytool@1.0",
        "public_key": "pk", "sample_rate": "1", "transaction": "sync", "sampled": "true",
        "sample_rand": "0.500000",
    }  # fmt: skip
    errors = {**RECORD, "level": "errors", "environment": None, "subcommand": None}
    assert trace_header(errors, "mytool@1.0", None) == {
        "trace_id": RECORD["trace_id"], "environment": "production", "release": "mytool@1.0",
        "sample_rate": "1",
    }  # fmt: skip
    unnamed = {**RECORD, "subcommand": None}
    assert trace_header(unnamed, "mytool@1.0", "pk")["transaction"] == "mytool"


# -- the session -------------------------------------------------------------------------------
def test_a_finished_run_is_one_exited_session() -> None:
    assert run_session({**RECORD, **ENDED}, "mytool@1.0") == {
        "sid": SID, "did": "ab" * 16, "init": True, "started": STARTED,
        "timestamp": "2023-11-14T22:13:22.500000Z", "status": "exited", "duration": 2.5,
        "attrs": {"release": "mytool@1.0", "environment": "staging"},
    }  # fmt: skip


def test_a_vanished_run_is_abnormal_as_of_when_it_was_last_seen() -> None:
    session = run_session({**RECORD, "environment": ""}, "mytool@1.0", now=1.7e9 + 99)
    assert session == {
        "sid": SID, "did": "ab" * 16, "init": True, "started": STARTED, "timestamp": STARTED,
        "status": "abnormal", "attrs": {"release": "mytool@1.0", "environment": "production"},
    }  # fmt: skip
    seen = run_session({**RECORD, "seen": 1.7e9 + 4}, "mytool@1.0")
    assert seen["timestamp"] == "2023-11-14T22:13:24.000000Z"
    early = run_session({**RECORD, "seen": 1.7e9 - 4}, "mytool@1.0")
    assert early["timestamp"] == STARTED  # never before it started


@pytest.mark.parametrize(("end", "fault", "status", "errors"), [
    ({**ENDED, "errors": 2}, "", "exited", 2),
    ({**ENDED, "outcome": "failed", "exit_code": 1}, "", "exited", 1),
    ({**ENDED, "outcome": "failed", "errors": 4}, "", "exited", 4),
    ({**ENDED, "outcome": "crashed", "crashed": True}, "", "crashed", 1),
    ({**ENDED, "crashed": True, "errors": 3}, "", "crashed", 3),
    ({**ENDED, "errors": None}, "", "exited", None),
    ({}, "Fatal Python error: Aborted\n", "crashed", 1),
    ({**ENDED}, "Fatal Python error: Segmentation fault\n", "crashed", 1),
    ({}, "not a dump", "abnormal", None),
])  # fmt: skip
def test_the_status_and_errors_of_each_ending(end: dict[str, Any], fault: str, status: str,
                                              errors: int | None) -> None:  # fmt: skip
    session = run_session({**RECORD, **end}, "r@1", fault)
    assert (session["status"], session.get("errors")) == (status, errors)
    assert status_of({**RECORD, **end}, fault) == status


def test_a_duration_is_never_negative() -> None:
    session = run_session({**RECORD, "ended": 1.7e9 - 5}, "r@1")
    assert session["duration"] == 0.0
    session = run_session({**RECORD, "ended": 1.7e9 + 1.23456789}, "r@1")
    assert session["duration"] == 1.234568


# -- the usage record ----------------------------------------------------------------------------
def test_the_usage_record_of_a_clean_run() -> None:
    txn = transaction({**RECORD, **ENDED}, "mytool@1.0", {"mytool": "1.0", "pyyaml": "6"})
    assert txn == {
        "type": "transaction", "event_id": "04e6e153f95afd4356797041cd530388",
        "transaction": "sync", "transaction_info": {"source": "custom"}, "platform": "python",
        "start_timestamp": STARTED, "timestamp": "2023-11-14T22:13:22.500000Z",
        "release": "mytool@1.0", "environment": "staging", "user": {"id": "ab" * 16},
        "tags": {"python": "3.11.7", "subcommand": "sync"},
        "contexts": {
            "trace": {"trace_id": RECORD["trace_id"], "span_id": "d" * 16, "op": "cli.run",
                      "status": "ok", "data": {"outcome": "ok", "exit_code": 0}},
            "runtime": {"name": "CPython", "version": "3.11.7"},
            "packages": {"mytool": "1.0", "pyyaml": "6"},
        },
        "spans": [], "measurements": {}, "sdk": {"name": "crashreport", "version": "0.1.0"},
    }  # fmt: skip


def test_a_run_without_subcommand_is_named_after_the_app() -> None:
    record = {**RECORD, **ENDED, "subcommand": None, "environment": None, "implementation": "pypy"}
    del record["outcome"], record["exit_code"]
    txn = transaction(record, "r@1", {})
    assert (txn["transaction"], txn["tags"], txn["environment"]) == \
        ("mytool", {"python": "3.11.7"}, "production")  # fmt: skip
    assert txn["contexts"]["trace"]["data"] == {"outcome": "ok", "exit_code": 0}
    assert txn["contexts"]["runtime"] == {"name": "PyPy", "version": "3.11.7"}
    other = transaction({**record, "implementation": "graalpy"}, "r@1", {})
    assert other["contexts"]["runtime"]["name"] == "CPython"
    assert transaction({**record, "ended": 1.7e9 - 1}, "r@1", {})["timestamp"] == STARTED


def test_counters_go_as_data_and_measurements() -> None:
    txn = transaction({**RECORD, **ENDED, "counters": {"files": 3, "Bytes Read": 2.5}},
                              "r@1", {})  # fmt: skip
    assert txn["contexts"]["trace"]["data"]["counters"] == {"files": 3, "Bytes Read": 2.5}
    assert txn["measurements"] == {"files": {"value": 3, "unit": "none"},
                                   "bytes_read": {"value": 2.5, "unit": "none"}}  # fmt: skip


def test_each_action_is_a_span_of_the_run() -> None:
    spans = [
        {"name": "fetch", "start": 1.7e9, "duration": 0.5, "outcome": "error",
         "data": {"status_code": 503, "host_kind": "api"}},
        {"name": "parse", "start": 1.7e9 + 1, "duration": 0.25, "outcome": "error",
         "error": {"type": "ValueError", "message": "bad"}},
        {"name": "run", "start": 1.7e9 + 2, "duration": -1, "outcome": "error",
         "data": {"exit_code": 2}},
        {"name": "noop"},
        "not a span",
    ]  # fmt: skip
    txn = transaction({**RECORD, **ENDED, "spans": spans}, "r@1", {})
    fetch, parse, run, noop = txn["spans"]
    assert fetch == {
        "trace_id": RECORD["trace_id"], "span_id": "672b2c4309fd9cb8", "parent_span_id": "d" * 16,
        "op": "action", "description": "fetch", "start_timestamp": STARTED,
        "timestamp": "2023-11-14T22:13:20.500000Z", "status": "unavailable",
        "data": {"outcome": "error", "status_code": 503, "host_kind": "api",
                 "http.response.status_code": 503},
    }  # fmt: skip
    assert parse["span_id"] == "cfa0f446078dce53"
    assert (parse["status"], parse["data"]) == ("internal_error", {
        "outcome": "error", "error.type": "ValueError", "error.message": "bad"})
    assert parse["timestamp"] == "2023-11-14T22:13:21.250000Z"
    assert (run["status"], run["start_timestamp"], run["timestamp"]) == \
        ("invalid_argument", "2023-11-14T22:13:22.000000Z", "2023-11-14T22:13:22.000000Z")  # fmt: skip
    assert (noop["status"], noop["data"], noop["start_timestamp"]) == \
        ("ok", {"outcome": "ok"}, "1970-01-01T00:00:00.000000Z")  # fmt: skip


@pytest.mark.parametrize(("data", "status"), [
    ({"outcome": "error"}, "aborted"), ({"outcome": "error", "exit_code": 2}, "invalid_argument"),
    ({"outcome": "error", "exit_code": 130}, "cancelled"), ({"status_code": True}, "ok"),
])  # fmt: skip
def test_a_span_without_http_status_reads_its_outcome(data: dict[str, Any], status: str) -> None:
    span = {"name": "x", "start": 1.7e9, "duration": 0, "outcome": data.pop("outcome", "ok"),
            "data": data}  # fmt: skip
    [out] = transaction({**RECORD, **ENDED, "spans": [span]}, "r@1", {})["spans"]
    assert out["status"] == status


@pytest.mark.parametrize(("code", "status"), [
    (200, "ok"), (302, "ok"), (399, "ok"), (400, "invalid_argument"), (401, "unauthenticated"),
    (402, "invalid_argument"), (403, "permission_denied"), (404, "not_found"),
    (409, "already_exists"), (413, "failed_precondition"), (429, "resource_exhausted"),
    (499, "cancelled"), (500, "internal_error"), (501, "unimplemented"), (502, "internal_error"),
    (503, "unavailable"), (504, "deadline_exceeded"), (599, "internal_error"),
])  # fmt: skip
def test_http_status_codes_read_as_sentry_sdk_reads_them(code: int, status: str) -> None:
    assert http_status(code) == status


# -- a fatal signal ------------------------------------------------------------------------------
@pytest.mark.parametrize(("what", "name", "number"), [
    ("Segmentation fault", "SIGSEGV", 11), ("Aborted", "SIGABRT", 6),
    ("Floating point exception", "SIGFPE", 8), ("Bus error", "SIGBUS", 7),
    ("Illegal instruction", "SIGILL", 4), ("Stack fault", "SIGSEGV", 0),
    ("Something else", "fatal", 0),
])  # fmt: skip
def test_faulthandlers_words_name_the_signal(what: str, name: str, number: int) -> None:
    dump = f"\nFatal Python error: {what}  \n\nCurrent thread 0x1 (most recent call first):\n"
    assert fault_signal(dump) == (what, name, number)


def test_no_dump_is_no_signal() -> None:
    assert fault_signal("") is None
    assert fault_signal("Python error: Segmentation fault") is None
    assert fault_signal("  Fatal Python error: Aborted") is None  # not at a line start


def _source(tmp_path: Path) -> Path:
    path = tmp_path / "app.py"
    path.write_text("".join(f"line {i}\n" for i in range(1, 21)))
    return path


def _dump(path: Path) -> str:
    return (
        "Fatal Python error: Segmentation fault\n\n"
        "Thread 0x00007f0000000001 (most recent call first):\n"
        '  File "/usr/lib/python3.11/threading.py", line 320 in wait\n'
        f'  File "{path}", line 3 in worker\n\n'
        "Current thread 0x00007f0000000002 (most recent call first):\n"
        f'  File "{path}", line 10 in convert\n'
        f'  File "{path}", line 19 in <module>\n\n'
        "Extension modules: yaml._yaml (total: 1)\n"
    )


def test_the_threads_of_a_dump_oldest_frame_first(tmp_path: Path) -> None:
    path = _source(tmp_path)
    assert parse_threads('  File "x.py", line 1 in f\n' + _dump(path)) == [
        {"id": "0x00007f0000000001", "current": False,
         "frames": [(str(path), 3, "worker"), ("/usr/lib/python3.11/threading.py", 320, "wait")]},
        {"id": "0x00007f0000000002", "current": True,
         "frames": [(str(path), 19, "<module>"), (str(path), 10, "convert")]},
    ]  # fmt: skip


def test_a_fatal_crash_event_with_every_threads_stack(tmp_path: Path) -> None:
    path = _source(tmp_path)
    event = fatal_event(RECORD, _dump(path), "mytool@1.0", {"mytool": "1.0"}, when=1.7e9 + 3)
    assert event is not None
    [exc] = event["exception"]["values"]
    convert = {"filename": "app.py", "abs_path": str(path), "function": "convert", "lineno": 10,
               "pre_context": [f"line {i}" for i in range(5, 10)], "context_line": "line 10",
               "post_context": [f"line {i}" for i in range(11, 16)]}  # fmt: skip
    module = {"filename": "app.py", "abs_path": str(path), "function": "<module>", "lineno": 19,
              "pre_context": [f"line {i}" for i in range(14, 19)], "context_line": "line 19",
              "post_context": ["line 20"]}  # fmt: skip
    assert exc == {
        "type": "SIGSEGV", "value": "Fatal Python error: Segmentation fault",
        "mechanism": {"type": "signalhandler", "handled": False, "synthetic": True,
                      "meta": {"signal": {"name": "SIGSEGV", "number": 11}}},
        "stacktrace": {"frames": [module, convert]}, "thread_id": "0x00007f0000000002",
    }  # fmt: skip
    worker, current = event["threads"]["values"]
    assert (worker["id"], worker["current"], worker["crashed"]) == ("0x00007f0000000001", False, False)
    assert worker["stacktrace"]["frames"][0]["pre_context"] == ["line 1", "line 2"]
    assert worker["stacktrace"]["frames"][1]["filename"] == "threading.py"
    assert (current["current"], current["crashed"]) == (True, True)
    assert {k: v for k, v in event.items() if k not in ("exception", "threads")} == {
        "event_id": "902f5301c2d28e0d160f47b9fa493c63", "level": "fatal", "platform": "python",
        "timestamp": "2023-11-14T22:13:23.000000Z", "release": "mytool@1.0",
        "environment": "staging", "user": {"id": "ab" * 16},
        "tags": {"python": "3.11.7", "subcommand": "sync"},
        "contexts": {"runtime": {"name": "CPython", "version": "3.11.7"},
                     "packages": {"mytool": "1.0"},
                     "trace": {"trace_id": RECORD["trace_id"], "span_id": "b7d7d81e56a7d124",
                               "parent_span_id": "d" * 16}},
        "modules": {"mytool": "1.0"}, "sdk": {"name": "crashreport", "version": "0.1.0"},
    }  # fmt: skip


def test_a_crash_at_level_errors_has_no_usage_record_to_belong_to(tmp_path: Path) -> None:
    record = {**RECORD, "level": "errors", "subcommand": None, "environment": None}
    event = fatal_event(record, _dump(_source(tmp_path)), "r@1", {})
    assert event is not None
    assert "parent_span_id" not in event["contexts"]["trace"]
    assert event["tags"] == {"python": "3.11.7"} and event["environment"] == "production"


def test_a_dump_without_a_current_thread_or_without_threads(tmp_path: Path) -> None:
    import time

    path = _source(tmp_path)
    no_current = _dump(path).replace("Current thread", "Thread")
    event = fatal_event(RECORD, no_current, "r@1", {})
    assert event is not None
    assert event["exception"]["values"][0]["thread_id"] == "0x00007f0000000001"
    before = time.time()
    bare = fatal_event(RECORD, "Fatal Python error: Aborted\n", "r@1", {})
    assert bare is not None
    assert "stacktrace" not in bare["exception"]["values"][0]
    assert bare["threads"] == {"values": []}
    assert iso(before - 1) <= bare["timestamp"] <= iso(time.time() + 1)


@pytest.mark.parametrize("where", ["<frozen importlib._bootstrap>", "", "/nonexistent/x.py"])
def test_a_frame_without_readable_source_has_no_context(where: str) -> None:
    dump = f'Fatal Python error: Aborted\n\nCurrent thread 0x1:\n  File "{where}", line 2 in f\n'
    event = fatal_event(RECORD, dump, "r@1", {})
    assert event is not None
    [frame] = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert frame == {"filename": where.rsplit("/", 1)[-1], "abs_path": where, "function": "f",
                     "lineno": 2}  # fmt: skip


@pytest.mark.parametrize("lineno", [0, 21, 99])
def test_a_line_outside_the_file_has_no_context(tmp_path: Path, lineno: int) -> None:
    path = _source(tmp_path)
    dump = f'Fatal Python error: Aborted\n\nCurrent thread 0x1:\n  File "{path}", line {lineno} in f\n'
    event = fatal_event(RECORD, dump, "r@1", {})
    assert event is not None
    [frame] = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert "context_line" not in frame and frame["lineno"] == lineno


def test_line_one_and_the_last_line_have_their_context(tmp_path: Path) -> None:
    path = _source(tmp_path)
    dump = (f'Fatal Python error: Aborted\n\nCurrent thread 0x1:\n  File "{path}", line 20 in g\n'
            f'  File "{path}", line 1 in f\n')  # fmt: skip
    event = fatal_event(RECORD, dump, "r@1", {})
    assert event is not None
    first, last = event["exception"]["values"][0]["stacktrace"]["frames"]
    assert (first["pre_context"], first["context_line"]) == ([], "line 1")
    assert first["post_context"] == [f"line {i}" for i in range(2, 7)]
    assert (last["context_line"], last["post_context"]) == ("line 20", [])
