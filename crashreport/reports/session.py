"""A run's session: one update, ``init: true``, sent once the run is over, with its final status."""

from __future__ import annotations

from typing import Any

from . import iso
from .fatal import fault_signal


def status_of(record: dict[str, Any], fault: str) -> str:
    if fault_signal(fault) is not None or record.get("crashed"):
        return "crashed"
    if "ended" not in record:
        return "abnormal"
    return "exited"


def session(record: dict[str, Any], release: str, fault: str = "", now: float | None = None
            ) -> dict[str, Any]:  # fmt: skip
    """The run's session: one update, ``init: true``, with its final status."""
    started = float(record["started"])
    status = status_of(record, fault)
    ended = record.get("ended")
    end = float(ended) if isinstance(ended, int | float) else max(started, _last_seen(record, now))
    errors = int(record.get("errors") or 0)
    if record.get("outcome") == "failed" or status == "crashed":
        errors = max(errors, 1)
    out: dict[str, Any] = {
        "sid": record["sid"], "did": record.get("did"), "init": True,
        "started": iso(started), "timestamp": iso(end), "status": status,
        "attrs": {"release": release, "environment": record.get("environment") or "production"},
    }  # fmt: skip
    if errors:
        out["errors"] = errors
    if isinstance(ended, int | float):
        out["duration"] = round(max(0.0, end - started), 6)
    return out


def _last_seen(record: dict[str, Any], now: float | None) -> float:
    seen = record.get("seen")
    return float(seen) if isinstance(seen, int | float) else float(record["started"])
