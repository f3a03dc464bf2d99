"""Hostile config input: random bytes and structures, bombs, deep nesting, odd file types.

Whatever the file holds, loading it never raises, takes bounded time and memory, and yields
either a known level or off with one problem sentence.
"""

from __future__ import annotations

import time
import tracemalloc
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import crashreport
from crashreport import Level
from crashreport.config import load_settings

from .strategies import examples, yaml_documents

KNOWN = {None, "all", "errors", "off"}


def check(path: Path) -> None:
    start = time.monotonic()
    s = load_settings(path)
    assert time.monotonic() - start < 5
    assert s.collect in KNOWN
    assert (s.problem is None) or (str(path) in s.problem)
    if s.problem:
        assert s.collect is None


HC = [HealthCheck.function_scoped_fixture]


@settings(max_examples=examples(300), deadline=None, suppress_health_check=HC)
@given(data=st.binary(max_size=2048))
def test_random_bytes(home: Path, data: bytes) -> None:
    path = home / "c.yaml"
    path.write_bytes(data)
    check(path)


@settings(max_examples=examples(300), deadline=None, suppress_health_check=HC)
@given(doc=yaml_documents())
def test_random_structures(home: Path, doc: object) -> None:
    path = home / "c.yaml"
    path.write_text(yaml.safe_dump(doc))
    check(path)


@settings(max_examples=examples(200), deadline=None, suppress_health_check=HC)
@given(collect=st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20)))
def test_random_collect_values(home: Path, collect: object) -> None:
    s = load_settings({"telemetry": {"collect": collect}})
    assert s.collect in KNOWN
    assert (s.collect is None) == (collect is None or s.problem is not None)


BOMB = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
telemetry:
  collect: *i
  dsn: *i
  spare: *i
"""


def test_billion_laughs_is_bounded(home: Path) -> None:
    path = home / "c.yaml"
    path.write_text(BOMB)
    tracemalloc.start()
    try:
        start = time.monotonic()
        s = load_settings(path)
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert s.problem is not None and "unknown value (a list)" in s.problem
    assert elapsed < 2 and peak < 5 * 2**20


def test_deep_nesting_is_a_problem_not_a_crash(home: Path) -> None:
    path = home / "c.yaml"
    path.write_text("telemetry: " + "[" * 50_000 + "]" * 50_000)
    check(path)
    path.write_text("telemetry:\n" + "".join("  " * i + f"k{i}:\n" for i in range(1, 2000)))
    check(path)


def test_init_with_hostile_files_warns_at_most_once(home: Path, capsys: object) -> None:
    cases = {"bomb": BOMB, "deep": "[" * 10_000, "binary": "\x00\x01\x02"}
    for name, text in cases.items():
        crashreport._handle = None
        path = home / f"{name}.yaml"
        path.write_text(text)
        handle = crashreport.init("mytool", config=path)
        assert handle.level is Level.OFF
    err = capsys.readouterr().err.splitlines()  # type: ignore[attr-defined]
    assert len(err) == len(cases) and all(line.startswith("crashreport: ") for line in err)
