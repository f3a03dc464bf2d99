"""The light run: what crashreport does inside the host program when telemetry is on.

No sentry-sdk, no network, almost no time. At start the run writes its journal record (see
:mod:`.journal`) and installs light hooks (:mod:`.hooks`). While the program runs it keeps its
own state in memory: tracked actions, counters, the last log records as breadcrumbs, how many
errors were reported. The first error to report loads :mod:`crashreport.capture` (sentry-sdk
builds the event); the report is scrubbed and on disk before the call returns. At exit the
record is finished with how the run ended and the sender is started after the program
(:mod:`.launch`); the session and the usage record are made from the record by the sender.
"""

from __future__ import annotations

import os
import sys
import time

from .. import _exit, journal
from .._safe import guard, warn
from ..consent import Level
from . import hooks, launch, usage
from .errorcap import ERRORS_DROPPED, ErrorCap, exception_key, record_key

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from logging import LogRecord
    from typing import Any

    from ..capture import Capture
    from ..options import Options
    from ..paths import Paths

#: Log records kept for the next report's breadcrumbs (crashreport.capture sends as many).
MAX_BREADCRUMBS = 30
#: Tracked actions kept for the usage record (Relay accepts at most 1,000 spans).
MAX_SPANS = 1000
#: Log records at this level or above become breadcrumbs; at ERROR and above, reports.
BREADCRUMB_LEVEL, EVENT_LEVEL = 20, 40
#: Loggers whose records are crashreport's or sentry-sdk's own business.
_OWN_LOGGERS = ("sentry_sdk", "urllib3", "crashreport")


def _hex(n: int) -> str:
    return os.urandom(n).hex()


def _uuid4() -> str:
    """A random UUID4 as text, without importing uuid (a few ms of start-up)."""
    from ..identity import new_id

    h = new_id()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class Run:
    """One run of the host program with telemetry on (level ``errors`` or ``all``)."""

    def __init__(self, options: Options, level: Level, user_id: str, paths: Paths) -> None:
        self.options = options
        self.level = level
        self.user_id = user_id
        self.paths = paths
        self.subcommand = options.subcommand
        self.sid = _uuid4()
        self.trace_id, self.span_id = _hex(16), _hex(8)
        self.started = time.time()
        self.pid = os.getpid()
        self.crash: BaseException | None = None  # the unhandled exception that ended the run
        self.crashed = False  # an unhandled error happened (in any thread)
        self.errors = 0  # handled errors reported
        self.spans: list[dict[str, Any]] = []
        self.spans_dropped = 0
        self.breadcrumbs: deque[LogRecord] | None = None
        self.error_cap = ErrorCap(options.max_errors)
        self.counters = usage.COUNTERS
        self._capture: Capture | None = None
        self._journal = journal.OpenRun(paths.runs_dir, self.sid)
        self._fault_enabled = False
        self._finished = False
        #: False in a multiprocessing worker: the run is the parent's, this process only reports
        #: its errors.
        self.owner = True
        #: False when the journal record could not be written (the state folder is unusable).
        self.journaled = True

    # -- start -------------------------------------------------------------------------------
    def start(self) -> None:
        """Write the journal record and install the hooks. Raises OSError if the state folder
        cannot hold the record (the caller then runs without a journal)."""
        journal.ensure_dir(self.paths.runs_dir)
        self._journal.start(self._record())
        self._enable_faulthandler()

    def install_hooks(self) -> None:
        import atexit

        hooks.install_excepthook(self.on_crash)
        hooks.install_threading_hook(self.on_crash)
        hooks.install_logging_hook(self.on_log)
        atexit.register(self.at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)
        if self.level is Level.ALL:
            usage.SINK = self

    def _enable_faulthandler(self) -> None:
        import faulthandler

        fd = self._journal.fault_fd
        if fd is not None and not faulthandler.is_enabled():
            faulthandler.enable(file=fd, all_threads=True)
            self._fault_enabled = True

    def _record(self, **end: Any) -> dict[str, Any]:
        o = self.options
        record = {
            "v": 1, "sid": self.sid, "trace_id": self.trace_id, "span_id": self.span_id,
            "did": self.user_id, "app": o.app, "version": o.version,
            "environment": o.environment, "dsn": o.dsn, "level": self.level.value,
            "started": self.started, "pid": self.pid, "subcommand": self.subcommand,
            "python": ".".join(map(str, sys.version_info[:3])),
            "implementation": sys.implementation.name,
            "scrub": {"patterns": list(o.scrub_patterns), "keys": list(o.scrub_keys),
                      "words": list(o.safe_words)},
        }  # fmt: skip
        record.update(end)
        return record

    # -- while the program runs ----------------------------------------------------------------
    def set_subcommand(self, name: str | None) -> None:
        self.subcommand = name
        if self._capture is not None:
            self._capture.set_subcommand(name)

    def set_level(self, level: Level) -> None:
        self.level = level
        usage.SINK = self if level is Level.ALL else None
        pause = self.paths.paused
        with guard():
            if level is Level.OFF:
                journal.write(pause, {"sid": self.sid, "pid": self.pid})
            else:
                pause.unlink(missing_ok=True)

    def record_action(self, action: usage.Action) -> None:
        """A finished :class:`usage.Action`: one span of this run's usage record."""
        if self.level is not Level.ALL:
            return
        if len(self.spans) >= MAX_SPANS:
            self.spans_dropped += 1
            return
        span = {"name": action.name, "start": action.start_wall, "duration": action.duration,
                "outcome": action.outcome, "data": dict(action.data)}  # fmt: skip
        if action.error_type or action.error_message:
            span["error"] = {"type": action.error_type, "message": action.error_message}
        self.spans.append(span)

    def on_log(self, record: LogRecord) -> None:
        """Every log record that passed its logger's level: a breadcrumb, an error a report."""
        if record.levelno < BREADCRUMB_LEVEL or record.name.startswith(_OWN_LOGGERS):
            return
        if self.breadcrumbs is None:
            from collections import deque

            self.breadcrumbs = deque(maxlen=MAX_BREADCRUMBS)
        if record.levelno >= EVENT_LEVEL and self.level is not Level.OFF:
            if self.error_cap.admit(record_key(record)):
                capture = self.capture()
                if capture is not None and capture.log_record(record):
                    self.errors += 1
                    self.deliver(at_exit=False)
            else:
                self.counters.add(ERRORS_DROPPED)
        self.breadcrumbs.append(record)

    def report(self, exc: BaseException, *, handled: bool = True, mechanism: str = "generic") -> None:
        """Report an exception the program caught (or one that ended a thread or the run)."""
        if self.level is Level.OFF:
            return
        if not handled:
            self.crashed = True
        elif not self.error_cap.admit(exception_key(exc)):
            self.counters.add(ERRORS_DROPPED)
            return
        capture = self.capture()
        if capture is not None and capture.exception(exc, handled=handled, mechanism=mechanism):
            if handled:
                self.errors += 1
            if mechanism != "excepthook":  # the program goes on: deliver now, not at its exit
                self.deliver(at_exit=False)

    def on_crash(self, exc: BaseException, mechanism: str) -> None:
        """An exception nobody caught: in the main thread (the run ends) or in another one."""
        if mechanism == "excepthook":
            self.crash = exc
        if isinstance(exc, KeyboardInterrupt):
            return
        self.report(exc, handled=False, mechanism=mechanism)

    def capture(self) -> Capture | None:
        """sentry-sdk's event building, loaded on the first error (None if it cannot load)."""
        if self._capture is None:
            from ..capture import Capture

            try:
                self._capture = Capture(self)
            except Exception as exc:  # a broken sentry-sdk install must not break the host
                warn(f"cannot report errors ({type(exc).__name__}: {exc})", key="capture")
                return None
        return self._capture

    # -- the end ---------------------------------------------------------------------------------
    def outcome(self) -> tuple[str, int]:
        """(outcome, exit code) of this run: ok, failed, crashed or interrupted."""
        if isinstance(self.crash, KeyboardInterrupt):
            return "interrupted", 130
        if self.crash is not None:
            return "crashed", 1
        code = _exit.exit_code()
        return ("failed", code) if code else ("ok", 0)

    def at_exit(self) -> None:
        with guard():
            self._finish()

    def _finish(self) -> None:
        if self._finished or os.getpid() != self.pid:
            return
        self._finished = True
        # An app (Typer, for one) may have replaced sys.excepthook after init; Python still
        # leaves the uncaught exception in sys.last_value, so no crash goes unreported.
        last = getattr(sys, "last_value", None)
        if last is not None and self.crash is None:
            self.on_crash(last, "excepthook")
        usage.SINK = None
        if self.owner and self.journaled:
            outcome, code = self.outcome()
            record = self._record(
                ended=time.time(), outcome=outcome, exit_code=code, errors=self.errors,
                crashed=self.crashed or outcome == "crashed", spans=self.spans,
                spans_dropped=self.spans_dropped, counters=self.counters.snapshot(),
            )  # fmt: skip
            with guard():
                self._journal.finish(record)
        if self._capture is not None and self._capture.transport.in_memory:
            from ..delivery.drain import send_from_memory

            if self.options.dsn:
                send_from_memory(self.options.dsn, self._capture.transport.in_memory,
                                 timeout=self.options.exit_timeout, ca_certs=self.options.ca_certs)
        if self.owner and (self.level is not Level.OFF or self._capture is not None):
            self.deliver(at_exit=True)

    def deliver(self, *, at_exit: bool) -> None:
        """Start the sender, unless one is running: at exit, or while the program runs after it
        reported an error. Where no sender can be started, deliver in-process at exit only, with
        the bounded exit wait. Not at all where the state folder is unusable (no journal)."""
        if not self.journaled:
            return
        o = self.options
        args = ["--app", o.app, "--level", "errors" if self.level is Level.ERRORS else "all"]
        if o.config is not None:
            args += ["--config", str(o.config)]
        if o.dsn:
            args += ["--dsn", o.dsn]
        if o.spotlight:
            args += ["--spotlight", o.spotlight]
        if o.ca_certs:
            args += ["--ca-certs", o.ca_certs]
        args += ["--max-queued", str(o.max_queued), "--max-queued-bytes", str(o.max_queued_bytes)]
        spawn = launch.can_spawn()
        echo = at_exit and _echo_requested()
        if at_exit and (echo or not spawn):
            from .. import sender

            sender.run_in_process(args, timeout=0.0 if echo else o.exit_timeout, echo=echo)
        if not spawn:
            return
        launch.start_sender(self.paths, args)

    def _forked(self) -> None:
        """A forked child reports its own errors, but the run (its record, its session, its
        usage record) is the parent's."""
        with guard():
            if self._fault_enabled:
                import faulthandler

                faulthandler.disable()
            self._journal.forget()
            usage.SINK = None


def _echo_requested() -> bool:
    from ..consent import truthy

    return truthy(os.environ.get("CRASHREPORT_DEBUG"))
