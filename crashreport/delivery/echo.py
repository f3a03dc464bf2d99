"""Echo mode: ``CRASHREPORT_DEBUG=1`` prints each scrubbed envelope to stderr as it is queued.

So that a user or a reviewer can audit the exact payload without any tool. The text is the
envelope as it will be sent (already scrubbed), one JSON document per item, indented.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping

from ..consent import truthy
from . import envelopes


def enabled(environ: Mapping[str, str]) -> bool:
    return truthy(environ.get("CRASHREPORT_DEBUG"))


def format_envelope(data: bytes) -> str:
    """A readable rendering of a serialized envelope: its header, then each item."""
    first = data.split(b"\n", 1)[0].decode("utf-8", "replace")
    out = [f"crashreport: queued envelope {first}"]
    try:
        _, items = envelopes.parse(data)
    except ValueError:
        return out[0] + f" <{len(data)} bytes, not readable>\n"
    for item in items:
        if isinstance(item.payload, str):
            body = f"<{len(item.payload)} bytes>"
        else:
            body = json.dumps(item.payload, indent=2, sort_keys=True, ensure_ascii=False)
        out.append(f"--- {item.type} ---\n{body}")
    return "\n".join(out) + "\n"


def echo(data: bytes) -> None:
    try:
        sys.stderr.write(format_envelope(data))
        sys.stderr.flush()
    except Exception:  # noqa: S110 - a closed stderr must not break the host
        pass
