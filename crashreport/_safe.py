"""Keep crashreport's own failures out of the host program.

Every entry point that runs inside the host (init, hooks, the transport) wraps its work in
:func:`guard`. A failure there is swallowed: the host's behaviour, output and exit code stay
as they would be without crashreport. Swallowed errors are kept in :data:`SWALLOWED` (bounded)
so that the test-suite can fail on any bug that would otherwise hide here.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWALLOWED: list[BaseException] = []
_MAX_KEPT = 20
_warned: set[str] = set()


@contextmanager
def guard() -> Iterator[None]:
    """Swallow any ``Exception`` raised in the block (not ``KeyboardInterrupt``/``SystemExit``)."""
    try:
        yield
    except Exception as exc:
        if len(SWALLOWED) < _MAX_KEPT:
            SWALLOWED.append(exc)


def warn(message: str, *, key: str | None = None) -> None:
    """Print one ``crashreport:`` line on stderr, at most once per ``key`` per process."""
    key = key or message
    message = _tilde(message)
    if key in _warned:
        return
    _warned.add(key)
    try:
        sys.stderr.write(f"crashreport: {message}\n")
        sys.stderr.flush()
    except Exception:  # noqa: S110 - a closed stderr must not break the host
        pass


def _tilde(message: str) -> str:
    """The user's home folder shows as ``~``: warnings get pasted into bug reports."""
    try:
        import os

        home = os.path.expanduser("~").rstrip("/\\")
        if len(home) > 1:
            return message.replace(home, "~")
    except Exception:  # noqa: S110 - an unchanged message is fine
        pass
    return message
