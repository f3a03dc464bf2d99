"""The two lock files that keep one sender per app (see :mod:`crashreport.run.launch`).

``flock`` locks on files in the app's state folder: the kernel releases them however the
process that holds one ends. Opened without following links, never inherited by an ``exec``.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

_FLAGS = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def take_lock(path: Path) -> int | None:
    """The lock at ``path``, taken (an open file descriptor), or None when someone holds it."""
    import fcntl

    try:
        fd = os.open(path, _FLAGS, 0o600)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def wait_for_lock(path: Path) -> int:
    """The lock at ``path``, waiting for it (only ever held for a moment). Raises OSError."""
    import fcntl

    fd = os.open(path, _FLAGS, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    return fd
