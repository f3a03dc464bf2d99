"""Scrub throughput: crashreport's Scrubber against sentry-sdk's EventScrubber, same events.

``measure(repeat)`` returns events/s (best of ``repeat`` rounds) and the canaries each scrubber
leaves in the corpus (``tests/scrub_corpus.py``: 50-frame tracebacks with source context, 30
breadcrumbs, contexts, extra, user, request). Ours is measured *cold* (a new Scrubber per event,
as in a CLI process that reports one crash: no cache carried over) and *warm* (one Scrubber for
all events: repeated strings come from its cache). EventScrubber works in place, so each round
scrubs fresh deep copies made before the clock starts. Relay (Sentry's server-side scrubber,
default config) is counted for canaries only. Run: ``python bench/scrub_bench.py``.
"""

from __future__ import annotations

import copy
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EVENTS = 20


def _rate(run: Any, events: int, repeat: int, prepare: Any = None) -> float:
    best = float("inf")
    for _ in range(repeat):
        state = prepare() if prepare is not None else None
        start = time.perf_counter()
        run(state)
        best = min(best, time.perf_counter() - start)
    return events / best


def measure(repeat: int = 5) -> dict[str, Any]:
    """Events per second and canaries left, for ours and the baselines (< 15 s at repeat=5)."""
    from sentry_sdk.scrubber import EventScrubber

    from crashreport.privacy import Scrubber
    from tests import scrub_corpus

    context = scrub_corpus.context()
    events = scrub_corpus.corpus(EVENTS)

    def ours_cold(_state: Any) -> None:
        for event in events:
            Scrubber(context).scrub_event(event)

    def ours_warm(_state: Any) -> None:
        scrubber = Scrubber(context)
        for event in events:
            scrubber.scrub_event(event)

    def copies() -> list[dict[str, Any]]:
        return [copy.deepcopy(e) for e in events]

    def sdk(recursive: bool) -> Any:
        def run(state: list[dict[str, Any]]) -> None:
            scrubber = EventScrubber(recursive=recursive)
            for event in state:
                scrubber.scrub_event(event)  # type: ignore[arg-type]

        return run

    Scrubber(context).scrub_event(events[0])  # compile the shared regex cache once
    result: dict[str, Any] = {
        "events": EVENTS,
        "frames_per_event": len(events[0]["exception"]["values"][0]["stacktrace"]["frames"]),
        "breadcrumbs_per_event": len(events[0]["breadcrumbs"]["values"]),
        "canaries": len(scrub_corpus.CANARIES),
        "ours_cold_eps": _rate(ours_cold, EVENTS, repeat),
        "ours_warm_eps": _rate(ours_warm, EVENTS, repeat),
        "sdk_default_eps": _rate(sdk(False), EVENTS, repeat, copies),
        "sdk_recursive_eps": _rate(sdk(True), EVENTS, repeat, copies),
    }
    result["left"] = _canaries_left(events)
    return result


def _canaries_left(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Distinct canaries (of :data:`tests.scrub_corpus.CANARIES`) each scrubber leaves."""
    from sentry_sdk.scrubber import EventScrubber

    from crashreport.privacy import Scrubber
    from tests import scrub_corpus

    left: dict[str, set[str]] = {"ours": set(), "sdk_default": set(), "sdk_recursive": set()}
    scrubber = Scrubber(scrub_corpus.context())
    for event in events:
        left["ours"].update(scrub_corpus.leaks(scrubber.scrub_event(event)))
        for name, recursive in (("sdk_default", False), ("sdk_recursive", True)):
            mine = copy.deepcopy(event)
            EventScrubber(recursive=recursive).scrub_event(mine)  # type: ignore[arg-type]
            left[name].update(scrub_corpus.leaks(mine))
    try:
        from sentry_relay import convert_datascrubbing_config, pii_strip_event

        config = convert_datascrubbing_config({"scrubData": True, "scrubDefaults": True,
                                               "scrubIpAddresses": True, "sensitiveFields": [],
                                               "excludeFields": []})  # fmt: skip
        left["relay_default"] = set()
        for event in events:
            left["relay_default"].update(scrub_corpus.leaks(pii_strip_event(config, event)))
    except ImportError:  # sentry-relay is a test extra
        pass
    return {name: sorted(found) for name, found in left.items()}


def main() -> None:
    r = measure()
    print(f"scrub throughput: {r['events']} events x {r['frames_per_event']} frames "
          f"(source context), {r['breadcrumbs_per_event']} breadcrumbs; "
          f"{r['canaries']} kinds of canary")  # fmt: skip
    sdk = r["sdk_default_eps"]
    rows = [
        ("crashreport Scrubber, cold (new per event)", r["ours_cold_eps"], r["left"]["ours"]),
        ("crashreport Scrubber, warm (one for all)", r["ours_warm_eps"], r["left"]["ours"]),
        ("sentry-sdk EventScrubber()", sdk, r["left"]["sdk_default"]),
        ("sentry-sdk EventScrubber(recursive=True)", r["sdk_recursive_eps"],
         r["left"]["sdk_recursive"]),
    ]  # fmt: skip
    print(f"{'scrubber':45} {'events/s':>9} {'vs sdk':>7} {'canaries left':>14}")
    for name, eps, left in rows:
        print(f"{name:45} {eps:9.0f} {eps / sdk:6.2f}x {len(left):14d}")
    if "relay_default" in r["left"]:
        print(f"{'Relay default data scrubbing (server side)':45} {'-':>9} {'-':>7} "
              f"{len(r['left']['relay_default']):14d}")  # fmt: skip
    for name, left in r["left"].items():
        print(f"  {name} leaves: {', '.join(left) or 'nothing'}")


if __name__ == "__main__":
    main()
