"""The sender's HTTP edge against real servers on 127.0.0.1: TLS with the user's CA bundle, an
HTTP(S) proxy from the environment (with credentials, and NO_PROXY), the DSN's parts."""

from __future__ import annotations

import base64
import select
import socket
import threading
import time
from pathlib import Path

import pytest
import trustme

from crashreport.delivery import http
from crashreport.delivery.http import Answer, Dsn, Poster, _bypass, ca_bundle

from .conftest import ROOT
from .sentry_server import SentryServer

ENVELOPE = b'{"event_id":"' + b"a" * 32 + b'"}\n{"type":"event"}\n{"message":"tls"}\n'


def https_dsn(server: SentryServer) -> str:
    return f"https://public0key@127.0.0.1:{server.port}/1"


def test_a_dsn_gives_the_endpoint_and_the_key() -> None:
    dsn = Dsn.parse("https://abc123@o1.ingest.example.org/42")
    assert dsn.envelope_url == "https://o1.ingest.example.org:443/api/42/envelope/"
    assert "sentry_key=abc123" in dsn.auth_header
    assert Dsn.parse("http://k@[::1]:9000/sub/path/7").envelope_url == \
        "http://[::1]:9000/sub/path/api/7/envelope/"  # fmt: skip
    for bad in ("https://o1.example.org/42", "ftp://k@h/1", "https://k@h/project", "https://k@/1"):
        with pytest.raises(ValueError):
            Dsn.parse(bad)


def test_tls_with_the_users_ca_bundle(tls_server: SentryServer, ca: trustme.CA,
                                      tmp_path: Path) -> None:  # fmt: skip
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    dsn = Dsn.parse(https_dsn(tls_server))
    # an unknown CA is refused: nothing is sent to a server we cannot verify
    refused = Poster(dsn, environ={}, ca_certs=None).post(ENVELOPE)
    assert refused == Answer(error="TLS: CERTIFICATE_VERIFY_FAILED")
    assert tls_server.envelopes == []
    for poster in (Poster(dsn, ca_certs=str(bundle), environ={}),  # init(ca_certs=...)
                   Poster(dsn, environ={"SSL_CERT_FILE": str(bundle)}),
                   Poster(dsn, environ={"REQUESTS_CA_BUNDLE": str(bundle)})):  # fmt: skip
        assert poster.post(ENVELOPE).status == 200
        poster.close()
    assert [e.of_type("event") for e in tls_server.envelopes] == [[{"message": "tls"}]] * 3


class Proxy:
    """A small HTTP proxy on 127.0.0.1: CONNECT tunnels and plain forwarding, noting requests."""

    def __init__(self, password: str | None = None) -> None:
        self.lines: list[str] = []
        self.auth: list[str | None] = []
        self._password = password
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            header, _, rest = head.partition(b"\r\n\r\n")
            lines = header.decode().split("\r\n")
            self.lines.append(lines[0])
            auth = next((v.split(":", 1)[1].strip() for v in lines[1:]
                         if v.lower().startswith("proxy-authorization:")), None)  # fmt: skip
            self.auth.append(auth)
            method, target, _ = lines[0].split(" ", 2)
            if self._password and auth != "Basic " + base64.b64encode(
                    f"me:{self._password}".encode()).decode():  # fmt: skip
                conn.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
                return
            if method == "CONNECT":
                host, port = target.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                conn.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            else:
                hostport = target.split("/")[2]
                host, port = hostport.rsplit(":", 1)
                upstream = socket.create_connection((host, int(port)))
                path = "/" + target.split("/", 3)[3]
                kept = [v for v in lines[1:] if not v.lower().startswith("proxy-")]
                upstream.sendall(f"{method} {path} HTTP/1.1\r\n".encode()
                                 + "\r\n".join(kept).encode() + b"\r\n\r\n" + rest)  # fmt: skip
            with upstream:
                self._pipe(conn, upstream)

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        while True:
            ready, _, _ = select.select([a, b], [], [], 5)
            if not ready:
                return
            for s in ready:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)

    def close(self) -> None:
        self._sock.close()


def test_an_https_dsn_goes_through_the_https_proxy_with_connect(
    tls_server: SentryServer, ca: trustme.CA, tmp_path: Path
) -> None:
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    proxy = Proxy(password="s3cret")
    try:
        env = {"HTTPS_PROXY": f"http://me:s3cret@127.0.0.1:{proxy.port}", "SSL_CERT_FILE": str(bundle)}
        poster = Poster(Dsn.parse(https_dsn(tls_server)), environ=env)
        assert poster.post(ENVELOPE).status == 200
        poster.close()
        assert [line.rsplit(" ", 1)[0] for line in proxy.lines] == \
            [f"CONNECT 127.0.0.1:{tls_server.port}"]  # fmt: skip
        assert proxy.auth[0] == "Basic " + base64.b64encode(b"me:s3cret").decode()
        assert len(tls_server.envelopes) == 1
        # NO_PROXY exempts the host: straight to the server, the proxy sees nothing more
        poster = Poster(Dsn.parse(https_dsn(tls_server)), environ={**env, "NO_PROXY": "127.0.0.1"})
        assert poster.post(ENVELOPE).status == 200
        poster.close()
        assert len(proxy.lines) == 1 and len(tls_server.envelopes) == 2
    finally:
        proxy.close()


def test_an_http_dsn_goes_through_the_http_proxy_and_a_wrong_password_is_refused(
    sentry_server: SentryServer,
) -> None:
    proxy = Proxy(password="right")
    try:
        dsn = Dsn.parse(sentry_server.dsn)
        poster = Poster(dsn, environ={"http_proxy": f"http://me:right@127.0.0.1:{proxy.port}"})
        assert poster.post(ENVELOPE).status == 200
        poster.close()
        assert proxy.lines[0].startswith(f"POST http://127.0.0.1:{sentry_server.port}/api/1/envelope/")
        assert len(sentry_server.envelopes) == 1
        wrong = Poster(dsn, environ={"HTTP_PROXY": f"http://me:wrong@127.0.0.1:{proxy.port}"})
        assert wrong.post(ENVELOPE).status == 407  # a 4xx: the sender counts it as refused
        wrong.close()
        assert len(sentry_server.envelopes) == 1
    finally:
        proxy.close()


@pytest.mark.parametrize(
    ("host", "port", "no_proxy", "bypass"),
    [
        ("o1.ingest.sentry.io", 443, "sentry.io", True),
        ("o1.ingest.sentry.io", 443, ".sentry.io", True),
        ("sentry.io", 443, "sentry.io", True),
        ("notsentry.io", 443, "sentry.io", False),
        ("sentry.example", 443, "*", True),
        ("127.0.0.1", 9000, "127.0.0.1:9000", True),
        ("127.0.0.1", 9000, "127.0.0.1:9001", False),
        ("127.0.0.1", 9000, "localhost, 10.0.0.1", False),
        ("127.0.0.1", 9000, "", False),
    ],
)
def test_no_proxy_matching(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    assert _bypass(host, port, no_proxy) is bypass


# -- the DSN ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("dsn", "url", "key"), [
    ("https://abc@o1.example.org/42", "https://o1.example.org:443/api/42/envelope/", "abc"),
    ("http://abc@o1.example.org/42", "http://o1.example.org:80/api/42/envelope/", "abc"),
    ("  http://k@127.0.0.1:9000/7/  ", "http://127.0.0.1:9000/api/7/envelope/", "k"),
    ("https://k%2Bx:secret@h.example/a/b/9", "https://h.example:443/a/b/api/9/envelope/", "k+x"),
])  # fmt: skip
def test_the_dsns_parts(dsn: str, url: str, key: str) -> None:
    parsed = Dsn.parse(dsn)
    assert (parsed.envelope_url, parsed.public_key) == (url, key)
    assert parsed.auth_header == \
        f"Sentry sentry_version=7, sentry_key={key}, sentry_client=crashreport/0.1"  # fmt: skip


@pytest.mark.parametrize(("dsn", "why"), [
    ("https://o1.example.org/42", "not a Sentry DSN"), ("ftp://k@h/1", "not a Sentry DSN"),
    ("https://k@/1", "not a Sentry DSN"), ("https://k@h/project", "numeric project id"),
    ("https://k@h/", "numeric project id"),
])  # fmt: skip
def test_a_dsn_without_a_key_host_or_project_is_refused(dsn: str, why: str) -> None:
    with pytest.raises(ValueError) as refused:
        Dsn.parse(dsn)
    assert str(refused.value) == {
        "not a Sentry DSN": "not a Sentry DSN (https://<key>@<host>/<project>)",
        "numeric project id": "a Sentry DSN ends with a numeric project id"}[why]  # fmt: skip


# -- one request -----------------------------------------------------------------------------------
def test_a_post_is_gzipped_signed_and_its_answer_read(sentry_server: SentryServer) -> None:
    sentry_server.answer_headers = {"Retry-After": "7", "X-Sentry-Rate-Limits": "7:error:org"}
    poster = Poster(Dsn.parse(sentry_server.dsn), environ={})
    answer = poster.post(ENVELOPE)
    poster.close()
    assert answer == Answer(status=200, retry_after="7", rate_limits="7:error:org")
    [env] = sentry_server.envelopes
    assert env.raw == ENVELOPE and env.path == "/api/1/envelope/"
    headers = env.request_headers
    assert (headers["content-type"], headers["content-encoding"], headers["user-agent"]) == \
        ("application/x-sentry-envelope", "gzip", "crashreport/0.1")  # fmt: skip
    assert headers["x-sentry-auth"] == Dsn.parse(sentry_server.dsn).auth_header


def test_one_connection_is_kept_for_many_posts(sentry_server: SentryServer) -> None:
    poster = Poster(Dsn.parse(sentry_server.dsn), environ={})
    assert [poster.post(ENVELOPE).status for _ in range(3)] == [200, 200, 200]
    poster.close()
    assert sentry_server.connections == 1 and len(sentry_server.envelopes) == 3


def test_a_server_that_says_close_gets_a_new_connection(sentry_server: SentryServer) -> None:
    sentry_server.answer_headers = {"Connection": "close"}
    poster = Poster(Dsn.parse(sentry_server.dsn), environ={})
    assert [poster.post(ENVELOPE).status for _ in range(2)] == [200, 200]
    poster.close()
    assert sentry_server.connections == 2


class Scripted:
    """A raw server on 127.0.0.1: reads each request whole, then sends the next scripted answer
    (bytes) and closes that connection, or keeps it open but silent (None)."""

    def __init__(self, *answers: bytes | None) -> None:
        self.answers = list(answers)
        self.requests = 0
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._open: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    @property
    def dsn(self) -> Dsn:
        return Dsn.parse(f"http://k@127.0.0.1:{self.port}/1")

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(65536)
            length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length")))  # fmt: skip
            body = head.partition(b"\r\n\r\n")[2]
            while len(body) < length:
                body += conn.recv(65536)
            self.requests += 1
            answer = self.answers.pop(0)
            if answer is None:
                self._open.append(conn)
                continue
            conn.sendall(answer)
            conn.close()

    def close(self) -> None:
        self._sock.close()
        for conn in self._open:
            conn.close()


@pytest.mark.parametrize(("answer", "error"), [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Half", "the answer was cut off"),
    (b"HTTP/1.1 200 OK\r\n", "the answer was cut off"),
    (b"\x00\xffnot http\r\n\r\n", "BadStatusLine"),
    (b"", "RemoteDisconnected"),
])  # fmt: skip
def test_an_answer_that_is_no_answer_is_an_error(answer: bytes, error: str) -> None:
    server = Scripted(answer)
    try:
        result = Poster(server.dsn, environ={}).post(ENVELOPE)
    finally:
        server.close()
    assert result == Answer(error=error)


def test_a_kept_connection_the_server_dropped_is_opened_once_more() -> None:
    ok = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    server = Scripted(ok, ok)  # each answer closes its connection, unannounced
    try:
        poster = Poster(server.dsn, environ={})
        assert poster.post(ENVELOPE).status == 200
        time.sleep(0.05)
        assert poster.post(ENVELOPE).status == 200
        poster.close()
    finally:
        server.close()
    assert server.requests == 2


def test_a_refused_connection_is_said_and_not_retried() -> None:
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    answer = Poster(Dsn.parse(f"http://k@127.0.0.1:{port}/1"), environ={}).post(ENVELOPE)
    assert answer == Answer(error="Connection refused")


def test_a_silent_server_is_given_up_at_the_timeout() -> None:
    server = Scripted(None)
    try:
        start = time.monotonic()
        answer = Poster(server.dsn, environ={}, timeout=0.3).post(ENVELOPE)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert answer == Answer(error="timed out")
    assert 0.25 < elapsed < 2


def test_a_trickling_answer_is_cut_at_twice_the_timeout(sentry_server: SentryServer) -> None:
    sentry_server.fault("trickle")
    start = time.monotonic()
    answer = Poster(Dsn.parse(sentry_server.dsn), environ={}, timeout=0.8).post(ENVELOPE)
    elapsed = time.monotonic() - start
    assert answer.status is None and answer.error
    assert 1.5 < elapsed < 2.4  # the request deadline: 2 x 0.8 s, not the 60 s default


def test_a_server_that_never_accepts_is_given_up_at_the_connect_timeout() -> None:
    """Its queue of connections full, the kernel drops our SYN: connect() itself would wait
    minutes without a timeout of its own."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    waiting = []
    for _ in range(3):  # fill the accept queue; the later ones wait in SYN-SENT
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(("127.0.0.1", port))
        waiting.append(client)
    time.sleep(0.1)
    try:
        start = time.monotonic()
        answer = Poster(Dsn.parse(f"http://k@127.0.0.1:{port}/1"), environ={}, timeout=0.3).post(ENVELOPE)
        elapsed = time.monotonic() - start
    finally:
        for sock in (*waiting, server):
            sock.close()
    assert answer == Answer(error="timed out")
    assert elapsed < 2


@pytest.fixture
def short_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """The sender's own bounds (10 s to connect, 30 s per read, 60 s in all), made short."""
    monkeypatch.setattr(http, "CONNECT_TIMEOUT", 0.2)
    monkeypatch.setattr(http, "READ_TIMEOUT", 1.0)
    monkeypatch.setattr(http, "REQUEST_DEADLINE", 1.5)


@pytest.mark.usefixtures("short_bounds")
def test_a_slow_answer_is_waited_for_each_read_not_just_a_connect() -> None:
    """A slow server is waited for rather than sent the same report again."""
    server = Scripted(None)
    try:
        start = time.monotonic()
        answer = Poster(server.dsn, environ={}).post(ENVELOPE)
        elapsed = time.monotonic() - start
    finally:
        server.close()
    assert answer == Answer(error="timed out")
    assert 0.9 < elapsed < 3  # cut by the read timeout ("timed out"), not the deadline


@pytest.mark.usefixtures("short_bounds")
def test_a_trickling_answer_is_cut_at_the_request_deadline(sentry_server: SentryServer) -> None:
    sentry_server.fault("trickle")
    start = time.monotonic()
    answer = Poster(Dsn.parse(sentry_server.dsn), environ={}).post(ENVELOPE)
    assert answer.status is None and answer.error
    assert 1.4 < time.monotonic() - start < 2.4


@pytest.mark.usefixtures("short_bounds")
def test_a_finished_request_leaves_no_deadline_behind(sentry_server: SentryServer) -> None:
    """The next request on the kept connection is not cut by the last one's deadline."""
    poster = Poster(Dsn.parse(sentry_server.dsn), environ={})
    assert poster.post(ENVELOPE).status == 200
    time.sleep(1.7)
    assert poster.post(ENVELOPE).status == 200
    poster.close()
    assert sentry_server.connections == 1


@pytest.mark.parametrize(("size", "connections"), [(64 * 1024, 1), (64 * 1024 + 1, 2)])
def test_an_answers_body_is_read_to_64_kib_and_no_further(sentry_server: SentryServer, size: int,
                                                         connections: int) -> None:  # fmt: skip
    """Read whole, the connection is kept; longer, it is closed (the rest is never read)."""
    sentry_server.answer_body = b"x" * size
    poster = Poster(Dsn.parse(sentry_server.dsn), environ={})
    assert [poster.post(ENVELOPE).status for _ in range(2)] == [200, 200]
    poster.close()
    assert sentry_server.connections == connections


def test_the_bounds_are_the_ones_the_docs_promise() -> None:
    text = " ".join((ROOT / "docs" / "outbox.md").read_text().split())
    promised = (f"connects within {http.CONNECT_TIMEOUT:g} s, waits up to {http.READ_TIMEOUT:g} s "
                f"for each read of the answer", f"takes at most {http.REQUEST_DEADLINE:g} s in all",
                f"not read past {http.MAX_BODY // 1024} KiB")  # fmt: skip
    assert [p for p in promised if p not in text] == []
    assert (http.CONNECT_TIMEOUT, http.READ_TIMEOUT, http.REQUEST_DEADLINE, http.MAX_BODY) == \
        (10, 30, 60, 65536)  # fmt: skip


# -- which proxy ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("environ", "proxied"), [
    ({"http_proxy": "{proxy}"}, True),
    ({"HTTP_PROXY": "{proxy}"}, True),
    ({"http_proxy": "127.0.0.1:{port}"}, True),  # no scheme: http
    ({"http_proxy": "  ", "HTTP_PROXY": "{proxy}"}, True),  # a blank value is unset
    ({"https_proxy": "{proxy}"}, False),  # for https DSNs only
    ({"http_proxy": "{proxy}", "NO_PROXY": "127.0.0.1"}, False),
    ({"http_proxy": "{proxy}", "no_proxy": "127.0.0.1", "NO_PROXY": "other"}, False),
    ({"http_proxy": "{proxy}", "no_proxy": "other.example"}, True),
])  # fmt: skip
def test_the_proxy_the_environment_names(sentry_server: SentryServer, environ: dict[str, str],
                                         proxied: bool) -> None:  # fmt: skip
    proxy = Proxy()
    try:
        env = {k: v.format(proxy=f"http://127.0.0.1:{proxy.port}", port=proxy.port)
               for k, v in environ.items()}  # fmt: skip
        poster = Poster(Dsn.parse(sentry_server.dsn), environ=env)
        assert poster.post(ENVELOPE).status == 200
        poster.close()
        assert (len(proxy.lines) == 1) is proxied
        assert len(sentry_server.envelopes) == 1
    finally:
        proxy.close()


def test_the_proxy_in_the_programs_own_environment(sentry_server: SentryServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    proxy = Proxy()
    try:
        monkeypatch.setenv("HTTP_PROXY", f"http://me@127.0.0.1:{proxy.port}")  # no password
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        poster = Poster(Dsn.parse(sentry_server.dsn))
        assert poster.post(ENVELOPE).status == 200
        poster.close()
        assert proxy.auth == ["Basic " + base64.b64encode(b"me:").decode()]
    finally:
        proxy.close()


def test_the_ca_bundle_is_chosen_as_sentry_sdk_does() -> None:
    import certifi

    env = {"SSL_CERT_FILE": "/ssl.pem", "REQUESTS_CA_BUNDLE": "/requests.pem"}
    assert ca_bundle("/app.pem", env) == "/app.pem"
    assert ca_bundle(None, env) == "/ssl.pem"
    assert ca_bundle(None, {"REQUESTS_CA_BUNDLE": "/requests.pem"}) == "/requests.pem"
    assert ca_bundle(None, {"SSL_CERT_FILE": ""}) == certifi.where()


def test_proxy_credentials_are_percent_decoded(sentry_server: SentryServer) -> None:
    proxy = Proxy(password="p@ss:w rd")
    try:
        env = {"HTTP_PROXY": f"http://me:p%40ss%3Aw%20rd@127.0.0.1:{proxy.port}"}
        poster = Poster(Dsn.parse(sentry_server.dsn), environ=env)
        assert poster.post(ENVELOPE).status == 200
        poster.close()
    finally:
        proxy.close()


@pytest.mark.parametrize(("host", "port", "no_proxy", "bypass"), [
    ("Sentry.Example", 443, "SENTRY.example", True),
    ("::1", 9000, "[::1]:9000", True),
    ("::1", 9000, "[::1]", True),
    ("::1", 9000, "[::1]:9001", False),
    ("::1", 9000, "::1", True),
    ("h.example", 443, "a.example h.example", True),  # spaces separate entries too
    ("h.example", 443, ",,  ,", False),
    ("h.example", 443, "example", True),
    ("hexample", 443, "example", False),
    ("h.example", 443, ":443", False),
    ("h.example", 443, ",,h.example", True),  # empty entries are skipped, not the end
    ("h.example", 443, "h.example:80,h.example:443", True),  # so is another port's entry
    ("h.example", 443, ".h.example", True),  # a leading dot: the name and its subdomains
    ("sub.h.example", 443, ".h.example", True),
])  # fmt: skip
def test_no_proxy_entries(host: str, port: int, no_proxy: str, bypass: bool) -> None:
    assert _bypass(host, port, no_proxy) is bypass
