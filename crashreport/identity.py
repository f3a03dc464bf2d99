"""The anonymous user id: a random UUID4 kept in one small JSON file.

Created on the first enabled run, reused after; a missing or corrupt file gets a new id. The
file is created atomically (written aside, then hard-linked into place, which fails if another
process won the race), so concurrent first runs agree on one id. File 0600, folder 0700. A
symlink in place of the file is never followed: it is treated as corrupt and replaced.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_HEAD, _TAIL = b'{"user_id":"', b'"}'
_MAX_BYTES = 4096


def read_id(path: Path) -> str | None:
    """The id in ``path``, or None if the file is missing, a link, or not a valid id file."""
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return None
    try:
        import stat

        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_mode & 0o077:  # widened by someone: others must not read the id
            with contextlib.suppress(OSError):
                os.fchmod(fd, 0o600)
        raw = os.read(fd, _MAX_BYTES)
    except OSError:
        return None
    finally:
        os.close(fd)
    # The file is {"user_id": "<32 hex digits>"} and nothing else (parsed by hand: json and
    # even a regular expression's compilation cost start-up time).
    compact = b"".join(raw.split())
    value = compact[len(_HEAD) : -len(_TAIL)].decode("ascii", "replace")
    if compact.startswith(_HEAD) and compact.endswith(_TAIL) and _is_id(value):
        return value
    return None


def _is_id(value: str) -> bool:
    return len(value) == 32 and value.strip("0123456789abcdef") == ""


def new_id() -> str:
    """A random UUID4 as 32 hex digits (``uuid.uuid4().hex``, without importing uuid)."""
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40  # version 4
    b[8] = (b[8] & 0x3F) | 0x80  # the RFC 4122 variant
    return b.hex()


def ensure_dir(path: Path) -> None:
    """Create ``path`` (and parents) with mode 0700 for the folders we create."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)


def load_or_create(path: Path) -> str:
    """Return the id stored at ``path``, creating or repairing the file as needed."""
    existing = read_id(path)
    if existing:
        return existing
    ensure_dir(path.parent)
    fresh = new_id()
    tmp = _write_aside(path, fresh)
    try:
        os.link(tmp, path)
        return fresh
    except FileExistsError:
        won = read_id(path)
        if won:
            return won
        # A corrupt file (or a planted link) is in the way: replace it atomically; os.replace
        # swaps the name itself, never what a symlink points to.
        os.replace(tmp, path)
        return read_id(path) or fresh
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _write_aside(path: Path, value: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(f'{{"user_id": "{value}"}}')
        f.flush()
        os.fsync(f.fileno())
    return tmp


def reset(path: Path) -> bool:
    """Forget the id (a new one is made on the next enabled run). True if a file was removed."""
    try:
        os.unlink(path)
        return True
    except FileNotFoundError:
        return False
