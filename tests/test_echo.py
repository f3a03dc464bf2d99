"""Echo mode: CRASHREPORT_DEBUG=1 shows each scrubbed envelope on stderr as it is queued."""

from __future__ import annotations

import socket
from pathlib import Path

from crashreport.delivery.echo import enabled, format_envelope

from .conftest import run_mytool


def test_echo_prints_the_scrubbed_payload(home: Path) -> None:
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "CRASHREPORT_DEBUG": "1",
                                         "USER": "alice"})  # fmt: skip
    assert run.returncode == 1
    err = run.stderr
    assert err.count("crashreport: queued envelope") >= 2  # the crash, the session (and the run)
    assert "--- event ---" in err and "--- session ---" in err
    assert '"release": "mytool@1.4.2"' in err
    assert '"subcommand": "crash"' in err
    # The host's own traceback is all there, unchanged; the rest is the echo, scrubbed.
    traceback = run_mytool(home, "crash").stderr
    assert traceback in err
    echoed = err.replace(traceback, "")
    for secret in (str(home), socket.gethostname(), "alice"):
        assert secret not in echoed


def test_no_echo_without_the_variable(home: Path) -> None:
    run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1", "CRASHREPORT_DEBUG": "0"})
    assert "crashreport:" not in run.stderr


def test_enabled_and_format() -> None:
    assert enabled({"CRASHREPORT_DEBUG": "1"}) and enabled({"CRASHREPORT_DEBUG": "yes"})
    assert not enabled({}) and not enabled({"CRASHREPORT_DEBUG": "false"})
    data = b'{"event_id":"e1"}\n{"type":"event","length":11}\n{"a": "b"}\n\n{"type":"x"}\n\x00\xff\n'
    text = format_envelope(data)
    assert '"event_id":"e1"' in text and '--- event ---\n{\n  "a": "b"\n}' in text
    assert "--- x ---\n<2 bytes>" in text
