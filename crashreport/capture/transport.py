"""The capture's transport: each envelope sentry-sdk builds is scrubbed (the privacy step, last,
after the app's ``before_send``), cut to the field table, and written to the outbox before the
capturing call returns. An item that cannot be scrubbed is dropped, never sent raw."""

from __future__ import annotations

from typing import Any

from sentry_sdk.envelope import Envelope, Item, PayloadRef, parse_json
from sentry_sdk.transport import Transport

from .._safe import guard, warn
from ..delivery.outbox import Outbox
from ..payload import allow
from ..privacy import Scrubber

#: Item types whose payload is JSON we know how to scrub; anything else (attachments, profiles,
#: replays) is dropped: we cannot promise what bytes of unknown shape contain. (The field table,
#: :mod:`crashreport.payload`, then drops any type it has no rows for.)
JSON_ITEM_TYPES = frozenset(
    {"event", "transaction", "session", "sessions", "log", "client_report", "span", "trace_metric"}
)
#: Reports kept in memory when the disk fails (each is sent at exit, within the exit bound).
MAX_IN_MEMORY = 20


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
                from ..delivery.echo import echo

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
