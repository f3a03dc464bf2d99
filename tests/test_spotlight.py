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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from crashreport.delivery.spotlight import CONTENT_TYPE, post
from crashreport.options import SPOTLIGHT_URL

from .conftest import ROOT, child_env, run_mytool, run_python, settle
from .processes import require, stop, wait_until_up
from .sentry_server import SentryServer

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


# -- where the sidecar is ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("option", "url"),
    [
        (True, SPOTLIGHT_URL),
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
def test_spotlight_option(option: object, url: str | None) -> None:
    from crashreport.config import Settings
    from crashreport.options import resolve

    options, _ = resolve("mytool", Settings(), spotlight=option)  # type: ignore[arg-type]
    assert options.spotlight == url
    if isinstance(option, bool) or (isinstance(option, str) and "://" in option):  # valid config
        user = Settings(spotlight=option)
        options, _ = resolve("mytool", user, spotlight="http://127.0.0.1:1/app")
        assert options.spotlight == url  # the user's config wins over the app's argument


# -- the copy on its own ---------------------------------------------------------------------------
def test_post_sends_the_envelope_as_it_is(sentry_server: SentryServer) -> None:
    data = b'{"event_id":"' + b"a" * 32 + b'"}\n{"type":"event"}\n{"message":"hello spotlight"}\n'
    assert post(sidecar_url(sentry_server), data)
    [got] = sentry_server.envelopes
    assert got.request_headers["content-type"] == CONTENT_TYPE
    assert got.of_type("event") == [{"message": "hello spotlight"}]
    assert got.raw == data


def test_post_to_no_sidecar_or_a_hanging_one_fails_quietly_and_briefly(
    sentry_server: SentryServer,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connections are refused
    assert post(f"http://127.0.0.1:{port}/stream", b"{}\n") is False
    sentry_server.fault("hang")
    start = time.monotonic()
    assert post(sidecar_url(sentry_server), b"{}\n", timeout=0.3) is False
    assert time.monotonic() - start < 2
    sentry_server.fault("ok")


def test_the_sender_copies_each_queued_report_once(sentry_server: SentryServer) -> None:
    from crashreport.delivery.drain import copy_to_spotlight
    from crashreport.sender import Sender

    sender = Sender("mytool", spotlight=sidecar_url(sentry_server))
    assert sender.spool is not None
    for i in range(3):
        sender.spool.put(b'{}\n{"type":"event"}\n{"n":%d}\n' % i)
    assert copy_to_spotlight(sender.spool, sidecar_url(sentry_server), time.time() + 10) == 3
    assert copy_to_spotlight(sender.spool, sidecar_url(sentry_server), time.time() + 10) == 0
    assert sorted(e.of_type("event")[0]["n"] for e in sentry_server.envelopes) == [0, 1, 2]
    assert sender.spool.pending() == []


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
        "                 safe_words=['boom'])\n"
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
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "MYTOOL_CONFIG": str(cfg)},
                     wait=False)  # fmt: skip
    assert run.returncode == without.returncode == 1
    assert (run.stdout, run.stderr) == (without.stdout, without.stderr)
    assert run.seconds < without.seconds + 1.0  # the sidecar is the sender's business, after exit
    settle()
    assert sentry_server.requests >= 1  # it was tried
    sentry_server.fault("ok")


# -- end to end: the real Spotlight sidecar and UI --------------------------------------------
def browser_pieces() -> dict[str, bool]:
    """What driving a page in headless Chromium needs, and how to get each piece."""
    return {"node (apt-get install nodejs)": shutil.which("node") is not None,
            "playwright-core (bash scripts/install-e2e.sh)":
                (E2E / "node_modules" / "playwright-core").is_dir(),
            "/usr/bin/chromium (apt-get install chromium)": CHROMIUM.exists()}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sidecar(tmp_path: Path) -> Iterator[tuple[int, dict[str, str], TelemetrySink]]:
    """The real Spotlight sidecar on a free loopback port, its telemetry kept local."""
    require("Spotlight e2e", {**browser_pieces(), "@spotlightjs/spotlight (bash scripts/install-e2e.sh)":
                              (E2E / "node_modules" / ".bin" / "spotlight").exists()})  # fmt: skip
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
        wait_until_up(f"http://127.0.0.1:{port}/", proc, tmp_path / "sidecar.log", "sidecar")
        yield port, env, sink
    finally:
        stop(proc)
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
        [sys.executable, "-c", "import tests.processes as t; print(t.IN_CI)"],
        env={**child_env(Path(os.environ["HOME"])), "CI": "true"}, cwd=ROOT,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip() == "True", probe.stderr
