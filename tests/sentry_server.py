"""A loopback Sentry ingest server for tests: records envelopes, can be told to misbehave.

It speaks just enough of Sentry's envelope endpoint (``POST /api/<project>/envelope/``, gzip or
plain) for sentry-sdk's real HTTP transport. Faults are switched with :meth:`SentryServer.fault`.
"""

from __future__ import annotations

import gzip
import json
import socket
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Item:
    headers: dict[str, Any]
    payload: Any  # parsed JSON, or bytes when not JSON

    @property
    def type(self) -> str:
        return str(self.headers.get("type"))


@dataclass
class Envelope:
    headers: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    request_headers: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    path: str = ""  # the request's target

    def of_type(self, kind: str) -> list[Any]:
        return [i.payload for i in self.items if i.type == kind]


def parse_envelope(body: bytes) -> Envelope:
    """Parse Sentry's envelope format (newline-separated JSON headers and payloads)."""
    pos = body.find(b"\n")
    header_line = body if pos < 0 else body[:pos]
    env = Envelope(headers=json.loads(header_line or b"{}"), raw=body)
    pos = len(body) if pos < 0 else pos + 1
    while pos < len(body):
        end = body.find(b"\n", pos)
        end = len(body) if end < 0 else end
        line = body[pos:end]
        pos = end + 1
        if not line.strip():
            continue
        headers = json.loads(line)
        if "length" in headers:
            payload = body[pos : pos + int(headers["length"])]
            pos += int(headers["length"]) + 1
        else:
            end = body.find(b"\n", pos)
            end = len(body) if end < 0 else end
            payload, pos = body[pos:end], end + 1
        try:
            parsed: Any = json.loads(payload)
        except ValueError:
            parsed = payload
        env.items.append(Item(headers, parsed))
    return env


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hangs up mid-request (a program exiting) is normal here."""


#: The DSN's key in Sentry's shape (32 hex digits), as every real DSN has it.
PUBLIC_KEY = "5eb1c0de0c0ffee05eb1c0de0c0ffee0"


class SentryServer:
    """Records every envelope it receives; ``fault`` switches how it answers."""

    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []
        self.requests = 0
        #: Seconds every answer waits, as a real server far away (a TLS round trip).
        self.latency = 0.0
        #: Extra headers on every answer (Bugsink sends X-Sentry-Rate-Limits with each 200).
        self.answer_headers: dict[str, str] = {}
        #: The body of every 2xx answer (None: a small JSON body naming the event, as Sentry's).
        self.answer_body: bytes | None = None
        self.concurrent = 0
        self.max_concurrent = 0
        #: Connections accepted (a client that keeps its connection alive opens one).
        self.connections = 0
        #: Called with the request's number (from 1) as each request arrives, before it is
        #: answered: a test acts while a client waits (a run ends, a fault is switched).
        self.on_request: Callable[[int], None] | None = None
        self._mode = "ok"
        self._retry_after = 1
        self._rate_limits = True
        self._cond = threading.Condition()
        self._release = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                with server._cond:
                    server.connections += 1
                super().setup()

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                server._handle(self)

        self._handler = Handler
        self.port = 0
        self._listen()

    def _listen(self) -> None:
        self.httpd = _QuietServer(("127.0.0.1", self.port), self._handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        # shutdown() waits for the loop's next poll: 0.5 s by default, on every test's teardown
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                       kwargs={"poll_interval": 0.02})
        self.thread.start()
        self._listening = True

    @property
    def dsn(self) -> str:
        return f"http://{PUBLIC_KEY}@127.0.0.1:{self.port}/1"

    def fault(self, mode: str, retry_after: int = 1, *, rate_limits: bool = True) -> None:
        """ok | refuse | hang | 429 | any other status code | garbage | reset | slow | huge |
        endless | headers | trickle.

        ``429`` answers with ``Retry-After`` and (unless ``rate_limits`` is False)
        ``X-Sentry-Rate-Limits``: ``retry_after`` seconds, every category; :attr:`answer_headers`
        go on top. Any other status code answers just that, with :attr:`answer_headers` (a 2xx
        records the envelope, anything else does not).

        ``huge`` accepts the envelope and answers 200 with a 50 MiB body; ``endless`` accepts it
        and answers 200 with a body that never ends (no length, streamed until the client goes
        away or 60 s); ``headers`` sends the status line and then nothing; ``trickle`` sends the
        status line and then one header byte every 0.2 s, never finishing the headers. The last
        two do not record the envelope (no answer was given).

        ``refuse`` closes the listening socket (connections are refused); any other mode opens
        it again on the same port, so the DSN stays valid.
        """
        if mode == "refuse" and self._listening:
            self.httpd.shutdown()
            self.httpd.server_close()
            self._listening = False
        elif mode != "refuse" and not self._listening:
            self._listen()
        self._mode = mode
        self._retry_after = retry_after
        self._rate_limits = rate_limits
        if mode not in ("hang", "headers", "trickle"):
            self._release.set()
        else:
            self._release.clear()

    def _handle(self, h: BaseHTTPRequestHandler) -> None:
        with self._cond:
            self.concurrent += 1
            self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            self._answer_request(h)
        finally:
            with self._cond:
                self.concurrent -= 1

    def _answer_request(self, h: BaseHTTPRequestHandler) -> None:
        with self._cond:
            self.requests += 1
            number = self.requests
        if self.on_request is not None:
            self.on_request(number)
        mode = self._mode
        if self.latency:
            time.sleep(self.latency)
        if mode == "hang":
            self._release.wait(60)
            h.close_connection = True
            return
        if mode == "reset":
            linger = b"\x01\x00\x00\x00\x00\x00\x00\x00"  # on, 0 s: close sends RST
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            h.connection.close()
            h.close_connection = True
            return
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length)
        if mode == "garbage":
            h.wfile.write(b"\x00\xffnot http at all\r\n\r\n")
            h.close_connection = True
            return
        if mode == "429":
            headers = {"Retry-After": str(self._retry_after)}
            if self._rate_limits:
                headers["X-Sentry-Rate-Limits"] = f"{self._retry_after}::organization"
            self._answer(h, 429, b"{}", {**headers, **self.answer_headers})
            return
        if mode.isdigit() and not mode.startswith("2"):  # refused or failed: nothing recorded
            self._answer(h, int(mode), b"{}", self.answer_headers)
            return
        if h.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        elif h.headers.get("Content-Encoding") == "deflate":
            body = zlib.decompress(body)
        env = parse_envelope(body)
        env.request_headers = {k.lower(): v for k, v in h.headers.items()}
        env.path = h.path
        if mode == "slow":
            time.sleep(1.5)
        if mode in ("headers", "trickle"):
            self._unfinished_headers(h, trickle=mode == "trickle")
            return
        with self._cond:
            self.envelopes.append(env)
            self._cond.notify_all()
        if mode in ("huge", "endless"):
            self._big_body(h, endless=mode == "endless")
            return
        body = self.answer_body
        if body is None:
            body = json.dumps({"id": env.headers.get("event_id")}).encode()
        self._answer(h, int(mode) if mode.isdigit() else 200, body, self.answer_headers)

    #: Size of the ``huge`` answer's body.
    HUGE_BODY = 50 * 1024 * 1024
    #: The body is sent in these (made once, so that a test tracing memory sees only its own).
    CHUNK = b"0" * (1024 * 1024)

    def _big_body(self, h: BaseHTTPRequestHandler, *, endless: bool) -> None:
        """200 and a body of HUGE_BODY bytes, or one that never ends (until 60 s)."""
        h.close_connection = True
        chunk = self.CHUNK
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            if endless:
                h.send_header("Connection", "close")
            else:
                h.send_header("Content-Length", str(self.HUGE_BODY))
            h.end_headers()
            deadline = time.monotonic() + 60
            sent = 0
            while (endless or sent < self.HUGE_BODY) and time.monotonic() < deadline:
                h.wfile.write(chunk)
                sent += len(chunk)
                if endless:
                    time.sleep(0.01)  # at most ~100 MiB/s: a client that buffers it all grows
        except OSError:
            pass  # the client hung up: what a bounded client does

    def _unfinished_headers(self, h: BaseHTTPRequestHandler, *, trickle: bool) -> None:
        """The status line, then nothing (or a header byte every 0.2 s), until released."""
        h.close_connection = True
        try:
            h.wfile.write(b"HTTP/1.1 200 OK\r\n")
            h.wfile.flush()
            if trickle:
                h.wfile.write(b"X-Trickle: ")
            while not self._release.wait(0.2 if trickle else 60):
                if not trickle:
                    break
                h.wfile.write(b"a")
                h.wfile.flush()
        except OSError:
            pass

    @staticmethod
    def _answer(h: BaseHTTPRequestHandler, status: int, body: bytes,
                headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(body)

    # -- what tests read ---------------------------------------------------------------------
    def items(self, kind: str) -> list[Any]:
        with self._cond:
            return [p for e in self.envelopes for p in e.of_type(kind)]

    def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> list[Any]:
        """Wait until ``count`` items of ``kind`` arrived; returns all of them."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [p for e in self.envelopes for p in e.of_type(kind)]
                left = deadline - time.monotonic()
                if len(found) >= count or left <= 0:
                    return found
                self._cond.wait(left)

    def clear(self) -> None:
        with self._cond:
            self.envelopes.clear()
            self.requests = 0

    def close(self) -> None:
        self._release.set()
        if self._listening:
            self.httpd.shutdown()
            self.httpd.server_close()
            self._listening = False
