"""Echo mode: ``CRASHREPORT_DEBUG=1`` prints each scrubbed envelope to stderr as it is queued.

So that a user or a reviewer can audit the exact payload without any tool. The text is the
envelope as it will be sent (already scrubbed), one JSON document per item, indented.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

_FALSY = frozenset({"", "0", "false", "no", "off"})


def enabled(environ: Mapping[str, str]) -> bool:
    return environ.get("CRASHREPORT_DEBUG", "").strip().lower() not in _FALSY


def format_envelope(data: bytes) -> str:
    """A readable rendering of a serialized envelope: its header, then each item."""
    lines = data.split(b"\n")
    out = ["crashreport: queued envelope " + lines[0].decode("utf-8", "replace")]
    i = 1
    while i < len(lines):
        if not lines[i].strip():
            i += 1
            continue
        try:
            header = json.loads(lines[i])
        except ValueError:
            header = {}
        payload = lines[i + 1] if i + 1 < len(lines) else b""
        try:
            body = json.dumps(json.loads(payload), indent=2, sort_keys=True, ensure_ascii=False)
        except ValueError:
            body = f"<{len(payload)} bytes>"
        out.append(f"--- {header.get('type', 'item')} ---\n{body}")
        i += 2
    return "\n".join(out) + "\n"


def echo(data: bytes) -> None:
    try:
        sys.stderr.write(format_envelope(data))
        sys.stderr.flush()
    except Exception:  # noqa: S110 - a closed stderr must not break the host
        pass
