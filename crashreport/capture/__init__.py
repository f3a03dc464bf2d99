"""Loaded on the first error of a run: sentry-sdk builds the event, crashreport scrubs and queues it.

sentry-sdk is used only as an event builder here (stack traces, chained exceptions, source
context, the logging record's ``logentry``). Everything it would otherwise take from the user's
machine (``SENTRY_*`` variables, a git checkout, the host name, ``sys.argv``, local variables,
every installed module) is set explicitly, and no integration of its own runs: crashreport's
light hooks (:mod:`crashreport.run.hooks`) decide what is reported. Its transport is
:class:`QueueingTransport`: each envelope is scrubbed (the privacy step, last, after the app's
``before_send``) and written to the outbox before the capturing call returns; the sender
delivers it after the program has exited.
"""

from __future__ import annotations

import platform
from typing import TYPE_CHECKING, Any, cast

import sentry_sdk
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.utils import event_from_exception

from .. import inapp
from .._safe import guard
from ..consent import Level
from ..delivery.outbox import Outbox
from ..privacy import Scrubber, machine_context, structure_breadcrumb, structure_event
from ..release import package_versions, release_for
from .transport import QueueingTransport

if TYPE_CHECKING:
    from collections import deque
    from logging import LogRecord
    from typing import Protocol

    from ..options import Options
    from ..paths import Paths

    class Run(Protocol):
        """What the capture reads of the run that loaded it (:class:`crashreport.run.Run`)."""

        options: Options
        paths: Paths
        level: Level
        user_id: str
        subcommand: str | None
        trace_id: str
        span_id: str
        breadcrumbs: deque[LogRecord] | None

#: Breadcrumbs an event carries (sentry-sdk's default is 100; a CLI needs the last few).
MAX_BREADCRUMBS = 30
#: Python's logging levels as Sentry's.
_LEVELS = {50: "fatal", 40: "error", 30: "warning", 20: "info", 10: "debug"}


class Capture:
    """sentry-sdk, set up for one run: turns exceptions and log records into queued events."""

    def __init__(self, run: Run) -> None:
        import os

        from ..delivery.echo import enabled as echo_enabled

        o = run.options
        self.run = run
        self.packages = package_versions(o.app)
        self.release = release_for(o.app, o.version, self.packages)
        paths = run.paths
        outbox = Outbox(paths.outbox_dir, paths.sent_dir, max_count=o.max_queued,
                        max_bytes=o.max_queued_bytes)  # fmt: skip
        spotlight = Outbox(paths.spotlight_dir, paths.spotlight_dir / "sent", sent_keep=0) \
            if o.spotlight else None  # fmt: skip
        self.scrubber = Scrubber(machine_context(app_roots=inapp.app_roots(o.app)),
                                 patterns=o.scrub_patterns, keys=o.scrub_keys, words=o.safe_words)
        options = {"dsn": o.dsn}
        self.transport = QueueingTransport(options, self.scrubber, outbox, spotlight,
                                           echo_enabled(os.environ))  # fmt: skip
        sentry_sdk.init(
            dsn=o.dsn,
            release=self.release,
            environment=o.environment,
            debug=False,
            spotlight=False,
            server_name="",
            default_integrations=False,
            auto_enabling_integrations=False,
            integrations=[DedupeIntegration()],
            include_local_variables=False,
            max_breadcrumbs=MAX_BREADCRUMBS,  # the run keeps as many log records
            before_send=cast(Any, self._before_send),
            send_client_reports=False,
            traces_sample_rate=1.0,  # no transaction is made here; the trace header says so
            transport=self.transport,
            keep_alive=False,
        )
        client = sentry_sdk.get_client()
        _unwrap_printer(client)
        scope = sentry_sdk.get_global_scope()
        scope.set_user({"id": run.user_id})
        scope.set_tag("python", platform.python_version())
        if run.subcommand:
            scope.set_tag("subcommand", run.subcommand)
        scope.set_context("runtime", {"name": platform.python_implementation(),
                                      "version": platform.python_version()})  # fmt: skip
        scope.set_context("packages", dict(self.packages))
        if run.level is Level.ALL:
            # The error names the run's usage record (the subcommand), as Sentry expects.
            scope.set_transaction_name(run.subcommand or o.app, source="custom")
            # The run's trace: a crash shows up inside the run's usage record in Sentry, and its
            # envelope carries the same trace header (sampling context) as the usage record's.
            sentry_sdk.continue_trace({"sentry-trace": f"{run.trace_id}-{run.span_id}-1",
                                       "baggage": self._baggage()})  # fmt: skip

    def _baggage(self) -> str:
        from urllib.parse import quote

        from ..reports import trace_header

        run, dsn = self.run, self.run.options.dsn
        record = {"trace_id": run.trace_id, "environment": run.options.environment,
                  "level": run.level.value, "subcommand": run.subcommand, "app": run.options.app}
        key = client_key(dsn) if dsn else None
        header = trace_header(record, self.release, key)
        return ",".join(f"sentry-{k}={quote(v, safe='')}" for k, v in header.items())

    def set_subcommand(self, name: str | None) -> None:
        scope = sentry_sdk.get_global_scope()
        scope.set_tag("subcommand", name)
        if self.run.level is Level.ALL:
            scope.set_transaction_name(name or self.run.options.app, source="custom")

    def _breadcrumbs(self) -> None:
        """Hand the run's recent log records to sentry-sdk as breadcrumbs (each one once); a
        message is its format string with each argument checked (:mod:`crashreport.privacy`)."""
        crumbs = self.run.breadcrumbs
        while crumbs:
            record = crumbs.popleft()
            crumb = {"type": "log", "category": record.name,
                     "level": _LEVELS.get(record.levelno, "info"), "message": str(record.msg),
                     "timestamp": _utc(record.created)}  # fmt: skip
            with guard():
                crumb["message"] = record.getMessage()
            with guard():
                structure_breadcrumb(crumb, {"log_record": record})
            sentry_sdk.add_breadcrumb(crumb)

    def exception(self, exc: BaseException, *, handled: bool, mechanism: str) -> bool:
        """Queue an event for ``exc``; False when nothing was queued (the app's before_send
        dropped it, or it was a repeat of an exception already reported)."""
        before = self.transport.queued
        self._breadcrumbs()
        client = sentry_sdk.get_client()
        event, hint = event_from_exception(
            exc, client_options=client.options, mechanism={"type": mechanism, "handled": handled}
        )
        sentry_sdk.capture_event(event, hint=hint)
        return self.transport.queued > before

    def log_record(self, record: LogRecord) -> bool:
        """Queue an event for an error log record, built as sentry-sdk's logging integration
        builds it (``logentry`` with the message template and its arguments)."""
        from sentry_sdk.integrations.logging import EventHandler

        before = self.transport.queued
        self._breadcrumbs()
        EventHandler(level=0).handle(record)
        return self.transport.queued > before

    def _before_send(self, event: dict[str, Any], hint: dict[str, Any]) -> dict[str, Any] | None:
        with guard():
            inapp.mark_frames(event, inapp.for_app(self.run.options.app))
        before_send = self.run.options.before_send
        if before_send is not None:
            result = None
            with guard():
                result = before_send(event, hint)
            if result is None:
                return None
            event = result
        event["modules"] = dict(self.packages)
        with guard():  # messages rebuilt from the live objects: what text rules cannot see
            structure_event(event, hint)
        return event


def client_key(dsn: str) -> str | None:
    from ..delivery.http import Dsn

    try:
        return Dsn.parse(dsn).public_key
    except ValueError:
        return None


def _utc(timestamp: float) -> Any:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(timestamp, timezone.utc)


def _unwrap_printer(client: Any) -> None:
    # SENTRY_PRINT_ENVELOPES in the user's shell would wrap our transport and print raw envelopes
    # to the host's stderr; only what the app author passed may configure crashreport.
    inner = getattr(client.transport, "_inner", None)
    if inner is not None and type(client.transport).__name__ == "_EnvelopePrinterTransport":
        client.transport = inner
