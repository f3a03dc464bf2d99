"""How a run's record (its transaction) reads in Sentry: its status and its measurements.

Pure mappings, no sentry-sdk: the run's outcome becomes a span status that Sentry's failure
rate and status breakdown read right, and the app's counters become custom measurements that
Sentry can sum and chart (docs/servers.md has the table and where to find them).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

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
