"""Every run counted exactly once in release health, at no cost to the run.

Real subprocesses, real signals and a loopback server that can answer slowly: a clean run never
imports sentry-sdk nor waits for the network; the sender after it is detached and holds nothing
of the program's; at most one sender runs; every run arrives as exactly one session, killed runs
as ``abnormal``, a segfault as ``crashed`` with its event.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from crashreport.paths import Paths

from .conftest import as_from_a_terminal, child_env, run_mytool, run_python, settle
from .processes import SenderWatch, senders_of
from .sentry_server import SentryServer
from .test_delivery import on, outbox

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc")


def sessions_by_sid(server: SentryServer) -> dict[str, list[dict[str, object]]]:
    out: dict[str, list[dict[str, object]]] = {}
    for s in server.items("session"):
        out.setdefault(str(s["sid"]), []).append(s)
    return out


# -- no cost -------------------------------------------------------------------------------------
CLEAN = textwrap.dedent("""
    import sys, crashreport
    crashreport.init("mytool", dsn={dsn!r})
    with crashreport.track("step"):
        crashreport.count("things", 2)
    import atexit
    atexit.register(lambda: print("sentry_sdk" in sys.modules))  # runs after crashreport's
""")


def test_a_clean_run_imports_no_sentry_sdk_and_waits_for_no_network(
    home: Path, sentry_server: SentryServer
) -> None:
    code = CLEAN.format(dsn=sentry_server.dsn)
    healthy = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert (healthy.returncode, healthy.stdout, healthy.stderr) == (0, "False\n", "")
    [txn] = sentry_server.items("transaction")
    assert txn["contexts"]["trace"]["data"]["counters"] == {"things": 2}
    sentry_server.fault("hang")
    hanging = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"}, wait=False)
    assert (hanging.returncode, hanging.stdout) == (0, "False\n")
    # The run is over before any answer (none comes): exit time is the same as when healthy.
    assert hanging.seconds < healthy.seconds + 0.5
    sentry_server.fault("ok")


def test_a_caller_reading_the_output_does_not_wait_for_the_sender(
    home: Path, sentry_server: SentryServer
) -> None:
    sentry_server.fault("hang")  # the sender will wait 30 s for an answer
    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "mytool", "crash"], cwd=home,
                            env=child_env(home, **on(sentry_server)), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.PIPE)  # fmt: skip
    _, err = proc.communicate(timeout=20)  # EOF on both pipes: nobody else holds them
    assert time.monotonic() - start < 5
    assert proc.returncode == 1 and b"FileNotFoundError" in err
    deadline = time.monotonic() + 10
    while not senders_of(home) and time.monotonic() < deadline:
        time.sleep(0.05)
    [pid] = senders_of(home)
    fds = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        with contextlib.suppress(FileNotFoundError):  # a file the sender has closed meanwhile
            fds.add(os.readlink(f"/proc/{pid}/fd/{fd}"))
    assert not [fd for fd in fds if fd.startswith("pipe:")], fds  # no pipe of the caller
    stat_sender = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(stat_sender[16]) == 19  # the lowest priority: it never slows the user's work
    assert int(stat_sender[3]) == pid  # its own session (setsid): a closed terminal's SIGHUP
    sentry_server.fault("ok")  # does not reach it; then it delivers and exits
    settle()
    assert len(sentry_server.items("event")) == 1


# -- exactly once ---------------------------------------------------------------------------------
LINGER = textwrap.dedent("""
    import os, sys, time, crashreport
    crashreport.init("mytool", dsn={dsn!r})
    print("ready", flush=True)
    how = sys.argv[1]
    if how == "segfault":
        import ctypes
        ctypes.string_at(0)
    elif how == "abort":
        os.abort()
    elif how == "os_exit":
        os._exit(0)
    time.sleep(60)
""")


def linger(home: Path, server: SentryServer, how: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen([sys.executable, "-c", LINGER.format(dsn=server.dsn), how], cwd=home,
                            env=child_env(home, MYTOOL_TELEMETRY="1"), stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, preexec_fn=as_from_a_terminal)  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    proc.stdout.close()
    return proc


@pytest.mark.slow
def test_twenty_runs_three_killed_one_segfault_each_counted_once(
    home: Path, sentry_server: SentryServer
) -> None:
    """The issue's target: 20 runs against a 200 ms endpoint, SIGKILL, SIGTERM, SIGKILL and a
    segfault: every run arrives as exactly one session, ``init: true`` once per session."""
    sentry_server.latency = 0.2
    watch = SenderWatch(home)
    kinds = ["hello", "crash", "fail", "hello"] * 5
    for args in kinds:
        run_mytool(home, args, env=on(sentry_server), wait=False)
    killed = []
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGKILL):
        proc = linger(home, sentry_server, "sleep")
        proc.send_signal(sig)
        proc.wait(timeout=10)
        killed.append(proc)
    segv = linger(home, sentry_server, "segfault")
    assert segv.wait(timeout=10) == -signal.SIGSEGV
    run_mytool(home, "hello", env=on(sentry_server), wait=False)  # a later run reports them
    settle(timeout=60)
    assert watch.stop() == 1  # never more than one sender alive
    sessions = sessions_by_sid(sentry_server)
    assert len(sessions) == 20 + 3 + 1 + 1
    assert all(len(updates) == 1 and updates[0]["init"] is True for updates in sessions.values())
    statuses = sorted(str(u[0]["status"]) for u in sessions.values())
    assert statuses.count("abnormal") == 3
    assert statuses.count("crashed") == 5 + 1
    [fatal] = [e for e in sentry_server.items("event") if e.get("level") == "fatal"]
    assert fatal["exception"]["values"][0]["type"] == "SIGSEGV"
    assert fatal["exception"]["values"][0]["mechanism"]["handled"] is False
    frames = fatal["exception"]["values"][0]["stacktrace"]["frames"]
    assert [f["function"] for f in frames][-1] == "string_at"  # the crashing call, last
    assert len(sentry_server.items("event")) == 5 + 1  # the five crashes and the segfault
    assert sentry_server.max_concurrent == 1
    assert outbox().pending() == []
    assert not list(Paths.for_app("mytool").runs_dir.glob("*.json"))


@pytest.mark.parametrize(("how", "status"), [("os_exit", "abnormal"), ("abort", "crashed"),
                                             ("sighup", "abnormal")])  # fmt: skip
def test_a_run_without_atexit_is_reported_by_the_next_sender(
    home: Path, sentry_server: SentryServer, how: str, status: str
) -> None:
    proc = linger(home, sentry_server, "sleep" if how == "sighup" else how)
    if how == "sighup":  # the terminal closed
        proc.send_signal(signal.SIGHUP)
    proc.wait(timeout=10)
    run_mytool(home, "hello", env=on(sentry_server))
    statuses = sorted(str(u[0]["status"]) for u in sessions_by_sid(sentry_server).values())
    assert statuses == sorted([status, "exited"])
    fatal = [e for e in sentry_server.items("event") if e.get("level") == "fatal"]
    if how == "abort":
        [event] = fatal
        assert event["exception"]["values"][0]["type"] == "SIGABRT"
        assert "Aborted" in event["exception"]["values"][0]["value"]
        assert event["release"] == "mytool@1.4.2"
    else:
        assert fatal == []


def test_a_live_run_is_left_alone_until_it_ends(home: Path, sentry_server: SentryServer) -> None:
    proc = linger(home, sentry_server, "sleep")
    try:
        run_mytool(home, "hello", env=on(sentry_server))
        assert [str(u[0]["status"]) for u in sessions_by_sid(sentry_server).values()] == ["exited"]
        assert len(list(Paths.for_app("mytool").runs_dir.glob("*.json"))) == 1  # still running
    finally:
        proc.kill()
        proc.wait()


def test_a_host_that_enabled_faulthandler_keeps_its_own(
    home: Path, sentry_server: SentryServer
) -> None:
    code = LINGER.format(dsn=sentry_server.dsn)
    run = run_python(home, "-X", "faulthandler", "-c", code, "segfault",
                     env={"MYTOOL_TELEMETRY": "1"})  # fmt: skip
    assert run.returncode == -signal.SIGSEGV
    assert "Fatal Python error: Segmentation fault" in run.stderr  # where the host wanted it
    run_mytool(home, "hello", env=on(sentry_server))
    statuses = sorted(str(u[0]["status"]) for u in sessions_by_sid(sentry_server).values())
    assert statuses == ["abnormal", "exited"]  # counted, though its stack went elsewhere


def test_a_run_record_too_old_for_sentry_is_dropped_not_sent(
    home: Path, sentry_server: SentryServer
) -> None:
    proc = linger(home, sentry_server, "sleep")
    proc.kill()
    proc.wait()
    [record_path] = Paths.for_app("mytool").runs_dir.glob("*.json")
    record = json.loads(record_path.read_text())
    record["started"] -= 6 * 24 * 3600  # Relay drops session updates older than 5 days
    record_path.write_text(json.dumps(record))
    run_mytool(home, "hello", env=on(sentry_server))
    assert [str(u[0]["status"]) for u in sessions_by_sid(sentry_server).values()] == ["exited"]
    assert outbox().stats()["dropped_old"] == 1


# -- switching off, echo, no sender possible ---------------------------------------------------
def test_set_level_off_pauses_every_sender_until_switched_back_on(
    home: Path, sentry_server: SentryServer
) -> None:
    code = textwrap.dedent(f"""
        import sys, crashreport
        crashreport.init("mytool", dsn={sentry_server.dsn!r})
        crashreport.set_level(sys.argv[1])
    """)
    sentry_server.fault("refuse")
    run_mytool(home, "crash", env=on(sentry_server))  # one crash queued, not delivered
    assert len(outbox().pending()) == 3
    sentry_server.fault("ok")
    run_python(home, "-c", code, "off", env={"MYTOOL_TELEMETRY": "1"})
    assert Paths.for_app("mytool").paused.exists()
    run_mytool(home, "hello", env=on(sentry_server))
    assert sentry_server.requests == 0  # paused: not even the backlog goes
    run_python(home, "-c", code, "all", env={"MYTOOL_TELEMETRY": "1"})
    assert not Paths.for_app("mytool").paused.exists()
    run_mytool(home, "hello", env=on(sentry_server))
    assert len(sentry_server.items("event")) == 1
    # the run that switched itself off sent nothing of its own; the run switched back on did
    assert len(sessions_by_sid(sentry_server)) == 4  # five runs, the one switched off not counted


def test_echo_mode_prints_this_runs_reports_on_stderr(home: Path) -> None:
    run = run_mytool(home, "hello", env={"MYTOOL_TELEMETRY": "1", "CRASHREPORT_DEBUG": "1"})
    assert run.returncode == 0
    assert "--- session ---" in run.stderr and "--- transaction ---" in run.stderr
    assert '"status": "exited"' in run.stderr


def test_where_no_sender_can_start_the_exit_sends_within_its_bound(
    home: Path, sentry_server: SentryServer
) -> None:
    """A frozen app's sys.executable is the app itself: it sends in-process, bounded."""
    code = textwrap.dedent(f"""
        import sys
        sys.frozen = True
        import crashreport
        crashreport.init("mytool", dsn={sentry_server.dsn!r}, exit_timeout=2)
        raise RuntimeError("frozen crash")
    """)
    watch = SenderWatch(home)
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert watch.stop() == 0
    assert run.returncode == 1 and "RuntimeError: frozen crash" in run.stderr
    assert [e["exception"]["values"][0]["value"] for e in sentry_server.items("event")] == \
        ["frozen crash"]  # fmt: skip
    assert [s["status"] for s in sentry_server.items("session")] == ["crashed"]
    sentry_server.fault("hang")
    hang = run_python(home, "-c", code.replace("exit_timeout=2", "exit_timeout=0.3"),
                      env={"MYTOOL_TELEMETRY": "1"}, wait=False)  # fmt: skip
    assert hang.seconds < run.seconds + 1.5  # the bound holds against a server that hangs
    sentry_server.fault("ok")


# -- what the user is told ----------------------------------------------------------------------
def crashreport_cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "crashreport", "--app", "mytool", *args],
                          cwd=home, env=child_env(home, MYTOOL_TELEMETRY="1"),
                          capture_output=True, text=True, timeout=60)  # fmt: skip


def test_a_wrong_dsn_key_shows_up_in_status_and_show(
    home: Path, sentry_server: SentryServer
) -> None:
    sentry_server.fault("403")  # what Sentry and Bugsink answer to an unknown key
    run_mytool(home, "crash", env=on(sentry_server))
    status = crashreport_cli(home, "status").stdout
    assert "queued       0" in status
    assert "3 refused by the server" in status
    assert "last refusal HTTP 403" in status and "check the DSN's key" in status
    show = crashreport_cli(home, "show").stdout
    assert "dropped: 3 refused by the server" in show and "HTTP 403" in show


def test_send_and_status_agree_about_held_reports(home: Path, sentry_server: SentryServer) -> None:
    sentry_server.fault("429", retry_after=3600)
    run_mytool(home, "crash", env=on(sentry_server))
    status = crashreport_cli(home, "status").stdout
    held = outbox().limited()
    assert len(held) == 2  # the crash report and the session wait; the usage record is dropped
    assert f"queued       {len(held)} ({len(held)} held by the server's rate limit)" in status
    send = crashreport_cli(home, "--dsn", sentry_server.dsn, "send")
    assert f"held {len(held)} (the server's rate limit)" in send.stdout
    assert "kept 0" in send.stdout
    assert send.returncode == 0


def test_the_sender_imports_crashreport_as_the_program_did_never_from_the_cwd(home: Path) -> None:
    """A ``yaml.py`` or a ``crashreport/`` folder in the folder the program ran in is never
    imported by the sender (``python -m`` would put that folder first on its path)."""
    from crashreport.run.launch import command

    cwd = home / "work"
    (cwd / "crashreport").mkdir(parents=True)
    (cwd / "crashreport" / "__init__.py").write_text("raise SystemExit(7)\n")
    (cwd / "yaml.py").write_text("open('planted-yaml-ran', 'w').close()\n")
    (home / "cfg.yaml").write_text("telemetry:\n  collect: true\n")  # the sender reads it
    run = subprocess.run([*command(), "--app", "mytool", "--level", "all", "--config",
                          str(home / "cfg.yaml"), "--seconds", "1"], cwd=cwd,
                         env=child_env(home), capture_output=True, text=True, timeout=60)  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert not (cwd / "planted-yaml-ran").exists()


def test_a_program_never_waits_for_a_sender_even_a_stopped_one(
    home: Path, sentry_server: SentryServer
) -> None:
    """A sender is a low-priority process that any other work may hold up at any moment: a
    program that ends meanwhile must not wait for it, and its run is still counted once."""
    sentry_server.latency = 1.0  # the first sender is busy long enough to be caught
    env = on(sentry_server)
    run_mytool(home, "hello", env=env, wait=False)
    deadline = time.monotonic() + 10
    mine: list[int] = []
    while not mine and time.monotonic() < deadline:
        mine = senders_of(home)
        time.sleep(0.01)
    assert mine, "no sender started"
    os.kill(mine[0], signal.SIGSTOP)
    try:
        started = time.monotonic()
        second = run_mytool(home, "hello", env=env, wait=False)
        took = time.monotonic() - started
    finally:
        os.kill(mine[0], signal.SIGCONT)
    assert second.returncode == 0
    assert took < 5.0  # a run takes a fraction of a second; a wait would last until SIGCONT
    assert settle(timeout=30)
    sessions = sessions_by_sid(sentry_server)
    assert len(sessions) == 2 and all(len(v) == 1 for v in sessions.values())
