"""Describe stored envelopes for a person (used by ``show`` and ``demo``)."""

from __future__ import annotations

from typing import Any

from ..delivery.envelopes import Item, parse


def first_event(data: bytes) -> dict[str, Any] | None:
    """The event payload of an envelope, if it carries one."""
    _, items = parse(data)
    for item in items:
        if item.type == "event" and isinstance(item.payload, dict):
            return item.payload
    return None


def exception_summary(event: dict[str, Any]) -> tuple[str, str]:
    """``("Type: value", "module in function")`` of an event's last exception, or its message."""
    values = (event.get("exception") or {}).get("values") or []
    if values and isinstance(values[-1], dict):
        exc = values[-1]
        what = f"{exc.get('type', '?')}: {exc.get('value', '')}".rstrip(": ")
        frames = (exc.get("stacktrace") or {}).get("frames") or []
        where = ""
        if frames and isinstance(frames[-1], dict):
            frame = frames[-1]
            module = frame.get("module") or frame.get("filename") or "?"
            where = f"{module} in {frame.get('function') or '?'}"
        return what, where
    message = event.get("message") or (event.get("logentry") or {}).get("formatted") or ""
    logger = event.get("logger") or ""
    return str(message) or "(no message)", f"logger {logger}" if logger else ""


def describe_item(item: Item) -> str:
    """One line about an item: the exception and where, or a session's status and release."""
    payload = item.payload if isinstance(item.payload, dict) else {}
    if item.type == "event":
        what, where = exception_summary(payload)
        return f"{what}  [{where}]" if where else what
    if item.type == "session":
        attrs = payload.get("attrs") or {}
        return f"status {payload.get('status', '?')}, release {attrs.get('release', '?')}"
    if item.type == "transaction":
        name = payload.get("transaction") or "?"
        try:
            took = float(payload["timestamp"]) - float(payload["start_timestamp"])
            return f"{name}, {took:.2f} s"
        except (KeyError, TypeError, ValueError):
            return str(name)
    if item.type == "sessions":
        aggregates = payload.get("aggregates") or []
        return f"{len(aggregates)} aggregated session bucket(s)"
    return ""


def size_text(size: int) -> str:
    """A size a person reads at a glance: ``812 B``, ``4.1 kB``."""
    if size < 1000:
        return f"{size} B"
    return f"{size / 1000:.1f} kB"
