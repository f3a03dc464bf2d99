"""Sending the outbox through sentry-sdk's real HTTP transport to a loopback server with faults.

In-process tests drive :func:`send_pending`; end-to-end tests run the example app in real
subprocesses: a crash while the endpoint misbehaves must leave the host's exit code and stderr
as they are, exit in bounded time, and the next run must deliver every report exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crashreport.delivery import SendResult, restamp, send_pending
from crashreport.delivery.outbox import Outbox
from crashreport.paths import Paths

from .conftest import ROOT, Run, child_env, run_mytool, run_python
from .sentry_server import SentryServer
from .test_outbox import envelope


def outbox() -> Outbox:
    paths = Paths.for_app("mytool")
    return Outbox(paths.outbox_dir, paths.sent_dir)


def on(server: SentryServer, **extra: str) -> dict[str, str]:
    return {"MYTOOL_DSN": server.dsn, "MYTOOL_TELEMETRY": "1", **extra}


def patient(home: Path, server: SentryServer) -> dict[str, str]:
    """The next run, allowed to wait at exit until the backlog is sent (exit_timeout: 5)."""
    config = home / "patient.yaml"
    config.write_text("telemetry:\n  collect: true\n  exit_timeout: 5\n")
    return on(server, MYTOOL_CONFIG=str(config))


def event_ids(server: SentryServer) -> list[str]:
    return [e["event_id"] for e in server.items("event")]


def queued_event_ids(box: Outbox) -> set[str]:
    entries = box.pending() + [e for e, _pid, _at in box.claimed()]
    return {e.event_id for e in entries if "event" in e.kinds and e.event_id}


def fill(box: Outbox, n: int) -> set[str]:
    ids = {uuid.uuid4().hex for _ in range(n)}
    for eid in sorted(ids):
        box.put(envelope(event_id=eid))
    return ids


# -- in process: send_pending -------------------------------------------------------------------
def test_send_pending_uses_sentrys_transport_and_keeps_a_sent_log(
    sentry_server: SentryServer,
) -> None:
    box = outbox()
    ids = fill(box, 3)
    calls: list[tuple[int, int]] = []
    result = send_pending(box, sentry_server.dsn, timeout=2,
                          progress=lambda done, total: calls.append((done, total)))  # fmt: skip
    assert result == SendResult(sent=3, kept=0, dropped=0)
    assert set(event_ids(sentry_server)) == ids
    assert len(event_ids(sentry_server)) == 3
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert box.pending() == []
    assert {e.event_id for e in box.sent()} == ids
    assert box.stats()["sent"] == 3
    first = sentry_server.envelopes[0]
    assert "sentry_key=public0key" in first.request_headers["x-sentry-auth"]
    assert first.request_headers["user-agent"].startswith("sentry.python/")
    assert first.request_headers["content-encoding"] == "gzip"
    assert "sent_at" in first.headers


@pytest.mark.parametrize("mode", ["refuse", "500", "garbage", "reset", "hang"])
def test_send_pending_keeps_everything_when_the_server_fails(
    sentry_server: SentryServer, mode: str
) -> None:
    box = outbox()
    ids = fill(box, 3)
    sentry_server.fault(mode)
    start = time.monotonic()
    result = send_pending(box, sentry_server.dsn, timeout=0.5)
    assert time.monotonic() - start < 3  # one short-timeout attempt, then it stops
    assert result == SendResult(sent=0, kept=3, dropped=0)
    assert {e.event_id for e in box.pending()} == ids
    assert sum(e.attempts for e in box.pending()) == 1
    sentry_server.fault("ok")
    assert send_pending(box, sentry_server.dsn, timeout=2) == SendResult(3, 0, 0)
    assert sorted(event_ids(sentry_server)) == sorted(ids)


@pytest.mark.parametrize("mode", ["400", "413"])
def test_send_pending_drops_on_4xx_and_counts(sentry_server: SentryServer, mode: str) -> None:
    box = outbox()
    fill(box, 2)
    sentry_server.fault(mode)
    assert send_pending(box, sentry_server.dsn, timeout=2) == SendResult(0, 0, 2)
    assert box.pending() == []
    assert box.stats()["dropped_4xx"] == 2


def test_429_is_honoured_by_later_runs_too(sentry_server: SentryServer) -> None:
    box = outbox()
    ids = fill(box, 2)
    sentry_server.fault("429", retry_after=60)
    assert send_pending(box, sentry_server.dsn, timeout=2) == SendResult(0, 2, 0)
    assert sentry_server.requests == 1
    sentry_server.fault("ok")
    # a fresh Outbox (as in the next run) sees the persisted limit and sends nothing
    assert send_pending(outbox(), sentry_server.dsn, timeout=2) == SendResult(0, 0, 0)
    assert sentry_server.requests == 1
    assert {e.event_id for e in box.pending()} == ids
    assert all(e.attempts == 0 for e in box.pending())  # a 429 is not a failed attempt


def test_restamp_sets_sent_at_to_the_sending_time() -> None:
    data = envelope()
    out = restamp(data, now=0)
    head, _, rest = out.partition(b"\n")
    assert json.loads(head)["sent_at"] == "1970-01-01T00:00:00.000000Z"
    assert rest == data.partition(b"\n")[2]
    assert restamp(b"not json\nx") == b"not json\nx"


# -- end to end: the example app in subprocesses -------------------------------------------------
def check_host_unchanged(run: Run, off: Run, *, warnings: int = 0) -> None:
    lines = run.stderr.splitlines()
    ours = [line for line in lines if line.startswith("crashreport:")]
    assert len(ours) == warnings, run.stderr
    assert [line for line in lines if not line.startswith("crashreport:")] == \
        off.stderr.splitlines()  # fmt: skip
    assert run.returncode == off.returncode
    assert run.stdout == off.stdout


@pytest.mark.parametrize("mode", ["refuse", "hang", "500", "429", "slow", "garbage", "reset"])
def test_crash_under_fault_exits_fast_and_the_next_run_delivers(
    home: Path, sentry_server: SentryServer, mode: str
) -> None:
    off = run_mytool(home, "crash")
    sentry_server.fault(mode, retry_after=1)
    run = run_mytool(home, "crash", env=on(sentry_server))
    check_host_unchanged(run, off)
    assert run.seconds < off.seconds + 1.5  # the exit waits 0.25 s, not sentry-sdk's 2 s
    box = outbox()
    expected = queued_event_ids(box)
    if mode != "slow":
        assert len(expected) == 1
        assert event_ids(sentry_server) == []
    if mode == "429":  # the persisted rate limit (1 s) holds the queue; it must pass first
        not_before = max(e.not_before for e in box.pending())
        assert not_before > time.time()
        assert box.due() == []
        time.sleep(not_before - time.time() + 0.05)
    sentry_server.fault("ok")
    run_mytool(home, "hello", env=patient(home, sentry_server))
    delivered = event_ids(sentry_server)
    if mode == "slow":  # the server took the first copy before its answer timed out
        assert len(set(delivered)) == 1
    else:
        assert sorted(delivered) == sorted(expected)  # every report exactly once
    assert "crashed" in [s["status"] for s in sentry_server.items("session")]
    assert box.pending() == []
    assert box.claimed() == []


def test_sigkill_during_a_send_leaves_a_queue_the_next_run_delivers(
    home: Path, sentry_server: SentryServer
) -> None:
    sentry_server.fault("hang")
    code = ("import crashreport, sentry_sdk, time\n"
            f"crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
            "try:\n    1/0\nexcept ZeroDivisionError:\n    sentry_sdk.capture_exception()\n"
            "time.sleep(60)\n")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=home,
                            env=child_env(home, MYTOOL_TELEMETRY="1"))  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while sentry_server.requests < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sentry_server.requests >= 1  # the send is in flight
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    box = outbox()
    assert len(box.claimed()) == 1  # left claimed by a dead process
    expected = queued_event_ids(box)
    sentry_server.fault("ok")
    run_mytool(home, "hello", env=patient(home, sentry_server))
    assert event_ids(sentry_server) == sorted(expected)
    assert box.pending() == []
    assert box.claimed() == []


def test_two_processes_drain_one_outbox_without_duplicates(
    home: Path, sentry_server: SentryServer
) -> None:
    ids = fill(outbox(), 40)
    env = child_env(home, **patient(home, sentry_server))
    procs = [subprocess.Popen([sys.executable, "-m", "mytool", "hello"], cwd=home, env=env,
                              stdout=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
    for p in procs:
        assert p.wait(timeout=60) == 0
    delivered = [e for e in event_ids(sentry_server) if e in ids]
    assert sorted(delivered) == sorted(ids)  # each exactly once
    assert outbox().pending() == []
    assert outbox().stats()["sent"] >= 40


def test_send_pending_in_two_processes_sends_each_once(
    home: Path, sentry_server: SentryServer
) -> None:
    ids = fill(outbox(), 40)
    code = ("from crashreport.delivery import send_pending\n"
            "from crashreport.delivery.outbox import Outbox\nfrom crashreport.paths import Paths\n"
            "p = Paths.for_app('mytool')\n"
            "box = Outbox(p.outbox_dir, p.sent_dir)\n"
            f"print(send_pending(box, {sentry_server.dsn!r}, timeout=5).sent)\n"
            )  # fmt: skip
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=home, env=child_env(home),
                              stdout=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    sent = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(sent) == 40
    assert sorted(event_ids(sentry_server)) == sorted(ids)


def test_local_mode_keeps_reports_and_off_never_sends_them(
    home: Path, sentry_server: SentryServer
) -> None:
    off = run_mytool(home, "crash")
    local = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1"})  # no DSN
    check_host_unchanged(local, off)
    box = outbox()
    kinds = sorted(k for e in box.pending() for k in e.kinds)
    assert kinds == ["event", "session", "transaction"]
    expected = queued_event_ids(box)
    # telemetry off (DO_NOT_TRACK wins over everything): the queue is not sent
    quiet = run_mytool(home, "hello", env={**patient(home, sentry_server), "DO_NOT_TRACK": "1"})
    assert quiet.returncode == 0
    time.sleep(0.3)
    assert sentry_server.requests == 0
    assert queued_event_ids(box) == expected
    # once a DSN is there and telemetry is on, the next run delivers them
    run_mytool(home, "hello", env=patient(home, sentry_server))
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
    run = run_mytool(home, "crash", env=on(sentry_server))
    check_host_unchanged(run, off, warnings=1)
    assert sentry_server.wait_for("event", timeout=5)
    assert list(elsewhere.iterdir()) == []


def test_in_process_sending_never_raises_into_the_host_when_the_folder_is_a_file(
    home: Path, sentry_server: SentryServer
) -> None:
    box = outbox()
    box.directory.parent.mkdir(parents=True)
    box.directory.write_text("not a folder")
    code = ("import crashreport, sentry_sdk\n"
            f"crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
            "for i in range(3):\n    sentry_sdk.capture_message('m%d' % i, level='error')\n"
            "print('host carried on')\n")  # fmt: skip
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 0
    assert run.stdout == "host carried on\n"
    assert run.stderr.count("crashreport:") == 1
    assert len(sentry_server.wait_for("event", 3, timeout=5)) == 3


def test_outbox_root_is_importable_without_sentry() -> None:
    code = "import sys, crashreport.outbox; print('sentry_sdk' in sys.modules)"
    run = run_python(Path.cwd(), "-c", code)
    assert run.stdout.strip() == "False"
    assert (ROOT / "crashreport" / "outbox.py").exists()


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_FSIZE is POSIX")
def test_full_disk_sends_from_memory_with_one_warning(
    home: Path, sentry_server: SentryServer
) -> None:
    import resource

    off = run_mytool(home, "crash")
    run_mytool(home, "hello", env=on(sentry_server))  # the id file and folders exist
    sentry_server.clear()

    def small_files() -> None:  # any write past 1000 bytes fails (EFBIG), like a full disk
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))

    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "mytool", "crash"], cwd=home,
                          env=child_env(home, **on(sentry_server)), capture_output=True,
                          text=True, timeout=30, preexec_fn=small_files)  # fmt: skip
    run = Run(proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)
    check_host_unchanged(run, off, warnings=1)
    [event] = sentry_server.wait_for("event", timeout=5)
    assert event["exception"]["values"][0]["type"] == "FileNotFoundError"
    assert [e for e in outbox().pending() if "event" in e.kinds] == []
    assert not [p for p in outbox().directory.iterdir() if p.name.startswith(".tmp-")]


def test_courier_flush_is_bounded_with_a_hanging_endpoint(sentry_server: SentryServer) -> None:
    from crashreport.delivery import Courier, EnvelopeSender

    box = outbox()
    sentry_server.fault("hang")
    courier = Courier(box, lambda: EnvelopeSender.for_dsn(sentry_server.dsn, 5), drain=False)
    entry = box.put(envelope())
    assert entry is not None
    courier.submit(entry)
    start = time.monotonic()
    courier.flush(0.3)
    assert time.monotonic() - start < 1.0
    courier.kill()
    # still on disk (claimed by this live process), so nothing is lost
    assert [e.event_id for e, _pid, _at in box.claimed()] == [entry.event_id]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_reports_once_and_does_not_deadlock(
    home: Path, sentry_server: SentryServer
) -> None:
    code = (
        "import os, crashreport, sentry_sdk\n"
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
        "for _ in range(3):\n"
        "    pid = os.fork()\n"
        "    if pid == 0:\n"
        "        sentry_sdk.capture_message('from a child', level='error')\n"
        "        os._exit(0)\n"
        "    os.waitpid(pid, 0)\n"
        "print('parent done')\n"
    )
    env = patient(home, sentry_server)
    run = run_python(home, "-c", code, env=env, timeout=30)
    assert run.returncode == 0
    assert run.stdout == "parent done\n"
    run_mytool(home, "hello", env=env)  # delivers what a child left claimed when it ended
    ids = event_ids(sentry_server)
    assert len(ids) == 3
    assert len(set(ids)) == 3
    assert outbox().pending() == []


def test_send_pending_skips_backoff_but_not_rate_limits(sentry_server: SentryServer) -> None:
    box = outbox()
    [eid] = fill(box, 1)
    [entry] = box.pending()
    claim = box.claim(entry)
    assert claim is not None
    box.retry(claim, time.time() + 3600)  # backing off after failures
    assert box.due() == []
    assert send_pending(box, sentry_server.dsn, timeout=2) == SendResult(1, 0, 0)
    assert event_ids(sentry_server) == [eid]
    fill(box, 1)
    box.limit({"error": time.time() + 3600})  # the server asked us to hold errors
    assert send_pending(box, sentry_server.dsn, timeout=2) == SendResult(0, 0, 0)
    assert len(box.pending()) == 1


def test_init_bounds_the_outbox(home: Path) -> None:
    code = (
        "import crashreport, logging\n"
        "crashreport.init('mytool', max_queued=5, exit_timeout=0, max_errors=None)\n"
        "for i in range(20):\n"
        "    logging.getLogger('x').error('error %d', i)\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "errors"})
    assert run.returncode == 0 and "crashreport:" not in run.stderr
    box = outbox()
    assert 0 < len(box.pending()) <= 5
    assert box.stats()["dropped_full"] >= 15
