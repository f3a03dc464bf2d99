"""Read and write Sentry's envelope serialization without importing sentry-sdk.

An envelope is a JSON header line, then for each item a JSON header line and its payload
(``length`` bytes when the header gives it, else up to the next newline). The outbox, the
sender, the ``show`` and ``demo`` commands and echo mode all read stored envelopes through
here; the reports crashreport writes itself (sessions, the run's transaction) are made by
:func:`serialize`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Item:
    """One envelope item: its type, its headers and its payload (parsed JSON when it is JSON)."""

    type: str
    headers: dict[str, Any]
    payload: Any


def split(data: bytes) -> tuple[dict[str, Any], Iterator[tuple[dict[str, Any], bytes]]]:
    """The envelope's headers and a lazy iterator of ``(item headers, raw payload)``.

    Raises ValueError (also while iterating) on anything malformed: a header that is not a JSON
    object, or a ``length`` that is not a count of bytes present.
    """
    end = data.find(b"\n")
    headers = json.loads(data if end < 0 else data[:end] or b"{}")
    if not isinstance(headers, dict):
        raise ValueError("envelope headers are not an object")
    return headers, _items(data, len(data) if end < 0 else end + 1)


def _items(data: bytes, pos: int) -> Iterator[tuple[dict[str, Any], bytes]]:
    while pos < len(data):
        end = data.find(b"\n", pos)
        end = len(data) if end < 0 else end
        line, pos = data[pos:end], end + 1
        if not line.strip():
            continue
        headers = json.loads(line)
        if not isinstance(headers, dict):
            raise ValueError("item headers are not an object")
        length = headers.get("length")
        if length is not None:
            if not isinstance(length, int) or length < 0 or pos + length > len(data):
                raise ValueError("item length does not fit")
            raw, pos = data[pos : pos + length], pos + length + 1
        else:
            end = data.find(b"\n", pos)
            end = len(data) if end < 0 else end
            raw, pos = data[pos:end], end + 1
        yield headers, raw


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8, as sentry-sdk writes envelope parts."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def serialize(headers: dict[str, Any], items: list[tuple[str, Any]]) -> bytes:
    """An envelope of JSON ``(type, payload)`` items, each with its ``length``."""
    parts = [dumps(headers)]
    for kind, payload in items:
        body = dumps(payload)
        parts += [dumps({"type": kind, "length": len(body)}), body]
    return b"\n".join(parts) + b"\n"


def parse(data: bytes) -> tuple[dict[str, Any], list[Item]]:
    """The envelope's headers and items; raises ValueError on a malformed envelope."""
    headers, raw_items = split(data)
    items = []
    for item_headers, raw in raw_items:
        try:
            payload: Any = json.loads(raw) if raw else None
        except ValueError:
            payload = raw.decode("utf-8", "replace")
        items.append(Item(str(item_headers.get("type", "?")), item_headers, payload))
    return headers, items


def is_whole(data: bytes) -> bool:
    """True if ``data`` is a whole envelope: a JSON header, then at least one item whose header
    names its type and whose payload is JSON. A truncated or garbage file is not."""
    try:
        _, raw_items = split(data)
        count = 0
        for headers, raw in raw_items:
            if not isinstance(headers.get("type"), str):
                return False
            json.loads(raw)
            count += 1
        return count > 0
    except ValueError:
        return False
