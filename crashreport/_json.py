"""JSON text for the start-up path, without importing :mod:`json` (~2 ms of a run's start).

Only what crashreport writes there: the run's journal record (strings, numbers, booleans, None,
lists and dicts; anything else as its ``str()``). The output is standard JSON that :mod:`json`
reads back; non-ASCII text stays as it is (UTF-8).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b",
            "\f": "\\f"}  # fmt: skip
_TABLE = {i: f"\\u{i:04x}" for i in range(0x20)} | {ord(k): v for k, v in _ESCAPES.items()}
_TABLE |= {0x2028: "\\u2028", 0x2029: "\\u2029", 0x7F: "\\u007f"}


def dumps(value: Any, depth: int = 0) -> str:
    """``value`` as compact JSON; a value nested deeper than 32 levels becomes a string."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return repr(value) if value == value and value not in (float("inf"), -float("inf")) \
            else "null"  # fmt: skip
    if isinstance(value, str):
        return '"' + value.translate(_TABLE) + '"'
    if depth < 32 and isinstance(value, dict):
        return "{" + ",".join(f"{dumps(str(k))}:{dumps(v, depth + 1)}" for k, v in value.items()) + "}"
    if depth < 32 and isinstance(value, list | tuple):
        return "[" + ",".join(dumps(v, depth + 1) for v in value) + "]"
    try:
        text = str(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return dumps(text)
