"""POST one envelope to a Sentry DSN over plain HTTP(S): the only place that touches the network.

Standard library only (``http.client``, ``ssl``); nothing of sentry-sdk's private transport. It
honours what a user's machine expects of a well-behaved client:

- ``HTTPS_PROXY``/``HTTP_PROXY``/``NO_PROXY`` (any case; credentials in the proxy URL too), an
  ``https`` DSN through a proxy is tunnelled with ``CONNECT``;
- a custom CA bundle, chosen as sentry-sdk does: the app's ``ca_certs``, else
  ``SSL_CERT_FILE``, else ``REQUESTS_CA_BUNDLE``, else certifi's bundle, else the system's.

An answer is read for its status and headers only (at most :data:`MAX_BODY` bytes of body), so a
server that streams an endless body cannot hold the sender. Redirects are not followed.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.client
import os
import socket
import ssl
from typing import Any, cast
from urllib.parse import unquote, urlsplit

from .._record import Record

#: Seconds to connect, and to wait for each read of the answer. The sender runs after the
#: program has exited, so nobody waits on these; a long read timeout means a slow server is
#: waited for rather than sent the same report again.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0
#: Seconds one request may take in all: a server that trickles its answer a byte at a time
#: never trips the read timeout, so the connection is shut down at this bound.
REQUEST_DEADLINE = 60.0
#: Bytes of an answer's body that are read (and thrown away) before the connection is closed.
MAX_BODY = 64 * 1024
USER_AGENT = "crashreport/0.1"


class Dsn(Record):
    """The parts of a DSN that sending needs: where the envelope endpoint is, and the key."""

    __slots__ = ("scheme", "host", "port", "path", "project", "public_key")
    scheme: str
    host: str
    port: int
    path: str
    project: str
    public_key: str

    @classmethod
    def parse(cls, dsn: str) -> Dsn:
        """Raise ValueError unless ``dsn`` is ``http(s)://<key>@<host>[:port]/[path/]<project>``."""
        parts = urlsplit(dsn.strip())
        if parts.scheme not in ("http", "https") or not parts.username or not parts.hostname:
            raise ValueError("not a Sentry DSN (https://<key>@<host>/<project>)")
        path, _, project = parts.path.rstrip("/").rpartition("/")
        if not project.isdigit():
            raise ValueError("a Sentry DSN ends with a numeric project id")
        port = parts.port or _default_port(parts.scheme)
        return cls(parts.scheme, parts.hostname, port, path, project, unquote(parts.username))

    @property
    def envelope_path(self) -> str:
        return f"{self.path}/api/{self.project}/envelope/"

    @property
    def envelope_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.envelope_path}"

    @property
    def auth_header(self) -> str:
        return (f"Sentry sentry_version=7, sentry_key={self.public_key}, "
                f"sentry_client={USER_AGENT}")  # fmt: skip


class Answer(Record):
    """What the server said: a status and the headers that matter, or the error instead."""

    __slots__ = ("status", "retry_after", "rate_limits", "error")
    _defaults = dict.fromkeys(__slots__)
    status: int | None
    retry_after: str | None
    rate_limits: str | None
    error: str | None


class _Reader:
    """The answer's stream, noting whether it ended inside the headers (a cut-off answer)."""

    def __init__(self, fp: Any) -> None:
        self._fp, self.eof = fp, False

    def readline(self, limit: int) -> bytes:  # http.client always gives the limit
        line: bytes = self._fp.readline(limit)
        if not line:
            self.eof = True
        return line

    def __getattr__(self, name: str) -> Any:
        return getattr(self._fp, name)


class _Response(http.client.HTTPResponse):
    """http.client's answer, except that headers the server never finished are no answer:
    http.client takes the end of the stream for the end of the headers."""

    truncated: bool

    def begin(self) -> None:
        reader = self.fp = _Reader(self.fp)  # type: ignore[assignment]
        super().begin()
        self.truncated = reader.eof


class Poster:
    """POSTs envelopes to one DSN, reusing one connection (keep-alive) while it stays open."""

    def __init__(self, dsn: Dsn, *, ca_certs: str | None = None, timeout: float | None = None,
                 environ: dict[str, str] | None = None) -> None:  # fmt: skip
        self.dsn = dsn
        #: (connect, read) timeouts; ``timeout`` caps both (a user waiting on ``send``).
        self._timeouts = (min(CONNECT_TIMEOUT, timeout or CONNECT_TIMEOUT),
                          min(READ_TIMEOUT, timeout or READ_TIMEOUT))  # fmt: skip
        self._deadline = min(REQUEST_DEADLINE, 2 * timeout) if timeout else REQUEST_DEADLINE
        self._environ = dict(os.environ if environ is None else environ)
        self._ca_certs = ca_certs
        self._conn: http.client.HTTPConnection | None = None
        self._target: str  # set with the connection
        self._proxy_headers: dict[str, str] = {}

    # -- the connection -------------------------------------------------------------------------
    def _proxy(self) -> str | None:
        """The proxy URL for the DSN's host, from the environment (None: connect directly)."""
        env = self._environ
        names = [f"{self.dsn.scheme}_proxy", f"{self.dsn.scheme.upper()}_PROXY"]
        proxy = next((env[n] for n in names if env.get(n, "").strip()), None)
        if not proxy:
            return None
        no_proxy = env.get("no_proxy") or env.get("NO_PROXY")
        if no_proxy and _bypass(self.dsn.host, self.dsn.port, no_proxy):
            return None
        return proxy if "://" in proxy else f"http://{proxy}"

    def _ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=ca_bundle(self._ca_certs, self._environ))

    def _connect(self) -> http.client.HTTPConnection:
        proxy = self._proxy()
        headers: dict[str, str] = {}
        if proxy is None:
            host, port, tunnel = self.dsn.host, self.dsn.port, False
        else:
            parts = urlsplit(proxy)
            host, port = parts.hostname or "", parts.port or _default_port(parts.scheme)
            if parts.username:
                creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
                headers["Proxy-Authorization"] = "Basic " + base64.b64encode(creds.encode()).decode()
            tunnel = self.dsn.scheme == "https"
        timeout, read_timeout = self._timeouts
        conn: http.client.HTTPConnection
        if self.dsn.scheme == "https" and (proxy is None or tunnel):
            conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=self._ssl_context())
        else:
            conn = http.client.HTTPConnection(host, port, timeout=timeout)
        # Plain http through a proxy: the request names the whole URL and carries the proxy's
        # credentials; otherwise (direct, or a CONNECT tunnel) it names the path.
        plain_proxy = proxy is not None and not tunnel
        self._target = self.dsn.envelope_url if plain_proxy else self.dsn.envelope_path
        self._proxy_headers = headers if plain_proxy else {}
        if tunnel:
            conn.set_tunnel(self.dsn.host, self.dsn.port, headers=headers)
        conn.response_class = _Response
        conn.connect()
        if conn.sock is not None:
            conn.sock.settimeout(read_timeout)
        return conn

    # -- one request ---------------------------------------------------------------------------
    def post(self, data: bytes) -> Answer:
        """POST one serialized envelope (gzip); never raises, never takes longer than the
        request deadline."""
        import threading

        timer = threading.Timer(self._deadline, self._abort)
        timer.daemon = True
        timer.start()
        try:
            return self._post(data)
        finally:
            timer.cancel()

    def _abort(self) -> None:
        """The request took too long: shut its socket down (the blocked read then returns)."""
        conn = self._conn
        sock = getattr(conn, "sock", None)
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _post(self, data: bytes) -> Answer:
        body = gzip.compress(data, compresslevel=6)
        headers = {
            "Content-Type": "application/x-sentry-envelope",
            "Content-Encoding": "gzip",
            "User-Agent": USER_AGENT,
            "X-Sentry-Auth": self.dsn.auth_header,
        }
        while True:  # a kept-alive connection the server closed is opened once more, then fresh
            fresh = self._conn is None
            try:
                if self._conn is None:
                    self._conn = self._connect()
                self._conn.request("POST", self._target, body=body,
                                   headers={**headers, **self._proxy_headers})  # fmt: skip
                response = cast(_Response, self._conn.getresponse())
                if response.truncated:
                    self.close()
                    return Answer(error="the answer was cut off")
                answer = Answer(status=response.status,
                                retry_after=response.getheader("Retry-After"),
                                rate_limits=response.getheader("X-Sentry-Rate-Limits"))  # fmt: skip
                response.read(MAX_BODY)
                if response.will_close or not response.isclosed():
                    self.close()
                return answer
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self.close()
                if fresh:
                    return Answer(error=type(exc).__name__)
            except (OSError, http.client.HTTPException, ValueError) as exc:
                self.close()
                return Answer(error=_describe(exc))

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(OSError):
                conn.close()


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def ca_bundle(ca_certs: str | None, environ: dict[str, str]) -> str | None:
    """The CA bundle to trust, in sentry-sdk's order: the app's ``ca_certs``, ``SSL_CERT_FILE``,
    ``REQUESTS_CA_BUNDLE``, certifi's bundle; None: the system's store."""
    return (ca_certs or environ.get("SSL_CERT_FILE") or environ.get("REQUESTS_CA_BUNDLE")
            or _certifi())  # fmt: skip


def _describe(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    if isinstance(exc, ssl.SSLError):
        return f"TLS: {exc.reason or type(exc).__name__}"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return type(exc).__name__


def _certifi() -> str | None:
    try:
        import certifi  # sentry-sdk's own dependency; the system store otherwise

        return str(certifi.where())
    except Exception:
        return None


def _bypass(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` exempts ``host`` (names by suffix, ``*`` for all, optional ``:port``)."""
    host = host.lower()
    for entry in no_proxy.replace(" ", ",").split(","):
        entry = entry.strip().lower()
        if not entry:
            continue
        if entry == "*":
            return True
        if entry.startswith("["):  # an IPv6 address, perhaps with a port: [::1]:9000
            name, _, entry_port = entry[1:].partition("]")
            entry_port = entry_port.removeprefix(":")
        elif entry.count(":") == 1:
            name, _, entry_port = entry.rpartition(":")
        else:  # a name, or an IPv6 address without brackets
            name, entry_port = entry, ""
        if entry_port and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host == name or host.endswith("." + name):
            return True
    return False
