"""run.usage in process: tracked actions and counters as an app uses them, against a recording run.

(``tests/test_usage.py`` runs whole apps in subprocesses; this file pins the same promises in
the process itself, fast.)
"""

from __future__ import annotations

import contextlib
import importlib.util
import threading
import time
from typing import Any

import pytest

import crashreport
from crashreport import _safe
from crashreport.run import usage
from crashreport.run.usage import Action, Counters


class Recorder:
    """Stands in for the run at level ``all``: keeps every finished action as it was then."""

    def __init__(self) -> None:
        self.actions: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def record_action(self, action: Action) -> None:
        with self._lock:
            self.actions.append({
                "name": action.name, "outcome": action.outcome, "data": dict(action.data),
                "error_type": action.error_type, "error_message": action.error_message,
                "start": action.start_wall, "duration": action.duration,
            })  # fmt: skip


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    recorder = Recorder()
    monkeypatch.setattr(usage, "SINK", recorder)
    monkeypatch.setattr(usage, "COUNTERS", Counters())
    return recorder


def test_a_tracked_block_is_one_action_with_its_time(run: Recorder) -> None:
    before = time.time()
    with crashreport.track("fetch", url_kind="api") as action:
        time.sleep(0.05)
        action.set(items=3)
    [done] = run.actions
    assert (done["name"], done["outcome"], done["data"]) == ("fetch", "ok", {"url_kind": "api", "items": 3})
    assert (done["error_type"], done["error_message"]) == (None, None)
    assert 0.05 <= done["duration"] < 1
    assert before <= done["start"] <= before + 0.1


def test_an_exception_is_recorded_whole_and_raised_untouched(run: Recorder) -> None:
    error = ValueError("bad " + "x" * 5000)
    with pytest.raises(ValueError) as info, crashreport.track("parse"):
        raise error
    assert info.value is error
    [done] = run.actions
    assert (done["outcome"], done["error_type"], done["error_message"]) == \
        ("error", "ValueError", str(error))  # fmt: skip


def test_an_oserrors_file_name_is_a_placeholder_before_it_is_kept(run: Recorder) -> None:
    """The message is rebuilt from the exception's structure: the user's file name never reaches
    the scrubber as free text."""
    with pytest.raises(FileNotFoundError), crashreport.track("open"):
        raise FileNotFoundError(2, "No such file or directory", "/home/zoe/Steuerbescheid.pdf")
    assert run.actions[0]["error_message"] == "[Errno 2] No such file or directory: '<path>.pdf'"


def test_fail_marks_a_failure_without_an_exception(run: Recorder) -> None:
    with crashreport.track("upload") as action:
        action.fail("server said no", exit_code=3, status_code=502)
    with crashreport.track("sync") as action:
        action.fail()
    upload, sync = run.actions
    assert (upload["outcome"], upload["error_message"], upload["error_type"]) == \
        ("error", "server said no", None)  # fmt: skip
    assert upload["data"] == {"exit_code": 3, "status_code": 502}
    assert (sync["outcome"], sync["error_message"], sync["data"]) == ("error", None, {})


@pytest.mark.parametrize(("data", "outcome"), [
    ({"exit_code": 0}, "ok"), ({"exit_code": 1}, "error"), ({"exit_code": -9}, "error"),
    ({"exit_code": 255}, "error"), ({"exit_code": None}, "ok"), ({"exit_code": "1"}, "ok"),
    ({"status_code": 200}, "ok"), ({"status_code": 399}, "ok"), ({"status_code": 400}, "error"),
    ({"status_code": 404}, "error"), ({"status_code": 503}, "error"), ({"status_code": "500"}, "ok"),
    ({"exit_code": 0, "status_code": 400}, "error"), ({"exit_code": 2, "status_code": 200}, "error"),
    ({}, "ok"),
])  # fmt: skip
def test_an_exit_code_or_http_status_gives_the_verdict(run: Recorder, data: dict[str, Any],
                                                       outcome: str) -> None:  # fmt: skip
    with crashreport.track("step") as action:
        action.set(**data)
    assert run.actions[0]["outcome"] == outcome


def test_the_decorator_tracks_each_call_afresh(run: Recorder) -> None:
    @crashreport.track("convert", fmt="png")
    def convert(n: int) -> int:
        """Convert n."""
        if n < 0:
            raise ValueError("negative")
        return n * 2

    assert (convert.__name__, convert.__doc__) == ("convert", "Convert n.")
    assert convert(2) == 4
    with pytest.raises(ValueError, match="negative"):
        convert(-1)
    assert convert(3) == 6
    assert [(a["outcome"], a["error_type"]) for a in run.actions] == \
        [("ok", None), ("error", "ValueError"), ("ok", None)]  # fmt: skip
    assert all(a["name"] == "convert" and a["data"] == {"fmt": "png"} for a in run.actions)


def test_the_decorator_shares_nothing_between_threads(run: Recorder) -> None:
    barrier = threading.Barrier(8)

    @crashreport.track("work")
    def work(i: int) -> None:
        barrier.wait()
        time.sleep(0.05 if i % 2 else 0.2)
        if i == 3:
            raise KeyError(i)

    def call(i: int) -> None:
        with contextlib.suppress(KeyError):
            work(i)

    threads = [threading.Thread(target=call, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    outcomes = sorted((a["outcome"], a["error_type"]) for a in run.actions)
    assert outcomes == [("error", "KeyError")] + [("ok", None)] * 7
    durations = sorted(a["duration"] for a in run.actions)
    assert durations[3] < 0.2 <= durations[4]  # each call timed on its own


def test_the_decorators_data_is_not_changed_by_a_call(run: Recorder) -> None:
    tracked = crashreport.track("job", kind="a")

    @tracked
    def job() -> None:
        raise OSError("disk")

    with pytest.raises(OSError):
        job()
    assert tracked.data == {"kind": "a"} and tracked.outcome == "ok"
    with pytest.raises(OSError):
        job()
    assert [a["data"] for a in run.actions] == [{"kind": "a"}, {"kind": "a"}]


def test_while_off_nothing_is_recorded_or_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(usage, "SINK", None)
    counters = Counters()
    monkeypatch.setattr(usage, "COUNTERS", counters)
    with crashreport.track("fetch") as action:
        action.fail("no")
    usage.count("files", 3)
    assert counters.snapshot() == {}


def test_as_imported_nothing_is_recorded_or_counted_until_a_run_is_on() -> None:
    """The module as a program first imports it (no run yet): off; then a run's actions and
    counts are kept."""
    spec = importlib.util.find_spec("crashreport.run.usage")
    assert spec is not None and spec.loader is not None
    fresh = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(fresh)
    fresh.count("files", 3)
    with fresh.Action("fetch", {}) as action:
        action.fail("no")
    assert fresh.COUNTERS.snapshot() == {}
    fresh.SINK = recorder = Recorder()
    fresh.count("files", 2)
    with fresh.Action("fetch", {}):
        pass
    assert (fresh.COUNTERS.snapshot(), len(recorder.actions)) == ({"files": 2}, 1)


def test_the_action_goes_to_the_run_that_was_on_when_it_began(monkeypatch: pytest.MonkeyPatch) -> None:
    first = Recorder()
    monkeypatch.setattr(usage, "SINK", first)
    with crashreport.track("a"):
        monkeypatch.setattr(usage, "SINK", None)  # switched off meanwhile: the run decides
    assert [a["name"] for a in first.actions] == ["a"]


def test_a_failing_run_never_breaks_the_apps_block(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken:
        def record_action(self, action: Action) -> None:
            raise RuntimeError("crashreport's own bug")

    monkeypatch.setattr(usage, "SINK", Broken())
    with crashreport.track("a"):
        value = 42
    assert value == 42
    assert [type(e) for e in _safe.SWALLOWED] == [RuntimeError]
    _safe.SWALLOWED.clear()


def test_counters_sum_while_on(run: Recorder) -> None:
    usage.count("files")
    usage.count("files", 2)
    usage.count("bytes", 1.5)
    usage.count(7, 1)  # type: ignore[arg-type]
    assert usage.COUNTERS.snapshot() == {"files": 3, "bytes": 1.5, "7": 1}


@pytest.mark.parametrize("amount", [True, "3", None, [1]])
def test_a_counter_takes_numbers_only(amount: object) -> None:
    counters = Counters()
    with pytest.raises(TypeError) as info:
        counters.add("x", amount)  # type: ignore[arg-type]
    assert str(info.value) == f"count('x', {amount!r}): the amount must be a number"
    assert counters.snapshot() == {}


def test_a_snapshot_is_a_copy_and_threads_lose_no_count() -> None:
    counters = Counters()
    barrier = threading.Barrier(8)

    def add() -> None:
        barrier.wait()
        for _ in range(5000):
            counters.add("n")

    threads = [threading.Thread(target=add) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    snap = counters.snapshot()
    assert snap == {"n": 40000}
    snap["n"] = 0
    assert counters.snapshot() == {"n": 40000}
