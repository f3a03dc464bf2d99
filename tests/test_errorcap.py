"""errorcap: the first N distinct handled errors of a run pass; repeats and the rest are counted."""

from __future__ import annotations

import logging
import sys
import threading
from typing import Any

import pytest

from crashreport.run.errorcap import ERRORS_DROPPED, ErrorCap, exception_key, record_key


def test_the_counter_has_the_name_the_app_author_sees_in_sentry() -> None:
    assert ERRORS_DROPPED == "crashreport.errors_dropped"


def test_the_first_distinct_errors_pass_then_everything_is_counted() -> None:
    cap = ErrorCap(2)
    assert [cap.admit(k) for k in [("a",), ("a",), ("b",), ("a",), ("c",), ("b",)]] == \
        [True, False, True, False, False, False]  # fmt: skip
    assert cap.dropped == 4


def test_no_limit_admits_everything_and_counts_nothing() -> None:
    cap = ErrorCap(None)
    assert all(cap.admit(("same",)) for _ in range(100))
    assert cap.dropped == 0


@pytest.mark.parametrize(("limit", "admitted"), [(0, 0), (-3, 0), (1, 1), ("3", 3), (2.9, 2)])
def test_the_limit_is_a_whole_number_at_least_zero(limit: Any, admitted: int) -> None:
    cap = ErrorCap(limit)
    assert sum(cap.admit((i,)) for i in range(10)) == admitted
    assert cap.dropped == 10 - admitted


def test_threads_together_never_pass_more_than_the_limit() -> None:
    cap = ErrorCap(100)
    passed: list[int] = []
    barrier = threading.Barrier(8)

    def work(t: int) -> None:
        barrier.wait()
        passed.append(sum(cap.admit((t, i)) for i in range(2000)))

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    try:
        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert sum(passed) == 100
    assert cap.dropped == 8 * 2000 - 100
    assert len(cap.seen) == 100


def _raise(kind: type[BaseException], message: str = "m") -> BaseException:
    try:
        raise kind(message)
    except BaseException as exc:
        return exc


def _from_deep(n: int) -> BaseException:
    try:
        _recurse(n)
    except ValueError as exc:
        return exc
    raise AssertionError("unreachable")


def _recurse(n: int) -> None:
    if n:
        _recurse(n - 1)
    raise ValueError("deep")


def test_the_same_error_from_the_same_place_is_one_error_whatever_its_message() -> None:
    keys = [exception_key(_raise(ValueError, f"item {i}")) for i in range(3)]
    assert keys[0] == keys[1] == keys[2]
    assert exception_key(_raise(KeyError)) != keys[0]
    (module, name, frames), = keys[0]
    assert (module, name) == ("builtins", "ValueError")
    assert frames[-1][:2] == (__file__, "_raise") and frames[-1][2] > 0


def test_only_the_innermost_three_frames_count() -> None:
    deep = exception_key(_from_deep(4))
    (_m, _n, frames), = deep
    assert [f[1] for f in frames] == ["_recurse", "_recurse", "_recurse"]
    assert exception_key(_from_deep(6)) == deep  # deeper: same place, same error
    try:
        _recurse(0)
    except ValueError as exc:
        shallow = exception_key(exc)
    assert [f[1] for f in shallow[0][2]] == ["test_only_the_innermost_three_frames_count", "_recurse"]


def test_an_error_of_another_line_is_another_error() -> None:
    a = exception_key(_raise(ValueError))
    try:
        raise ValueError("m")
    except ValueError as exc:
        b = exception_key(exc)
    assert a != b


def test_the_chain_counts_causes_and_contexts_and_ends() -> None:
    plain = _raise(ValueError)
    caused = _raise(ValueError)
    caused.__cause__ = _raise(KeyError)
    context = _raise(ValueError)
    context.__context__ = _raise(OSError)
    keys = {exception_key(e) for e in (plain, caused, context)}
    assert len(keys) == 3
    assert [part[1] for part in exception_key(caused)] == ["ValueError", "KeyError"]
    assert [part[1] for part in exception_key(context)] == ["ValueError", "OSError"]
    a, b = _raise(ValueError), _raise(TypeError)
    a.__context__, b.__context__ = b, a  # a cycle
    assert [part[1] for part in exception_key(a)] == ["ValueError", "TypeError"]
    first = current = _raise(ValueError)
    for _ in range(30):
        current.__cause__ = _raise(KeyError)
        current = current.__cause__
    assert len(exception_key(first)) == 10


def _record(msg: str, *args: object, name: str = "app", level: int = logging.ERROR,
            exc: BaseException | None = None) -> logging.LogRecord:  # fmt: skip
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord(name, level, __file__, 1, msg, args, exc_info)


def test_a_logged_error_is_its_logger_level_and_template() -> None:
    assert record_key(_record("lost %s", "a.txt")) == record_key(_record("lost %s", "b.txt"))
    assert record_key(_record("lost %s", "a")) == ("app", logging.ERROR, "lost %s", None)
    assert record_key(_record("lost %s", "a")) != record_key(_record("lost %s", "a", name="db"))
    assert record_key(_record("x")) != record_key(_record("x", level=logging.CRITICAL))
    assert record_key(_record("x")) != record_key(_record("y"))
    exc = _raise(ValueError)
    assert record_key(_record("x", exc=exc)) == ("app", logging.ERROR, "x", exception_key(exc))


def test_a_template_counts_for_its_first_two_hundred_characters() -> None:
    head = "x" * 200
    assert record_key(_record(head + "a")) == record_key(_record(head + "b"))
    assert record_key(_record(head[:-1] + "a")) != record_key(_record(head[:-1] + "b"))
    assert record_key(_record(ValueError("not a string")))[2] == "not a string"  # type: ignore[arg-type]
