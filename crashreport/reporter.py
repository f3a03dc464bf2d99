"""Wire sentry-sdk for one run: options, integrations, tags, contexts, session and exit.

Imported only when telemetry is on. Everything sentry-sdk would otherwise take from the user's
machine (``SENTRY_*`` variables, a git checkout, the hostname, ``sys.argv``, local variables,
every installed module) is set explicitly here so that only what the app author passed is used.
"""

from __future__ import annotations

import atexit
import logging
import os
import platform
import sys
from collections.abc import Callable
from typing import Any, cast

import sentry_sdk
from sentry_sdk.integrations.atexit import AtexitIntegration
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.excepthook import ExcepthookIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.threading import ThreadingIntegration

from . import _exit, echo, usage
from ._safe import guard, warn
from .config import Settings, looks_like_dsn
from .consent import Level
from .delivery import REQUEST_TIMEOUT, Courier, EnvelopeSender
from .errorcap import DEFAULT_MAX_ERRORS, ErrorCap
from .outbox import DEFAULT_MAX_BYTES, DEFAULT_MAX_COUNT, Outbox
from .paths import Paths
from .privacy import Scrubber, machine_context, structure_breadcrumb, structure_event
from .spotlight import SpotlightForwarder
from .transport import ScrubbingTransport

BeforeSend = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]

#: Default for how long the exit may wait for this run's reports to go out. Reports are on disk
#: before this wait starts (the next run sends what is left), so it only trades delivery
#: latency against exit time: 0.25 s keeps a crash exit against a hanging endpoint within
#: 0.25x of plain sentry-sdk's 2 s wait, start-up included.
DEFAULT_EXIT_TIMEOUT = 0.25

def _in_worker_process() -> bool:
    """True in a multiprocessing child (fork, spawn or forkserver)."""
    mp = sys.modules.get("multiprocessing")
    try:
        return mp is not None and mp.parent_process() is not None
    except Exception:
        return False


def _quiet_shutdown(pending: int, timeout: float) -> None:
    """sentry-sdk's default prints to the host's stderr at exit; crashreport never does."""


class Reporter:
    """One enabled run: owns the sentry-sdk client and the session."""

    def __init__(
        self,
        *,
        app: str,
        release: str,
        user_id: str,
        level: Level,
        dsn: str | None,
        environment: str,
        subcommand: str | None,
        packages: dict[str, str],
        before_send: BeforeSend | None,
        exit_timeout: float,
        scrubber: Scrubber | None = None,
        outbox_max_count: int = DEFAULT_MAX_COUNT,
        outbox_max_bytes: int = DEFAULT_MAX_BYTES,
        spotlight: str | None = None,
        max_errors: int | None = DEFAULT_MAX_ERRORS,
    ) -> None:
        self.app = app
        self.release = release
        self.user_id = user_id
        self.level = level
        self.subcommand = subcommand
        self.packages = packages
        self._user_before_send = before_send
        self.scrubber = scrubber or Scrubber(machine_context())
        self.transport = ScrubbingTransport(None, self.scrubber, self._send)
        self.outbox: Outbox | None = None
        self.courier: Courier | None = None
        #: A multiprocessing worker (spawned, or forked then init'ed): it reports its errors,
        #: but the run (session, usage record) is the parent's, and it only queues them.
        self._worker = _in_worker_process()
        self._echo = echo.enabled(os.environ)
        self._spotlight: SpotlightForwarder | None = None
        if spotlight:  # before sentry_sdk.init, so that its atexit flush runs after sentry-sdk's
            self._spotlight = SpotlightForwarder(spotlight, exit_timeout=exit_timeout)

        sentry_sdk.init(
            dsn=dsn or None,
            release=release,
            environment=environment,
            debug=False,
            spotlight=False,
            server_name="",
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[
                ExcepthookIntegration(),
                AtexitIntegration(callback=_quiet_shutdown),
                DedupeIntegration(),
                LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
                ThreadingIntegration(propagate_scope=True),
            ],
            include_local_variables=False,
            max_breadcrumbs=30,
            ignore_errors=[KeyboardInterrupt],
            before_send=cast(Any, self._before_send),
            before_breadcrumb=cast(Any, self._before_breadcrumb),
            before_send_transaction=cast(Any, self._before_send_transaction),
            traces_sample_rate=1.0,
            send_client_reports=False,
            transport=self.transport,
            shutdown_timeout=exit_timeout,
            keep_alive=False,
        )
        client = sentry_sdk.get_client()
        self._unwrap_printer(client)
        self._setup_outbox(client.options, dsn, outbox_max_count, outbox_max_bytes)
        scope = sentry_sdk.get_global_scope()
        self.error_cap = None if max_errors is None else ErrorCap(max_errors)
        if self.error_cap is not None:
            scope.add_event_processor(cast(Any, self.error_cap))
        scope.set_user({"id": user_id})
        sentry_sdk.get_isolation_scope().set_user({"id": user_id})  # the session's did
        scope.set_tag("python", platform.python_version())
        if subcommand:
            scope.set_tag("subcommand", subcommand)
        scope.set_context(
            "runtime", {"name": platform.python_implementation(), "version": platform.python_version()}
        )
        scope.set_context("packages", dict(packages))
        self._run: Any = None
        self._crash: BaseException | None = None
        self.counters = usage.COUNTERS
        self._patch_excepthook()
        if level is Level.ALL and not self._worker:
            self._start_run()
        atexit.register(self._at_exit)
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._forked)

    # -- sending -----------------------------------------------------------------------------
    def _setup_outbox(self, options: dict[str, Any], dsn: str | None, max_count: int,
                      max_bytes: int) -> None:  # fmt: skip
        """Write-ahead queue on disk; with a DSN, a background courier sends it.

        The courier starts at once and first delivers what earlier runs left (in its own
        thread: start-up does not wait). sentry-sdk's shutdown flushes it for ``exit_timeout``.
        Without a DSN (local mode) envelopes only go to the outbox.
        """
        paths = Paths.for_app(self.app)
        self.outbox = Outbox(paths.outbox_dir, paths.sent_dir, max_count=max_count,
                             max_bytes=max_bytes)  # fmt: skip
        if dsn:
            self.courier = Courier(self.outbox, lambda: EnvelopeSender(options, REQUEST_TIMEOUT),
                                   enabled=lambda: self.level is not Level.OFF,
                                   queue_only=self._worker)  # fmt: skip
            self.transport._inner = self.courier
            self.courier.start()

    def _send(self, envelope: Any) -> None:
        """Queue one scrubbed envelope on disk, then hand it to the courier (if any)."""
        if self.level is Level.OFF:
            return
        data = envelope.serialize()
        if self._spotlight is not None:
            self._spotlight.send(data)
        if self._echo:
            echo.echo(data)
        entry = None
        if self.outbox is not None:
            try:
                entry = self.outbox.put(data)
            except OSError as exc:
                then = "sending from memory" if self.courier is not None else "not kept"
                warn(f"cannot keep reports in {self.outbox.directory} "
                     f"({exc.strerror or exc}); {then}", key="outbox")  # fmt: skip
                if self.courier is not None:
                    self.courier.submit(data)
                return
        if entry is not None and self.courier is not None:
            self.courier.submit(entry)

    @staticmethod
    def _unwrap_printer(client: Any) -> None:
        # SENTRY_PRINT_ENVELOPES in the user's shell would wrap our transport and print raw
        # envelopes to the host's stderr; only what the app author passed may configure us.
        inner = getattr(client.transport, "_inner", None)
        if inner is not None and type(client.transport).__name__ == "_EnvelopePrinterTransport":
            client.transport = inner

    # -- events ------------------------------------------------------------------------------
    def _before_send(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        if self.level is Level.OFF:
            return None
        if self._user_before_send is not None:
            result = None
            with guard():
                result = self._user_before_send(event, hint)
            if result is None:
                return None
            event = result
        event["modules"] = dict(self.packages)
        with guard():  # messages rebuilt from the live objects: what text rules cannot see
            structure_event(event, hint)
        return event

    @staticmethod
    def _before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any]:
        with guard():
            structure_breadcrumb(crumb, hint)
        return crumb

    def _before_send_transaction(
        self, event: dict[str, Any], hint: dict[str, Any]
    ) -> dict[str, Any] | None:
        return event if self.level is Level.ALL else None

    # -- the run -----------------------------------------------------------------------------
    def _start_run(self) -> None:
        """Level ``all``: a session (adoption, crash-free) and a usage record for this run."""
        sentry_sdk.get_isolation_scope().start_session()
        self._run = sentry_sdk.start_transaction(
            name=self.subcommand or self.app, op="cli.run", source="custom"
        )
        sentry_sdk.get_current_scope().span = self._run
        usage.SINK = self

    def _stop_run(self) -> None:
        usage.SINK = None
        self._run = None
        scope = sentry_sdk.get_isolation_scope()
        scope._session = None  # leaving level all: this run's session is not sent
        sentry_sdk.get_current_scope().span = None

    def _forked(self) -> None:
        """A forked child reports its errors, but the run (session, usage record) is the parent's."""
        with guard():
            if self._run is not None:
                self._stop_run()

    def set_subcommand(self, name: str | None) -> None:
        self.subcommand = name
        sentry_sdk.get_global_scope().set_tag("subcommand", name)
        if self._run is not None:
            self._run.name = name or self.app

    def set_level(self, level: Level) -> None:
        previous, self.level = self.level, level
        if previous is Level.ALL and level is not Level.ALL:
            self._stop_run()
        elif level is Level.ALL and previous is not Level.ALL and not self._worker:
            self._start_run()

    def record_action(self, action: usage.Action) -> None:
        """A finished :class:`usage.Action` becomes one span of this run's usage record."""
        if self._run is None or self.level is not Level.ALL:
            return
        from datetime import datetime, timezone

        start = datetime.fromtimestamp(action.start_wall, timezone.utc)
        span = self._run.start_child(op="action", name=action.name, start_timestamp=start)
        span.set_data("outcome", action.outcome)
        for key, value in action.data.items():
            span.set_data(key, value)
        if action.error_type or action.error_message:
            span.set_data("error.type", action.error_type)
            span.set_data("error.message", action.error_message)
        if isinstance(action.data.get("status_code"), int):
            span.set_http_status(action.data["status_code"])
        else:
            span.set_status("ok" if action.outcome == "ok" else "unknown_error")
        span.finish(end_timestamp=datetime.fromtimestamp(action.start_wall + action.duration,
                                                          timezone.utc))  # fmt: skip

    def _patch_excepthook(self) -> None:
        previous = sys.excepthook

        def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> Any:
            self._crash = value
            return previous(kind, value, tb)

        sys.excepthook = excepthook

    def _at_exit(self) -> None:
        """Runs before sentry-sdk's own atexit (registered later): close the usage record."""
        with guard():
            # An app (Typer, for one) may have replaced sys.excepthook after init; Python still
            # leaves the uncaught exception in sys.last_value, so no crash goes unreported.
            last = getattr(sys, "last_value", None)
            if last is not None and last is not self._crash:
                self._crash = last
                if not isinstance(last, KeyboardInterrupt) and self.level is not Level.OFF:
                    self._capture_unhandled(last)
            outcome, status, code = self._outcome()
            session = getattr(sentry_sdk.get_isolation_scope(), "_session", None)
            if session is not None and outcome == "failed":
                session.update(errors=max(session.errors, 1))
            elif session is not None and outcome == "crashed" and session.status != "crashed":
                # The app's before_send dropped the crash report: the run still crashed, and
                # crash-free figures must say so.
                session.update(status="crashed", errors=max(session.errors, 1))
            run, self._run = self._run, None
            if run is not None and self.level is Level.ALL:
                run.set_status(status)
                run.set_data("outcome", outcome)
                run.set_data("exit_code", code)
                counters = self.counters.snapshot()
                if counters:
                    run.set_data("counters", counters)
                run.finish()

    def _outcome(self) -> tuple[str, str, int]:
        """(outcome, span status, exit code) of this run."""
        if isinstance(self._crash, KeyboardInterrupt):
            return "interrupted", "cancelled", 130
        if self._crash is not None:
            return "crashed", "internal_error", 1
        code = _exit.exit_code()
        if code:
            return "failed", "unknown_error", code
        return "ok", "ok", 0

    @staticmethod
    def _capture_unhandled(exc: BaseException) -> None:
        from sentry_sdk.utils import event_from_exception

        client = sentry_sdk.get_client()
        event, hint = event_from_exception(
            exc, client_options=client.options, mechanism={"type": "excepthook", "handled": False}
        )
        sentry_sdk.capture_event(event, hint=hint)


def start(
    *,
    app: str,
    level: Level,
    settings: Settings,
    dsn: str | None = None,
    subcommand: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    before_send: BeforeSend | None = None,
    scrub_patterns: tuple[str, ...] = (),
    scrub_keys: tuple[str, ...] = (),
    scrub_words: tuple[str, ...] = (),
    exit_timeout: float | None = None,
    max_queued: int | None = None,
    max_queued_bytes: int | None = None,
    spotlight: bool | str | None = None,
    max_errors: int | None = DEFAULT_MAX_ERRORS,
) -> Reporter:
    """Resolve init's arguments against the user's settings (the user's win) and start.

    Raises ValueError for an app argument that cannot be used (a bad scrub pattern): the caller
    keeps telemetry off rather than send without the scrubbing the app author asked for.
    """
    import re
    import uuid

    from . import identity
    from .metadata import app_roots, package_versions
    from .spotlight import resolve_url

    try:
        scrubber = Scrubber(machine_context(app_roots=app_roots(app)), patterns=scrub_patterns,
                            keys=scrub_keys, words=scrub_words)  # fmt: skip
    except re.error as exc:
        raise ValueError(f"a scrub pattern is not a valid regular expression ({exc})") from exc
    if dsn and not settings.dsn and not looks_like_dsn(dsn):
        warn("the app's DSN is not a Sentry DSN (https://<key>@<host>/<project>); "
             "reports stay on this machine")  # fmt: skip
        dsn = None
    paths = Paths.for_app(app)
    try:
        user_id = identity.load_or_create(paths.id_file)
    except OSError as exc:
        warn(f"cannot keep the anonymous id in {paths.data_dir} ({exc.strerror}); "
             "using one for this run only")  # fmt: skip
        user_id = uuid.uuid4().hex
    packages = package_versions(app)
    return Reporter(
        app=app,
        release=f"{app}@{version or packages.get(app) or '0+unknown'}",
        user_id=user_id,
        level=level,
        dsn=settings.dsn or dsn,
        environment=settings.environment or environment or "production",
        subcommand=subcommand,
        packages=packages,
        before_send=before_send,
        exit_timeout=_first(settings.exit_timeout, exit_timeout, DEFAULT_EXIT_TIMEOUT),
        scrubber=scrubber,
        outbox_max_count=DEFAULT_MAX_COUNT if max_queued is None else max_queued,
        outbox_max_bytes=DEFAULT_MAX_BYTES if max_queued_bytes is None else max_queued_bytes,
        spotlight=resolve_url(spotlight if settings.spotlight is None else settings.spotlight),
        max_errors=max_errors,
    )


def _first(*values: float | None) -> float:
    return next(v for v in values if v is not None)
