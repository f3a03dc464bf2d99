"""Scrub speed: crashreport's privacy Scrubber against Relay's ``pii_strip_event``, same events.

``measure(repeat)`` returns events/s (best of ``repeat`` rounds) on the scrub corpus
(``tests/scrub_corpus.py``: 50-frame tracebacks with source context, 30 breadcrumbs, contexts,
extra, user, request) for ours *warm* (one process, its caches full: a long-running program or
the post-exit sender) and for Relay (Sentry's server-side scrubber, in Rust, default data
scrubbing config), and the canaries each leaves. ``cold(repeat)`` scrubs one such crash report
in a fresh process, the import of crashreport.privacy and the vocabulary (reading the source
files of the frames) included: the cost a crashing CLI pays once. Run: ``python
bench/scrub_bench.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENTS = 20

#: A fresh process at the point of capture, where the app has imported crashreport and the
#: first error loaded sentry-sdk to build the event (not timed): import crashreport.privacy,
#: gather the machine's facts and scrub the report, timed as one.
COLD = """
import json, sys, time
import crashreport, sentry_sdk
event = json.load(open(sys.argv[1]))
start = time.perf_counter()
from crashreport.privacy import Scrubber, machine_context
Scrubber(machine_context()).scrub_event(event)
print((time.perf_counter() - start) * 1e3)
"""


def _rate(run: Any, events: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return events / best


def relay_config() -> Any:
    from sentry_relay import convert_datascrubbing_config

    return convert_datascrubbing_config({"scrubData": True, "scrubDefaults": True,
                                         "scrubIpAddresses": True, "sensitiveFields": [],
                                         "excludeFields": []})  # fmt: skip


def measure(repeat: int = 5) -> dict[str, Any]:
    """Events per second and canaries left, ours (warm) and Relay's (< 15 s at repeat=5)."""
    from crashreport.privacy import Scrubber
    from tests import scrub_corpus

    context = scrub_corpus.context()
    events = scrub_corpus.corpus(EVENTS)
    scrubber = Scrubber(context)
    for event in events:  # warm: the process has seen these frames and strings once
        scrubber.scrub_event(event)

    def ours() -> None:
        for event in events:
            scrubber.scrub_event(event)

    result: dict[str, Any] = {
        "events": EVENTS,
        "frames_per_event": len(events[0]["exception"]["values"][0]["stacktrace"]["frames"]),
        "breadcrumbs_per_event": len(events[0]["breadcrumbs"]["values"]),
        "canaries": len(scrub_corpus.CANARIES),
        "ours_warm_eps": _rate(ours, EVENTS, repeat),
    }
    left: dict[str, set[str]] = {"ours": set()}
    for event in events:
        left["ours"].update(scrub_corpus.leaks(scrubber.scrub_event(event)))
    try:
        from sentry_relay import pii_strip_event

        config = relay_config()

        def relay() -> None:
            for event in events:
                pii_strip_event(config, event)

        result["relay_eps"] = _rate(relay, EVENTS, repeat)
        left["relay_default"] = set()
        for event in events:
            left["relay_default"].update(scrub_corpus.leaks(pii_strip_event(config, event)))
    except ImportError:  # sentry-relay is a test extra
        pass
    result["left"] = {name: sorted(found) for name, found in left.items()}
    return result


def cold(repeat: int = 5) -> float:
    """Milliseconds to scrub one 50-frame crash report in a fresh process (median of
    ``repeat``), import and vocabulary included."""
    import compileall

    from tests import scrub_corpus

    compileall.compile_dir(ROOT / "crashreport", quiet=1)  # as installed: byte code exists
    with tempfile.TemporaryDirectory(prefix="bench-cold-") as folder:
        path = os.path.join(folder, "event.json")
        with open(path, "w", encoding="utf-8") as f:
            json.dump(scrub_corpus.make_event(0), f)
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        times = sorted(float(subprocess.run([sys.executable, "-c", COLD, path], env=env, check=True,
                                            capture_output=True, text=True).stdout)
                       for _ in range(repeat))  # fmt: skip
    return times[len(times) // 2]


def main() -> None:
    r = measure()
    print(f"scrub throughput: {r['events']} events x {r['frames_per_event']} frames "
          f"(source context), {r['breadcrumbs_per_event']} breadcrumbs; "
          f"{r['canaries']} kinds of canary")  # fmt: skip
    print(f"{'scrubber':48} {'events/s':>9} {'canaries left':>14}")
    print(f"{'crashreport Scrubber, warm':48} {r['ours_warm_eps']:9.0f} {len(r['left']['ours']):14d}")
    if "relay_eps" in r:
        print(f"{'Relay pii_strip_event, default data scrubbing':48} {r['relay_eps']:9.0f} "
              f"{len(r['left']['relay_default']):14d}")  # fmt: skip
    for name, left in r["left"].items():
        print(f"  {name} leaves: {', '.join(left) or 'nothing'}")
    print(f"one crash report, cold in a fresh process (import + vocabulary): {cold():.1f} ms")


if __name__ == "__main__":
    main()
