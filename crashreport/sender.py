"""The sender: after a program exits, turn its runs into reports and deliver the outbox.

Started by the run at exit (``crashreport.sender.main`` in a process of its own, see
:mod:`crashreport.run.launch`), detached and silent, at most one per app at a time. In order:

1. stop at once if telemetry is now off (``DO_NOT_TRACK``, ``<APP>_TELEMETRY``, CI, the config
   file saying off, or a program that switched it off while running);
2. turn every run that is over (:func:`crashreport.journal.ended_runs`) into its reports —
   session, usage record, fatal crash (:mod:`crashreport.reports`) — scrubbed
   (:mod:`crashreport.privacy`) and queued, each exactly once;
3. deliver what is due, oldest first, sessions up to 100 per request, one connection kept
   alive; a server that is down ends the attempt (the next sender tries again, with backoff);
4. copy what is queued for a local Spotlight sidecar, when one is configured;
5. let go of the app's sender lock and look once more for work a program left meanwhile,
   taking the lock back if there is some (see :func:`main`).

It works at most :data:`MAX_SECONDS`; whatever is left waits for the next one. ``crashreport
send`` runs the same code in the user's terminal (:func:`send_now`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import TYPE_CHECKING, Any

from . import journal, reports
from ._safe import guard
from .delivery import envelopes
from .delivery.drain import MAX_SECONDS, Drain, SendResult, copy_to_spotlight
from .delivery.http import Dsn, Poster
from .delivery.outbox import Outbox
from .locks import take_lock
from .paths import Paths
from .payload import allow
from .reports.fatal import fatal_event
from .reports.session import session
from .reports.usage import transaction

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from .privacy import Scrubber


class Sender:
    """One app's delivery: its paths, where to send, and what telemetry allows right now."""

    def __init__(self, app: str, *, config: str | None = None, level: str = "all",
                 dsn: str | None = None, spotlight: str | None = None,
                 ca_certs: str | None = None, max_queued: int | None = None,
                 max_queued_bytes: int | None = None, echo: bool = False,
                 timeout: float | None = None) -> None:  # fmt: skip
        from .options import DEFAULT_MAX_QUEUED, DEFAULT_MAX_QUEUED_BYTES

        self.app, self.config, self.level = app, config, level
        self.paths = Paths.for_app(app)
        self.outbox = Outbox(self.paths.outbox_dir, self.paths.sent_dir,
                             max_count=max_queued or DEFAULT_MAX_QUEUED,
                             max_bytes=max_queued_bytes or DEFAULT_MAX_QUEUED_BYTES)  # fmt: skip
        self.spotlight = spotlight
        self.spool = Outbox(self.paths.spotlight_dir, self.paths.spotlight_dir / "sent",
                            sent_keep=0) if spotlight else None  # fmt: skip
        self.dsn = Dsn.parse(dsn) if dsn else None
        self.poster = Poster(self.dsn, ca_certs=ca_certs, timeout=timeout) if self.dsn else None
        self.echo = echo
        self.started = time.time()
        self._scrubbers: dict[tuple[Any, ...], Scrubber] = {}
        self._packages: dict[str, str] | None = None
        self.stuck: set[Path] = set()  # runs the disk refused: left to the next sender

    # -- may we? -------------------------------------------------------------------------------
    def allowed(self) -> str | None:
        """The level telemetry allows now (``all``/``errors``), or None when it is off.

        Decided afresh (the user may have run ``crashreport disable`` or set ``DO_NOT_TRACK``
        since): the environment and the config file decide when they say something; otherwise
        the level the program ran with. A program that switched telemetry off while running
        (``set_level("off")``) pauses every sender.
        """
        from .config import load_settings
        from .consent import Level, Source, decide

        if self.paths.paused.exists():
            return None
        decision = decide(self.app, load_settings(self.config), os.environ)
        level = Level(self.level) if decision.source is Source.DEFAULT else decision.level
        return None if level is Level.OFF else level.value

    # -- runs → reports --------------------------------------------------------------------------
    def collect(self) -> int:
        """Queue the reports of every run that is over; how many runs."""
        done = 0
        for left in journal.ended_runs(self.paths.runs_dir):
            try:
                self._queue_run(left)
                done += 1
            except (KeyError, TypeError, ValueError):
                left.remove()  # not a record this version can read: it will never be one
            except OSError:
                self.stuck.add(left.path)  # the disk: the next program's sender tries again
        return done

    def _queue_run(self, left: journal.Left) -> None:
        record = left.record
        level = record.get("level")
        fault_when = _mtime(left.fault_path)
        if level in ("all", "errors"):
            from .release import package_versions, release_for

            if self._packages is None:
                self._packages = package_versions(self.app)
            packages = self._packages
            release = release_for(self.app, record.get("version"), packages)
            items: list[tuple[str, str, dict[str, Any], float]] = []  # kind, id, payload, created
            started = float(record["started"])
            event = fatal_event(record, left.fault, release, packages, fault_when)
            if event is not None:
                from . import inapp

                with guard():
                    inapp.mark_frames(event, inapp.for_app(self.app))
                items.append(("event", event["event_id"], event, fault_when or started))
            if level == "all":
                items.append(("session", reports.report_id(record, "session"),
                              session(record, release, left.fault), started))  # fmt: skip
                if left.finished:
                    txn = transaction(record, release, packages)
                    items.append(("transaction", txn["event_id"], txn, started))
            scrubber = self._scrubber(record)
            for kind, rid, payload, created in items:
                if self.outbox.has(rid):
                    continue  # queued before a sender died halfway through this run
                clean = scrubber.scrub_event(payload) if kind != "session" else scrubber.scrub(payload)
                clean = allow(kind, clean)  # only what the telemetry page lists (payload.py)
                if clean is not None:
                    self._queue(kind, rid, clean, created, record, release, scrubber)
        left.remove()

    def _queue(self, kind: str, rid: str, payload: dict[str, Any], created: float,
               record: dict[str, Any], release: str, scrubber: Scrubber) -> None:
        from .delivery.outbox import MAX_AGE_EVENT, MAX_AGE_SESSION

        if time.time() - created > (MAX_AGE_SESSION if kind == "session" else MAX_AGE_EVENT):
            self.outbox.count("dropped_old")  # Sentry would refuse it: never queued
            return
        headers: dict[str, Any] = {"sent_at": reports.iso(time.time())}
        if kind != "session":
            headers["event_id"] = rid
            headers["trace"] = reports.trace_header(record, release,
                                                    self.dsn.public_key if self.dsn else None)
        # The trace header names the run (its subcommand): scrubbed like the payload, as capture does.
        data = envelopes.serialize(allow("envelope", scrubber.scrub(headers)) or {}, [(kind, payload)])
        if self.echo:
            from .delivery.echo import echo

            echo(data)
        self.outbox.put(data, created=created, report_id=rid)
        if self.spool is not None:
            with guard():
                self.spool.put(data)

    def _scrubber(self, record: dict[str, Any]) -> Scrubber:
        from . import inapp
        from .privacy import Scrubber, machine_context

        scrub = record.get("scrub") or {}
        key = tuple(tuple(scrub.get(k) or ()) for k in ("patterns", "keys", "words"))
        scrubber = self._scrubbers.get(key)
        if scrubber is None:
            context = machine_context(app_roots=inapp.app_roots(self.app))
            try:
                scrubber = Scrubber(context, patterns=key[0], keys=key[1], words=key[2])
            except Exception:  # a pattern that does not compile here: the defaults, never none
                scrubber = Scrubber(context, words=key[2])
            self._scrubbers[key] = scrubber
        return scrubber

    # -- the whole job -----------------------------------------------------------------------------
    def drain(self, deadline: float, *, backoff_wait: bool = True,
              progress: Callable[[int], None] | None = None) -> SendResult:  # fmt: skip
        """Deliver what is due until ``deadline``, the server fails, or nothing is left (local
        mode, no DSN: nothing is sent)."""
        if self.poster is None:
            return SendResult(0, len(self.outbox.pending()), 0, 0)
        return Drain(self.outbox, self.poster, self.allowed).drain(
            deadline, backoff_wait=backoff_wait, progress=progress)

    def work(self, deadline: float) -> None:
        """Collect, deliver and copy until nothing is left or the time is up."""
        with guard():
            self.outbox.recover()
        while time.time() < deadline:
            if self.allowed() is None:
                return
            collected = self.collect()
            before = len(self.outbox.pending())
            result = self.drain(deadline)
            if self.spool is not None and self.spotlight:
                copy_to_spotlight(self.spool, self.spotlight, deadline)
            if not collected and (result.sent + result.dropped == 0 or not before):
                return

    def close(self) -> None:
        if self.poster is not None:
            self.poster.close()


def _mtime(path: Any) -> float | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_mtime if st.st_size else None


# -- entry points ------------------------------------------------------------------------------
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m crashreport.sender", add_help=True)
    parser.add_argument("--app", required=True)
    parser.add_argument("--config")
    parser.add_argument("--level", default="all", choices=("all", "errors"))
    parser.add_argument("--dsn")
    parser.add_argument("--spotlight")
    parser.add_argument("--ca-certs")
    parser.add_argument("--max-queued", type=int)
    parser.add_argument("--max-queued-bytes", type=int)
    parser.add_argument("--lock-fd", type=int)
    parser.add_argument("--seconds", type=float, default=MAX_SECONDS)
    return parser


def _sender(ns: argparse.Namespace, echo: bool = False, timeout: float | None = None) -> Sender:
    return Sender(ns.app, config=ns.config, level=ns.level, dsn=ns.dsn, spotlight=ns.spotlight,
                  ca_certs=ns.ca_certs, max_queued=ns.max_queued,
                  max_queued_bytes=ns.max_queued_bytes, echo=echo, timeout=timeout)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> int:
    """The detached sender: works while it holds the app's sender lock, then exits quietly.

    A program that ends while a sender runs finds the lock taken and starts nothing, never
    waiting for the sender. So the sender, once it has no work left, lets go of the lock and
    then looks once more: a record written before the lock was free is seen by that look (and
    the sender takes the lock back for it, unless a program just took it to start the next
    sender); one written after finds the lock free, and its program starts a sender.
    """
    import signal

    for sig in ("SIGHUP", "SIGINT"):  # a closed terminal, Ctrl-C (Python ignores SIGPIPE itself)
        if hasattr(signal, sig):
            signal.signal(getattr(signal, sig), signal.SIG_IGN)
    ns = _parser().parse_args(argv)
    with guard():
        sender = _sender(ns)
        deadline = time.time() + max(1.0, ns.seconds)
        lock = ns.lock_fd
        while True:
            sender.work(deadline)
            if time.time() >= deadline:
                break
            if _more_work(sender):
                continue
            if lock is not None:
                os.close(lock)
            if not _more_work(sender):
                break
            lock = take_lock(sender.paths.sender_lock)
            if lock is None:
                break  # the program that just took it starts a sender for that work
        sender.close()
    os._exit(0)


def _more_work(sender: Sender) -> bool:
    """A run that ended, or a report queued since this sender started and not tried yet (what
    failed waits for the next program's sender)."""
    if sender.allowed() is None:
        return False
    if any(left.path not in sender.stuck for left in journal.ended_runs(sender.paths.runs_dir)):
        return True
    return any(e.created >= sender.started and e.attempts == 0 for e in sender.outbox.due())


def run_in_process(args: list[str], *, timeout: float, echo: bool = False) -> None:
    """Deliver from inside the program at its exit, within ``timeout`` seconds: where no sender
    can be started after exit (or in echo mode, to print this run's reports on its stderr)."""
    ns = _parser().parse_args(args)
    sender = _sender(ns, echo=echo, timeout=timeout or None)
    paths = sender.paths
    lock = take_lock(paths.sender_lock) if hasattr(os, "fork") else None
    try:
        sender.collect()
        if timeout > 0:
            sender.drain(time.time() + timeout)
    finally:
        sender.close()
        if lock is not None:
            os.close(lock)


def wait_and_collect(app: str, timeout: float) -> None:
    """Wait (at most ``timeout``) for a running sender of ``app`` to finish, then turn the runs
    that are over into queued reports here (the demo and ``show`` want them now)."""
    sender = Sender(app)
    deadline = time.time() + timeout
    lock = take_lock(sender.paths.sender_lock)
    while lock is None and time.time() < deadline:
        time.sleep(0.02)
        lock = take_lock(sender.paths.sender_lock)
    if lock is None:
        return
    try:
        sender.collect()
    finally:
        os.close(lock)


def send_now(app: str, *, config: str | None, dsn: str, timeout: float,
             progress: Callable[[int, int], None] | None = None) -> SendResult:  # fmt: skip
    """``crashreport send``: queue finished runs and deliver everything now, skipping the backoff
    (the user asked) but never a server's rate limit. ``timeout`` bounds the whole send."""
    sender = Sender(app, config=config, dsn=dsn, timeout=timeout)
    lock = take_lock(sender.paths.sender_lock) if hasattr(os, "fork") else None
    try:
        if lock is not None:  # else a background sender is converting runs right now
            sender.collect()
        sender.outbox.recover()
        total = len(sender.outbox.pending())
        done = [0]

        def step(n: int) -> None:
            done[0] += n
            if progress is not None:
                progress(done[0], total)

        return sender.drain(time.time() + timeout, backoff_wait=False, progress=step)
    finally:
        sender.close()
        if lock is not None:
            os.close(lock)


if __name__ == "__main__":
    sys.exit(main())
