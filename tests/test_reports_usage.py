"""The run record as Sentry reads it: statuses through Relay, counters as measurements."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sentry_relay import SPAN_STATUS_NAME_TO_CODE, StoreNormalizer

from crashreport.reports import usage
from crashreport.reports.usage import (
    BUILTIN,
    MAX_MEASUREMENTS,
    NOT_FAILURES,
    http_status,
    measurement_name,
    measurements,
    run_status,
)

from . import strategies

PROPS = settings(max_examples=strategies.examples(200), deadline=None)


def transaction(status: str = "ok", measured: dict[str, Any] | None = None) -> dict[str, Any]:
    now = time.time()
    event: dict[str, Any] = {
        "type": "transaction", "transaction": "sync", "start_timestamp": now - 1,
        "timestamp": now, "spans": [],
        "contexts": {"trace": {"trace_id": "a" * 32, "span_id": "b" * 16, "op": "cli.run",
                               "status": status}},
    }  # fmt: skip
    if measured is not None:
        event["measurements"] = measured
    return event


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    """What Sentry's ingest keeps of ``event`` (Relay's store normaliser)."""
    return dict(StoreNormalizer(project_id=1).normalize_event(event))


@pytest.mark.parametrize(
    ("outcome", "code", "status", "failure"),
    [
        ("ok", 0, "ok", False),
        ("failed", 1, "aborted", True),
        ("failed", 3, "aborted", True),
        ("failed", 2, "invalid_argument", True),
        ("failed", 130, "cancelled", False),
        ("crashed", 1, "internal_error", True),
        ("interrupted", 130, "cancelled", False),
    ],
)
def test_run_status_as_sentry_reads_it(outcome: str, code: int, status: str, failure: bool) -> None:
    assert run_status(outcome, code) == status
    kept = normalized(transaction(status))["contexts"]["trace"]["status"]
    assert kept == status  # Relay keeps it as it is (sentry-sdk's unknown_error it does not)
    assert (kept not in NOT_FAILURES) == failure
    # only a crash reads as Sentry's crash status
    assert (kept == "internal_error") == (outcome == "crashed")


def test_unknown_error_is_what_relay_turns_into_a_crash() -> None:
    """Why crashreport no longer uses sentry-sdk's ``unknown_error`` for a failed run."""
    assert normalized(transaction("unknown_error"))["contexts"]["trace"]["status"] == "internal_error"


@given(st.sampled_from(["ok", "failed", "crashed", "interrupted"]), st.integers(-300, 300))
def test_every_status_is_one_relay_knows(outcome: str, code: int) -> None:
    assert run_status(outcome, code) in SPAN_STATUS_NAME_TO_CODE


counter_names = st.text(max_size=40) | st.sampled_from(sorted(BUILTIN)) | st.from_regex(
    r"\A[a-zA-Z][a-zA-Z0-9_.\-]{0,30}\Z")
counter_values = st.integers(-(10**12), 10**12) | st.floats(allow_nan=True, allow_infinity=True)


@PROPS
@given(st.dictionaries(counter_names, counter_values, max_size=25))
@example({"Files-Changed": 3, "files_changed": 2})
@example({"9lives": 1, "fcp": 2, "": 3, "___": 4})
@example({f"c{i:02d}": i for i in range(15)})
@example({"big": 1e308, "BIG": 1e308})
@example({"0": 6.890436292619675e-55})  # Relay prints it back one ulp off: kept all the same
def test_relay_keeps_every_measurement_sent(counters: dict[str, float]) -> None:
    measured = measurements(counters)
    assert len(measured) <= MAX_MEASUREMENTS
    assert all(math.isfinite(m["value"]) and m["unit"] == "none" for m in measured.values())
    assert not BUILTIN & measured.keys()  # a counter never poses as a web or mobile vital
    kept = normalized(transaction(measured=measured)).get("measurements", {})
    assert kept.keys() == measured.keys()
    for name, m in kept.items():
        assert m["unit"] == "none"
        assert math.isclose(m["value"], measured[name]["value"], rel_tol=1e-12)
    assert "measurements" not in kept.get("_meta", {})


def test_measurements_of_the_example_counters() -> None:
    assert measurements({"greetings": 1, "Files Changed": 3, "files-changed": 2, "fcp": 4,
                         "bytes": float("inf"), "42": 5, "flag": True}) == {  # type: ignore[dict-item]
        "greetings": {"value": 1, "unit": "none"},
        "files_changed": {"value": 5, "unit": "none"},
        "fcp_count": {"value": 4, "unit": "none"},
        "n_42": {"value": 5, "unit": "none"},
    }


def test_beyond_the_limit_the_first_names_are_kept_as_relay_would() -> None:
    """Sentry's global config sets ``maxCustomMeasurements: 10``; Relay keeps the first ten
    names in order (its measurements are a sorted map) and drops the rest."""
    counters = {f"c{i:02d}": i for i in reversed(range(15))}
    assert list(measurements(counters)) == [f"c{i:02d}" for i in range(10)]


@pytest.mark.parametrize(("counter", "name"), [
    ("greetings", "greetings"), ("HTTP.Requests", "http.requests"), ("a b-c", "a_b_c"),
    ("_x_", "x"), ("!!!", None), ("", None), ("ttfb", "ttfb_count"), ("2fa", "n_2fa"),
    ("x" * 300, "x" * 150),
])  # fmt: skip
def test_measurement_name(counter: str, name: str | None) -> None:
    assert measurement_name(counter) == name


def test_a_status_relay_does_not_know_reads_as_unknown_which_is_no_failure() -> None:
    """Sentry's failure rate counts every status but ``ok``, ``cancelled`` and ``unknown``; Relay
    turns a status it does not know into ``unknown``, so such a run would never count as failed."""
    assert sorted(NOT_FAILURES) == ["cancelled", "ok", "unknown"]
    assert normalized(transaction("no_such_status"))["contexts"]["trace"]["status"] in NOT_FAILURES


@pytest.mark.parametrize("code", [None, 0, 1, 2, 130])
def test_an_interrupted_run_reads_cancelled_whatever_its_exit_code(code: int | None) -> None:
    assert run_status("interrupted", code) == "cancelled"


@given(st.integers(100, 599))
def test_every_http_status_is_one_relay_knows_and_none_is_a_crash_unless_a_5xx(code: int) -> None:
    status = http_status(code)
    assert status in SPAN_STATUS_NAME_TO_CODE and status != "unknown_error"
    assert (status in NOT_FAILURES) == (code < 400 or code == 499)


# Sentry's web and mobile vitals, written out: a counter of the same name must not pose as one.
SENTRY_VITALS = [
    "app_start_cold", "app_start_warm", "cls", "fcp", "fid", "fp", "frames_frozen",
    "frames_frozen_rate", "frames_slow", "frames_slow_rate", "frames_total", "inp", "lcp",
    "stall_count", "stall_longest_time", "stall_percentage", "stall_total_time",
    "time_to_full_display", "time_to_initial_display", "ttfb", "ttfb.requesttime",
]  # fmt: skip


@pytest.mark.parametrize("vital", SENTRY_VITALS)
def test_a_counter_named_like_a_sentry_vital_is_measured_as_a_count(vital: str) -> None:
    assert measurement_name(vital) == measurement_name(vital.upper()) == f"{vital}_count"
    assert measurements({vital: 7}) == {f"{vital}_count": {"value": 7, "unit": "none"}}


@pytest.mark.parametrize("bad", [
    {"flag": True}, {"bytes": "3"}, {"nothing": None}, {"!!!": 1}, {"": 2},
])  # fmt: skip
def test_a_counter_left_out_does_not_stop_the_ones_after_it(bad: dict[str, Any]) -> None:
    counters = {**bad, "files": 3, "zzz": 1}
    assert measurements(counters) == {"files": {"value": 3, "unit": "none"},
                                      "zzz": {"value": 1, "unit": "none"}}  # fmt: skip


RECORD: dict[str, Any] = {
    "sid": "0f2b6a31-8a1c-4c55-9d0e-5b5d6f7e8a9b", "did": "ab" * 16, "app": "mytool",
    "started": 1.7e9, "ended": 1.7e9 + 2.5, "trace_id": "c" * 32, "span_id": "d" * 16,
    "python": "3.11.7", "subcommand": "sync",
}  # fmt: skip


@pytest.mark.parametrize(("outcome", "code", "status"), [
    ("ok", 0, "ok"), ("failed", 2, "invalid_argument"), ("failed", 1, "aborted"),
    ("failed", 130, "cancelled"), ("crashed", 1, "internal_error"), ("interrupted", 1, "cancelled"),
])  # fmt: skip
def test_a_run_reads_with_the_status_of_its_outcome_and_exit(outcome: str, code: int, status: str) -> None:
    txn = usage.transaction({**RECORD, "outcome": outcome, "exit_code": code}, "mytool@1.0", {})
    trace = normalized(txn)["contexts"]["trace"]
    assert trace["status"] == status
    assert trace["data"] == {"outcome": outcome, "exit_code": code}


def action(**span: Any) -> dict[str, Any]:
    """The one span of a run with one action ``span`` (started at the run's start)."""
    spans: list[dict[str, Any]] = usage.transaction(
        {**RECORD, "spans": [{"name": "fetch", "start": 1.7e9, **span}]}, "mytool@1.0", {})["spans"]
    [out] = spans
    return out


@pytest.mark.parametrize("duration", [{}, {"duration": None}, {"duration": 0}, {"duration": -1}])
def test_an_action_without_a_duration_ends_when_it_starts(duration: dict[str, Any]) -> None:
    span = action(**duration)
    assert span["timestamp"] == span["start_timestamp"] == "2023-11-14T22:13:20.000000Z"


@pytest.mark.parametrize("status_code", [True, False, "503", 503.0, None])
def test_an_action_status_code_that_is_not_an_int_is_no_http_status(status_code: object) -> None:
    span = action(outcome="error", data={"status_code": status_code})
    assert span["status"] == "aborted"
    assert "http.response.status_code" not in span["data"]


@pytest.mark.parametrize(("outcome", "code", "status"), [
    ("ok", 503, "unavailable"), ("error", 200, "ok"), ("error", 404, "not_found"),
])  # fmt: skip
def test_an_action_with_an_http_status_code_reads_as_it(outcome: str, code: int, status: str) -> None:
    span = action(outcome=outcome, data={"status_code": code})
    assert span["status"] == status
    assert span["data"]["http.response.status_code"] == code
