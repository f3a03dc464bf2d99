"""The run journal on its own (records, locks, the fault file) and the reports made from it."""

from __future__ import annotations

import errno
import json
import math
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from crashreport import _json, journal
from crashreport.reports import fatal, report_id, session, usage

from .strategies import examples

json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _normal(value: Any) -> Any:
    """What JSON can say of a value: NaN and infinities become null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _normal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normal(v) for v in value]
    return value


@settings(max_examples=examples(300), deadline=None)
@given(json_like)
@example({"a": 'x"y\\z\n\x00\x7f\u2028é😀'})
@example([float("nan"), float("inf"), -0.0, 10**30])
def test_the_start_up_json_writer_is_read_back_by_json(value: Any) -> None:
    assert json.loads(_json.dumps(value)) == _normal(value)


def test_the_writer_turns_anything_else_into_text_and_stops_at_depth() -> None:
    class Odd:
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert json.loads(_json.dumps({"p": Path("/x"), "o": Odd(), 3: (1, 2)})) == \
        {"p": "/x", "o": "<Odd>", "3": [1, 2]}  # fmt: skip
    deep: Any = []
    for _ in range(100):
        deep = [deep]
    assert isinstance(json.loads(_json.dumps(deep)), list)


def test_a_record_is_written_privately_and_atomically(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    path = folder / "a.json"
    journal.write(path, {"sid": "a", "n": 1})
    journal.write(path, {"sid": "a", "n": 2})
    assert journal.read(path) == {"sid": "a", "n": 2}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert sorted(p.name for p in folder.iterdir()) == ["a.json"]  # no temporary file left


def test_read_refuses_links_garbage_and_huge_files(tmp_path: Path) -> None:
    good = tmp_path / "good.json"
    journal.write(good, {"sid": "g"})
    link = tmp_path / "link.json"
    link.symlink_to(good)
    assert journal.read(link) is None
    (tmp_path / "garbage.json").write_bytes(b"\x00not json")
    assert journal.read(tmp_path / "garbage.json") is None
    (tmp_path / "nosid.json").write_text('{"x": 1}')
    assert journal.read(tmp_path / "nosid.json") is None
    with open(tmp_path / "huge.json", "wb") as f:
        f.truncate(journal.MAX_RECORD_BYTES + 1)
    assert journal.read(tmp_path / "huge.json") is None


def test_the_folder_must_be_ours_and_not_a_link(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "runs").symlink_to(elsewhere)
    with pytest.raises(OSError):
        journal.ensure_dir(tmp_path / "runs")
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        os.chown(foreign, 65534, 65534)
        with pytest.raises(PermissionError):
            journal.ensure_dir(foreign / "runs")
        assert list(foreign.iterdir()) == []  # nothing created inside


def test_a_live_run_is_skipped_a_finished_or_dead_one_is_not(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    live = journal.OpenRun(folder, "live")
    live.start({"sid": "live", "started": time.time()})
    done = journal.OpenRun(folder, "done")
    done.start({"sid": "done", "started": time.time()})
    done.finish({"sid": "done", "started": time.time(), "ended": time.time()})
    dead = journal.OpenRun(folder, "dead")
    dead.start({"sid": "dead", "started": time.time()})
    dead.forget()  # its process is gone: the lock with it
    found = {left.record["sid"]: left for left in journal.ended_runs(folder)}
    assert set(found) == {"done", "dead"}
    assert found["done"].finished and not found["dead"].finished
    for left in found.values():
        left.remove()
    assert sorted(p.name for p in folder.iterdir()) == ["live.fault", "live.json"]
    live.forget()


def test_unreadable_records_and_orphan_files_are_cleaned_once_old(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    (folder / "bad.json").write_text("{half")
    (folder / "orphan.fault").write_text("")
    assert list(journal.ended_runs(folder)) == []
    assert (folder / "bad.json").exists()  # it may be a record being written right now
    later = time.time() + 7200
    assert list(journal.ended_runs(folder, now=later)) == []
    assert sorted(p.name for p in folder.iterdir()) == []


def test_a_widened_folder_is_made_private_and_a_link_for_a_file_refused(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "runs"
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    journal.ensure_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    fresh = tmp_path / "new" / "deeper" / "runs"
    journal.ensure_dir(fresh)
    assert stat.S_IMODE(os.stat(fresh).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(fresh.parent).st_mode) == 0o700
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError, match="not a folder"):
        journal.ensure_dir(tmp_path / "file")
    (tmp_path / "linked").symlink_to(tmp_path / "new")
    with pytest.raises(NotADirectoryError):
        journal.ensure_dir(tmp_path / "linked" / "runs2")  # the parent is a link
    assert not (tmp_path / "new" / "runs2").exists()


def test_a_planted_link_in_place_of_the_temporary_file_is_not_written_through(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    path = tmp_path / "a.json"
    (tmp_path / f".a.json.{os.getpid()}.tmp").symlink_to(victim)
    with pytest.raises(OSError):
        journal.write(path, {"sid": "a"})
    assert victim.read_text() == "keep me" and not path.exists()


def test_a_shorter_record_replaces_a_longer_one_whole(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    (tmp_path / f".a.json.{os.getpid()}.tmp").write_text("x" * 1000)  # left by a killed run
    journal.write(path, {"sid": "a"})
    assert journal.read(path) == {"sid": "a"}


def test_read_takes_a_record_up_to_its_bound_and_never_blocks(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    body = '{"sid": "b", "pad": "'
    path.write_text(body + "x" * (journal.MAX_RECORD_BYTES - len(body) - 2) + '"}')
    assert journal.read(path) is not None  # exactly at the bound
    os.mkfifo(tmp_path / "fifo.json")
    assert journal.read(tmp_path / "fifo.json") is None
    (tmp_path / "list.json").write_text('[{"sid": "x"}]')
    assert journal.read(tmp_path / "list.json") is None
    (tmp_path / "num.json").write_text('{"sid": 5}')
    assert journal.read(tmp_path / "num.json") is None
    assert journal.read(tmp_path / "missing.json") is None


def test_a_run_holds_its_lock_from_before_its_record_appears(tmp_path: Path) -> None:
    import fcntl

    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    run = journal.OpenRun(folder, "r")
    run.start({"sid": "r", "started": 1.0})
    assert stat.S_IMODE(os.stat(folder / "r.fault").st_mode) == 0o600
    fd = os.open(folder / "r.fault", os.O_RDWR)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    with pytest.raises(FileExistsError):  # a second run of the same id never shares the file
        journal.OpenRun(folder, "r").start({"sid": "r"})
    run.finish({"sid": "r", "started": 1.0, "ended": 2.0})
    assert journal.read(folder / "r.json") == {"sid": "r", "started": 1.0, "ended": 2.0}
    run.forget()
    run.forget()  # twice is harmless
    assert run.fault_fd is None


def test_what_a_run_left_carries_its_fault_dump(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    journal.write(folder / "x.json", {"sid": "x", "started": 1.0})
    (folder / "x.fault").write_text("Fatal Python error: Aborted\n" + "y" * (300 << 10))
    [left] = journal.ended_runs(folder)
    assert left.fault.startswith("Fatal Python error: Aborted") and len(left.fault) == 256 << 10
    assert (left.path, left.fault_path, left.finished) == (folder / "x.json", folder / "x.fault", False)
    journal.write(folder / "x.json", {"sid": "x", "started": 1.0, "ended": 2.0})
    (folder / "x.fault").unlink()
    (folder / "x.fault").symlink_to(folder / "x.json")  # a link is never read
    assert [left.fault for left in journal.ended_runs(folder)] == [""]
    (folder / "x.fault").unlink()
    (folder / "x.fault").mkdir()
    assert [left.fault for left in journal.ended_runs(folder)] == [""]


def test_only_records_are_read_and_the_unreadable_go_when_old(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    journal.write(folder / "a.json", {"sid": "a", "started": 1.0, "ended": 2.0})
    journal.write(folder / ".hidden.json", {"sid": "h", "ended": 2.0})
    (folder / "notes.txt").write_text("x")
    (folder / "bad.json").write_text("{")
    now = time.time()
    assert [left.record["sid"] for left in journal.ended_runs(folder, now=now + 59)] == ["a"]
    assert (folder / "bad.json").exists()
    assert [left.record["sid"] for left in journal.ended_runs(folder, now=now + 61)] == ["a"]
    assert not (folder / "bad.json").exists()
    assert (folder / ".hidden.json").exists() and (folder / "notes.txt").exists()
    assert list(journal.ended_runs(tmp_path / "missing")) == []


def test_orphans_and_temporary_files_go_after_an_hour(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    (folder / "gone.fault").write_text("")
    (folder / ".a.json.123.tmp").write_text("")
    journal.write(folder / "kept.json", {"sid": "k", "started": 1.0, "ended": 2.0})
    (folder / "kept.fault").write_text("")
    now = time.time()
    list(journal.ended_runs(folder, now=now + 3599))
    assert sorted(p.name for p in folder.iterdir()) == \
        [".a.json.123.tmp", "gone.fault", "kept.fault", "kept.json"]  # fmt: skip
    list(journal.ended_runs(folder, now=now + 3601))
    assert sorted(p.name for p in folder.iterdir()) == ["kept.fault", "kept.json"]


# -- reports ---------------------------------------------------------------------------------
RECORD = {"sid": "0f2b6a31-8a1c-4c55-9d0e-5b5d6f7e8a9b", "did": "ab" * 16, "app": "mytool",
          "version": None, "environment": "production", "level": "all", "started": 1.7e9,
          "trace_id": "c" * 32, "span_id": "d" * 16, "python": "3.11.7",
          "implementation": "cpython", "subcommand": "sync"}  # fmt: skip


@pytest.mark.parametrize(
    ("end", "fault", "status", "errors"),
    [
        ({"ended": 1.7e9 + 2, "outcome": "ok", "errors": 0}, "", "exited", None),
        ({"ended": 1.7e9 + 2, "outcome": "failed", "errors": 0}, "", "exited", 1),
        ({"ended": 1.7e9 + 2, "outcome": "ok", "errors": 3}, "", "exited", 3),
        ({"ended": 1.7e9 + 2, "outcome": "crashed", "crashed": True}, "", "crashed", 1),
        ({}, "", "abnormal", None),
        ({}, "Fatal Python error: Segmentation fault\n", "crashed", 1),
    ],
)
def test_one_session_per_run_with_its_final_status(end: dict[str, Any], fault: str, status: str,
                                                   errors: int | None) -> None:  # fmt: skip
    update = session.session({**RECORD, **end}, "mytool@1.0", fault)
    assert update["sid"] == RECORD["sid"] and update["did"] == RECORD["did"]
    assert update["init"] is True and update["status"] == status
    assert update.get("errors") == errors
    assert update["attrs"] == {"release": "mytool@1.0", "environment": "production"}
    assert update["started"] == "2023-11-14T22:13:20.000000Z"
    assert ("duration" in update) == ("ended" in end)


def test_report_ids_are_fixed_by_the_run_and_distinct() -> None:
    ids = {kind: report_id(RECORD, kind) for kind in ("session", "transaction", "fatal")}
    assert ids["session"] == RECORD["sid"].replace("-", "")
    assert len(set(ids.values())) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids.values())
    assert ids == {kind: report_id(dict(RECORD), kind) for kind in ids}


def test_the_usage_record_holds_the_runs_actions_and_counters() -> None:
    record = {**RECORD, "ended": 1.7e9 + 2, "outcome": "failed", "exit_code": 2,
              "counters": {"files": 3},
              "spans": [{"name": "fetch", "start": 1.7e9, "duration": 0.5, "outcome": "error",
                         "data": {"status_code": 503}},
                        {"name": "parse", "start": 1.7e9 + 1, "duration": 0.1, "outcome": "error",
                         "data": {}, "error": {"type": "ValueError", "message": "bad"}}]}  # fmt: skip
    txn = usage.transaction(record, "mytool@1.0", {"mytool": "1.0"})
    trace = txn["contexts"]["trace"]
    assert (trace["status"], trace["data"]["outcome"], trace["data"]["exit_code"]) == \
        ("invalid_argument", "failed", 2)  # fmt: skip
    assert txn["measurements"] == {"files": {"value": 3, "unit": "none"}}
    fetch, parse = txn["spans"]
    assert fetch["status"] == "unavailable" and fetch["data"]["http.response.status_code"] == 503
    assert parse["status"] == "internal_error" and parse["data"]["error.type"] == "ValueError"
    assert {s["parent_span_id"] for s in txn["spans"]} == {RECORD["span_id"]}
    assert txn["timestamp"] > txn["start_timestamp"]


def test_a_real_faulthandler_dump_becomes_a_crash_event(tmp_path: Path) -> None:
    dump = tmp_path / "fault"
    code = (
        "import faulthandler, os, threading, time, ctypes\n"
        f"fd = os.open({str(dump)!r}, os.O_RDWR | os.O_CREAT, 0o600)\n"
        "faulthandler.enable(file=fd, all_threads=True)\n"
        "threading.Thread(target=time.sleep, args=(10,), daemon=True).start()\n"
        "def convert():\n    ctypes.string_at(0)\n"
        "convert()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=30)
    assert proc.returncode == -11
    fault = dump.read_text()
    event = fatal.fatal_event(RECORD, fault, "mytool@1.0", {"mytool": "1.0"}, when=1.7e9)
    assert event is not None
    [exc] = event["exception"]["values"]
    assert exc["type"] == "SIGSEGV" and exc["value"] == "Fatal Python error: Segmentation fault"
    assert exc["mechanism"]["meta"]["signal"] == {"name": "SIGSEGV", "number": 11}
    functions = [f["function"] for f in exc["stacktrace"]["frames"]]
    assert functions[-2:] == ["convert", "string_at"]  # oldest first, the crash last
    threads = event["threads"]["values"]
    assert len(threads) == 2 and sum(t["crashed"] for t in threads) == 1
    assert event["level"] == "fatal" and event["release"] == "mytool@1.0"
    ctypes_frame = exc["stacktrace"]["frames"][-1]
    assert "def string_at" in "".join(ctypes_frame["pre_context"] + [ctypes_frame["context_line"]])
    assert fatal.fatal_event(RECORD, "", "mytool@1.0", {}) is None
    assert fatal.fault_signal("Fatal Python error: Aborted\n") == ("Aborted", "SIGABRT", 6)


def test_the_sender_turns_a_fatal_crash_into_reports_without_sentry_sdk(home: Path) -> None:
    """The sender is light too: a segfaulted run becomes its session and crash event with no
    sentry-sdk import (run in a fresh process, as the sender runs)."""
    from .conftest import run_python

    code = (
        "import json, os, sys, time\n"
        "from crashreport import journal\n"
        "from crashreport.paths import Paths\n"
        "from crashreport.sender import Sender\n"
        "p = Paths.for_app('mytool')\n"
        "journal.ensure_dir(p.runs_dir)\n"
        f"record = {RECORD!r}\n"
        "record['started'] = time.time()\n"
        "journal.write(p.runs_dir / (record['sid'] + '.json'), record)\n"
        "(p.runs_dir / (record['sid'] + '.fault')).write_text("
        "'Fatal Python error: Segmentation fault\\n\\nCurrent thread 0x1 (most recent call first):\\n"
        "  File \"/usr/lib/x.py\", line 3 in f\\n')\n"
        "print(Sender('mytool').collect(), 'sentry_sdk' in sys.modules)\n"
        "print(sorted(k for e in Sender('mytool').outbox.pending() for k in e.kinds))\n"
    )
    run = run_python(home, "-c", code)
    assert run.stdout.splitlines() == ["1 False", "['event', 'session']"], run.stderr


# -- what the mutants showed unpinned ---------------------------------------------------------------
def test_without_a_lock_to_ask_an_unfinished_run_is_live_for_a_day() -> None:
    """Where there is no fcntl (Windows): a day after its start, an unfinished run is over."""
    now = 1.8e9
    assert journal._recent({"started": now - 24 * 3600 + 1}, now)
    assert not journal._recent({"started": now - 24 * 3600 - 1}, now)
    assert journal._recent({"started": int(now) - 60}, now)
    for record in ({}, {"started": "yesterday"}, {"started": None}):
        assert not journal._recent(record, now)


def _open_fds() -> list[str]:
    return sorted(os.listdir("/proc/self/fd"))


def test_reading_and_writing_the_journal_leaves_no_file_open(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    live = journal.OpenRun(folder, "live")
    live.start({"sid": "live", "started": time.time()})
    journal.write(folder / "dead.json", {"sid": "dead", "started": time.time()})
    (folder / "dead.fault").write_text("Fatal Python error: Aborted\n")
    journal.write(folder / "gone.json", {"sid": "gone", "started": time.time()})
    before = _open_fds()
    for _ in range(20):
        journal.write(folder / "done.json", {"sid": "done", "ended": 1.0})
        assert journal.read(folder / "done.json") is not None
        assert sorted(left.record["sid"] for left in journal.ended_runs(folder)) == \
            ["dead", "done", "gone"]  # fmt: skip
    assert _open_fds() == before
    live.forget()


def test_a_record_over_four_mebibytes_is_not_read_even_if_whole(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    record = b'{"sid": "b"}'
    path.write_bytes(record + b" " * (4 * 1024 * 1024 - len(record)))
    assert journal.read(path) == {"sid": "b"}  # exactly 4 MiB
    path.write_bytes(record + b" " * (4 * 1024 * 1024 + 1 - len(record)))
    assert journal.read(path) is None


def test_forgetting_a_run_that_never_started_is_harmless(tmp_path: Path) -> None:
    run = journal.OpenRun(tmp_path, "never")
    run.forget()
    assert run.fault_fd is None


def test_an_unreadable_or_live_record_does_not_hide_the_next(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    journal.ensure_dir(folder)
    (folder / "a-bad.json").write_text("{half")
    live = journal.OpenRun(folder, "b-live")
    live.start({"sid": "b-live", "started": time.time()})
    journal.write(folder / "c-done.json", {"sid": "c-done", "ended": 1.0})
    assert [left.record["sid"] for left in journal.ended_runs(folder)] == ["c-done"]
    live.forget()


def test_an_unfinished_run_that_never_got_its_lock_file_is_over(tmp_path: Path) -> None:
    """Its lock file gone (removed by hand, say): nothing can finish the run any more."""
    journal.write(tmp_path / "x.json", {"sid": "x", "started": time.time()})
    assert [left.record["sid"] for left in journal.ended_runs(tmp_path)] == ["x"]


def test_a_run_whose_lock_file_is_a_link_is_left_alone(tmp_path: Path) -> None:
    """A lock that cannot be asked (a planted link is never followed) is not taken for a dead run:
    its record is never reported early."""
    journal.write(tmp_path / "x.json", {"sid": "x", "started": time.time()})
    (tmp_path / "x.fault").symlink_to(tmp_path / "nowhere")
    assert list(journal.ended_runs(tmp_path)) == []
    assert (tmp_path / "x.json").exists()


def test_a_fault_dump_that_is_not_utf8_is_read_with_replacements(tmp_path: Path) -> None:
    journal.write(tmp_path / "x.json", {"sid": "x", "started": 1.0})
    (tmp_path / "x.fault").write_bytes(b"Fatal Python error: Segmentation fault\n\xff\xfe  File")
    [left] = journal.ended_runs(tmp_path)
    assert left.fault == "Fatal Python error: Segmentation fault\n\ufffd\ufffd  File"


def test_a_fifo_in_place_of_the_fault_file_never_blocks_the_sender(tmp_path: Path) -> None:
    journal.write(tmp_path / "x.json", {"sid": "x", "started": 1.0, "ended": 2.0})
    os.mkfifo(tmp_path / "x.fault")
    code = ("import sys; from pathlib import Path; from crashreport import journal\n"
            "print([left.fault for left in journal.ended_runs(Path(sys.argv[1]))])")  # fmt: skip
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True,
                          text=True, timeout=20)  # fmt: skip
    assert proc.stdout == "['']\n", proc.stderr


@pytest.mark.parametrize("mode", [0o755, 0o701, 0o070])
def test_any_access_for_others_to_the_runs_folder_is_taken_away(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "runs"
    folder.mkdir()
    folder.chmod(mode)
    journal.ensure_dir(folder)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_a_refused_folder_says_why(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(NotADirectoryError) as not_folder:
        journal.ensure_dir(tmp_path / "file")
    assert (not_folder.value.errno, not_folder.value.strerror) == \
        (errno.ENOTDIR, "not a folder (a link or a file)")  # fmt: skip
    if os.geteuid() == 0:
        foreign = tmp_path / "foreign"
        foreign.mkdir()
        os.chown(foreign, 65534, 65534)
        with pytest.raises(PermissionError) as not_ours:
            journal.ensure_dir(foreign)
        assert (not_ours.value.errno, not_ours.value.strerror) == \
            (errno.EPERM, "folder owned by another user")  # fmt: skip


def test_a_record_with_a_name_the_os_could_not_decode_is_read_back_whole(tmp_path: Path) -> None:
    """A file name in a run's data may hold a lone surrogate (Python's surrogateescape)."""
    record = {"sid": "x", "argv": ["caf\udce9.txt"]}
    journal.write(tmp_path / "x.json", record)
    assert journal.read(tmp_path / "x.json") == record


def test_an_unreadable_record_is_kept_its_first_minute(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{half")
    written = os.lstat(bad).st_mtime
    list(journal.ended_runs(tmp_path, now=written + 60))
    assert bad.exists()
    list(journal.ended_runs(tmp_path, now=written + 60.5))
    assert not bad.exists()
