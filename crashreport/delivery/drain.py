"""Deliver an outbox to a Sentry server: what is due, in order, and each answer settled.

Crash reports go first, then sessions (up to 100 to a request), then the rest, oldest first.
Rate limits hold or drop each report by its own data category (:mod:`.ratelimits`); a server
that is down ends the attempt (the next sender tries again, with backoff after a few
failures); a refusal (4xx) drops the report and is remembered for ``status``. Standard library
only.
"""

from __future__ import annotations

import contextlib
import json
import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, NamedTuple

from . import envelopes, ratelimits
from .http import Answer, Dsn, Poster
from .outbox import Claim, Entry, Outbox

if TYPE_CHECKING:
    from collections.abc import Callable

#: A sender works at most this long; what is left waits for the next program's exit.
MAX_SECONDS = 120.0
#: Sessions sent in one request (Relay accepts up to 100 per envelope).
SESSIONS_PER_REQUEST = 100
#: Attempts that are retried at once by the next sender; after that, backoff grows.
FREE_ATTEMPTS = 3
MAX_BACKOFF = 6 * 3600.0


class SendResult(NamedTuple):
    """What one delivery did with the queue it found: every queued report is counted once."""

    sent: int
    kept: int  # still queued: the server was unreachable or failing, or it will be tried later
    held: int  # still queued: a server's rate limit holds it
    dropped: int  # refused by the server (4xx), rate-limited for good, or not a whole envelope


def backoff(attempts: int) -> float:
    """Seconds to wait before the next attempt after ``attempts`` failures (0 for the first)."""
    if attempts < FREE_ATTEMPTS:
        return 0.0
    return float(min(60.0 * 2 ** (attempts - FREE_ATTEMPTS), MAX_BACKOFF))


def restamp(data: bytes, now: float | None = None) -> bytes:
    """Set the envelope header's ``sent_at`` to now: Relay corrects a client's clock by
    ``received - sent_at``, so a report queued days ago must say when it was really sent."""
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
    return envelopes.dumps(headers) + rest


class Drain:
    """One outbox, one server: :meth:`drain` delivers; ``allowed`` is asked before each request
    (the level telemetry allows now, or None to stop at once)."""

    def __init__(self, outbox: Outbox, poster: Poster, allowed: Callable[[], str | None]) -> None:
        self.outbox, self.poster, self.allowed = outbox, poster, allowed

    def drain(self, deadline: float, *, backoff_wait: bool,
              progress: Callable[[int], None] | None) -> SendResult:  # fmt: skip
        """Deliver what is due until ``deadline``, the server fails, or nothing is left."""
        sent = kept = held = dropped = 0
        level = self.allowed()
        while level is not None and time.time() < deadline:
            now = time.time()
            limits = self.outbox.rate_limits(now)
            batch, stale = self._next_batch(now, limits, backoff_wait, level)
            for entry in stale:  # rate-limited in a category that is not held: dropped
                claim = self.outbox.claim(entry)
                if claim is not None:
                    self.outbox.drop(claim, "dropped_ratelimit")
                    dropped += 1
            if not batch:
                break
            claims = [c for c in (self.outbox.claim(e) for e in batch) if c is not None]
            if not claims:
                continue
            outcome = self._deliver(claims)
            sent += outcome.sent
            dropped += outcome.dropped
            if progress is not None:
                progress(outcome.sent + outcome.dropped)
            if outcome.kept:  # the server is down or failing: stop for now
                break
            level = self.allowed()  # switched off meanwhile: stop at once
        pending = self.outbox.pending()
        held = len(self.outbox.limited())
        kept = len(pending) - held
        return SendResult(sent, kept, held, dropped)

    def _next_batch(self, now: float, limits: dict[str, float], backoff_wait: bool,
                    level: str) -> tuple[list[Entry], list[Entry]]:  # fmt: skip
        """The next entries to send together (sessions batched), and the rate-limited entries
        that are dropped rather than held."""
        batch: list[Entry] = []
        stale: list[Entry] = []
        for entry in sorted(self.outbox.pending(), key=_priority):
            if ratelimits.until(entry.kinds, limits, now) > now:
                if not ratelimits.held(entry.kinds):
                    stale.append(entry)
                continue
            if backoff_wait and entry.not_before > now:
                continue
            if level == "errors" and set(entry.kinds) - {"event"}:
                continue  # queued at level all; the user has since chosen crash reports only
            if not batch:
                batch.append(entry)
                if entry.kinds != ("session",):
                    break
            elif entry.kinds == ("session",) and len(batch) < SESSIONS_PER_REQUEST:
                batch.append(entry)
        return batch, stale

    def _deliver(self, claims: list[Claim]) -> SendResult:
        """POST the claimed envelopes as one request and settle each by the answer."""
        good: list[tuple[Claim, bytes]] = []
        dropped = 0
        for claim in claims:
            try:
                data = self.outbox.read_claim(claim)
            except OSError:
                data = b""
            if envelopes.is_whole(data):
                good.append((claim, data))
            else:  # truncated or garbage: never sent, never retried
                self.outbox.drop(claim, "dropped_corrupt")
                dropped += 1
        if not good:
            return SendResult(0, 0, 0, dropped)
        answer = self.poster.post(restamp(_merge([d for _, d in good])))
        return self._settle(answer, [c for c, _ in good], dropped)

    def _settle(self, answer: Answer, claims: list[Claim], dropped: int) -> SendResult:
        now = time.time()
        limits = ratelimits.parse(answer.rate_limits, answer.retry_after, answer.status, now)
        if limits:
            self.outbox.limit(limits)
        status = answer.status
        if status is not None and 200 <= status < 300:
            for claim in claims:
                self.outbox.done(claim)
            return SendResult(len(claims), 0, 0, dropped)
        if status == 429:
            for claim in claims:
                kinds = claim.entry.kinds
                if ratelimits.held(kinds):
                    self.outbox.retry(claim, ratelimits.until(kinds, limits, now), failed=False)
                else:
                    self.outbox.drop(claim, "dropped_ratelimit")
                    dropped += 1
            return SendResult(0, 0, 0, dropped)
        if status is not None and 400 <= status < 500:
            for claim in claims:
                self.outbox.refused(claim, status)
            return SendResult(0, 0, 0, dropped + len(claims))
        # no answer, a redirect (a captive portal?), 5xx: keep, with backoff after a few tries
        for claim in claims:
            wait = backoff(claim.entry.attempts + 1)
            self.outbox.retry(claim, now + wait if wait else 0.0)
        return SendResult(0, len(claims), 0, dropped)


def _priority(entry: Entry) -> tuple[int, float]:
    """Crash reports first, then sessions (release health), then the rest; oldest first."""
    rank = 0 if "event" in entry.kinds else 1 if set(entry.kinds) <= {"session", "sessions"} else 2
    return rank, entry.created


def _merge(datas: list[bytes]) -> bytes:
    """One envelope of the items of several (sessions sent together): the first one's header,
    then every envelope's items."""
    if len(datas) == 1:
        return datas[0]
    items = [d[d.index(b"\n") + 1 :].rstrip(b"\n") + b"\n" for d in datas]
    return datas[0][: datas[0].index(b"\n") + 1] + b"".join(items)


def copy_to_spotlight(spool: Outbox, url: str, deadline: float) -> int:
    """POST each queued copy to the sidecar once (a sidecar that is not running loses them)."""
    from .spotlight import post

    copied = 0
    for entry in spool.pending():
        if time.time() >= deadline:
            break
        claim = spool.claim(entry)
        if claim is None:
            continue
        with contextlib.suppress(Exception):
            if post(url, spool.read_claim(claim)):
                copied += 1
        spool.drop(claim, "sent")
    return copied


def send_from_memory(dsn: str, datas: list[bytes], *, timeout: float,
                     ca_certs: str | None) -> None:
    """Send reports that could not be written to disk, from inside the program at its exit,
    within ``timeout`` seconds (its exit bound); what is not sent by then is lost."""
    deadline = time.time() + timeout
    poster = Poster(Dsn.parse(dsn), ca_certs=ca_certs, timeout=timeout)
    try:
        for data in datas:
            if time.time() >= deadline:
                break
            answer = poster.post(restamp(data))
            if answer.status is None or answer.status >= 500:
                break
    finally:
        poster.close()


