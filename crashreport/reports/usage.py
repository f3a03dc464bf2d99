"""A run's usage record: a transaction named after the subcommand, its tracked actions as spans,
its counters as custom measurements, and a status that reads right in Sentry.

The statuses: a usage error reads as ``invalid_argument``, any other failure as ``aborted``
(both count in Sentry's failure rate; neither reads as a crash: sentry-sdk's ``unknown_error``
becomes ``internal_error`` in Relay, the crash status). The measurements: Relay keeps at most 10
custom ones per transaction, with names in ``[a-z0-9_.]`` (docs/servers.md has the table).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping
from typing import Any

from . import SDK, iso, report_id, runtime

#: Exit codes with a conventional meaning: a usage error (argparse, click) and Ctrl-C (128 + 2).
USAGE_ERROR = 2
INTERRUPTED = 130

#: Span statuses that Sentry does not count in a transaction's failure rate.
NOT_FAILURES = frozenset({"ok", "cancelled", "unknown"})

#: Custom measurements that Sentry keeps per transaction (its global config's
#: ``maxCustomMeasurements``); Relay keeps the first ones in name order and drops the rest.
MAX_MEASUREMENTS = 10
#: Longest name kept: Relay's metric names are limited to 200 bytes with the
#: ``d:transactions/measurements.`` prefix and ``@none`` unit around them.
MAX_NAME = 150
#: Names Sentry gives a meaning of its own (web and mobile vitals): a counter never takes one.
BUILTIN = frozenset({
    "app_start_cold", "app_start_warm", "cls", "fcp", "fid", "fp", "frames_frozen",
    "frames_frozen_rate", "frames_slow", "frames_slow_rate", "frames_total", "inp", "lcp",
    "stall_count", "stall_longest_time", "stall_percentage", "stall_total_time",
    "time_to_full_display", "time_to_initial_display", "ttfb", "ttfb.requesttime",
})  # fmt: skip
_NOT_NAME = re.compile(r"[^a-z0-9_.]+")


def run_status(outcome: str, exit_code: int | None) -> str:
    """The span status of a run (or an action) that ended with ``outcome`` and ``exit_code``.

    ``ok``, ``crashed`` (an uncaught exception), ``interrupted`` (Ctrl-C) or ``failed`` (a non-zero
    exit code). A usage error reads as ``invalid_argument``, any other failure as ``aborted``:
    both count as failures, neither reads as a crash (sentry-sdk's ``unknown_error`` becomes
    ``internal_error`` in Relay, the crash status).
    """
    if outcome == "ok":
        return "ok"
    if outcome == "interrupted" or exit_code == INTERRUPTED:
        return "cancelled"
    if outcome == "crashed":
        return "internal_error"
    return "invalid_argument" if exit_code == USAGE_ERROR else "aborted"


def measurement_name(counter: str) -> str | None:
    """The measurement name Relay keeps for ``counter``: lower case, ``[a-z0-9_.]``, starting
    with a letter, not a built-in name; None when nothing of it is left."""
    name = _NOT_NAME.sub("_", counter.lower()).strip("_.")[:MAX_NAME].rstrip("_.")
    if not name:
        return None
    if not name[0].isalpha():
        name = "n_" + name
    return name + "_count" if name in BUILTIN else name


def measurements(counters: Mapping[str, float]) -> dict[str, dict[str, object]]:
    """The run's counters as custom measurements (unit ``none``), as many as Sentry keeps.

    Counters whose names meet in one measurement name are added up; values that are not
    finite are left out; beyond :data:`MAX_MEASUREMENTS` names, the first ones in name order are
    kept (the ones Relay would keep). All counters stay in the run's data as well.
    """
    totals: dict[str, float] = {}
    for counter, value in counters.items():
        name = measurement_name(str(counter))
        if name is None or isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(value):
            totals[name] = totals.get(name, 0) + value
    kept = sorted(n for n, v in totals.items() if math.isfinite(v))[:MAX_MEASUREMENTS]
    return {name: {"value": totals[name], "unit": "none"} for name in kept}


def transaction(record: dict[str, Any], release: str, packages: dict[str, str]) -> dict[str, Any]:
    """The run's usage record: a transaction named after the subcommand, its actions as spans."""
    started, ended = float(record["started"]), float(record["ended"])
    outcome = str(record.get("outcome") or "ok")
    trace_id, span_id = str(record["trace_id"]), str(record["span_id"])
    data: dict[str, Any] = {"outcome": outcome, "exit_code": record.get("exit_code", 0)}
    counters = record.get("counters") or {}
    if counters:
        data["counters"] = counters
    spans = [_span(s, trace_id, span_id, i) for i, s in enumerate(record.get("spans") or [])
             if isinstance(s, dict)]  # fmt: skip
    tags = {"python": record.get("python")}
    if record.get("subcommand"):
        tags["subcommand"] = record["subcommand"]
    return {
        "type": "transaction", "event_id": report_id(record, "transaction"),
        "transaction": record.get("subcommand") or record.get("app"),
        "transaction_info": {"source": "custom"}, "platform": "python",
        "start_timestamp": iso(started), "timestamp": iso(max(started, ended)),
        "release": release, "environment": record.get("environment") or "production",
        "user": {"id": record.get("did")}, "tags": tags,
        "contexts": {
            "trace": {"trace_id": trace_id, "span_id": span_id, "op": "cli.run",
                      "status": run_status(outcome, record.get("exit_code")), "data": data},
            "runtime": runtime(record), "packages": dict(packages),
        },
        "spans": spans, "measurements": measurements(counters), "sdk": SDK,
    }  # fmt: skip


def _span(span: dict[str, Any], trace_id: str, parent: str, index: int) -> dict[str, Any]:
    start = float(span.get("start") or 0.0)
    duration = max(0.0, float(span.get("duration") or 0.0))
    data = {"outcome": span.get("outcome", "ok"), **(span.get("data") or {})}
    error = span.get("error") or {}
    if error:
        data["error.type"] = error.get("type")
        data["error.message"] = error.get("message")
    status_code = data.get("status_code")
    if isinstance(status_code, int) and not isinstance(status_code, bool):
        status = http_status(status_code)
        data["http.response.status_code"] = status_code
    else:
        outcome = "ok" if data["outcome"] == "ok" else "crashed" if error.get("type") else "failed"
        status = run_status(outcome, data.get("exit_code"))
    return {
        "trace_id": trace_id, "span_id": hashlib.blake2b(f"{parent}:{index}".encode(),
                                                          digest_size=8).hexdigest(),
        "parent_span_id": parent, "op": "action", "description": span.get("name"),
        "start_timestamp": iso(start), "timestamp": iso(start + duration), "status": status,
        "data": data,
    }  # fmt: skip


def http_status(code: int) -> str:
    """Sentry's span status for an HTTP status code: sentry-sdk's ``set_http_status`` table,
    except 499 (client closed the request), which Sentry's span statuses name ``cancelled``."""
    if code < 400:
        return "ok"
    named = {400: "invalid_argument", 401: "unauthenticated", 403: "permission_denied",
             404: "not_found", 409: "already_exists", 413: "failed_precondition",
             429: "resource_exhausted", 499: "cancelled", 501: "unimplemented",
             503: "unavailable", 504: "deadline_exceeded"}  # fmt: skip
    return named.get(code, "invalid_argument" if code < 500 else "internal_error")
