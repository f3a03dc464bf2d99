"""Measure crashreport against plain sentry-sdk in one run and print a table.

Every row alternates ours and the baseline, several repetitions each, in fresh processes with
a throw-away HOME, against loopback endpoints only. ``python -m bench`` (about a minute);
``--quick`` runs one repetition of each (the smoke test uses it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.sentry_server import SentryServer  # noqa: E402

CONFIG = "telemetry:\n  collect: {collect}\n"

OURS_INIT = (
    "import crashreport\n"
    "crashreport.init('mytool', dsn={dsn!r}, config={config!r}, subcommand='bench')\n"
)
PLAIN_INIT = "import sentry_sdk\nsentry_sdk.init(dsn={dsn!r})\n"
CRASH = "raise FileNotFoundError(2, 'No such file', {path!r})\n"
#: A crash 50 frames deep (the user's code, then json's), as in the scrub rows' reports.
CRASH_50 = ("import json\n"
            "def dive(n):\n"
            "    return dive(n - 1) if n else json.loads('{{\"broken\": ')\n"
            "dive(46)\n")
# Peak RSS of the program itself: VmHWM of its own address space, read last at exit
# (ru_maxrss would also count the forked bench process before exec).
REPORT_MEMORY = (
    "import atexit\n"
    "def _hwm():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            print('hwm', line.split()[1])\n"
    "atexit.register(_hwm)\n"
)


@dataclass
class Sample:
    seconds: float
    stdout: str

    @property
    def hwm_kib(self) -> int:
        """The peak RSS the program printed (REPORT_MEMORY), in KiB."""
        lines = [line for line in self.stdout.splitlines() if line.startswith("hwm ")]
        return int(lines[-1].split()[1]) if lines else 0


def run(code: str, home: Path, timeout: float = 30) -> Sample:
    """Run ``python -c code`` in a fresh process with ``home`` as HOME; wall time and output."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SENTRY_", "MYTOOL_", "XDG_")) and k not in ("CI", "DO_NOT_TRACK")}
    env.update(HOME=str(home), PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "examples/mytool")]))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env, cwd=home,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read().decode()
    proc.wait()
    return Sample(time.perf_counter() - start, out)


def fresh_home(collect: str | None = None) -> tuple[Path, str]:
    home = Path(tempfile.mkdtemp(prefix="bench-home-"))
    config = home / "config.yaml"
    if collect is not None:
        config.write_text(CONFIG.format(collect=collect))
    return home, str(config)


def alternate(reps: int, ours: Callable[[], Sample], base: Callable[[], Sample]
              ) -> tuple[list[Sample], list[Sample]]:
    a, b = [], []
    for _ in range(reps):
        a.append(ours())
        b.append(base())
    return a, b


def median(samples: list[Sample], attr: str = "seconds") -> float:
    return float(statistics.median(getattr(s, attr) for s in samples))


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--quick", action="store_true", help="one repetition of each row")
    parser.add_argument("--json", action="store_true", help="print the rows as JSON too")
    parser.add_argument("--loop", type=int, default=None,
                        help="runs of the loop row (default 1000; 5 with --quick)")
    args = parser.parse_args()
    # Like an installed package (pip byte-compiles at install time, as it did sentry-sdk), so
    # that no run pays for compiling our sources, whatever PYTHONDONTWRITEBYTECODE says.
    import compileall

    for folder in (ROOT / "crashreport", ROOT / "examples" / "mytool" / "mytool"):
        compileall.compile_dir(folder, quiet=1)
    reps = 1 if args.quick else 15
    crash_reps = 1 if args.quick else 3
    rows: list[dict[str, object]] = []

    def row(what: str, ours: float, base: float, unit: str, target: str, ok: bool, note: str = "",
            baseline: str = "plain sentry-sdk") -> None:
        rows.append({"what": what, "ours": ours, "baseline": base, "unit": unit,
                     "ratio": ours / base if base else float("nan"), "target": target,
                     "met": ok, "note": note, "against": baseline})

    server = SentryServer()
    try:
        # 1. start-up, telemetry off
        home, config = fresh_home("false")
        off_code = OURS_INIT.format(dsn=server.dsn, config=config) + (
            "import sys; print('sentry_sdk' in sys.modules)\n")
        ours, base = alternate(reps, lambda: run(off_code, home),
                               lambda: run("import yaml, platformdirs", home))
        imported = any(s.stdout.strip() != "False" for s in ours)
        r = median(ours) / median(base)
        row("start-up, telemetry off", median(ours) * 1e3, median(base) * 1e3, "ms",
            "≤ 1.25x, sentry_sdk not imported", r <= 1.25 and not imported,
            "sentry_sdk imported!" if imported else "sentry_sdk not imported")

        # 2. start-up, telemetry on, reachable endpoint
        home, config = fresh_home("true")
        on_code = OURS_INIT.format(dsn=server.dsn, config=config)
        ours, base = alternate(reps, lambda: run(on_code, home),
                               lambda: run(PLAIN_INIT.format(dsn=server.dsn), home))
        r = median(ours) / median(base)
        row("start-up, telemetry on", median(ours) * 1e3, median(base) * 1e3, "ms",
            "≤ 1.2x (aim ≤ 1.0x)", r <= 1.2)

        # 3 and 4. crash exit, endpoint hangs / refuses; then a next run with it healthy
        for label, fault, target, limit in (
            ("crash exit, endpoint never answers", "hang", "≤ 0.1x, 0 lost", 0.1),
            ("crash exit, connection refused", "refuse", "≤ 1.1x, 0 lost", 1.1),
        ):
            lost_ours = lost_base = 0
            ours_s, base_s = [], []
            for _ in range(crash_reps):
                bad = SentryServer()
                if fault == "hang":
                    bad.fault("hang")
                    dsn = bad.dsn
                else:
                    dsn = f"http://public0key@127.0.0.1:{closed_port()}/1"
                    bad.close()
                home, config = fresh_home("true")
                # The crash's mark: a word the run tells crashreport is its own (a subcommand and
                # a safe word), since anything else of the run leaves only as a placeholder.
                marker = "bench" + "".join(chr(97 + int(d)) for d in str(time.time_ns()))
                ours_s.append(run(OURS_INIT.format(dsn=dsn, config=config).replace(
                    "subcommand='bench'", f"subcommand={marker!r}, safe_words=[{marker!r}]")
                    + CRASH.format(path=marker), home))  # fmt: skip
                base_home = Path(tempfile.mkdtemp(prefix="bench-home-"))
                base_s.append(run(PLAIN_INIT.format(dsn=dsn) + CRASH.format(path=marker + "-plain"),
                                  base_home))
                if fault == "hang":
                    bad.close()
                # The next run of each, with a healthy endpoint: is the earlier crash delivered?
                before = len(server.items("event"))
                run(OURS_INIT.format(dsn=server.dsn, config=config).replace("subcommand='bench'",
                                                                            "subcommand='next'"),
                    home)
                run(PLAIN_INIT.format(dsn=server.dsn), base_home)
                server.wait_for("event", before + 1, timeout=3)
                sent = [json.dumps(e) for e in server.items("event")]
                lost_ours += 0 if any(marker in e and "-plain" not in e for e in sent) else 1
                lost_base += 0 if any(marker + "-plain" in e for e in sent) else 1
            r = median(ours_s) / median(base_s)
            row(label, median(ours_s) * 1e3, median(base_s) * 1e3, "ms", target,
                r <= limit and lost_ours == 0, f"lost: ours {lost_ours}, sentry-sdk {lost_base}")

        # 5. scrubbing: one crash report cold (against the program's whole crash exit), and warm
        # throughput against Relay's pii_strip_event (Sentry's Rust scrubber), same events
        try:
            from bench.scrub_bench import cold, measure

            home, config = fresh_home("true")
            crash_exit = median([run(OURS_INIT.format(dsn=server.dsn, config=config) + CRASH_50, home)
                                 for _ in range(crash_reps)])
            cold_ms = cold(crash_reps if args.quick else 7)
            row("scrub one crash report (50 frames), cold in a fresh process, vocabulary included",
                cold_ms, crash_exit * 1e3, "ms", "≤ 0.1x of the program's crash exit",
                cold_ms <= 0.1 * crash_exit * 1e3, "baseline: that program's whole crash exit",
                baseline="its crash exit")
            m = measure(1 if args.quick else 3)
            left = m["left"]
            row("scrub throughput, warm, vs Relay pii_strip_event", m["ours_warm_eps"],
                m.get("relay_eps", float("nan")), "events/s", "≥ 1x, no canary left",
                m["ours_warm_eps"] >= m.get("relay_eps", 0) and not left["ours"],
                f"canaries left of {m['canaries']}: " + ", ".join(f"{k} {len(v)}" for k, v in left.items()),
                baseline="Relay")
        except ImportError:
            pass

        # 6. peak memory, telemetry on (a crash reported to a healthy endpoint)
        home, config = fresh_home("true")
        ours, base = alternate(max(3, reps // 3),
                               lambda: run(REPORT_MEMORY + OURS_INIT.format(dsn=server.dsn, config=config)
                                           + CRASH.format(path="m"), home),
                               lambda: run(REPORT_MEMORY + PLAIN_INIT.format(dsn=server.dsn)
                                           + CRASH.format(path="m"), home))
        r = median(ours, "hwm_kib") / median(base, "hwm_kib")
        row("peak memory, telemetry on (a crash reported)", median(ours, "hwm_kib") / 1024,
            median(base, "hwm_kib") / 1024, "MiB", "≤ 1.1x", r <= 1.1)

        # 7. a run's life: clean-run cost, delivery after exit, every run counted once, a loop
        from bench.lifecycle import main_rows

        main_rows(row, quick=args.quick, loop=args.loop or (5 if args.quick else 1000))
    finally:
        server.close()

    print(f"crashreport benchmark — Python {sys.version.split()[0]}, "
          f"{'quick, 1 repetition' if args.quick else f'{reps} repetitions (crash rows {crash_reps})'}")
    print()
    print("| what | crashreport | baseline | against | ratio | target | met | note |")
    print("|---|---|---|---|---|---|---|---|")
    for r_ in rows:
        ratio = f"{r_['ratio']:.2f}x" if r_["baseline"] else "—"
        print(f"| {r_['what']} | {r_['ours']:.1f} {r_['unit']} | {r_['baseline']:.1f} {r_['unit']} "
              f"| {r_['against']} | {ratio} | {r_['target']} | {'yes' if r_['met'] else 'NO'} "
              f"| {r_['note']} |")
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
