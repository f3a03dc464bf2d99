"""init() end to end: who decides, what is sent, what never is, and the host unchanged."""

from __future__ import annotations

import json
import platform
import socket
import subprocess
from pathlib import Path

import pytest
from sentry_relay import StoreNormalizer

import crashreport
from crashreport import Level, Source

from .conftest import run_mytool, run_python
from .sentry_server import SentryServer

CONFIG_ON = "telemetry:\n  collect: true\n"


def write_config(home: Path, text: str = CONFIG_ON) -> Path:
    path = home / ".config" / "mytool" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def files_under(home: Path) -> list[Path]:
    return sorted(home.rglob("*"))


# -- off: nothing sent, nothing written, sentry_sdk not imported -----------------------------
OFF_CASES = {
    "default": ({}, None),
    "config false": ({}, "telemetry:\n  collect: false\n"),
    "DO_NOT_TRACK": ({"DO_NOT_TRACK": "1"}, CONFIG_ON),
    "app variable off": ({"MYTOOL_TELEMETRY": "off"}, CONFIG_ON),
    "CI": ({"CI": "true"}, CONFIG_ON),
    "broken config": ({}, "telemetry: [\n"),
}


@pytest.mark.parametrize("case", sorted(OFF_CASES))
def test_off(home: Path, sentry_server: SentryServer, case: str) -> None:
    env, config = OFF_CASES[case]
    if config is not None:
        write_config(home, config)
    before = files_under(home)
    code = (
        "import sys, runpy\n"
        "sys.argv = ['mytool', 'crash']\n"
        "try:\n"
        "    runpy.run_module('mytool', run_name='__main__')\n"
        "finally:\n"
        "    print('imported' if 'sentry_sdk' in sys.modules else 'not imported')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_DSN": sentry_server.dsn, **env})
    assert run.returncode == 1 and "FileNotFoundError" in run.stderr
    assert run.stdout == "not imported\n"
    assert files_under(home) == before
    assert sentry_server.requests == 0
    warnings = [line for line in run.stderr.splitlines() if line.startswith("crashreport:")]
    if case == "broken config":
        assert len(warnings) == 1 and "config.yaml" in warnings[0] and "not valid YAML" in warnings[0]
    else:
        assert warnings == []


def test_handle_when_off_in_process(home: Path) -> None:
    handle = crashreport.init("mytool", config={"telemetry": {"collect": False}})
    assert (handle.level, handle.source, handle.user_id, handle.enabled) == (
        Level.OFF, Source.CONFIG, None, False)  # fmt: skip
    assert "telemetry.collect" in handle.reason


def test_bad_config_warns_once_and_never_raises(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_config(home, "telemetry:\n  collect: perhaps\n")
    handle = crashreport.init("mytool", config=path)
    assert handle.level is Level.OFF
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith("crashreport: ")
    assert "~/.config/mytool/config.yaml" in err[0]  # the file, without the home folder


def test_unusable_arguments_never_raise(home: Path) -> None:
    assert crashreport.init("mytool", config=12345).level is Level.OFF  # type: ignore[arg-type]


# -- on: the event, tags, release, user, session, and what must not be there ----------------
def test_config_turns_it_on_and_events_pass_relay(home: Path, sentry_server: SentryServer) -> None:
    write_config(home)
    run = run_mytool(home, "crash", env={"MYTOOL_DSN": sentry_server.dsn, "USER": "alice"})
    assert run.returncode == 1
    [event] = sentry_server.wait_for("event")
    normalized = StoreNormalizer(project_id=1).normalize_event(event)
    assert normalized.get("errors") is None, normalized.get("errors")
    assert set(event["tags"]) == {"subcommand", "python"}
    assert set(event["modules"]) <= {"mytool", "crashreport", "pyyaml", "sentry-sdk", "platformdirs"}
    assert "mytool" in event["modules"]
    assert event["contexts"]["runtime"]["version"] == platform.python_version()
    assert "extra" not in event or "sys.argv" not in event["extra"]
    for frame in event["exception"]["values"][0]["stacktrace"]["frames"]:
        assert "vars" not in frame
    raw = json.dumps([e.raw.decode("utf-8", "replace") for e in sentry_server.envelopes])
    for secret in (str(home), "alice", socket.gethostname(), "taxes-2025"):
        assert secret not in raw, secret


def test_logged_errors_are_reported(home: Path, sentry_server: SentryServer) -> None:
    write_config(home)
    run = run_mytool(home, "log-error", env={"MYTOOL_DSN": sentry_server.dsn})
    assert run.returncode == 0 and run.stdout == "carried on\n"
    [event] = sentry_server.wait_for("event")
    assert event["level"] == "error"
    assert event["exception"]["values"][0]["type"] == "FileNotFoundError"
    assert sentry_server.wait_for("session")[-1]["status"] == "exited"


def test_user_shell_sentry_variables_are_ignored(home: Path, sentry_server: SentryServer) -> None:
    other = SentryServer()
    try:
        env = {
            "MYTOOL_DSN": sentry_server.dsn, "MYTOOL_TELEMETRY": "1",
            "SENTRY_DSN": other.dsn, "SENTRY_RELEASE": "evil@6.6.6",
            "SENTRY_ENVIRONMENT": "shell", "SENTRY_DEBUG": "1",
            "SENTRY_PRINT_ENVELOPES": "1", "SENTRY_SPOTLIGHT": f"http://127.0.0.1:{other.port}/stream",
        }  # fmt: skip
        run = run_mytool(home, "crash", env=env)
        [event] = sentry_server.wait_for("event")
        assert (event["release"], event["environment"]) == ("mytool@1.4.2", "production")
        assert other.requests == 0
        assert "[sentry]" not in run.stderr and "Sentry Envelope" not in run.stderr
        assert run.stderr.splitlines()[-1].startswith("FileNotFoundError")
    finally:
        other.close()


def test_no_release_guessed_from_git_checkout(home: Path, sentry_server: SentryServer) -> None:
    repo = home / "work"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    code = (
        "import crashreport\n"
        f"crashreport.init('not-installed-app', dsn={sentry_server.dsn!r})\n"
        "raise SystemExit(0)\n"
    )
    run = run_python(home, "-c", code, cwd=repo, env={"NOT_INSTALLED_APP_TELEMETRY": "1"})
    assert run.returncode == 0
    [session] = sentry_server.wait_for("session")
    assert session["attrs"]["release"] == "not-installed-app@0+unknown"


def test_version_and_environment_options(home: Path, sentry_server: SentryServer) -> None:
    code = (
        "import crashreport\n"
        f"h = crashreport.init('mytool', dsn={sentry_server.dsn!r}, version='9.9', "
        "environment='beta')\n"
        "print(h.release, h.level.value, h.source.name, len(h.user_id))\n"
        "raise ValueError('x')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "on"})
    assert run.stdout == "mytool@9.9 all APP_ENV 32\n"
    [event] = sentry_server.wait_for("event")
    assert (event["release"], event["environment"]) == ("mytool@9.9", "beta")


def test_config_dsn_and_environment_win_over_the_apps(home: Path, sentry_server: SentryServer) -> None:
    write_config(home, f"telemetry:\n  collect: true\n  dsn: {sentry_server.dsn}\n"
                       "  environment: selfhosted\n")  # fmt: skip
    run = run_mytool(home, "crash", env={"MYTOOL_DSN": "http://k@127.0.0.1:9/1"})
    assert run.returncode == 1
    [event] = sentry_server.wait_for("event")
    assert event["environment"] == "selfhosted"


def test_same_user_id_across_runs(home: Path, sentry_server: SentryServer) -> None:
    env = {"MYTOOL_DSN": sentry_server.dsn, "MYTOOL_TELEMETRY": "1"}
    run_mytool(home, "hello", env=env)
    run_mytool(home, "hello", env=env)
    sessions = sentry_server.wait_for("session", 2)
    dids = {s["did"] for s in sessions}
    assert len(dids) == 1


def test_unwritable_data_folder_still_reports(home: Path, sentry_server: SentryServer) -> None:
    (home / ".local").write_text("a file where a folder should be")
    run = run_mytool(home, "crash", env={"MYTOOL_DSN": sentry_server.dsn, "MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 1
    warnings = [line for line in run.stderr.splitlines() if line.startswith("crashreport:")]
    assert len(warnings) <= 2
    [event] = sentry_server.wait_for("event")
    assert len(event["user"]["id"]) == 32


def test_app_before_send_runs_first_and_cannot_undo_scrubbing(
    home: Path, sentry_server: SentryServer
) -> None:
    code = (
        "import crashreport\n"
        "def hook(event, hint):\n"
        "    event.setdefault('tags', {})['plan'] = 'pro'\n"
        "    event['extra'] = {'note': 'ticket for alice@example.org from /home/alice/x.txt',\n"
        "                      'order': 'ORD-12345-XY'}\n"
        "    return event\n"
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r}, before_send=hook,\n"
        "                 scrub_patterns=[r'ORD-\\d+-[A-Z]+'], scrub_keys=['customer'],\n"
        "                 safe_words=['plan', 'pro'])\n"
        "import logging\n"
        "logging.getLogger('x').error('failed for %s', 'c', extra={'customer': 'ACME Corp'})\n"
        "raise RuntimeError('order ORD-99999-ZZ failed')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1", "USER": "alice"})
    assert run.returncode == 1
    events = sentry_server.wait_for("event", 2)
    crash = next(e for e in events if "exception" in e)
    assert crash["tags"]["plan"] == "pro"  # the app's hook ran
    raw = json.dumps(events)
    for secret in ("alice@example.org", "/home/alice", "ORD-12345-XY", "ORD-99999-ZZ", "ACME Corp"):
        assert secret not in raw, secret


def test_a_bad_scrub_pattern_keeps_telemetry_off(home: Path, sentry_server: SentryServer) -> None:
    code = (
        "import crashreport\n"
        f"h = crashreport.init('mytool', dsn={sentry_server.dsn!r}, scrub_patterns=['(unclosed'])\n"
        "print(h.level.value)\n"
        "raise RuntimeError('boom')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 1 and run.stdout == "off\n"
    warnings = [line for line in run.stderr.splitlines() if line.startswith("crashreport:")]
    assert len(warnings) == 1 and "scrub pattern" in warnings[0]
    assert sentry_server.requests == 0


def test_set_level_with_a_bad_value_warns_and_keeps_the_level(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    handle = crashreport.init("mytool", config={"telemetry": {"collect": False}})
    assert crashreport.set_level("loud") == handle
    err = capsys.readouterr().err.splitlines()
    assert err == ["crashreport: set_level('loud'): not one of all, errors, off; the level is unchanged"]


def test_a_garbage_app_dsn_keeps_reports_local(home: Path) -> None:
    code = "import crashreport\nprint(crashreport.init('mytool', dsn='garbage').level.value)\n"
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 0 and run.stdout == "all\n"
    warnings = [line for line in run.stderr.splitlines() if line.startswith("crashreport:")]
    assert len(warnings) == 1 and "not a Sentry DSN" in warnings[0] and "garbage" not in warnings[0]
    assert any((home / ".local/state/mytool/crashreport/outbox").glob("*.env"))
