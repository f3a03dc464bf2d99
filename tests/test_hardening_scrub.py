"""Scrubber fuzz with hostile payloads: cycles, huge strings, non-string keys, bytes, 1000-deep
nesting, objects whose ``str`` raises or leaks.

The promise under attack: the scrubber never raises into the SDK, returns in bounded time, and
no canary survives (a value it cannot handle is dropped or replaced, never passed on raw).
test_scrub.py holds the properties on well-formed events; this file adds the hostile shapes.
"""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crashreport.privacy import Scrubber

from .conftest import run_python
from .sentry_server import SentryServer
from .strategies import CANARIES, PLANTED, context, events, examples, leaks

#: Examples per property (the README's Reliability table counts them).
EXAMPLES = 150


class Raises:
    """An object whose str() and repr() raise (a broken __repr__ in the host's code)."""

    def __str__(self) -> str:
        raise RuntimeError("broken __str__")

    __repr__ = __str__


class Leaks:
    """An object whose repr() is personal."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def cyclic_dict(text: str) -> dict[Any, Any]:
    d: dict[Any, Any] = {"text": text}
    d["self"] = d
    d["inner"] = {"back": d, "list": [d, text]}
    return d


def cyclic_list(text: str) -> list[Any]:
    lst: list[Any] = [text]
    lst.append(lst)
    return lst


def deep_dict(text: str, depth: int = 1000) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["k"] = {}
        node = node["k"]
    node["leaf"] = text
    return root


def deep_list(text: str, depth: int = 1000) -> list[Any]:
    root: list[Any] = []
    node = root
    for _ in range(depth):
        child: list[Any] = []
        node.append(child)
        node = child
    node.append(text)
    return root


#: Builders of hostile values around a canary text.
HOSTILE: dict[str, Callable[[str], Any]] = {
    "cyclic_dict": cyclic_dict,
    "cyclic_list": cyclic_list,
    "deep_dict": deep_dict,
    "deep_list": deep_list,
    "bytes": lambda t: t.encode(),
    "bytearray": lambda t: bytearray(t.encode()),
    "latin1_bytes": lambda t: t.encode("utf-8") + b"\xff\xfe",
    "int_keys": lambda t: {1: t, 2.5: t, None: t, -7: t},
    "tuple_key": lambda t: {(1, t): t},
    "bytes_key": lambda t: {t.encode(): t},
    "obj_key": lambda t: {Leaks(t): t},
    "raises": lambda t: Raises(),
    "raises_key": lambda t: {Raises(): t},
    "leaks": Leaks,
    "set": lambda t: {t},
    "tuple": lambda t: (t, (t,)),
    "frozenset": lambda t: frozenset({t}),
    "nan": lambda t: [float("nan"), float("inf"), t],
    "big_int": lambda t: [10**400, t],
}

#: Where in an event a hostile value is put.
SPOTS = ("extra", "contexts", "tags", "breadcrumb", "frame_vars", "exception_value", "top")


def inject(event: dict[str, Any], spot: str, key: str, value: Any) -> None:
    if spot == "extra":
        event["extra"][key] = value
    elif spot == "contexts":
        event["contexts"].setdefault("hostile", {})[key] = value
    elif spot == "tags":
        event["tags"][key] = value
    elif spot == "breadcrumb":
        event["breadcrumbs"]["values"].append({"message": "m", "data": {key: value}})
    elif spot == "frame_vars":
        event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"] = {key: value}
    elif spot == "exception_value":
        event["exception"]["values"][0]["value"] = value
    else:
        event[key] = value


def rendered(payload: Any) -> str:
    """What a serializer would see: JSON with anything unknown as its str() (or a marker)."""

    def fallback(o: Any) -> str:
        try:
            return str(o)
        except Exception:
            return "<unprintable>"

    return json.dumps(payload, default=fallback, ensure_ascii=False)


@settings(max_examples=examples(EXAMPLES), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])  # fmt: skip
@given(
    event=events(),
    hostile=st.lists(
        st.tuples(st.sampled_from(sorted(HOSTILE)), st.sampled_from(SPOTS),
                  st.sampled_from(PLANTED)),
        min_size=1,
        max_size=4,
    ),
)
def test_hostile_values_anywhere_never_raise_and_never_leak(
    event: dict[str, Any], hostile: list[tuple[str, str, str]]
) -> None:
    for i, (kind, spot, text) in enumerate(hostile):
        inject(event, spot, f"h{i}_{kind}", HOSTILE[kind](text))
    scrubber = Scrubber(context())
    start = time.perf_counter()
    out = scrubber.scrub_event(event)  # must not raise
    assert time.perf_counter() - start < 10
    assert leaks(out) == []
    json.loads(rendered(out))  # a plain JSON tree: no cycle, nothing unprintable left
    assert scrubber.scrub_event(out) == out  # and stable


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_each_hostile_kind_alone_is_handled(kind: str) -> None:
    """One deterministic case per kind, with every canary text (a readable failure)."""
    scrubber = Scrubber(context())
    for text in PLANTED:
        out = scrubber.scrub({"value": HOSTILE[kind](text), "k": [HOSTILE[kind](text)]})
        assert leaks(out) == [], (kind, text, rendered(out)[:300])
        json.loads(rendered(out))


TEN_MIB = 10 * 1024 * 1024


@pytest.mark.slow
@pytest.mark.parametrize("where", ["start", "middle", "end", "everywhere"])
def test_ten_mib_strings_are_bounded_in_time_and_never_leak(where: str) -> None:
    canary = "carol99@example.net ghp_A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8 /home/alice/x "
    filler = "lorem ipsum "
    n = TEN_MIB // len(filler)
    if where == "start":
        text = canary + filler * n
    elif where == "end":
        text = filler * n + canary
    elif where == "middle":
        text = filler * (n // 2) + canary + filler * (n // 2)
    else:
        text = (canary + filler) * (TEN_MIB // (len(canary) + len(filler)))
    event = {"message": text, "extra": {"big": text, text[: 2 * len(canary)]: text},
             "exception": {"values": [{"type": "E", "value": text}]},
             "breadcrumbs": {"values": [{"message": text}]}}  # fmt: skip
    scrubber = Scrubber(context())
    start = time.perf_counter()
    out = scrubber.scrub_event(event)
    seconds = time.perf_counter() - start
    assert seconds < 10, seconds
    assert leaks(out) == []
    assert len(rendered(out)) < 1024 * 1024  # nothing huge goes on


def test_too_long_data_values_are_not_scanned() -> None:
    """A value past MAX_SCAN becomes <too-long> without a regex pass over it (extra, contexts
    and breadcrumb data used to be scanned whole for password-like words: 0.76 s per 10 MiB)."""
    scrubber = Scrubber(context())
    values = {f"v{i}": f"{i} lorem ipsum " * (TEN_MIB // 14) for i in range(20)}  # 200 MiB
    start = time.perf_counter()
    out = scrubber.scrub_event({"extra": values})
    assert time.perf_counter() - start < 5  # was ~15 s
    assert set(out["extra"].values()) == {"<too-long>"}


def test_a_thousand_deep_event_is_cut_not_raised() -> None:
    event = {"extra": {"deep": deep_dict("/home/alice/acme-holdings/taxes-2025.pdf", 1000)},
             "contexts": {"d": {"l": deep_list("carol99@example.net", 1000)}},
             "breadcrumbs": {"values": [{"data": deep_dict("ws-4471", 1000)}]}}  # fmt: skip
    out = Scrubber(context()).scrub_event(event)
    assert leaks(out) == []
    assert "<too-deep>" in rendered(out)


BEFORE_SEND = textwrap.dedent("""
    import sys, crashreport

    class Raises:
        def __repr__(self):
            raise RuntimeError("no")
        __str__ = __repr__

    def hostile(event, hint):
        # sentry-sdk serialises the event before before_send: whatever the app author's hook
        # adds reaches crashreport's transport raw.
        d = {{"home": "/home/alice/acme-holdings"}}
        d["self"] = d
        deep = leaf = {{}}
        for _ in range(1000):
            leaf["k"] = {{}}
            leaf = leaf["k"]
        leaf["x"] = "carol99@example.net"
        event.setdefault("extra", {{}}).update({{
            "cycle": d, "bytes": b"/home/alice/taxes-2025.pdf", 7: "alice", "deep": deep,
            "raises": Raises(), "big": "ws-4471 " * (1024 * 1024),
        }})
        return event

    # not mytool: its source holds "acme" and "taxes-2025" (program text, kept by design)
    crashreport.init("hostileapp", dsn={dsn!r}, before_send=hostile)
    raise OSError("cannot open /home/alice/acme-holdings/taxes-2025.pdf")
""")


def test_a_hostile_before_send_is_scrubbed_end_to_end(
    home: Path, sentry_server: SentryServer
) -> None:
    code = BEFORE_SEND.format(dsn=sentry_server.dsn)
    off = run_python(home, "-c", code)
    run = run_python(home, "-c", code, env={"HOSTILEAPP_TELEMETRY": "errors"})
    assert (run.returncode, run.stdout, run.stderr) == (off.returncode, off.stdout, off.stderr)
    events = sentry_server.wait_for("event", 1, timeout=10)
    assert len(events) == 1
    raw = b"".join(e.raw for e in sentry_server.envelopes).decode("utf-8", "replace").lower()
    assert [c for c in (*CANARIES, "alice") if c in raw] == []
    extra = events[0]["extra"]
    assert extra["cycle"]["self"] == "<cycle>"
    assert extra["raises"] == "<scrub-error>"
