"""The run record as Sentry reads it: statuses through Relay, counters as measurements."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from sentry_relay import SPAN_STATUS_NAME_TO_CODE, StoreNormalizer

from crashreport.reports.usage import (
    BUILTIN,
    MAX_MEASUREMENTS,
    NOT_FAILURES,
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
