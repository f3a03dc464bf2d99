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
from sentry_sdk.envelope import Envelope, Item, PayloadRef, parse_json
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.transport import Transport
from sentry_sdk.utils import event_from_exception

from . import appcode
from ._safe import guard, warn
from .consent import Level
from .delivery.outbox import Outbox
from .metadata import package_versions, release_for
from .payload import allow
from .run import MAX_BREADCRUMBS
from .scrub import Scrubber, machine_context

if TYPE_CHECKING:
    from logging import LogRecord

    from .run import Run

#: Item types whose payload is JSON we know how to scrub; anything else (attachments, profiles,
#: replays) is dropped: we cannot promise what bytes of unknown shape contain. (The field table,
#: :mod:`crashreport.payload`, then drops any type it has no rows for.)
JSON_ITEM_TYPES = frozenset(
    {"event", "transaction", "session", "sessions", "log", "client_report", "span", "trace_metric"}
)
#: Reports kept in memory when the disk fails (each is sent at exit, within the exit bound).
MAX_IN_MEMORY = 20
_LEVELS = {50: "fatal", 40: "error", 30: "warning", 20: "info", 10: "debug"}


def scrub_envelope(envelope: Envelope, scrubber: Scrubber) -> Envelope | None:
    """A scrubbed copy of ``envelope``; None when no item is left to send. An item that cannot be
    scrubbed is dropped, never sent raw."""
    items = []
    for item in envelope.items:
        with guard():
            if item.type not in JSON_ITEM_TYPES:
                continue
            payload = item.payload.json
            if payload is None:
                payload = parse_json(item.payload.get_bytes())
            if item.type in ("event", "transaction"):
                clean = scrubber.scrub_event(payload)
            else:
                clean = scrubber.scrub(payload)
            clean = allow(item.type, clean)  # only what the telemetry page lists (payload.py)
            if clean is None:
                continue
            item_headers = {k: v for k, v in item.headers.items() if k != "length"}
            items.append(Item(payload=PayloadRef(json=clean), headers=scrubber.scrub(item_headers)))
    if not items:
        return None
    envelope_headers: dict[str, Any] = {}
    with guard():
        envelope_headers = scrubber.scrub({k: v for k, v in envelope.headers.items() if k != "dsn"})
        envelope_headers = allow("envelope", envelope_headers) or {}
    return Envelope(headers=envelope_headers, items=items)


class QueueingTransport(Transport):
    """Scrubs each envelope and queues it on disk (a copy for Spotlight, a print in echo mode)."""

    def __init__(self, options: dict[str, Any], scrubber: Scrubber, outbox: Outbox,
                 spotlight: Outbox | None, echo: bool) -> None:  # fmt: skip
        super().__init__(options)
        self.scrubber, self.outbox, self.spotlight, self.echo = scrubber, outbox, spotlight, echo
        self.queued = 0  # events queued (on disk, or in memory when the disk failed)
        #: Reports that could not be written to disk: sent from memory at exit.
        self.in_memory: list[bytes] = []

    def capture_envelope(self, envelope: Envelope) -> None:
        with guard():
            clean = scrub_envelope(envelope, self.scrubber)
            if clean is None:
                return
            data = clean.serialize()
            if self.echo:
                from .echo import echo

                echo(data)
            if self.spotlight is not None:
                with guard():
                    self.spotlight.put(data)
            try:
                self.outbox.put(data)
            except OSError as exc:
                warn(f"cannot keep reports in {self.outbox.directory.parent} "
                     f"({exc.strerror or exc}); sending them from memory at exit",
                     key="state")  # fmt: skip
                if len(self.in_memory) < MAX_IN_MEMORY:
                    self.in_memory.append(data)
            self.queued += 1

    def flush(self, timeout: float, callback: Any = None) -> None:
        """Nothing waits here: every envelope is on disk when ``capture_envelope`` returns."""

    def kill(self) -> None:
        pass


class Capture:
    """sentry-sdk, set up for one run: turns exceptions and log records into queued events."""

    def __init__(self, run: Run) -> None:
        import os

        from .echo import enabled as echo_enabled

        o = run.options
        self.run = run
        self.packages = package_versions(o.app)
        self.release = release_for(o.app, o.version, self.packages)
        paths = run.paths
        outbox = Outbox(paths.outbox_dir, paths.sent_dir, max_count=o.max_queued,
                        max_bytes=o.max_queued_bytes)  # fmt: skip
        spotlight = Outbox(paths.spotlight_dir, paths.spotlight_dir / "sent", sent_keep=0) \
            if o.spotlight else None  # fmt: skip
        self.scrubber = Scrubber(machine_context(), patterns=o.scrub_patterns, keys=o.scrub_keys)
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
            max_breadcrumbs=MAX_BREADCRUMBS,
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
            # The run's trace: a crash shows up inside the run's usage record in Sentry, and its
            # envelope carries the same trace header (sampling context) as the usage record's.
            sentry_sdk.continue_trace({"sentry-trace": f"{run.trace_id}-{run.span_id}-1",
                                       "baggage": self._baggage()})  # fmt: skip

    def _baggage(self) -> str:
        from urllib.parse import quote

        from .reports import trace_header

        run, dsn = self.run, self.run.options.dsn
        record = {"trace_id": run.trace_id, "environment": run.options.environment,
                  "level": run.level.value, "subcommand": run.subcommand, "app": run.options.app}
        key = client_key(dsn) if dsn else None
        header = trace_header(record, self.release, key)
        return ",".join(f"sentry-{k}={quote(v, safe='')}" for k, v in header.items())

    def set_subcommand(self, name: str | None) -> None:
        sentry_sdk.get_global_scope().set_tag("subcommand", name)

    def _breadcrumbs(self) -> None:
        """Hand the run's recent log records to sentry-sdk as breadcrumbs (each one once)."""
        crumbs = self.run.breadcrumbs
        while crumbs:
            created, levelno, name, msg, args = crumbs.popleft()
            message = str(msg)
            if args:
                with guard():
                    message = message % args
            sentry_sdk.add_breadcrumb(type="log", category=name, level=_LEVELS.get(levelno, "info"),
                                      message=message, timestamp=_utc(created))  # fmt: skip

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
            appcode.mark_frames(event, appcode.for_app(self.run.options.app))
        before_send = self.run.options.before_send
        if before_send is not None:
            result = None
            with guard():
                result = before_send(event, hint)
            if result is None:
                return None
            event = result
        event["modules"] = dict(self.packages)
        return event


def client_key(dsn: str) -> str | None:
    from .delivery.http import Dsn

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
