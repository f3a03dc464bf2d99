"""Messages rebuilt from live objects at capture: OSError, CalledProcessError, log records."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from crashreport.privacy import exception_value, log_message, structure_breadcrumb, structure_event

from .conftest import run_python
from .sentry_server import SentryServer

HOME = "/home/zoë.müller-lüdenscheid"


def raised(make: object) -> BaseException:
    try:
        make()  # type: ignore[operator]
    except BaseException as exc:
        return exc
    raise AssertionError("did not raise")


@pytest.mark.parametrize(("exc", "expected"), [
    (FileNotFoundError(2, "No such file or directory", f"{HOME}/Steuer 2026/Arztbrief Zoë.pdf"),
     "[Errno 2] No such file or directory: '<path>.pdf'"),
    (PermissionError(13, "Permission denied", Path(f"{HOME}/Belege"), None, f"{HOME}/x.csv"),
     "[Errno 13] Permission denied: '<path>' -> '<path>.csv'"),
    (ConnectionRefusedError(111, "Connection refused"), "[Errno 111] Connection refused"),
    (OSError("cannot open /home/zoe/x"), None),  # no errno: the text rules apply
    (subprocess.CalledProcessError(128, ["/usr/bin/git", "push", "-u", "zoe:Geheim123!"]),
     "Command 'git …' returned non-zero exit status 128."),
    (subprocess.CalledProcessError(-9, "rsync -a ~/Kunden backup:"),
     "Command 'rsync …' died with signal 9."),
    (subprocess.TimeoutExpired(["curl", "-u", "zoe:pw"], 5), "Command 'curl …' timed out after 5 seconds"),
    (ValueError("anything"), None),
])  # fmt: skip
def test_exception_value(exc: BaseException, expected: str | None) -> None:
    assert exception_value(exc) == expected


def record(msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord("app", logging.ERROR, "app.py", 1, msg, args or None, None)


def test_log_message_keeps_the_format_string_and_checks_each_argument() -> None:
    assert log_message(record("cannot read %s for %s (%d tries)", Path(f"{HOME}/a.csv"),
                              "zoe@example.org", 3)) == "cannot read <path>.csv for zoe@example.org (3 tries)"
    assert log_message(record("in %s", f"{HOME}/Acme GmbH/Steuer 2026")) == "in <path>"
    assert log_message(record("got %r", b"secret bytes")) == "got '<text>'"
    assert log_message(record("%(user)s failed", {"user": "C:\\Users\\Zoë"})) == "<path> failed"
    assert log_message(record("no arguments")) is None
    assert log_message(record("broken %d", "x")) is None  # a bad format: the text rules apply


def test_structure_event_replaces_only_what_it_can_rebuild() -> None:
    exc = raised(lambda: Path(f"{HOME}/Steuer 2026/Arztbrief Zoë.pdf").read_bytes())
    chained = raised(lambda: _reraise(exc))
    event = {"exception": {"values": [
        {"type": "FileNotFoundError", "value": str(exc)},
        {"type": "RuntimeError", "value": str(chained)},
    ]}, "logentry": {"message": "in %s", "params": [HOME], "formatted": f"in {HOME}"}}  # fmt: skip
    hint = {"exc_info": (type(chained), chained, chained.__traceback__),
            "log_record": record("in %s", HOME)}
    out = structure_event(event, hint)
    assert out["exception"]["values"][0]["value"] == "[Errno 2] No such file or directory: '<path>.pdf'"
    assert out["exception"]["values"][1]["value"] == "wrapped"
    assert out["logentry"] == {"message": "in %s", "formatted": "in <path>"}
    crumb = structure_breadcrumb({"message": f"in {HOME}"}, {"log_record": record("in %s", HOME)})
    assert crumb["message"] == "in <path>"


def _reraise(exc: BaseException) -> None:
    raise RuntimeError("wrapped") from exc


def test_structure_never_raises_on_odd_hints() -> None:
    event = {"exception": {"values": "odd"}, "logentry": None}
    assert structure_event(event, {"exc_info": "odd", "log_record": 3}) == event
    assert structure_event(event, None) == event


CRASH = """
import crashreport, logging, subprocess, sys
crashreport.init("mytool", dsn={dsn!r})
logging.getLogger("mytool").error("cannot read %s", "{home}/Kunden/Acme GmbH/Steuer 2026/x.csv")
subprocess.run([sys.executable, "-c", "raise SystemExit(3)", "-u", "zoe:Geheim123!"], check=True)
"""


def test_the_reporter_rebuilds_messages_at_capture(home: Path, sentry_server: SentryServer) -> None:
    """The current reporter's before_send/before_breadcrumb call the structured helpers: the
    argv of a CalledProcessError and a logged path never reach the transport whole."""
    code = CRASH.format(dsn=sentry_server.dsn, home=home)
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "errors"})
    assert run.returncode == 1
    events = sentry_server.wait_for("event", 2)
    logged = next(e for e in events if "logentry" in e and "exception" not in e)
    assert logged["logentry"]["formatted"] == "cannot read <path>.csv"
    crash = next(e for e in events if "exception" in e)
    program = Path(sys.executable).name
    assert crash["exception"]["values"][-1]["value"] == (
        f"Command '{program} …' returned non-zero exit status 3.")
    assert crash["breadcrumbs"]["values"][-1]["message"] == "cannot read <path>.csv"
    raw = json.dumps(events)
    assert "Geheim123" not in raw and "Kunden" not in raw
