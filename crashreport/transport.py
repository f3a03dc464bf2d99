"""The only network edge: every envelope is scrubbed here, last, before it goes anywhere.

:class:`ScrubbingTransport` is the transport given to sentry-sdk. Whatever the SDK built (events,
transactions, sessions, logs, client reports), each item is scrubbed as a whole; an item that
cannot be scrubbed is dropped, never sent raw. The scrubbed envelope then goes to the sender.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from sentry_sdk.envelope import Envelope, Item, PayloadRef
from sentry_sdk.transport import Transport

from ._safe import guard

if TYPE_CHECKING:
    from collections.abc import Callable

    from .privacy import Scrubber

#: Item types whose payload is JSON we know how to scrub; anything else (attachments, profiles,
#: replays) is dropped: we cannot promise what bytes of unknown shape contain.
JSON_ITEM_TYPES = frozenset(
    {"event", "transaction", "session", "sessions", "log", "client_report", "span", "trace_metric"}
)


_OWN_HEADERS = frozenset({"type", "content_type", "item_count", "length"})


def scrub_envelope(envelope: Envelope, scrubber: Scrubber) -> Envelope | None:
    """A scrubbed copy of ``envelope``; None when no item is left to send."""
    items = []
    for item in envelope.items:
        with guard():
            if item.type not in JSON_ITEM_TYPES:
                continue
            payload = item.payload.json
            if payload is None:
                from sentry_sdk.envelope import parse_json

                payload = parse_json(item.payload.get_bytes())
            if item.type in ("event", "transaction"):
                clean = scrubber.scrub_event(payload)
            else:
                clean = scrubber.scrub(payload)
            # The SDK's own headers (type, content type, count) are kept; any other is scrubbed.
            headers = {k: v for k, v in item.headers.items() if k not in _OWN_HEADERS}
            clean_headers = scrubber.scrub(headers) if headers else {}
            clean_headers.update({k: v for k, v in item.headers.items()
                                  if k in _OWN_HEADERS and k != "length"})  # fmt: skip
            items.append(Item(payload=PayloadRef(json=clean), headers=clean_headers))
    if not items:
        return None
    envelope_headers: dict[str, Any] = {}
    with guard():
        envelope_headers = scrubber.scrub({k: v for k, v in envelope.headers.items() if k != "dsn"})
    return Envelope(headers=envelope_headers, items=items)


class Sender(Protocol):
    """What sends for us (the outbox's courier, or a sentry-sdk transport): flushed at exit."""

    def flush(self, timeout: float, callback: Any = None) -> None: ...
    def kill(self) -> None: ...
    def record_lost_event(self, *args: Any, **kwargs: Any) -> None: ...


class ScrubbingTransport(Transport):
    """Scrubs each envelope and passes it to ``send``; never raises into the SDK.

    ``inner`` is what actually sends (see :class:`Sender`); sentry-sdk's shutdown flushes it
    with its ``shutdown_timeout`` (crashreport's exit timeout) and then kills it.
    """

    def __init__(
        self,
        options: dict[str, Any] | None,
        scrubber: Scrubber,
        send: Callable[[Envelope], None],
        inner: Sender | None = None,
    ) -> None:
        super().__init__(options)
        self._scrubber = scrubber
        self._send = send
        self._inner = inner

    def capture_envelope(self, envelope: Envelope) -> None:
        with guard():
            clean = scrub_envelope(envelope, self._scrubber)
            if clean is not None:
                self._send(clean)

    def flush(self, timeout: float, callback: Any = None) -> None:
        if self._inner is not None:
            with guard():
                self._inner.flush(timeout, callback)

    def kill(self) -> None:
        if self._inner is not None:
            with guard():
                self._inner.kill()

    def record_lost_event(self, *args: Any, **kwargs: Any) -> None:
        if self._inner is not None:
            with guard():
                self._inner.record_lost_event(*args, **kwargs)
