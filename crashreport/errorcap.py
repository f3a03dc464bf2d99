"""A per-run cap on handled error events, so that an error logged in a loop stays cheap.

Pure: no sentry import. The reporter installs :class:`ErrorCap` as a sentry-sdk event processor.
"""

from __future__ import annotations

import threading
from typing import Any

from . import usage

#: Default for how many handled errors (logged or captured) one run sends. A program that logs
#: the same error in a loop would otherwise pay sentry-sdk's per-event cost (~5 ms: serialise,
#: scrub, queue) on every iteration and flood the outbox. Crashes are never capped. Keep in
#: step with ``crashreport.init``'s default (kept literal there: start-up imports nothing more).
DEFAULT_MAX_ERRORS = 50

#: The counter (in the run's usage record, level ``all``) of errors the cap kept back.
ERRORS_DROPPED = "crashreport.errors_dropped"


class ErrorCap:
    """A per-run cap on handled error events: the first ``limit`` distinct errors go out.

    An error identical to one already sent this run (same exception types and innermost frames,
    or same logger and message template) and any error past the ``limit``-th are dropped and
    counted. Unhandled errors (crashes: ``mechanism.handled`` is false) always pass, so that
    the session is marked crashed. Installed as an event processor, it runs before sentry-sdk
    serialises the event (``before_send`` runs after that, which is the expensive part).
    """

    def __init__(self, limit: int) -> None:
        self.limit = max(0, int(limit))
        self.seen: set[tuple[Any, ...]] = set()
        self.dropped = 0
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        if event.get("type") == "transaction":
            return event
        values = (event.get("exception") or {}).get("values") or []
        if any((v.get("mechanism") or {}).get("handled") is False for v in values):
            return event
        key = self.key(event, values)
        with self._lock:
            if key not in self.seen and len(self.seen) < self.limit:
                self.seen.add(key)
                return event
            self.dropped += 1
        usage.COUNTERS.add(ERRORS_DROPPED)
        return None

    @staticmethod
    def key(event: dict[str, Any], values: list[dict[str, Any]]) -> tuple[Any, ...]:
        """What makes two errors "the same" here: close to how Sentry groups them."""
        parts: list[Any] = [event.get("logger"), event.get("level")]
        logentry = event.get("logentry") or {}
        parts.append(str(logentry.get("message") or event.get("message") or "")[:200])
        for v in values:
            frames = ((v.get("stacktrace") or {}).get("frames") or [])[-3:]
            parts.append((v.get("type"), v.get("module"),
                          tuple((f.get("filename"), f.get("function"), f.get("lineno"))
                                for f in frames)))  # fmt: skip
        return tuple(parts)
