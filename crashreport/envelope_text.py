"""Read stored envelopes and describe them for a person (used by ``show`` and ``demo``).

Envelopes are kept in Sentry's envelope serialization: a JSON header line, then for each item a
JSON header line and its payload (``length`` bytes, or up to the next newline). This small reader
avoids importing sentry-sdk just to look at a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    """One envelope item: its type, its headers and its payload (parsed JSON when it is JSON)."""

    type: str
    headers: dict[str, Any]
    payload: Any


def parse_envelope(data: bytes) -> tuple[dict[str, Any], list[Item]]:
    """The envelope's headers and items; raises ValueError on a malformed envelope."""
    pos = data.find(b"\n")
    first = data if pos < 0 else data[:pos]
    headers = json.loads(first or b"{}")
    if not isinstance(headers, dict):
        raise ValueError("envelope headers are not an object")
    items: list[Item] = []
    pos = len(data) if pos < 0 else pos + 1
    while pos < len(data):
        end = data.find(b"\n", pos)
        line = data[pos:] if end < 0 else data[pos:end]
        pos = len(data) if end < 0 else end + 1
        if not line.strip():
            continue
        item_headers = json.loads(line)
        if not isinstance(item_headers, dict):
            raise ValueError("item headers are not an object")
        length = item_headers.get("length")
        if isinstance(length, int):
            raw = data[pos : pos + length]
            pos += length
            if data[pos : pos + 1] == b"\n":
                pos += 1
        else:
            end = data.find(b"\n", pos)
            raw = data[pos:] if end < 0 else data[pos:end]
            pos = len(data) if end < 0 else end + 1
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        items.append(Item(str(item_headers.get("type", "?")), item_headers, payload))
    return headers, items


def first_event(data: bytes) -> dict[str, Any] | None:
    """The event payload of an envelope, if it carries one."""
    _, items = parse_envelope(data)
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
