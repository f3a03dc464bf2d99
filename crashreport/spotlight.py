"""Copy every (already scrubbed) envelope to a local Spotlight sidecar, Sentry's local UI.

Spotlight (``npx @spotlightjs/spotlight``) shows on the app author's machine exactly what
crashreport sends, in Sentry's own views. sentry-sdk has a ``spotlight=`` option, but it POSTs
in the calling thread, forces ``send_default_pii`` when there is no DSN and never delivers
sessions; crashreport keeps it off and feeds the sidecar from its own transport instead, so the
sidecar sees the very envelopes that go to Sentry, after scrubbing, sessions included.

:class:`SpotlightForwarder` never blocks the host and never raises: a bounded queue (new
envelopes are dropped when it is full), one daemon thread, short timeouts, and a short bounded
flush at exit. This module imports only the standard library.
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import urllib.request
from typing import Protocol

from ._safe import guard

#: Where ``npx @spotlightjs/spotlight`` listens by default.
DEFAULT_URL = "http://localhost:8969/stream"
#: The media type Spotlight's sidecar expects for a Sentry envelope.
CONTENT_TYPE = "application/x-sentry-envelope"
#: Envelopes waiting to be sent; beyond this new ones are dropped (a sidecar that is down must
#: not make the host hold on to memory).
MAX_QUEUED = 100
#: Seconds for one POST to the sidecar (it is local: anything slower means it is not there).
POST_TIMEOUT = 2.0
#: Seconds the host may wait at exit for queued envelopes.
DEFAULT_EXIT_TIMEOUT = 0.5


class _Serializable(Protocol):
    def serialize(self) -> bytes: ...


def resolve_url(option: object) -> str | None:
    """The sidecar URL for a config value or ``init`` option: True → the default, a URL → it."""
    if option is True:
        return DEFAULT_URL
    if isinstance(option, str) and option.strip().startswith(("http://", "https://")):
        return option.strip()
    return None


class SpotlightForwarder:
    """POSTs a copy of each envelope to a Spotlight sidecar from a background daemon thread.

    Create it before ``sentry_sdk.init``: its exit flush is registered with :mod:`atexit` on
    creation, so it runs after sentry-sdk's own exit handler has sent the final session.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        exit_timeout: float = DEFAULT_EXIT_TIMEOUT,
        post_timeout: float = POST_TIMEOUT,
        max_queued: int = MAX_QUEUED,
    ) -> None:
        self.url = url
        self.exit_timeout = exit_timeout
        self.post_timeout = post_timeout
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[bytes] = queue.Queue(maxsize=max_queued)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._unfinished = 0
        self._thread: threading.Thread | None = None
        self._closed = False
        atexit.register(self._at_exit)

    # -- the host's side: never blocks, never raises -----------------------------------------
    def send(self, envelope: _Serializable | bytes) -> None:
        """Queue a copy of ``envelope`` (an object with ``serialize()``, or its bytes)."""
        with guard():
            if self._closed:
                return
            data = envelope if isinstance(envelope, bytes) else envelope.serialize()
            with self._lock:
                try:
                    self._queue.put_nowait(data)
                except queue.Full:
                    self.dropped += 1
                    return
                self._unfinished += 1
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._run, name="crashreport-spotlight", daemon=True
                    )
                    self._thread.start()

    def flush(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for the queue to drain; True when it did."""
        deadline = time.monotonic() + max(timeout, 0.0)
        with self._idle:
            while self._unfinished:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._idle.wait(left)
        return True

    def close(self, timeout: float | None = None) -> None:
        """Flush briefly, then accept nothing more."""
        with guard():
            self.flush(self.exit_timeout if timeout is None else timeout)
        self._closed = True

    def _at_exit(self) -> None:
        with guard():
            self.close()

    # -- the background thread -------------------------------------------------------------
    def _run(self) -> None:
        while True:
            data = self._queue.get()
            ok = False
            with guard():
                ok = self._post(data)
            with self._idle:
                if ok:
                    self.sent += 1
                else:
                    self.failed += 1
                self._unfinished -= 1
                self._idle.notify_all()

    def _post(self, data: bytes) -> bool:
        request = urllib.request.Request(  # noqa: S310 - the URL is checked by resolve_url
            self.url, data=data, method="POST", headers={"Content-Type": CONTENT_TYPE}
        )
        # No proxy: the sidecar is a local process; a user's proxy settings must not divert it.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(request, timeout=self.post_timeout) as response:
                response.read(1024)
                return 200 <= int(response.status) < 300
        except OSError:  # refused, timed out, HTTP errors (HTTPError is an OSError)
            return False
