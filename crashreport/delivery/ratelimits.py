"""Sentry's rate limits, per data category: read from an answer, applied to every report.

A server limits by *data category* (``X-Sentry-Rate-Limits: 60:error;session:organization,
86400:transaction;span:organization``; an empty category list means every category), or says
only ``429`` with ``Retry-After``. Each report is held for the limits of its own categories, never
for another's: a 24 h limit on transactions (what Bugsink answers to every envelope) never holds
a crash report. Pure functions; the outbox keeps the limits on disk for later senders.
"""

from __future__ import annotations

#: Without a usable ``Retry-After``, a 429 holds every category this long (sentry-sdk's default).
DEFAULT_RETRY_AFTER = 60.0
#: A limit longer than this is read as this long: a wrong header must not stop reports for weeks.
MAX_LIMIT = 7 * 24 * 3600.0
#: Item type → Sentry's data category (sentry_sdk.envelope.Item.data_category).
CATEGORY = {"session": "session", "sessions": "session", "transaction": "transaction",
            "span": "span", "event": "error", "log": "log_item", "client_report": "internal",
            "trace_metric": "trace_metric", "attachment": "attachment"}  # fmt: skip
#: Categories whose reports wait out a limit (crash reports, release health); reports of any
#: other category (the usage record, spans …) are dropped while limited, as sentry-sdk does.
HELD = frozenset({"error", "session", "default"})
#: The key for a limit on every category.
ALL = ""


def category(kind: str) -> str:
    return CATEGORY.get(kind, "default")


def parse(rate_limits: str | None, retry_after: str | None, status: int | None,
          now: float) -> dict[str, float]:  # fmt: skip
    """Category → unix time until which it is limited (``""``: every category)."""
    limits: dict[str, float] = {}
    for part in (rate_limits or "").split(","):
        fields = part.strip().split(":")
        try:
            seconds = min(max(float(fields[0]), 0.0), MAX_LIMIT)
        except ValueError:
            continue
        categories = [c.strip() for c in fields[1].split(";")] if len(fields) > 1 else [""]
        for cat in categories or [ALL]:
            limits[cat] = max(limits.get(cat, 0.0), now + seconds)
    if not limits and status == 429:
        limits[ALL] = now + _retry_after(retry_after, now)
    return limits


def _retry_after(value: str | None, now: float) -> float:
    """Seconds from a ``Retry-After`` (seconds or an HTTP date); the default if unusable."""
    if value:
        try:
            return min(max(float(value), 0.0), MAX_LIMIT) or DEFAULT_RETRY_AFTER
        except ValueError:
            pass
        try:
            from email.utils import parsedate_to_datetime

            return min(max(parsedate_to_datetime(value).timestamp() - now, 0.0), MAX_LIMIT) \
                or DEFAULT_RETRY_AFTER  # fmt: skip
        except (TypeError, ValueError, IndexError, OverflowError):
            pass
    return DEFAULT_RETRY_AFTER


def until(kinds: tuple[str, ...], limits: dict[str, float], now: float) -> float:
    """When a report with items of ``kinds`` may be sent (``now`` or earlier: at once)."""
    cats = {category(k) for k in kinds} | {ALL}
    return max([now, *(limits[c] for c in cats if c in limits)])


def held(kinds: tuple[str, ...]) -> bool:
    """Whether a report of ``kinds`` waits out a limit (else it is dropped while limited)."""
    return any(category(k) in HELD for k in kinds)
