"""The run journal: every run leaves a small record on disk, so that every run is counted once.

At start a run writes ``runs/<sid>.json`` (who, which release, when) and opens
``runs/<sid>.fault``, holding an exclusive ``flock`` on it for as long as the process lives
(the kernel releases it however the process ends) and, unless the host already did, pointing
``faulthandler`` at it. At exit the record is rewritten, finished, with how the run ended. The
sender turns each record into reports exactly once:

- finished → its session (and usage record);
- unfinished, and its lock is free (the process is gone: SIGKILL, SIGTERM, a closed terminal,
  ``os._exit``, a power cut) → an ``abnormal`` session;
- the fault file holds a ``faulthandler`` dump (a segfault, ``abort()``) → a ``crashed``
  session and a crash event with every thread's Python stack.

Writes are atomic (a temporary file renamed into place) and private (0600 in a 0700 folder that
must be ours); links are never followed. No fsync: it costs milliseconds on the start-up path;
a power cut in the first seconds of a run may lose its record.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path
    from typing import Any

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: A record is a few hundred bytes; anything larger than this is not ours and is not read.
MAX_RECORD_BYTES = 4 << 20
#: Fault dumps are read up to this size (a dump of many threads is a few kilobytes).
MAX_FAULT_BYTES = 256 << 10
#: Without a lock to ask (no fcntl), an unfinished record is given up as abnormal this late.
UNLOCKED_STALE_SECONDS = 24 * 3600.0


def ensure_dir(path: Path) -> None:
    """Create ``path`` (0700, parents too) and refuse it if it, or its parent, is a link or not
    ours: nothing is created inside a folder another user owns."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        os.makedirs(path.parent, mode=0o700, exist_ok=True)
        _check_dir(path.parent, os.lstat(path.parent))
        with contextlib.suppress(FileExistsError):
            os.mkdir(path, 0o700)
        st = os.lstat(path)
    _check_dir(path, st)
    if stat.S_IMODE(st.st_mode) & 0o077:
        os.chmod(path, 0o700)


def _check_dir(path: Path, st: os.stat_result) -> None:
    if not stat.S_ISDIR(st.st_mode):
        raise NotADirectoryError(20, "not a folder (a link or a file)", str(path))
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        raise PermissionError(1, "folder owned by another user", str(path))


def write(path: Path, record: dict[str, Any]) -> None:
    """Replace ``path`` with ``record`` as JSON, atomically (0600, never through a link)."""
    from ._json import dumps

    data = dumps(record).encode("utf-8", "surrogatepass")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | _O_NOFOLLOW | _O_CLOEXEC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read(path: Path) -> dict[str, Any] | None:
    """The record in ``path``; None if it is missing, a link, too large or not a record."""
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_RECORD_BYTES:
            return None
        data = os.read(fd, MAX_RECORD_BYTES + 1)
    except OSError:
        return None
    finally:
        os.close(fd)
    import json

    try:
        value = json.loads(data)
    except ValueError:
        return None
    ok = isinstance(value, dict) and isinstance(value.get("sid"), str)
    return value if ok else None


class OpenRun:
    """This process's record: its file and the fault file it holds locked until it exits."""

    def __init__(self, directory: Path, sid: str) -> None:
        self.path = directory / f"{sid}.json"
        self.fault_path = directory / f"{sid}.fault"
        self.fault_fd: int | None = None

    def start(self, record: dict[str, Any]) -> None:
        """Open and lock the fault file, then write the record (the lock comes first: a sender
        that sees the record must see its owner alive)."""
        fd = os.open(self.fault_path,
                     os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_CLOEXEC, 0o600)  # fmt: skip
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except ImportError:  # pragma: no cover - Windows: liveness by pid and age instead
            pass
        self.fault_fd = fd
        write(self.path, record)

    def finish(self, record: dict[str, Any]) -> None:
        write(self.path, record)

    def forget(self) -> None:
        """A forked child: close its copy of the fault file (the parent keeps the lock)."""
        fd, self.fault_fd = self.fault_fd, None
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)


# -- the sender's side ------------------------------------------------------------------------
class Left:
    """What a run left behind, as the sender finds it."""

    __slots__ = ("path", "fault_path", "record", "fault")

    def __init__(self, path: Path, fault_path: Path, record: dict[str, Any], fault: str) -> None:
        self.path, self.fault_path, self.record, self.fault = path, fault_path, record, fault

    @property
    def finished(self) -> bool:
        return "ended" in self.record

    def remove(self) -> None:
        for p in (self.path, self.fault_path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(p)


def ended_runs(directory: Path, now: float | None = None) -> Iterator[Left]:
    """Runs that are over: finished, or whose process is gone. Live runs are skipped; records
    that cannot be read (garbage, half-written by a power cut) are deleted."""
    now = time.time() if now is None else now
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        path = directory / name
        fault_path = path.with_suffix(".fault")
        record = read(path)
        if record is None:
            _unlink_old(path, now)
            continue
        if "ended" not in record and _alive(fault_path, record, now):
            continue
        yield Left(path, fault_path, record, _read_fault(fault_path))
    _sweep_orphans(directory, now)


def _alive(fault_path: Path, record: dict[str, Any], now: float) -> bool:
    """Whether the process that owns an unfinished record still runs (its lock is held)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        return _recent(record, now)
    try:
        fd = os.open(fault_path, os.O_RDWR | _O_NOFOLLOW | _O_CLOEXEC)
    except FileNotFoundError:
        return False  # the run never got its lock file: nothing can finish it any more
    except OSError:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)  # closing releases the lock we may have taken
    return False


def _recent(record: dict[str, Any], now: float) -> bool:
    """Without a lock to ask (no fcntl): whether an unfinished record is young enough to be of a
    run still going."""
    started = record.get("started")
    return isinstance(started, int | float) and now - started < UNLOCKED_STALE_SECONDS


def _read_fault(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_CLOEXEC | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return ""
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return ""
        return os.read(fd, MAX_FAULT_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""
    finally:
        os.close(fd)


def _unlink_old(path: Path, now: float, age: float = 60.0) -> None:
    """Delete an unreadable file once it is old enough not to be a record being written."""
    try:
        if now - os.lstat(path).st_mtime > age:
            os.unlink(path)
    except OSError:
        pass


def _sweep_orphans(directory: Path, now: float) -> None:
    """Fault files without a record (their run was reported) and stale temporary files."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    present = set(names)
    for name in names:
        orphan = name.endswith(".fault") and name[: -len(".fault")] + ".json" not in present
        if orphan or (name.startswith(".") and name.endswith(".tmp")):
            _unlink_old(directory / name, now, age=3600.0)
