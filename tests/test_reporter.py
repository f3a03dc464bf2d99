"""End to end: the example app in a real subprocess, reporting to a loopback Sentry server."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import pytest

from .conftest import run_mytool, run_python
from .sentry_server import PUBLIC_KEY, SentryServer


def on(server: SentryServer, **extra: str) -> dict[str, str]:
    return {"MYTOOL_DSN": server.dsn, "MYTOOL_TELEMETRY": "1", **extra}


def test_crash_sends_event_and_crashed_session(home: Path, sentry_server: SentryServer) -> None:
    run = run_mytool(home, "crash", env=on(sentry_server))
    assert run.returncode == 1
    assert "FileNotFoundError" in run.stderr  # the host's traceback still prints
    [event] = sentry_server.wait_for("event")
    sessions = sentry_server.wait_for("session")
    user_id = json.loads((home / ".local/share/mytool/user_id.json").read_text())["user_id"]

    assert event["release"] == "mytool@1.4.2"
    assert event["environment"] == "production"
    assert event["tags"]["subcommand"] == "crash"
    assert event["tags"]["python"] == platform.python_version()
    assert event["user"] == {"id": user_id}
    assert "server_name" not in event
    assert event["contexts"]["packages"]["mytool"] == "1.4.2"
    [exc] = event["exception"]["values"]
    assert exc["type"] == "FileNotFoundError"
    assert exc["mechanism"]["handled"] is False
    assert any(f["function"] == "parse_report" for f in exc["stacktrace"]["frames"])
    assert sessions[-1]["status"] == "crashed"
    assert sessions[-1]["did"] == user_id
    assert sessions[-1]["attrs"]["release"] == "mytool@1.4.2"
    raw = json.dumps(event)
    assert "alice" not in raw and platform.node() not in raw


def test_clean_run_sends_exited_session(home: Path, sentry_server: SentryServer) -> None:
    run = run_mytool(home, "hello", env=on(sentry_server))
    assert run.returncode == 0 and run.stdout == "hello from mytool\n" and run.stderr == ""
    sessions = sentry_server.wait_for("session")
    assert sessions[-1]["status"] == "exited"
    assert sentry_server.items("event") == []


def test_off_sends_nothing_writes_nothing_imports_nothing(home: Path, sentry_server: SentryServer) -> None:
    code = (
        "import sys, crashreport\n"
        f"h = crashreport.init('mytool', dsn={sentry_server.dsn!r}, config='~/cfg.yaml')\n"
        "print(h.level.value, 'sentry_sdk' in sys.modules)\n"
        "raise RuntimeError('boom')\n"
    )
    (home / "cfg.yaml").write_text("telemetry:\n  collect: false\n")
    before = sorted(p for p in home.rglob("*"))
    run = run_python(home, "-c", code)
    assert run.returncode == 1
    assert run.stdout == "off False\n"
    assert sorted(p for p in home.rglob("*")) == before
    assert sentry_server.requests == 0


PLAIN_SDK_CRASH = """
import sys, sentry_sdk
sentry_sdk.init(dsn=sys.argv[2], release="mytool@1.4.2", environment="production",
                traces_sample_rate=1.0)
if sys.argv[1] == "all":  # as crashreport's run: a transaction on the scope
    run = sentry_sdk.start_transaction(name="crash", op="cli.run", source="custom")
    sentry_sdk.get_current_scope().span = run
raise FileNotFoundError("no such file")
"""


def crash_trace_header(server: SentryServer) -> tuple[dict[str, str], dict[str, object]]:
    [envelope] = [e for e in server.envelopes if e.of_type("event")]
    [event] = envelope.of_type("event")
    return envelope.headers["trace"], event


@pytest.mark.parametrize("level", ["all", "errors"])
def test_crash_trace_header_is_complete_as_sentry_sdks_own(
    home: Path, sentry_server: SentryServer, level: str
) -> None:
    """Relay discards a trace header without the DSN's public key: crashreport's is the one
    sentry-sdk's own HTTP transport sends for the same crash (values of this run, same keys)."""
    run_python(home, "-c", PLAIN_SDK_CRASH, level, sentry_server.dsn)
    sentry_server.wait_for("event")
    plain, _ = crash_trace_header(sentry_server)
    sentry_server.clear()
    (home / "cfg.yaml").write_text(f"telemetry:\n  collect: {'true' if level == 'all' else 'errors'}\n")
    run_mytool(home, "crash", env={"MYTOOL_DSN": sentry_server.dsn,
                                   "MYTOOL_CONFIG": str(home / "cfg.yaml")})  # fmt: skip
    sentry_server.wait_for("event")
    ours, event = crash_trace_header(sentry_server)
    assert ours.keys() == plain.keys()
    assert ours["public_key"] == PUBLIC_KEY  # the key of sentry_server.dsn
    assert (ours["release"], ours["environment"]) == ("mytool@1.4.2", "production")
    assert ours["trace_id"] == event["contexts"]["trace"]["trace_id"]  # type: ignore[index]
    if level == "all":
        assert (ours["transaction"], ours["sampled"]) == ("crash", "true")
