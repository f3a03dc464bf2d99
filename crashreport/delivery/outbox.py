"""A durable, bounded, multi-process queue of serialized (already scrubbed) envelopes.

Pure files, no sentry import. One envelope is one file; everything the queue knows about it is
in its name, so a single atomic ``rename`` changes its state and nothing can get out of step::

    <created_ns>.<nonce>.<kinds>.<event_id|->.<attempts>.<not_before>.env     queued
    <queued name>.claimed-<pid>-<claim_time>-<nonce>                          being sent
    .tmp-<pid>-<nonce>                                                        being written
    sent/<sent_ns>~<queued name>                                              the sent log

Why this shape:

- **Atomic**: a file is written under a temporary name (``O_EXCL | O_NOFOLLOW``, 0600) and
  renamed into place, so a reader never sees half an envelope and SIGKILL leaves at most a
  temporary file, which is ignored and cleaned when its writer is dead or it is old.
- **Many processes**: a sender claims an envelope by renaming it to a name with its pid; only
  one rename can succeed. A claim whose process is dead (or that is older than
  :data:`STALE_CLAIM_SECONDS`) is renamed back into the queue.
- **Never follow a planted link**: folders and files are checked with ``lstat`` and opened with
  ``O_NOFOLLOW``; a folder that is a symlink or not ours is refused (``OSError``).
- **Bounded**: at most ``max_count`` envelopes and ``max_bytes`` bytes; the oldest go first.
  Drops are counted in a small ``.stats.json`` next to the queue.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ..options import DEFAULT_MAX_QUEUED, DEFAULT_MAX_QUEUED_BYTES
from . import envelopes, ratelimits

DEFAULT_SENT_KEEP = 20
#: A claim older than this is returned to the queue even if its process seems alive.
STALE_CLAIM_SECONDS = 300.0
#: A temporary file older than this is deleted even if its writer seems alive.
STALE_TEMP_SECONDS = 600.0
#: How long Sentry accepts what we queue (Relay's limits): sessions 5 days, the rest 30 days.
MAX_AGE_SESSION = 5 * 24 * 3600.0
MAX_AGE_EVENT = 30 * 24 * 3600.0

#: Counters kept in ``.stats.json``; :meth:`Outbox.stats` always reports all of them.
COUNTERS = ("sent", "dropped_full", "dropped_4xx", "dropped_old", "dropped_corrupt",
            "dropped_ratelimit", "failures")  # fmt: skip

_NAME = re.compile(
    r"^(?P<created>\d{19,20})\.(?P<nonce>[0-9a-f]{8})\.(?P<kinds>[a-z0-9_+]{1,120})"
    r"\.(?P<eid>[0-9a-f]{32}|-)\.(?P<attempts>\d{1,4})\.(?P<not_before>\d{1,12})\.env$"
)
_CLAIMED = re.compile(
    r"^(?P<name>.+\.env)\.claimed-(?P<pid>\d{1,10})-(?P<at>\d{1,12})-[0-9a-f]{8}$"
)
_SENT = re.compile(r"^(?P<sent>\d{19,20})~(?P<name>.+\.env)$")
_TEMP = re.compile(r"^\.tmp-(?P<pid>\d{1,10})-[0-9a-f]{8,}$")
_KIND = re.compile(r"^[a-z0-9_]{1,40}$")
_SESSION_KINDS = frozenset({"session", "sessions"})
#: The small state files (counters, rate limits) are never read past this size.
_STATE_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """One queued (or sent) envelope, described by its file name alone."""

    path: Path
    created: float  # unix time it was queued
    size: int  # bytes
    kinds: tuple[str, ...]  # item types inside, e.g. ("event",), ("session",)
    event_id: str | None
    attempts: int  # failed sends so far
    not_before: float  # unix time before which it is not sent again
    sent_at: float | None = None  # for the sent log: when the server accepted it

    @property
    def max_age(self) -> float:
        """How long Sentry still accepts this envelope after it was queued."""
        return MAX_AGE_SESSION if _SESSION_KINDS & set(self.kinds) else MAX_AGE_EVENT


@dataclass(frozen=True)
class Claim:
    """An envelope this process renamed out of the queue to send it."""

    entry: Entry  # as it was queued (``entry.path`` no longer exists while claimed)
    path: Path  # the claimed file


def describe(data: bytes) -> tuple[tuple[str, ...], str | None]:
    """Item types and event id of a serialized envelope (what its file name records)."""
    kinds: list[str] = []
    event_id: str | None = None
    with contextlib.suppress(ValueError):
        headers, items = envelopes.split(data)
        eid = headers.get("event_id")
        if isinstance(eid, str) and re.fullmatch(r"[0-9a-fA-F]{32}", eid.replace("-", "")):
            event_id = eid.replace("-", "").lower()
        for item_headers, _ in items:
            kind = str(item_headers.get("type", "other"))
            kinds.append(kind if _KIND.match(kind) else "other")
            if len(kinds) >= 50:
                break
    return tuple(dict.fromkeys(kinds)), event_id


#: True if the data is a whole envelope (a truncated or garbage file is not).
is_envelope = envelopes.is_whole


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if os.name == "nt":  # os.kill(pid, 0) would send CTRL_C_EVENT there; rely on the age
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, not ours (EPERM), or we cannot tell: assume alive
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """A process that died but was not reaped yet (a detached sender's parent may never reap
    it): gone for our purposes. Linux only; elsewhere the claim's age decides."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read(512)
    except OSError:
        return False
    return stat_line[stat_line.rfind(b")") + 2 : stat_line.rfind(b")") + 3] in (b"Z", b"X")


_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_BINARY = getattr(os, "O_BINARY", 0)


class Outbox:
    """The queue in ``directory`` and the bounded sent log in ``sent_dir``.

    Methods that read never raise for a missing folder (an empty queue). :meth:`put` raises
    ``OSError`` when the disk cannot take the envelope (the caller then sends from memory) and
    returns None when the envelope is refused by the size bound.
    """

    def __init__(
        self,
        directory: Path,
        sent_dir: Path,
        *,
        max_count: int = DEFAULT_MAX_QUEUED,
        max_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        sent_keep: int = DEFAULT_SENT_KEEP,
    ) -> None:
        self.directory = Path(directory)
        self.sent_dir = Path(sent_dir)
        self.max_count = max(1, int(max_count))
        self.max_bytes = max(1, int(max_bytes))
        self.sent_keep = max(0, int(sent_keep))
        #: (count, bytes) of the queue as of this process's last scan plus what it added since;
        #: the folder is scanned again only when this estimate reaches a bound.
        self._estimate: tuple[int, int] | None = None

    # -- folders and files ---------------------------------------------------------------------
    def _ensure_dir(self, path: Path) -> None:
        """Create ``path`` (0700) and refuse it if it, or its parent, is a link or not ours."""
        if not path.is_dir():
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._check_dir(path.parent)  # before creating anything inside it
            with contextlib.suppress(FileExistsError):
                os.mkdir(path, 0o700)
        for p in (path.parent, path):
            self._check_dir(p)
        if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
            os.chmod(path, 0o700)

    @staticmethod
    def _check_dir(p: Path) -> None:
        st = os.lstat(p)
        if not stat.S_ISDIR(st.st_mode):
            raise OSError(errno.ENOTDIR, "not a folder (a link or a file)", str(p))
        if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
            raise OSError(errno.EPERM, "folder owned by another user", str(p))

    def _write_atomic(self, folder: Path, name: str, data: bytes) -> Path:
        tmp = folder / f".tmp-{os.getpid()}-{secrets.token_hex(4)}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW | _O_BINARY, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            final = folder / name
            os.replace(tmp, final)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return final

    @staticmethod
    def _read_nofollow(path: Path, limit: int | None = None) -> bytes:
        """The file's bytes, never through a link; ``OSError`` past ``limit`` bytes (a planted
        huge file is refused without being read into memory)."""
        fd = os.open(path, os.O_RDONLY | _O_NOFOLLOW | _O_BINARY | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise OSError(errno.EINVAL, "not a regular file", str(path))
            if limit is not None and st.st_size > limit:
                raise OSError(errno.EFBIG, "larger than the outbox bound", str(path))
            data = f.read() if limit is None else f.read(limit + 1)
            if limit is not None and len(data) > limit:
                raise OSError(errno.EFBIG, "larger than the outbox bound", str(path))
            return data

    def _names(self, folder: Path) -> list[str]:
        try:
            st = os.lstat(folder)
        except OSError:
            return []
        if not stat.S_ISDIR(st.st_mode):
            return []
        try:
            return sorted(os.listdir(folder))
        except OSError:
            return []

    # -- the queue -----------------------------------------------------------------------------
    def put(self, data: bytes, *, created: float | None = None,
            report_id: str | None = None) -> Entry | None:  # fmt: skip
        """Queue one serialized envelope atomically (0600); None if the size bound refused it.

        ``created`` (default now) is when the report came to be: a session queued after its
        run ended is as old as the run, for the age limits. ``report_id`` (32 hex digits; default
        the envelope's event id) names the report, so that :meth:`has` can tell it is queued.
        """
        if len(data) > self.max_bytes:
            self._count("dropped_full")
            return None
        self._ensure_dir(self.directory)
        kinds, event_id = describe(data)
        when = time.time_ns() if created is None else int(created * 1e9)
        name = _entry_name(when, secrets.token_hex(4), kinds, report_id or event_id, 0, 0)
        path = self._write_atomic(self.directory, name, data)
        entry = self._entry(path, name, len(data))
        if self._estimate is not None:
            count, total = self._estimate[0] + 1, self._estimate[1] + len(data)
            self._estimate = (count, total)
            if count <= self.max_count and total <= self.max_bytes:
                return entry
        self._enforce_bounds(keep=path)
        return entry

    def _entry(self, path: Path, name: str | None = None, size: int | None = None) -> Entry:
        m = _NAME.match(name or path.name)
        if m is None:
            raise ValueError(path.name)
        if size is None:
            size = os.lstat(path).st_size
        return Entry(
            path=path,
            created=int(m["created"]) / 1e9,
            size=size,
            kinds=tuple(k for k in m["kinds"].split("+") if k),
            event_id=None if m["eid"] == "-" else m["eid"],
            attempts=int(m["attempts"]),
            not_before=float(m["not_before"]),
        )

    def _scan(self) -> Iterator[tuple[str, os.stat_result]]:
        for name in self._names(self.directory):
            try:
                st = os.lstat(self.directory / name)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                yield name, st

    def pending(self) -> list[Entry]:
        """Queued envelopes, oldest first (claimed ones, being sent right now, are not listed)."""
        entries = []
        for name, st in self._scan():
            if _NAME.match(name):
                entries.append(self._entry(self.directory / name, name, st.st_size))
        return entries

    def claimed(self) -> list[tuple[Entry, int, float]]:
        """Envelopes some process is sending: (entry, pid, claim time)."""
        out = []
        for name, st in self._scan():
            m = _CLAIMED.match(name)
            if m and _NAME.match(m["name"]):
                entry = self._entry(self.directory / m["name"], m["name"], st.st_size)
                out.append((entry, int(m["pid"]), float(m["at"])))
        return out

    def read(self, entry: Entry) -> bytes:
        """The serialized envelope (never through a symlink, never more than ``max_bytes``)."""
        return self._read_nofollow(entry.path, self.max_bytes)

    def due(self, now: float | None = None, *, backoff: bool = True) -> list[Entry]:
        """Queued envelopes that may be sent now: not rate-limited and (with ``backoff``) not
        waiting after failures. A user's explicit ``crashreport send`` skips the backoff."""
        now = time.time() if now is None else now
        limits = self.rate_limits(now)
        return [e for e in self.pending()
                if (e.not_before <= now or not backoff)
                and ratelimits.until(e.kinds, limits, now) <= now]  # fmt: skip

    def limited(self, now: float | None = None) -> list[Entry]:
        """Queued envelopes that a server's rate limit holds back right now."""
        now = time.time() if now is None else now
        limits = self.rate_limits(now)
        return [e for e in self.pending() if ratelimits.until(e.kinds, limits, now) > now]

    def next_due(self, now: float | None = None) -> float | None:
        """The earliest time at which a queued envelope becomes due (None: queue empty)."""
        now = time.time() if now is None else now
        limits = self.rate_limits(now)
        times = [max(e.not_before, ratelimits.until(e.kinds, limits, now)) for e in self.pending()]
        return min(times) if times else None

    def has(self, report_id: str) -> bool:
        """Whether a report of this id is queued, being sent, or in the sent log."""
        tag = f".{report_id}."  # only the id field of a name holds 32 hex digits between dots
        return any(tag in name for name in self._names(self.directory) + self._names(self.sent_dir))

    # -- one send ------------------------------------------------------------------------------
    def claim(self, entry: Entry) -> Claim | None:
        """Take ``entry`` for sending (atomic rename); None if another process was faster."""
        name = f"{entry.path.name}.claimed-{os.getpid()}-{int(time.time())}-{secrets.token_hex(4)}"
        target = self.directory / name
        try:
            os.rename(entry.path, target)
        except FileNotFoundError:
            return None
        return Claim(entry, target)

    def read_claim(self, claim: Claim) -> bytes:
        return self._read_nofollow(claim.path, self.max_bytes)

    def done(self, claim: Claim) -> None:
        """The server accepted it: move it to the sent log (bounded) and count it."""
        self._count("sent")
        name = f"{time.time_ns():020d}~{claim.entry.path.name}"
        if self.sent_keep > 0:
            with contextlib.suppress(OSError):
                self._ensure_dir(self.sent_dir)
                os.rename(claim.path, self.sent_dir / name)
        with contextlib.suppress(FileNotFoundError):  # not moved: no sent log, or a failing disk
            os.unlink(claim.path)
        self._trim_sent()

    def retry(self, claim: Claim, not_before: float, *, failed: bool = True) -> Entry:
        """Put it back in the queue, not to be sent before ``not_before``."""
        e = claim.entry
        attempts = e.attempts + 1 if failed else e.attempts
        if failed:
            self._count("failures")
        nonce = _NAME.match(e.path.name)["nonce"]  # type: ignore[index]
        name = _entry_name(int(e.created * 1e9), nonce, e.kinds, e.event_id, attempts,
                           int(not_before + 0.999))  # fmt: skip
        target = self.directory / name
        os.rename(claim.path, target)
        return self._entry(target)

    def drop(self, claim: Claim | Entry, reason: str) -> None:
        """Delete it and count why (``reason`` is a counter such as ``dropped_4xx``)."""
        path = claim.path
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
        self._count(reason)

    # -- upkeep --------------------------------------------------------------------------------
    def recover(self, now: float | None = None) -> int:
        """Return stale claims to the queue, delete stale temp files and too-old envelopes."""
        now = time.time() if now is None else now
        fixed = 0
        for name, st in self._scan():
            path = self.directory / name
            m = _CLAIMED.match(name)
            if m is not None:
                pid, at = int(m["pid"]), float(m["at"])
                if not _pid_alive(pid) or now - at > STALE_CLAIM_SECONDS:
                    with contextlib.suppress(OSError):
                        os.rename(path, self.directory / m["name"])
                        fixed += 1
                continue
            t = _TEMP.match(name)
            if t is not None:
                age = now - st.st_mtime
                if age > STALE_TEMP_SECONDS or (age > 5 and not _pid_alive(int(t["pid"]))):
                    with contextlib.suppress(OSError):
                        os.unlink(path)
                        fixed += 1
        for entry in self.pending():
            if now - entry.created > entry.max_age:
                self.drop(entry, "dropped_old")
                fixed += 1
        return fixed

    def _enforce_bounds(self, keep: Path | None = None) -> None:
        """Drop the oldest until within bounds; once over, down to 90% (fewer rescans)."""
        entries = self.pending()
        busy = sum(e.size for e, _pid, _at in self.claimed())
        count, total = len(entries), sum(e.size for e in entries) + busy
        max_count, max_bytes = self.max_count, self.max_bytes
        if count > max_count or total > max_bytes:
            max_count, max_bytes = max(1, max_count * 9 // 10), max(1, max_bytes * 9 // 10)
        dropped = 0
        for entry in entries:  # oldest first
            if count <= max_count and total <= max_bytes:
                break
            if entry.path == keep:
                continue
            with contextlib.suppress(FileNotFoundError):
                os.unlink(entry.path)
            dropped += 1
            count, total = count - 1, total - entry.size
        if dropped:
            self._count("dropped_full", dropped)
        self._estimate = (count, total)

    def sent(self) -> list[Entry]:
        """The sent log, newest first."""
        out = []
        for name in reversed(self._names(self.sent_dir)):
            m = _SENT.match(name)
            if m is None or not _NAME.match(m["name"]):
                continue
            path = self.sent_dir / name
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                entry = self._entry(path, m["name"], st.st_size)
                out.append(replace(entry, sent_at=int(m["sent"]) / 1e9))
        return out

    def _trim_sent(self) -> None:
        for entry in self.sent()[self.sent_keep :]:
            with contextlib.suppress(OSError):
                os.unlink(entry.path)

    def purge(self) -> int:
        """Delete the queue (also claimed and temporary files) and the sent log; how many files."""
        removed = 0
        for folder in (self.directory, self.sent_dir):
            for name in self._names(folder):
                if _NAME.match(name) or _CLAIMED.match(name) or _SENT.match(name) \
                        or _TEMP.match(name):  # fmt: skip
                    path = folder / name
                    if stat.S_ISDIR(os.lstat(path).st_mode):
                        continue
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(path)
                        removed += 1
        return removed

    # -- counters and rate limits --------------------------------------------------------------
    @property
    def _stats_path(self) -> Path:
        return self.directory / ".stats.json"

    @property
    def _limits_path(self) -> Path:
        return self.directory / ".ratelimit.json"

    def _load_json(self, path: Path) -> dict[str, Any]:
        try:
            value = json.loads(self._read_nofollow(path, _STATE_MAX_BYTES))
        except (OSError, ValueError):
            return {}
        return value if isinstance(value, dict) else {}

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """An advisory lock around read-modify-write of the small state files (POSIX)."""
        try:
            import fcntl
        except ImportError:  # pragma: no cover - Windows: counters are best effort
            yield
            return
        lock = self.directory / ".lock"
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | _O_NOFOLLOW, 0o600)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            os.unlink(lock)  # a planted symlink: remove the link itself, never its target
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _O_NOFOLLOW, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def count(self, counter: str, n: int = 1) -> None:
        """Count a report dropped before it was queued (``dropped_old``, ...)."""
        self._count(counter, n)

    def _count(self, counter: str, n: int = 1, **notes: Any) -> None:
        """Add ``n`` to a counter in ``.stats.json``; ``notes`` are stored beside it as they are."""
        with contextlib.suppress(OSError):
            self._ensure_dir(self.directory)
            with self._locked():
                stats = self._load_json(self._stats_path)
                value = stats.get(counter)
                stats[counter] = (value if isinstance(value, int) else 0) + n
                stats.update(notes)
                self._write_atomic(self.directory, self._stats_path.name,
                                   json.dumps(stats).encode())  # fmt: skip

    def refused(self, claim: Claim, status: int) -> None:
        """The server refused it for good (4xx): delete it, count it, remember the answer."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(claim.path)
        self._count("dropped_4xx", last_refusal={"status": status, "at": time.time()})

    def stats(self) -> dict[str, Any]:
        """Counters (sent, dropped_full, dropped_4xx, ...), the queue's size and what is held, and
        ``last_refusal`` ({"status", "at"} of the last 4xx answer, or None)."""
        raw = self._load_json(self._stats_path)
        out: dict[str, Any] = {k: v for k, v in raw.items()
                               if isinstance(v, int) and not isinstance(v, bool)}  # fmt: skip
        for name in COUNTERS:
            out.setdefault(name, 0)
        refusal = raw.get("last_refusal")
        out["last_refusal"] = refusal if isinstance(refusal, dict) else None
        entries = self.pending()
        out["pending"] = len(entries)
        out["pending_bytes"] = sum(e.size for e in entries)
        out["rate_limited"] = len(self.limited())
        out["claimed"] = len(self.claimed())
        out["sent_log"] = len(self.sent())
        return out

    def rate_limits(self, now: float | None = None) -> dict[str, float]:
        """Active "not before" times per data category ("" = every category)."""
        now = time.time() if now is None else now
        raw = self._load_json(self._limits_path)
        return {k: float(v) for k, v in raw.items()
                if isinstance(v, (int, float)) and float(v) > now}  # fmt: skip

    def limit(self, until: dict[str, float]) -> None:
        """Persist rate limits (category → unix time; "" = all) so later runs honour them."""
        with contextlib.suppress(OSError):
            self._ensure_dir(self.directory)
            with self._locked():
                limits = self.rate_limits()
                for category, t in until.items():
                    limits[category] = max(limits.get(category, 0.0), t)
                self._write_atomic(self.directory, self._limits_path.name,
                                   json.dumps(limits).encode())  # fmt: skip


def _entry_name(created_ns: int, nonce: str, kinds: tuple[str, ...], event_id: str | None,
                attempts: int, not_before: int) -> str:  # fmt: skip
    kind = "+".join(kinds)[:120] or "other"
    return (f"{created_ns:019d}.{nonce}.{kind}.{event_id or '-'}."
            f"{min(attempts, 9999)}.{max(0, not_before)}.env")  # fmt: skip
