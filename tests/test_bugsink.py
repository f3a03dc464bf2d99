"""End to end on Bugsink, a self-hosted Sentry-compatible tracker: what the app author sees.

One Bugsink per session (its own venv, SQLite in a temporary folder, gunicorn on 127.0.0.1,
phone-home off, every outbound request of its own sent to a local sink that refuses it). The
example app crashes with telemetry on; Bugsink's API must show the issue as the app author needs
it (type, scrubbed message, release, tags, the app's frames in-app), and its pages, in headless
Chromium, must show the same and nothing personal of the run. A wrong DSN key gets a 403.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT, Run, run_mytool, run_python
from .processes import require, stop, wait_until_up
from .test_spotlight import (
    CANARY_USER,
    E2E,
    FILE_CANARY,
    TelemetrySink,
    _free_port,
    _leaks,
    browser_pieces,
)

pytestmark = pytest.mark.e2e

VENV = E2E / ".venv-bugsink" / "bin"
USER, PASSWORD = "author@example.org", "e2e-Bugsink-pw-7731"
#: Bugsink's whole answer (status, plain-text body) to an envelope whose DSN key it does not know.
WRONG_KEY_ANSWER = (403, "Project not found or key incorrect: {dsn}\n")


@dataclass
class Bugsink:
    url: str
    dsn: str
    project: int
    token: str
    access_log: Path
    sink: TelemetrySink

    def api(self, path: str, data: dict[str, Any] | None = None) -> Any:
        """Bugsink's REST API (``/api/canonical/0/``) with the admin's token."""
        request = urllib.request.Request(
            f"{self.url}/api/canonical/0/{path}",
            data=None if data is None else json.dumps(data).encode(),
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())


def _manage(env: dict[str, str], cwd: Path, *args: str) -> str:
    proc = subprocess.run([str(VENV / "bugsink-manage"), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def _settings(base: Path, url: str) -> str:
    """Our additions to Bugsink's own ``local`` template: files in ``base``, nothing outbound."""
    return f"""
DATABASES["default"]["NAME"] = {str(base / "db.sqlite3")!r}
DATABASES["snappea"]["NAME"] = {str(base / "snappea.sqlite3")!r}
EMAIL_BACKEND = "django.core.mail.backends.dummy.EmailBackend"
BUGSINK["BASE_URL"] = {url!r}
BUGSINK["PHONEHOME"] = False
BUGSINK["INGEST_STORE_BASE_DIR"] = {str(base / "ingest")!r}
BUGSINK["ALERTS_WEBHOOK_OUTBOUND_MODE"] = "allowlist_only"
"""


@pytest.fixture(scope="session")
def bugsink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bugsink]:
    require("Bugsink e2e", {"Bugsink (bash scripts/install-e2e.sh)": (VENV / "gunicorn").exists()})
    base = tmp_path_factory.mktemp("bugsink")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    sink = TelemetrySink()  # anything Bugsink would send off this machine lands here, refused
    proxy = f"http://127.0.0.1:{sink.port}"
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(base / "home"), "LANG": "C.UTF-8",
           "DJANGO_SETTINGS_MODULE": "bugsink_conf", "PYTHONPATH": str(base),
           "http_proxy": proxy, "https_proxy": proxy, "HTTP_PROXY": proxy, "HTTPS_PROXY": proxy,
           "no_proxy": "127.0.0.1,localhost", "NO_PROXY": "127.0.0.1,localhost"}  # fmt: skip
    conf = base / "bugsink_conf.py"
    subprocess.run([str(VENV / "bugsink-create-conf"), "--template=local", "--host=127.0.0.1",
                    f"--port={port}", f"--output-file={conf}"], env=env, cwd=base, check=True,
                   capture_output=True)  # fmt: skip
    conf.write_text(conf.read_text() + _settings(base, url))
    _manage(env, base, "migrate", "-v0")
    _manage(env, base, "migrate", "snappea", "--database=snappea", "-v0")
    _manage({**env, "DJANGO_SUPERUSER_PASSWORD": PASSWORD}, base, "createsuperuser", "--noinput",
            f"--username={USER}", f"--email={USER}")  # fmt: skip
    token = _manage(env, base, "create_auth_token").strip().splitlines()[-1]
    access_log = base / "access.log"
    log = (base / "gunicorn.log").open("wb")
    server = subprocess.Popen(
        [str(VENV / "gunicorn"), f"--bind=127.0.0.1:{port}", "--workers=1", "--threads=4",
         "--no-control-socket", f"--access-logfile={access_log}", "bugsink.wsgi"],
        env=env, cwd=base, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        wait_until_up(f"{url}/health/ready", server, base / "gunicorn.log", "Bugsink", 60)
        instance = Bugsink(url, "", 0, token, access_log, sink)
        team = instance.api("teams/", {"name": "e2e"})
        project = instance.api("projects/", {"name": "mytool", "team": team["id"],
                                             "alert_on_new_issue": False,
                                             "alert_on_regression": False})  # fmt: skip
        instance.project = int(project["id"])
        instance.dsn = instance.api(f"projects/{instance.project}/")["dsn"]
        yield instance
    finally:
        stop(server)
        log.close()
        sink.close()
    # Bugsink never tried to reach anything off this machine (phone-home, e-mail, webhooks).
    assert sink.connects == []


def _crash(home: Path, dsn: str, file: str) -> Run:
    """The example app crashes (reading ``file``) with telemetry on, as user CANARY_USER; the
    exit waits long enough for the report to go out (the default is 0.25 s)."""
    (home / "cfg.yaml").write_text("telemetry:\n  collect: true\n  exit_timeout: 10\n")
    return run_mytool(home, "crash", "--file", file,
                      env={"MYTOOL_DSN": dsn, "MYTOOL_CONFIG": str(home / "cfg.yaml"),
                           "USER": CANARY_USER, "LOGNAME": CANARY_USER})  # fmt: skip


@dataclass
class Crash:
    home: Path
    issue: dict[str, Any]
    event: dict[str, Any]

    @property
    def personal(self) -> list[str]:
        return [str(self.home), CANARY_USER, platform.node(), FILE_CANARY, "acme"]


@pytest.fixture(scope="module")
def crash(bugsink: Bugsink, tmp_path_factory: pytest.TempPathFactory) -> Crash:
    """Two runs that crash on two different files of the user's: one issue of two events."""
    home = tmp_path_factory.mktemp("crash") / "home" / CANARY_USER
    home.mkdir(parents=True)
    for file in ("~/clients/acme/taxes-2025.pdf", "~/Desktop/taxes-2025-final.pdf"):
        run = _crash(home, bugsink.dsn, file)
        assert run.returncode == 1 and "FileNotFoundError" in run.stderr, run.stderr
    deadline = time.monotonic() + 20
    while True:
        issues = bugsink.api(f"issues/?project={bugsink.project}")["results"]
        if (issues and issues[0]["digested_event_count"] >= 2) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    [issue] = issues
    [latest, *_] = bugsink.api(f"events/?issue={issue['id']}")["results"]
    return Crash(home, issue, bugsink.api(f"events/{latest['id']}/"))


def test_the_issue_as_the_app_author_needs_it(bugsink: Bugsink, crash: Crash) -> None:
    issue, data = crash.issue, crash.event["data"]
    # One issue for both runs: the user's file paths are scrubbed out of what groups them.
    assert issue["digested_event_count"] == 2
    assert issue["calculated_type"] == "FileNotFoundError"
    assert issue["calculated_value"] == "[Errno 2] No such file or directory: '<path>'"
    assert issue["transaction"] == "crash"
    assert issue["events_at"] == ["mytool@1.4.2"]  # the release
    assert data["release"] == "mytool@1.4.2"
    assert data["tags"] == {"subcommand": "crash", "python": platform.python_version()}
    assert set(data["user"]) == {"id"}
    [exc] = data["exception"]["values"]
    frames = {f["function"]: f["in_app"] for f in exc["stacktrace"]["frames"]}
    assert frames["main"] is frames["parse_report"] is True  # the app's own code
    assert frames["read_text"] is frames["open"] is False  # pathlib's
    assert _leaks(json.dumps(crash.event), crash.personal) == []
    # Bugsink took every envelope of both runs (the crash, sessions, the run's record).
    posts = [line for line in bugsink.access_log.read_text().splitlines()
             if f"POST /api/{bugsink.project}/envelope/" in line]  # fmt: skip
    assert len(posts) >= 4 and all('HTTP/1.1" 200 ' in line for line in posts), posts
    assert bugsink.sink.connects == []  # and it tried to reach nothing off this machine


def test_a_wrong_dsn_key_gets_403(bugsink: Bugsink, home: Path) -> None:
    """What Bugsink answers a key it does not know; the app's outbox drops such a report as
    refused (``dropped_4xx``), as sending it again cannot help."""
    wrong = bugsink.dsn.replace(bugsink.dsn.split("//")[1].split("@")[0], "0" * 32)
    envelope = b'{}\n{"type":"event"}\n{"message":"hello"}\n'
    project = bugsink.dsn.rsplit("/", 1)[1]
    request = urllib.request.Request(
        f"{bugsink.url}/api/{project}/envelope/", data=envelope,
        headers={"Content-Type": "application/x-sentry-envelope",
                 "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={'0' * 32}"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    status, body = WRONG_KEY_ANSWER
    assert (refused.value.code, refused.value.read().decode()) == (status, body.format(dsn=wrong))

    from crashreport.delivery.outbox import Outbox
    from crashreport.paths import Paths

    run = _crash(home, wrong, "~/clients/acme/taxes-2025.pdf")
    assert run.returncode == 1 and "crashreport:" not in run.stderr
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HOME", str(home))
        paths = Paths.for_app("mytool")
    stats = Outbox(paths.outbox_dir, paths.sent_dir).stats()
    assert stats["dropped_4xx"] >= 1 and stats["sent"] == 0 and stats["pending"] == 0, stats
    # ... and the user (or the app author helping them) sees why in `status`
    status = run_python(home, "-m", "crashreport", "--app", "mytool", "status").stdout
    assert "refused by the server" in status
    assert "last refusal HTTP 403" in status and "check the DSN's key" in status


def test_the_issue_page_shows_it_and_nothing_personal(
    bugsink: Bugsink, crash: Crash, tmp_path: Path
) -> None:
    require("Bugsink's pages", browser_pieces())
    shots = tmp_path / "shots"
    shots.mkdir()
    config = {"url": bugsink.url, "userDataDir": str(tmp_path / "chromium"), "user": USER,
              "password": PASSWORD, "project": bugsink.project, "issue": crash.issue["id"],
              "expect": "FileNotFoundError", "shots": str(shots),
              "failPng": str(tmp_path / "failed.png")}  # fmt: skip
    browser_sink = TelemetrySink()  # Chromium honours https_proxy for its own background calls
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(HOME=str(tmp_path / "browser-home"), https_proxy=f"http://127.0.0.1:{browser_sink.port}")
    try:
        proc = subprocess.run(["node", str(E2E / "bugsink-check.mjs"), json.dumps(config)],
                              cwd=E2E, env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
    finally:
        browser_sink.close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ui = json.loads(proc.stdout.strip().splitlines()[-1])
    (tmp_path / "ui.json").write_text(json.dumps(ui, indent=1))  # for a failing run's reader

    message = "FileNotFoundError: [Errno 2] No such file or directory: '<path>'"
    assert message in ui["listText"] and "with 2 events | crash" in ui["listText"]
    stack = ui["stacktraceText"]
    assert "__main__.py in parse_report" in stack and "pathlib.py in read_text" in stack
    details = ui["detailsText"]
    for shown in (message, "release\n\nmytool@1.4.2", "subcommand\n\ncrash",
                  f"python\n\n{platform.python_version()}"):
        assert shown in details, shown
    pages = "\n".join(ui[k] for k in ("listText", "stacktraceText", "detailsText"))
    assert _leaks(pages, crash.personal) == []
    assert ui["blocked"] == []  # the pages asked for nothing off this machine
    # Chromium's own background calls (update and safe-browsing hosts) went to the local sink,
    # which refused them: nothing left this machine.
    assert [c for c in browser_sink.connects if c and not c.startswith("CONNECT ")] == []
    for name in ("list", "stacktrace", "details"):
        data = (shots / f"bugsink-{name}.png").read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 5_000

    if os.environ.get("UPDATE_SCREENSHOTS"):  # docs/servers.md's pictures, from a clean run
        for name in ("list", "stacktrace", "details"):
            shutil.copyfile(shots / f"bugsink-{name}.png", ROOT / "docs" / f"bugsink-{name}.png")
