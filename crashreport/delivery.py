"""Send queued envelopes with sentry-sdk's own HTTP transport, one request at a time.

:class:`EnvelopeSender` is sentry-sdk's real :class:`~sentry_sdk.transport.HttpTransport`
(urllib3 pool, auth headers, the DSN's endpoint, proxies and certificates as the SDK sets them
up) with short timeouts, no urllib3 retries, and ``_handle_response`` overridden to report the
answer instead of logging it. :func:`deliver` maps one answer onto the queue:

==========================  ===========================================================
2xx                          removed from the queue, a copy kept in the sent log
network error, timeout, 5xx  kept; tried again later, with backoff after a few attempts
429                          kept; ``X-Sentry-Rate-Limits`` / ``Retry-After`` persisted
other 4xx (413 too)          dropped and counted: sending again cannot help
==========================  ===========================================================

:class:`Courier` is the background thread used inside a program; :func:`send_pending` is the
same logic in the caller's thread (for ``crashreport send``).
"""

from __future__ import annotations

import contextlib
import enum
import gzip
import json
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import urllib3
from sentry_sdk.consts import DEFAULT_OPTIONS, EndpointType
from sentry_sdk.transport import HttpTransport, _parse_rate_limits

from ._safe import guard
from .outbox import STALE_CLAIM_SECONDS, Claim, Entry, Outbox, is_envelope

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Per-request timeout for background sending (connect and each read).
REQUEST_TIMEOUT = 5.0
#: Attempts that are retried at once by the next run; after that, backoff grows.
FREE_ATTEMPTS = 3
MAX_BACKOFF = 6 * 3600.0
#: Without a usable Retry-After, a 429 holds sending this long (sentry-sdk's default).
DEFAULT_RETRY_AFTER = 60.0


class SendResult(NamedTuple):
    sent: int
    kept: int
    dropped: int


class Outcome(enum.Enum):
    SENT = "sent"
    KEPT = "kept"  # network error, timeout, 5xx, 429: try again later
    DROPPED = "dropped"  # 4xx, corrupt


@dataclass
class Answer:
    """What the server said: a status and the headers that matter, or the error."""

    status: int | None = None
    retry_after: str | None = None
    rate_limits: str | None = None
    error: str | None = None


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt after ``attempts`` failures (0 for the first)."""
    if attempts < FREE_ATTEMPTS:
        return 0.0
    return float(min(60.0 * 2 ** (attempts - FREE_ATTEMPTS), MAX_BACKOFF))


class EnvelopeSender(HttpTransport):
    """sentry-sdk's HTTP transport, used synchronously: :meth:`post` returns the answer."""

    def __init__(self, options: Mapping[str, Any], timeout: float = REQUEST_TIMEOUT) -> None:
        self._request_timeout = timeout
        self._answer = Answer()
        super().__init__(dict(options))

    @classmethod
    def for_dsn(cls, dsn: str, timeout: float = REQUEST_TIMEOUT) -> EnvelopeSender:
        options = dict(DEFAULT_OPTIONS)
        options.update(dsn=dsn, keep_alive=False)
        return cls(options, timeout)

    def _get_pool_options(self) -> dict[str, Any]:
        options: dict[str, Any] = super()._get_pool_options()
        t = self._request_timeout
        options["timeout"] = urllib3.Timeout(connect=t, read=t)
        options["retries"] = False  # one try per request; the queue does the retrying
        return options

    def _request(self, method: str, endpoint_type: Any, body: Any, headers: Any) -> Any:
        """As sentry-sdk's, but the answer's body is never read: only status and headers count.

        sentry-sdk lets urllib3 preload the whole body; a server answering with an endless (or
        50 MiB) body would then keep the sender reading, its memory growing, and the envelope
        claimed but never settled (sent again by the next run). ``response.close()`` (called by
        sentry-sdk after :meth:`_handle_response`) drops the connection instead.
        """
        return self._pool.request(method, self._auth.get_api_url(endpoint_type), body=body,
                                  headers=headers, preload_content=False)  # fmt: skip

    def _handle_response(self, response: Any, envelope: Any) -> None:
        self._answer = Answer(
            status=int(response.status),
            retry_after=self._get_header_value(response, "Retry-After"),
            rate_limits=self._get_header_value(response, "X-Sentry-Rate-Limits"),
        )

    def _handle_request_error(self, envelope: Any, loss_reason: str = "network",
                              record_reason: str = "network_error") -> None:  # fmt: skip
        pass  # no client reports about our own retries

    def post(self, data: bytes) -> Answer:
        """POST one serialized envelope (gzip) to the DSN's envelope endpoint."""
        self._answer = Answer(error="no answer")
        body = gzip.compress(restamp(data), compresslevel=6)
        headers = {"Content-Type": "application/x-sentry-envelope", "Content-Encoding": "gzip"}
        try:
            self._send_request(body, headers, EndpointType.ENVELOPE)
        except Exception as exc:
            return Answer(error=f"{type(exc).__name__}")
        return self._answer

    def rate_limit_until(self, answer: Answer, now: float) -> dict[str, float]:
        """Category → unix time from a 429 (or any answer carrying rate-limit headers)."""
        from datetime import datetime, timezone

        limits: dict[str, float] = {}
        if answer.rate_limits:
            at = datetime.fromtimestamp(now, timezone.utc)
            for cat, until in _parse_rate_limits(answer.rate_limits, now=at):
                key = "" if cat is None else str(cat)
                limits[key] = max(limits.get(key, 0.0), until.timestamp())
        if not limits and answer.status == 429:
            seconds = None
            if answer.retry_after is not None:
                with contextlib.suppress(Exception):
                    seconds = self._retry.parse_retry_after(answer.retry_after)
            limits[""] = now + (seconds if seconds else DEFAULT_RETRY_AFTER)
        return limits

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._pool.clear()


def restamp(data: bytes, now: float | None = None) -> bytes:
    """Set the envelope header's ``sent_at`` to now.

    Relay corrects a client's clock by ``received - sent_at``: a report queued days ago and
    sent with its old ``sent_at`` would have its timestamps moved to today.
    """
    from datetime import datetime, timezone

    end = data.find(b"\n")
    head, rest = (data, b"") if end < 0 else (data[:end], data[end:])
    try:
        headers = json.loads(head or b"{}")
    except ValueError:
        return data
    if not isinstance(headers, dict):
        return data
    at = datetime.fromtimestamp(time.time() if now is None else now, timezone.utc)
    headers["sent_at"] = at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(headers, separators=(",", ":")).encode() + rest


def classify(answer: Answer) -> Outcome:
    if answer.status is None:
        return Outcome.KEPT
    if 200 <= answer.status < 300:
        return Outcome.SENT
    if answer.status == 429 or answer.status >= 500 or answer.status < 200:
        return Outcome.KEPT
    if 300 <= answer.status < 400:
        return Outcome.KEPT  # a redirect is not an acceptance; maybe a captive portal
    return Outcome.DROPPED


def deliver(outbox: Outbox, claim: Claim, sender: EnvelopeSender) -> Outcome:
    """Send one claimed envelope and settle it in the queue according to the answer."""
    try:
        data = outbox.read_claim(claim)
    except OSError:
        outbox.drop(claim, "dropped_corrupt")
        return Outcome.DROPPED
    if not is_envelope(data):  # truncated or garbage: never sent, never retried
        outbox.drop(claim, "dropped_corrupt")
        return Outcome.DROPPED
    answer = sender.post(data)
    now = time.time()
    outcome = classify(answer)
    limits = sender.rate_limit_until(answer, now)
    if limits:
        outbox.limit(limits)
    if outcome is Outcome.SENT:
        outbox.done(claim)
    elif outcome is Outcome.DROPPED:
        outbox.drop(claim, "dropped_4xx")
    elif answer.status == 429:
        outbox.retry(claim, max(limits.values(), default=now), failed=False)
    else:
        wait = backoff(claim.entry.attempts + 1)
        outbox.retry(claim, now + wait if wait else 0.0)
    return outcome


def send_pending(outbox: Outbox, dsn: str, *, timeout: float,
                 progress: Callable[[int, int], None] | None = None) -> SendResult:  # fmt: skip
    """Send the queue now, in this thread (``crashreport send``).

    Rate limits a server asked for are honoured; the backoff after failures is not (the user
    asked). ``timeout`` bounds each request; ``progress(done, total)`` is called after each
    envelope. Stops early, keeping the rest, when the server is unreachable or rate-limits us.
    Raises ``OSError`` when the outbox folder cannot be changed, and sentry-sdk's ``BadDsn``
    for a malformed ``dsn``.
    """
    outbox.recover()
    entries = outbox.due(backoff=False)
    total = len(entries)
    sent = kept = dropped = 0
    sender = EnvelopeSender.for_dsn(dsn, timeout)
    try:
        for i, entry in enumerate(entries):
            claim = outbox.claim(entry)
            if claim is None:
                continue  # another process took it
            outcome = deliver(outbox, claim, sender)
            if outcome is Outcome.SENT:
                sent += 1
            elif outcome is Outcome.DROPPED:
                dropped += 1
            else:
                kept += len(entries) - i
                if progress is not None:
                    progress(i + 1, total)
                break
            if progress is not None:
                progress(i + 1, total)
    finally:
        sender.close()
    return SendResult(sent, kept, dropped)


class Courier:
    """The background sender of one program run.

    This run's envelopes come first (:meth:`submit`); when ``drain`` is set, envelopes queued by
    earlier runs are sent after them. :meth:`flush` waits, at most ``timeout``, for this run's
    envelopes to be settled (sent, dropped, or back in the queue for later) and for the due
    backlog; what is left stays on disk. Envelopes that could not be written to disk are sent
    from memory (tried up to :data:`MEMORY_ATTEMPTS` times while the program runs).
    """

    def __init__(
        self,
        outbox: Outbox | None,
        make_sender: Callable[[], EnvelopeSender],
        *,
        drain: bool = True,
        enabled: Callable[[], bool] = lambda: True,
        queue_only: bool = False,
    ) -> None:
        self.outbox = outbox
        #: A forked child or a multiprocessing worker only queues (see :meth:`submit`).
        self._queue_only = queue_only
        self._enabled = enabled  # checked before every request: set_level("off") stops sending
        self._make_sender = make_sender
        self._sender: EnvelopeSender | None = None
        self._drain = drain and outbox is not None
        self._queue: deque[tuple[Entry | bytes, int]] = deque()  # (item, attempts so far)
        self._retry: list[tuple[bytes, int]] = []  # memory items that failed, for later
        self._unsettled = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._killed = False
        self._pause_until = 0.0  # in-process pause after a failure (the endpoint is down)
        self._failures = 0
        self._idle = False  # nothing due: this run's items settled, backlog empty or paused
        self._recovered_at = 0.0
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._after_fork)

    # -- what the program calls ----------------------------------------------------------------
    def start(self) -> None:
        """Start the thread (it first sends what earlier runs left, when ``drain`` is set)."""
        if self._queue_only:
            return
        with self._cond:
            self._ensure_thread()

    def submit(self, item: Entry | bytes) -> None:
        """Send this run's envelope (queued on disk, or bytes when the disk failed) soon.

        In a forked child or a multiprocessing worker an envelope that is on disk stays there
        for the parent's courier or the next run: pools end their workers with SIGTERM, and a
        worker killed after the server accepted its report but before settling the claim would
        have it sent twice. Only what could not be written to disk is sent from the child.
        """
        if self._queue_only and not isinstance(item, bytes):
            return
        with self._cond:
            self._ensure_thread()
            self._queue.append((item, 0))
            self._unsettled += 1
            self._cond.notify_all()

    def flush(self, timeout: float, callback: Any = None) -> None:
        """Wait up to ``timeout`` seconds for this run's envelopes and the backlog being sent.

        Whatever is not settled by then stays on disk for the next run.
        """
        deadline = time.monotonic() + max(0.0, timeout)
        with self._cond:
            if self._thread is None or not self._thread.is_alive() or self._pid != os.getpid():
                return
            while self._unsettled > 0 or not self._idle:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self._cond.wait(left)

    def kill(self) -> None:
        """Stop after the current request (the thread is a daemon: exit never waits for it)."""
        with self._cond:
            self._killed = True
            self._cond.notify_all()

    def record_lost_event(self, *args: Any, **kwargs: Any) -> None:
        """sentry-sdk's client reports about lost events are not kept."""

    # -- the thread ----------------------------------------------------------------------------
    def _after_fork(self) -> None:
        """A forked child: no thread, a fresh lock (the parent's may be held), a new pool."""
        self._cond = threading.Condition()
        self._pid, self._thread, self._sender = os.getpid(), None, None
        self._queue_only = True
        self._queue.clear()
        self._retry.clear()
        self._unsettled = 0

    def _ensure_thread(self) -> None:
        # A forked child was reset by _after_fork (os.register_at_fork) before it gets here.
        if self._thread is None or not self._thread.is_alive():
            self._killed = False
            self._thread = threading.Thread(target=self._run, name="crashreport-outbox",
                                            daemon=True)  # fmt: skip
            self._thread.start()

    def _recover(self) -> None:
        """Return claims of dead processes, clean temp files, drop too-old envelopes."""
        if self.outbox is not None and self._drain:
            with guard():
                self._recovered_at = time.time()
                self.outbox.recover()

    def _run(self) -> None:
        self._recover()
        with guard():
            self._get_sender()  # set up the pool now, while the host runs, not at its exit
        while True:
            job = self._next()
            if job is None:
                return
            item, attempts, mine = job
            try:
                with guard():
                    if isinstance(item, bytes):
                        self._send_bytes(item, attempts)
                    else:
                        self._send_entry(item)
            finally:
                if mine:
                    with self._cond:
                        self._unsettled = max(0, self._unsettled - 1)
                        self._cond.notify_all()

    def _next(self) -> tuple[Entry | bytes, int, bool] | None:
        """This run's next item, else a due backlog entry; waits; None once killed."""
        while True:
            with self._cond:
                if self._killed or not self._enabled():
                    self._queue.clear()
                    self._unsettled = 0
                    self._idle = True
                    self._cond.notify_all()
                    return None
                self._idle = False
                if self._queue:
                    item, attempts = self._queue.popleft()
                    return item, attempts, True
                wait = self._pause_until - time.time()
                if wait <= 0 and self._retry:
                    data, attempts = self._retry.pop(0)
                    return data, attempts, False
            if wait <= 0 and self._drain and self.outbox is not None:
                if time.time() - self._recovered_at > STALE_CLAIM_SECONDS:
                    self._recover()  # a long-running program: other processes' dead claims
                due = self.outbox.due()
                if due:
                    return due[0], 0, False
                nxt = self.outbox.next_due()
                wait = 300.0 if nxt is None else nxt - time.time()
            with self._cond:
                if not self._queue and not self._killed:
                    self._idle = True
                    self._cond.notify_all()
                    self._cond.wait(min(max(wait, 0.05), 300.0))

    def _get_sender(self) -> EnvelopeSender:
        if self._sender is None:
            self._sender = self._make_sender()
        return self._sender

    def _note(self, outcome: Outcome) -> None:
        """After a failure, pause the backlog (not this run's new envelopes) with backoff."""
        if outcome is Outcome.KEPT:
            self._failures += 1
            self._pause_until = time.time() + min(2.0**self._failures, 300.0)
        else:
            self._failures = 0

    def _send_entry(self, entry: Entry) -> None:
        assert self.outbox is not None
        claim = self.outbox.claim(entry)
        if claim is not None:
            self._note(deliver(self.outbox, claim, self._get_sender()))

    def _send_bytes(self, data: bytes, attempts: int) -> None:
        outcome = classify(self._get_sender().post(data))
        self._note(outcome)
        if outcome is Outcome.KEPT and attempts + 1 < MEMORY_ATTEMPTS:
            with self._cond:
                self._retry.append((data, attempts + 1))


#: How often an envelope that only lives in memory (the disk failed) is tried.
MEMORY_ATTEMPTS = 3
