"""Spotlight: a copy of every scrubbed envelope goes to a local sidecar, and Sentry's own local UI
shows it (the ``e2e`` test drives the real sidecar and headless Chromium)."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashreport.spotlight import CONTENT_TYPE, DEFAULT_URL, SpotlightForwarder, resolve_url

from .conftest import ROOT, child_env, run_mytool, run_python
from .sentry_server import SentryServer

#: Read at import, before conftest's autouse fixture strips CI from the environment: in CI a
#: missing piece of the e2e set-up fails the run instead of skipping.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")
E2E = ROOT / "tests" / "e2e"
CHROMIUM = Path("/usr/bin/chromium")
#: Only the canaries of a run: a user name no machine has, and the example's file name.
CANARY_USER = "zq-canary-alice"
FILE_CANARY = "taxes-2025"


def sidecar_url(server: SentryServer) -> str:
    return f"http://127.0.0.1:{server.port}/stream"


def write_config(home: Path, spotlight: object) -> Path:
    path = home / "cfg.yaml"
    line = f"  spotlight: {json.dumps(spotlight)}\n" if spotlight is not None else ""
    path.write_text("telemetry:\n  collect: true\n" + line)
    return path


def sent_requests(server: SentryServer) -> list[Any]:
    return list(server.envelopes)


# -- resolve_url ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "url"),
    [
        (True, DEFAULT_URL),
        ("http://127.0.0.1:9999/stream", "http://127.0.0.1:9999/stream"),
        (" https://spot.example/stream ", "https://spot.example/stream"),
        (False, None),
        (None, None),
        ("", None),
        ("localhost:8969", None),
        ("file:///etc/passwd", None),
        (1, None),
    ],
)
def test_resolve_url(option: object, url: str | None) -> None:
    assert resolve_url(option) == url


# -- the forwarder on its own -----------------------------------------------------------------
def test_forwarder_posts_a_copy_with_the_envelope_type(sentry_server: SentryServer) -> None:
    from sentry_sdk.envelope import Envelope

    envelope = Envelope(headers={"event_id": "a" * 32})
    envelope.add_event({"event_id": "a" * 32, "message": "hello spotlight"})
    forwarder = SpotlightForwarder(sidecar_url(sentry_server))
    forwarder.send(envelope)
    assert forwarder.flush(10)
    [got] = sentry_server.envelopes
    assert got.request_headers["content-type"] == CONTENT_TYPE
    assert got.of_type("event") == [{"event_id": "a" * 32, "message": "hello spotlight"}]
    assert got.raw == envelope.serialize()
    assert (forwarder.sent, forwarder.failed, forwarder.dropped) == (1, 0, 0)


def test_forwarder_never_blocks_and_drops_beyond_its_queue(sentry_server: SentryServer) -> None:
    sentry_server.fault("hang")
    forwarder = SpotlightForwarder(sidecar_url(sentry_server), max_queued=2, post_timeout=30)
    start = time.monotonic()
    for _ in range(50):
        forwarder.send(b'{}\n{"type":"event"}\n{}\n')
    queued = time.monotonic() - start
    assert not forwarder.flush(0.2)  # bounded: returns although the sidecar never answers
    assert queued < 2.0  # 50 sends against a hanging sidecar; each one only queues
    assert forwarder.dropped >= 47  # at most one in flight and two queued
    sentry_server.fault("ok")


def test_forwarder_with_no_sidecar_fails_quietly() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    forwarder = SpotlightForwarder(f"http://127.0.0.1:{port}/stream")
    forwarder.send(b"{}\n")
    forwarder.send(object())  # type: ignore[arg-type]  # no serialize(): swallowed, not raised
    assert forwarder.flush(10)
    assert (forwarder.sent, forwarder.failed) == (0, 1)
    from crashreport import _safe

    assert len(_safe.SWALLOWED) == 1  # the bad object; the refused connection is no error
    _safe.SWALLOWED.clear()


def test_forwarder_accepts_nothing_after_close(sentry_server: SentryServer) -> None:
    forwarder = SpotlightForwarder(sidecar_url(sentry_server))
    forwarder.close(1)
    forwarder.send(b"{}\n")
    assert forwarder.flush(1)
    assert sentry_server.requests == 0


# -- the example app, real subprocesses ------------------------------------------------------
def test_crash_without_dsn_reaches_spotlight_scrubbed_with_session(
    home: Path, sentry_server: SentryServer
) -> None:
    cfg = write_config(home, sidecar_url(sentry_server))
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg),
                                         "USER": CANARY_USER, "LOGNAME": CANARY_USER})  # fmt: skip
    assert run.returncode == 1
    assert "FileNotFoundError" in run.stderr
    assert "crashreport:" not in run.stderr
    [event] = sentry_server.wait_for("event")
    sessions = sentry_server.wait_for("session")
    assert event["release"] == "mytool@1.4.2"
    assert event["tags"]["subcommand"] == "crash"
    assert event["exception"]["values"][0]["type"] == "FileNotFoundError"
    assert sessions
    assert sessions[-1]["status"] == "crashed"
    assert {e.request_headers["content-type"] for e in sentry_server.envelopes} == {CONTENT_TYPE}
    raw = b"".join(e.raw for e in sentry_server.envelopes).decode()
    for personal in (str(home), CANARY_USER, "alice", platform.node()):
        assert personal not in raw
    assert "server_name" not in event
    assert "ip_address" not in json.dumps(event["user"])


def test_spotlight_gets_the_same_envelopes_as_the_dsn(
    home: Path, sentry_server: SentryServer
) -> None:
    spot = SentryServer()
    try:
        cfg = write_config(home, sidecar_url(spot))
        run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg),
                                       "MYTOOL_DSN": sentry_server.dsn})  # fmt: skip
        [to_sentry] = sentry_server.wait_for("event")
        [to_spot] = spot.wait_for("event")
        assert to_spot == to_sentry
        assert spot.wait_for("session")[-1] == sentry_server.wait_for("session")[-1]
    finally:
        spot.close()


def test_init_option_and_config_override(home: Path, sentry_server: SentryServer) -> None:
    code = (
        "import crashreport, sys\n"
        "cfg = {'telemetry': {'collect': True, 'spotlight': %s}}\n"
        f"crashreport.init('mytool', config=cfg, spotlight={sidecar_url(sentry_server)!r},\n"
        "                 scrub_words=['boom'])\n"
        "raise RuntimeError('boom')\n"
    )
    run_python(home, "-c", code % "None")  # the app author's option alone
    [event] = sentry_server.wait_for("event")
    assert event["exception"]["values"][0]["value"] == "boom"
    sentry_server.clear()
    run = run_python(home, "-c", code % "False")  # the user's config says no: it wins
    assert run.returncode == 1
    time.sleep(0.3)
    assert sentry_server.requests == 0


def test_off_by_default_even_when_a_sidecar_listens(
    home: Path, sentry_server: SentryServer
) -> None:
    cfg = write_config(home, None)
    run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg),
                                   "SENTRY_SPOTLIGHT": sidecar_url(sentry_server)})  # fmt: skip
    time.sleep(0.3)
    assert sentry_server.requests == 0


def _stable(event: dict[str, Any]) -> dict[str, Any]:
    """The event without what differs between two runs (ids, times, the thread's trace)."""
    volatile = {"event_id", "timestamp", "start_timestamp", "contexts", "breadcrumbs"}
    return {k: v for k, v in event.items() if k not in volatile}


class TelemetrySink:
    """A loopback listener that notes the first line of each request and refuses it (403).

    As a stand-in for an HTTPS proxy (Spotlight's own Sentry SDK and Chromium honour
    ``https_proxy``) it keeps their telemetry on this machine: each CONNECT is noted."""

    def __init__(self, port: int = 0) -> None:
        self.connects: list[str] = []
        self._sock = socket.create_server(("127.0.0.1", port))
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    self.connects.append(conn.recv(512).split(b"\r\n")[0].decode(errors="replace"))
                    conn.sendall(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    def close(self) -> None:
        self._sock.close()


@pytest.mark.parametrize("shell_value", ["1", "url"])
def test_sentry_spotlight_in_the_shell_changes_nothing(home: Path, sentry_server: SentryServer,
                                                       shell_value: str) -> None:  # fmt: skip
    """sentry-sdk's own SENTRY_SPOTLIGHT would POST in the host's thread and force
    send_default_pii; crashreport passes spotlight=False, so the variable has no effect."""
    if shell_value == "1":
        try:
            spot = TelemetrySink(8969)  # where SENTRY_SPOTLIGHT=1 would send
        except OSError:
            pytest.skip("port 8969 is in use here; the URL form checks the same rule")
        value = "1"
    else:
        spot = TelemetrySink()
        value = f"http://127.0.0.1:{spot.port}/stream"
    try:
        env = {"MYTOOL_TELEMETRY": "1", "MYTOOL_DSN": sentry_server.dsn,
               "MYTOOL_CONFIG": str(write_config(home, None))}  # fmt: skip
        run_mytool(home, "crash", env=env)
        [plain] = sentry_server.wait_for("event")
        sentry_server.clear()
        run_mytool(home, "crash", env={**env, "SENTRY_SPOTLIGHT": value})
        [with_var] = sentry_server.wait_for("event")
        assert _stable(with_var) == _stable(plain)
        assert with_var["contexts"].keys() == plain["contexts"].keys()
        assert "ip_address" not in json.dumps(with_var)  # send_default_pii was not forced
        time.sleep(0.3)
        assert spot.connects == []
    finally:
        spot.close()


def test_a_hanging_sidecar_delays_exit_only_briefly(
    home: Path, sentry_server: SentryServer
) -> None:
    without = run_mytool(home, "crash")  # telemetry off: the host's own output
    sentry_server.fault("hang")
    cfg = write_config(home, sidecar_url(sentry_server))
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg)})
    assert run.returncode == without.returncode == 1
    assert (run.stdout, run.stderr) == (without.stdout, without.stderr)
    assert run.seconds < 10  # the sidecar never answers; the exit waits ~exit_timeout (0.5 s)
    assert sentry_server.requests >= 1  # it was tried
    sentry_server.fault("ok")


# -- end to end: the real Spotlight sidecar and UI --------------------------------------------
def _missing_e2e_pieces() -> list[str]:
    missing = []
    if shutil.which("node") is None:
        missing.append("node (apt-get install nodejs)")
    if not (E2E / "node_modules" / ".bin" / "spotlight").exists():
        missing.append("@spotlightjs/spotlight (bash scripts/install-e2e.sh)")
    if not (E2E / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (bash scripts/install-e2e.sh)")
    if not CHROMIUM.exists():
        missing.append("/usr/bin/chromium (apt-get install chromium)")
    return missing


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], TelemetrySink]]:
    """The real Spotlight sidecar on a free loopback port, its telemetry kept local."""
    missing = _missing_e2e_pieces()
    if missing:
        message = "Spotlight e2e needs: " + ", ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: missing pieces fail)")
        pytest.skip(message)
    sink = TelemetrySink()
    port = _free_port()
    env = {k: v for k, v in os.environ.items()
           if not k.lower().endswith("_proxy") and not k.startswith(("SENTRY_", "NODE_"))}
    env.update(
        https_proxy=f"http://127.0.0.1:{sink.port}",  # Spotlight's own telemetry: stays here
        NODE_OPTIONS=f"--require={E2E / 'loopback.cjs'}",  # listen on 127.0.0.1 only
        HOME=str(tmp_path / "node-home"),
    )
    log = (tmp_path / "sidecar.log").open("wb")
    proc = subprocess.Popen([str(E2E / "node_modules/.bin/spotlight"), "server", "-p", str(port)],
                            cwd=E2E, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log_text = (tmp_path / "sidecar.log").read_text(errors="replace")
                raise AssertionError("sidecar did not start: " + log_text)
            time.sleep(0.2)
        yield port, env, sink
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
        log.close()
        sink.close()


def _tail_errors(port: int, env: dict[str, str], out: Path, want: str,
                 timeout: float = 30) -> list[dict[str, Any]]:  # fmt: skip
    """``spotlight tail errors -f json -p PORT`` until a line mentions ``want``."""
    with out.open("wb") as f:
        proc = subprocess.Popen([str(E2E / "node_modules/.bin/spotlight"), "tail", "errors",
                                 "-f", "json", "-p", str(port)], cwd=E2E, env=env, stdout=f,
                                stderr=subprocess.DEVNULL, start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + timeout
            while want not in out.read_text(errors="replace") and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            proc.terminate()
            proc.wait(10)
    return [json.loads(line) for line in out.read_text().splitlines() if line.startswith("{")]


def _leaks(text: str, personal: list[str]) -> list[str]:
    """Which of ``personal`` occur in ``text`` as a whole word (a short host name like ``vm``
    must not match inside other words)."""
    return [p for p in personal
            if re.search(r"(?<![\w-])" + re.escape(p) + r"(?!\w)", text, re.IGNORECASE)]


@pytest.mark.e2e
def test_spotlight_shows_the_crash_and_nothing_personal(
    home: Path, tmp_path: Path, sidecar: tuple[int, dict[str, str], TelemetrySink]
) -> None:
    port, node_env, sink = sidecar
    cfg = write_config(home, f"http://127.0.0.1:{port}/stream")
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg),
                                         "USER": CANARY_USER, "LOGNAME": CANARY_USER})  # fmt: skip
    assert run.returncode == 1
    assert "FileNotFoundError" in run.stderr
    personal = [str(home), CANARY_USER, "alice", platform.node()]

    # (1) Spotlight's own machine-readable view: the exception, release and subcommand tag.
    tail = _tail_errors(port, node_env, tmp_path / "tail.jsonl", "FileNotFoundError")
    [error] = [t for t in tail if t.get("exception_type") == "FileNotFoundError"]
    assert error["release"] == "mytool@1.4.2"
    assert error["subcommand"] == "crash"
    assert _leaks(json.dumps(error), personal) == []

    # (2) The UI in headless Chromium: the list after clicking "Errors", then one error.
    shots = tmp_path / "shots"
    shots.mkdir()
    config = {"url": f"http://127.0.0.1:{port}/", "userDataDir": str(tmp_path / "chromium"),
              "expect": "FileNotFoundError", "listPng": str(shots / "spotlight-errors.png"),
              "detailPng": str(shots / "spotlight-error-detail.png")}  # fmt: skip
    browser_sink = TelemetrySink()  # Chromium honours https_proxy for its own background calls
    browser_env = {**node_env, "HOME": str(tmp_path / "browser-home"),
                   "https_proxy": f"http://127.0.0.1:{browser_sink.port}"}  # fmt: skip
    browser_env.pop("NODE_OPTIONS")
    try:
        proc = subprocess.run(["node", str(E2E / "browser-check.mjs"), json.dumps(config)],
                              cwd=E2E, env=browser_env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
    finally:
        browser_sink.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ui = json.loads(proc.stdout.strip().splitlines()[-1])
    (tmp_path / "ui.json").write_text(json.dumps(ui, indent=1))  # for a failing run's reader
    assert ui["listUrl"].endswith("/telemetry/errors")
    assert "FileNotFoundError" in ui["listText"]
    assert "/telemetry/errors/" in ui["detailUrl"]
    assert "FileNotFoundError" in ui["detailText"]
    assert "parse_report" in ui["detailText"]
    assert "TAGS\n" in ui["contextText"]
    assert "\nsubcommand\ncrash\n" in ui["contextText"]
    for name in ("spotlight-errors.png", "spotlight-error-detail.png"):
        data = (shots / name).read_bytes()
        assert data.startswith(b"\x89PNG")
        assert 5_000 < len(data) < 400_000

    # (3) Nothing personal on any page: the home folder, user names, host name.
    pages = "\n".join(ui[k] for k in ("listText", "detailText", "breadcrumbsText", "contextText"))
    assert _leaks(pages, personal) == []
    # Nothing left this machine: the page's own requests off this machine (the UI's telemetry
    # to sentry.io) were refused in the browser; the sidecar's Sentry SDK and Chromium's
    # background calls went to the local sinks. The sidecar calls sentry.io and nothing else.
    hosts = {c.split()[1].rsplit(":", 1)[0] for c in sink.connects if c.startswith("CONNECT ")}
    assert {h for h in hosts if not h.endswith(".sentry.io")} == set()
    assert [c for c in sink.connects + browser_sink.connects
            if c and not c.startswith("CONNECT ")] == []  # fmt: skip

    assert _leaks(pages, [FILE_CANARY]) == []  # the file name is gone too

    # The README's pictures: only from a run that showed nothing personal.
    if os.environ.get("UPDATE_SCREENSHOTS"):
        (ROOT / "docs").mkdir(exist_ok=True)
        for name in ("spotlight-errors.png", "spotlight-error-detail.png"):
            shutil.copyfile(shots / name, ROOT / "docs" / name)


def test_ci_reads_ci_before_the_fixture_strips_it() -> None:
    """The e2e test fails (not skips) on a missing piece in CI: CI was read at import."""
    assert "CI" not in os.environ  # conftest stripped it for the test itself
    probe = subprocess.run(
        [sys.executable, "-c", "import tests.test_spotlight as t; print(t.IN_CI)"],
        env={**child_env(Path(os.environ["HOME"])), "CI": "true"}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip() == "True", probe.stderr
