"""Delivering the outbox over plain HTTP to a loopback server with faults, end to end.

The example app runs in real subprocesses: a crash while the endpoint misbehaves must leave the
host's exit code, output and time as they are, and the detached sender must deliver every report
exactly once once the server is back. (The sender's code in process: tests/test_sender.py.)
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crashreport.delivery.outbox import Outbox
from crashreport.paths import Paths

from .conftest import ROOT, Run, child_env, run_mytool, run_python, settle
from .sentry_server import SentryServer
from .test_outbox import envelope


def outbox() -> Outbox:
    paths = Paths.for_app("mytool")
    return Outbox(paths.outbox_dir, paths.sent_dir)


def on(server: SentryServer, **extra: str) -> dict[str, str]:
    return {"MYTOOL_DSN": server.dsn, "MYTOOL_TELEMETRY": "1", **extra}


def next_run(home: Path, server: SentryServer, **kwargs: float) -> Run:
    """A clean run with telemetry on, then wait for its sender to deliver what is due."""
    run = run_mytool(home, "hello", env=on(server), **kwargs)  # type: ignore[arg-type]
    settle()
    return run


def event_ids(server: SentryServer) -> list[str]:
    return [e["event_id"] for e in server.items("event")]


def queued_event_ids(box: Outbox) -> set[str]:
    entries = box.pending() + [e for e, _pid, _at in box.claimed()]
    return {e.event_id for e in entries if "event" in e.kinds and e.event_id}


def fill(box: Outbox, n: int, kind: str = "event") -> set[str]:
    ids = {uuid.uuid4().hex for _ in range(n)}
    for eid in sorted(ids):
        box.put(envelope(kind, event_id=eid), report_id=eid)
    return ids


# -- end to end: the example app in subprocesses ------------------------------------------------
def check_host_unchanged(run: Run, off: Run, *, warnings: int = 0) -> None:
    lines = run.stderr.splitlines()
    ours = [line for line in lines if line.startswith("crashreport:")]
    assert len(ours) == warnings, run.stderr
    assert [line for line in lines if not line.startswith("crashreport:")] == \
        off.stderr.splitlines()  # fmt: skip
    assert run.returncode == off.returncode
    assert run.stdout == off.stdout


@pytest.mark.parametrize("mode", ["refuse", "hang", "500", "429", "slow", "garbage", "reset"])
def test_crash_under_fault_exits_at_once_and_is_delivered_once_later(
    home: Path, sentry_server: SentryServer, mode: str
) -> None:
    off = run_mytool(home, "crash")
    sentry_server.fault(mode, retry_after=1)
    run = run_mytool(home, "crash", env=on(sentry_server), wait=False)
    check_host_unchanged(run, off)
    # nothing waits for the network: the difference is sentry-sdk's import and the event
    assert run.seconds < off.seconds + 1.5
    if mode != "slow":
        time.sleep(0.3)
        assert event_ids(sentry_server) == []
    sentry_server.fault("ok")  # (a hanging request is let go: the sender sees the connection end)
    settle()
    if mode == "429":  # the persisted 1 s limit holds the crash report; a later sender sends it
        box = outbox()
        held_until = max(max(e.not_before for e in box.pending()),
                         *box.rate_limits().values())  # fmt: skip
        assert held_until > time.time()
        assert box.due() == []
        time.sleep(held_until - time.time() + 0.05)
    next_run(home, sentry_server)  # a later run starts a sender if one is needed
    delivered = event_ids(sentry_server)
    assert len(delivered) == 1, delivered  # exactly once, whatever the fault was
    assert [s["status"] for s in sentry_server.items("session")].count("crashed") == 1
    box = outbox()
    assert box.pending() == [] and box.claimed() == []


def test_sigkill_of_the_sender_mid_send_leaves_a_queue_delivered_once(
    home: Path, sentry_server: SentryServer
) -> None:
    sentry_server.fault("hang")
    run_mytool(home, "crash", env=on(sentry_server), wait=False)
    deadline = time.monotonic() + 20
    while not outbox().claimed() and time.monotonic() < deadline:
        time.sleep(0.05)
    [(entry, pid, _at)] = outbox().claimed()  # the sender is waiting for an answer
    os.kill(pid, signal.SIGKILL)
    sentry_server.fault("ok")
    settle()
    next_run(home, sentry_server)
    assert event_ids(sentry_server) == [entry.event_id]
    assert outbox().pending() == [] and outbox().claimed() == []


def test_local_mode_keeps_reports_and_off_never_sends_them(
    home: Path, sentry_server: SentryServer
) -> None:
    off = run_mytool(home, "crash")
    local = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1"})  # no DSN
    check_host_unchanged(local, off)
    settle()
    box = outbox()
    kinds = sorted(k for e in box.pending() for k in e.kinds)
    assert kinds == ["event", "session", "transaction"]
    expected = queued_event_ids(box)
    # telemetry off (DO_NOT_TRACK wins over everything): the queue is not sent
    quiet = run_mytool(home, "hello", env={**on(sentry_server), "DO_NOT_TRACK": "1"})
    assert quiet.returncode == 0
    settle()
    time.sleep(0.3)
    assert sentry_server.requests == 0
    assert queued_event_ids(box) == expected
    # once a DSN is there and telemetry is on, the next run's sender delivers them
    next_run(home, sentry_server)
    assert event_ids(sentry_server) == sorted(expected)


def ro_command(folder: Path, *args: str) -> list[str]:
    """``args`` run with ``folder`` read-only (a private read-only bind mount when root)."""
    script = ('mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" && shift && '
              'exec "$@"')  # fmt: skip
    return ["unshare", "-m", "sh", "-c", script, "sh", str(folder), *args]


@pytest.mark.skipif(not hasattr(os, "geteuid"), reason="POSIX permissions")
def test_read_only_state_folder_sends_from_memory_with_one_warning(
    home: Path, sentry_server: SentryServer
) -> None:
    off = run_mytool(home, "crash")
    run_mytool(home, "hello", env=on(sentry_server))  # folders and id exist
    settle()
    sentry_server.clear()
    state = home / ".local" / "state"
    if os.geteuid() == 0:
        if shutil.which("unshare") is None:
            pytest.skip("root without unshare: cannot make a folder read-only")
        probe = subprocess.run(ro_command(state, "true"), capture_output=True)
        if probe.returncode != 0:
            pytest.skip("cannot make a read-only bind mount here")
        cmd = ro_command(state, sys.executable, "-m", "mytool", "crash")
    else:
        for p in [state, *state.rglob("*")]:
            if p.is_dir():
                p.chmod(0o500)
        cmd = [sys.executable, "-m", "mytool", "crash"]
    start = time.monotonic()
    proc = subprocess.run(cmd, cwd=home, env=child_env(home, **on(sentry_server)),
                          capture_output=True, text=True, timeout=30)  # fmt: skip
    run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
    if os.geteuid() != 0:
        for p in [state, *state.rglob("*")]:
            if p.is_dir():
                p.chmod(0o700)
    check_host_unchanged(run, off, warnings=1)
    assert "crashreport: cannot keep reports in" in run.stderr
    [event] = sentry_server.wait_for("event", timeout=5)
    assert event["exception"]["values"][0]["type"] == "FileNotFoundError"
    assert outbox().pending() == []


def test_planted_symlink_is_not_followed_and_reports_go_from_memory(
    home: Path, sentry_server: SentryServer
) -> None:
    off = run_mytool(home, "crash")
    elsewhere = home / "elsewhere"
    elsewhere.mkdir()
    box = outbox()
    box.directory.parent.mkdir(parents=True)
    box.directory.symlink_to(elsewhere)
    run = run_mytool(home, "crash", env=on(sentry_server), wait=False)
    check_host_unchanged(run, off, warnings=1)
    assert sentry_server.wait_for("event", timeout=5)
    # The sender cannot queue the run's records either: it leaves them for the next one and
    # exits, never spinning on them until its time is up.
    assert settle(timeout=10)
    assert list(elsewhere.iterdir()) == []


def test_a_folder_that_is_a_file_never_raises_into_the_host(
    home: Path, sentry_server: SentryServer
) -> None:
    box = outbox()
    box.directory.parent.mkdir(parents=True)
    box.directory.write_text("not a folder")
    code = ("import crashreport\n"
            f"crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
            "for kind in (ValueError, KeyError, TypeError):  # three distinct errors\n"
            "    try:\n        raise kind('m')\n"
            "    except kind:\n        crashreport.capture_exception()\n"
            "print('host carried on')\n")  # fmt: skip
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 0
    assert run.stdout == "host carried on\n"
    assert run.stderr.count("crashreport:") == 1
    assert len(sentry_server.wait_for("event", 3, timeout=5)) == 3


def test_the_outbox_and_the_sender_import_no_sentry() -> None:
    code = ("import sys, crashreport.delivery.outbox, crashreport.sender\n"
            "print('sentry_sdk' in sys.modules)")
    run = run_python(Path.cwd(), "-c", code)
    assert run.stdout.strip() == "False", run.stderr
    assert (ROOT / "crashreport" / "delivery" / "outbox.py").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_sends_from_memory_with_one_warning(
    home: Path, sentry_server: SentryServer
) -> None:
    import resource

    off = run_mytool(home, "crash")
    run_mytool(home, "hello", env=on(sentry_server))  # the id file and folders exist
    settle()
    sentry_server.clear()

    def small_files() -> None:  # any write past 100 bytes fails (EFBIG), like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (100, 100))

    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mytool", "crash"], cwd=home,
                          env=child_env(home, **on(sentry_server)), capture_output=True,
                          text=True, timeout=30, preexec_fn=small_files)  # fmt: skip
    run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
    check_host_unchanged(run, off, warnings=1)
    [event] = sentry_server.wait_for("event", timeout=5)
    assert event["exception"]["values"][0]["type"] == "FileNotFoundError"
    settle()
    assert [e for e in outbox().pending() if "event" in e.kinds] == []
    assert not [p for p in outbox().directory.iterdir() if p.name.startswith(".tmp-")]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reports_once_and_does_not_deadlock(
    home: Path, sentry_server: SentryServer
) -> None:
    code = (
        "import os, crashreport\n"
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        crashreport.capture_exception(ValueError('from a child'))\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "print('parent done')\n"
    )
    run = run_python(home, "-c", code, env=on(sentry_server), timeout=30)
    assert run.returncode == 0
    assert run.stdout == "parent done\n"
    settle()
    ids = event_ids(sentry_server)
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert len(sentry_server.items("session")) == 1  # the parent's run, once
    assert outbox().pending() == []


def test_init_bounds_the_outbox(home: Path) -> None:
    code = (
        "import crashreport, logging\n"
        "crashreport.init('mytool', max_queued=5, max_errors=None)\n"
        "for i in range(20):\n"
        "    logging.getLogger('x').error('error %d', i)\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "errors"})
    assert run.returncode == 0 and "crashreport:" not in run.stderr
    settle()
    box = outbox()
    assert 0 < len(box.pending()) <= 5
    assert box.stats()["dropped_full"] >= 15
