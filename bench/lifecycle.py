"""Benchmark rows of a run's life: what telemetry costs a clean run, how soon a run's reports
arrive after it exits, and whether every run is counted once (issue 13's targets).

Each row runs real processes of the example app (``python -m mytool``) in a throw-away HOME
against loopback servers (tests/sentry_server.py), telemetry on against the same command with
telemetry off (or plain sentry-sdk), alternating. A run with telemetry on starts a sender after
it exits; the next measured run starts only once that sender is done (outside the timing), so
that a sender never competes with the run being timed.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

from tests.conftest import settle as wait_for_sender  # noqa: E402
from tests.processes import SenderWatch  # noqa: E402
from tests.sentry_server import SentryServer  # noqa: E402

Row = Callable[..., None]

#: The app, with a note at its very end (after crashreport's own exit work) of whether sentry-sdk
#: was ever imported.
APP = ("import atexit, runpy, sys\n"
       "atexit.register(lambda: sys.stderr.write('sentry_sdk: %s\\n' % ('sentry_sdk' in sys.modules)))\n"
       "sys.argv = ['mytool', *sys.argv[1:]]\n"
       "runpy.run_module('mytool', run_name='__main__', alter_sys=True)\n")  # fmt: skip

PLAIN_SESSION_APP = textwrap.dedent("""
    import os, sys, time, sentry_sdk
    sentry_sdk.init(dsn=os.environ["MYTOOL_DSN"], release="mytool@1.4.2")
    sentry_sdk.get_isolation_scope().start_session()
    how = sys.argv[1]
    if how == "sleep":
        print("ready", flush=True); time.sleep(60)
    elif how == "segfault":
        import ctypes; print("ready", flush=True); ctypes.string_at(0)
    elif how == "crash":
        raise FileNotFoundError(2, "No such file", "x")
    elif how == "fail":
        sys.exit(3)
""")

OURS_LINGER = textwrap.dedent("""
    import os, sys, time, crashreport
    crashreport.init("mytool", dsn=os.environ["MYTOOL_DSN"])
    print("ready", flush=True)
    if sys.argv[1] == "segfault":
        import ctypes; ctypes.string_at(0)
    time.sleep(60)
""")


def env_for(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SENTRY_", "MYTOOL_", "XDG_")) and k not in ("CI", "DO_NOT_TRACK")}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "examples/mytool")]))
    env.update(extra)
    return env


def new_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="bench-home-")) / "home" / "alice"
    home.mkdir(parents=True)
    return home


def settle(home: Path, timeout: float = 60.0) -> None:
    """Wait until no sender of mytool works in ``home`` (the tests' own wait)."""
    wait_for_sender(timeout=timeout, home=home)


def timed(cmd: list[str], env: dict[str, str], cwd: Path) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - start, proc.stderr


def clean_run_rows(row: Row, reps: int) -> None:
    """A clean run with telemetry on against the same run with it off, endpoint near and far."""
    for label, latency in (("loopback endpoint", 0.0), ("endpoint answers after 200 ms", 0.2)):
        server = SentryServer()
        server.latency = latency
        home = new_home()
        on = env_for(home, MYTOOL_DSN=server.dsn, MYTOOL_TELEMETRY="1")
        off = env_for(home, MYTOOL_DSN=server.dsn, MYTOOL_TELEMETRY="0")
        cmd = [sys.executable, "-c", APP, "hello"]
        timed(cmd, on, home)  # the anonymous id and the folders exist from here on
        settle(home)
        ours, base, imported = [], [], False
        try:
            for _ in range(reps):
                seconds, err = timed(cmd, on, home)
                ours.append(seconds)
                imported |= "sentry_sdk: True" in err
                settle(home)
                base.append(timed(cmd, off, home)[0])
            settle(home)
            sessions = len(server.items("session"))
        finally:
            server.close()
        ratio = statistics.median(ours) / statistics.median(base)
        row(f"clean run, telemetry on vs off ({label})", statistics.median(ours) * 1e3,
            statistics.median(base) * 1e3, "ms", "≤ 1.05x, sentry_sdk not imported",
            ratio <= 1.05 and not imported,
            f"sentry_sdk {'IMPORTED' if imported else 'not imported'}; {sessions} of "
            f"{reps + 1} sessions arrived", baseline="telemetry off")  # fmt: skip


def delivery_row(row: Row, reps: int) -> None:
    """How long after a crashing run exits all its reports (event, session, usage record) are
    at a healthy server."""
    server = SentryServer()
    home = new_home()
    env = env_for(home, MYTOOL_DSN=server.dsn, MYTOOL_TELEMETRY="1")
    delays = []
    try:
        for _ in range(reps):
            server.clear()
            subprocess.run([sys.executable, "-m", "mytool", "crash"], env=env, cwd=home,
                           capture_output=True, timeout=60)  # fmt: skip
            exited = time.perf_counter()
            for kind in ("event", "session", "transaction"):
                server.wait_for(kind, 1, timeout=30)
            delays.append(time.perf_counter() - exited)
            settle(home)
    finally:
        server.close()
    worst = max(delays)
    row("a run's reports all delivered, after it exits (healthy endpoint)",
        statistics.median(delays) * 1e3, 0.0, "ms", "≤ 2 s", worst <= 2.0,
        f"worst {worst * 1e3:.0f} ms; plain sentry-sdk delivers before exit, holding the exit",
        baseline="—")  # fmt: skip


def counted_once_row(row: Row, runs: int) -> None:
    """``runs`` runs against an endpoint 200 ms away, then 3 killed (SIGKILL, SIGTERM, SIGKILL)
    and one segfault: sessions that arrive, each once, for crashreport and plain sentry-sdk."""
    results = {}
    for who in ("ours", "plain"):
        server = SentryServer()
        server.latency = 0.2
        home = new_home()
        env = env_for(home, MYTOOL_DSN=server.dsn, MYTOOL_TELEMETRY="1")
        watch = SenderWatch(home)
        linger = OURS_LINGER if who == "ours" else PLAIN_SESSION_APP
        kinds = (["hello", "crash", "fail", "hello"] * runs)[:runs]
        for kind in kinds:
            if who == "ours":
                cmd = [sys.executable, "-m", "mytool", kind]
            else:
                cmd = [sys.executable, "-c", PLAIN_SESSION_APP, kind]
            subprocess.run(cmd, env=env, cwd=home, capture_output=True, timeout=60)
        for how, sig in (("sleep", signal.SIGKILL), ("sleep", signal.SIGTERM),
                         ("sleep", signal.SIGKILL), ("segfault", None)):  # fmt: skip
            proc = subprocess.Popen([sys.executable, "-c", linger, how], env=env, cwd=home,
                                    stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            assert proc.stdout is not None
            proc.stdout.readline()
            proc.stdout.close()
            if sig is not None:
                proc.send_signal(sig)
            proc.wait(timeout=30)
        if who == "ours":
            subprocess.run([sys.executable, "-m", "mytool", "hello"], env=env, cwd=home,
                           capture_output=True, timeout=60)  # whose sender reports the last ones
            settle(home)
        time.sleep(1.0)
        updates: dict[str, int] = {}
        for s in server.items("session"):
            if s.get("init"):
                updates[str(s["sid"])] = updates.get(str(s["sid"]), 0) + 1
        statuses = [str(s.get("status")) for s in server.items("session") if s.get("init")]
        results[who] = (len(updates), sum(n > 1 for n in updates.values()), statuses,
                        watch.stop())  # fmt: skip
        server.close()
    total = runs + 4 + 1  # the runs, 3 killed, 1 segfault, and the run that reports them
    counted, doubled, statuses, senders = results["ours"]
    ok = counted == total and doubled == 0 and statuses.count("abnormal") == 3 and senders <= 1
    row(f"runs counted once ({runs} runs, 200 ms endpoint, 3 killed, 1 segfault)", counted,
        results["plain"][0], "sessions", f"all {total}, none twice, killed abnormal", ok,
        f"ours: {statuses.count('abnormal')} abnormal, {statuses.count('crashed')} crashed, "
        f"{doubled} doubled, at most {senders} sender alive; plain sentry-sdk: "
        f"{results['plain'][0]} of {total - 1}", baseline="plain sentry-sdk")  # fmt: skip


LOOP = textwrap.dedent("""
    import subprocess, sys, time
    n, cmd = int(sys.argv[1]), sys.argv[2:]
    start = time.perf_counter()
    for _ in range(n):
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    print(time.perf_counter() - start)
""")


def loop_row(row: Row, n: int) -> None:
    """A script that runs the app ``n`` times in a loop, telemetry on against off."""
    server = SentryServer()
    home = new_home()
    cmd = [sys.executable, "-c", LOOP, str(n), sys.executable, "-m", "mytool", "hello"]
    try:
        seconds: dict[str, float] = {}
        for level in ("0", "1"):  # off first: nothing of it is left for the sender to do
            env = env_for(home, MYTOOL_DSN=server.dsn, MYTOOL_TELEMETRY=level)
            watch = SenderWatch(home) if level == "1" else None
            out = subprocess.run(cmd, env=env, cwd=home, capture_output=True, text=True,
                                 timeout=3600)  # fmt: skip
            seconds[level] = float(out.stdout.strip())
            if watch is not None:
                settle(home, timeout=600)
                senders = watch.stop()
        sids: dict[str, int] = {}
        for s in server.items("session"):
            sids[str(s["sid"])] = sids.get(str(s["sid"]), 0) + 1
    finally:
        server.close()
    ratio = seconds["1"] / seconds["0"]
    once = len(sids) == n and all(v == 1 for v in sids.values())
    row(f"{n} runs in a loop, telemetry on vs off", seconds["1"], seconds["0"], "s",
        "≤ 1.05x, one sender at most, every session once", ratio <= 1.05 and once and senders <= 1,
        f"{len(sids)} of {n} sessions arrived, {sum(v > 1 for v in sids.values())} twice; "
        f"at most {senders} sender alive", baseline="telemetry off")  # fmt: skip


def main_rows(row: Row, *, quick: bool, loop: int) -> None:
    clean_run_rows(row, 1 if quick else 15)
    delivery_row(row, 1 if quick else 5)
    counted_once_row(row, 2 if quick else 20)
    loop_row(row, loop)


if __name__ == "__main__":  # python -m bench.lifecycle: these rows alone
    rows: list[dict[str, Any]] = []

    def _row(what: str, ours: float, base: float, unit: str, target: str, ok: bool,
             note: str = "", baseline: str = "") -> None:  # fmt: skip
        rows.append({"what": what, "ours": ours, "baseline": base, "unit": unit, "target": target,
                     "met": ok, "note": note, "against": baseline})
        print(json.dumps(rows[-1]), flush=True)

    main_rows(_row, quick="--quick" in sys.argv, loop=int(os.environ.get("BENCH_LOOP", "1000")))
