"""The file queue alone: atomic writes, bounds, claims, recovery, hostile folders."""

from __future__ import annotations

import errno
import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crashreport.delivery.outbox import STALE_CLAIM_SECONDS, Claim, Outbox, describe

from .disk import full_disk

NOT_A_FOLDER = "not a folder (a link or a file)"


def envelope(kind: str = "event", event_id: str | None = None, pad: int = 0) -> bytes:
    """A serialized envelope as sentry-sdk writes it (header line, item header, payload)."""
    eid = event_id or uuid.uuid4().hex
    payload = json.dumps({"event_id": eid, "message": "x" * pad}).encode()
    head = {"event_id": eid} if kind == "event" else {}
    return b"\n".join([json.dumps(head).encode(),
                       json.dumps({"type": kind, "length": len(payload)}).encode(),
                       payload]) + b"\n"  # fmt: skip


@pytest.fixture
def box(tmp_path: Path) -> Outbox:
    return Outbox(tmp_path / "state" / "outbox", tmp_path / "state" / "sent")


def put_and_claim(box: Outbox, kind: str = "event") -> Claim:
    """Queue one envelope and claim it, as a sender does before it posts."""
    entry = box.put(envelope(kind))
    assert entry is not None
    claim = box.claim(entry)
    assert claim is not None
    return claim


def test_put_writes_atomically_private_and_describes_the_envelope(box: Outbox) -> None:
    eid = uuid.uuid4().hex
    data = envelope(event_id=eid)
    before = time.time()
    entry = box.put(data)
    assert entry is not None
    assert entry.kinds == ("event",)
    assert entry.event_id == eid
    assert entry.size == len(data)
    assert before - 1 <= entry.created <= time.time() + 1
    assert box.read(entry) == data
    assert stat.S_IMODE(os.stat(entry.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(box.directory).st_mode) == 0o700
    assert [p.name for p in box.directory.iterdir() if not p.name.startswith(".")] == \
        [entry.path.name]  # fmt: skip
    assert box.pending() == [entry]


def test_describe_reads_kinds_and_event_id_without_sentry() -> None:
    eid = uuid.uuid4().hex
    data = envelope(event_id=eid) + json.dumps({"type": "session"}).encode() + b"\n{}\n"
    assert describe(data) == (("event", "session"), eid)
    assert describe(b"garbage\x00\xff") == ((), None)
    assert describe(b"") == ((), None)


def test_pending_is_oldest_first(box: Outbox) -> None:
    entries = [box.put(envelope()) for _ in range(5)]
    assert box.pending() == entries


def test_count_bound_drops_the_oldest_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", max_count=3)
    entries = [box.put(envelope()) for _ in range(5)]
    assert box.pending() == entries[2:]
    assert box.stats()["dropped_full"] == 2


def test_byte_bound_drops_the_oldest_and_refuses_a_too_big_one(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", max_bytes=3000)
    entries = [box.put(envelope(pad=900)) for _ in range(4)]
    assert sum(e.size for e in box.pending()) <= 3000
    assert box.pending() == entries[-len(box.pending()) :]
    assert box.put(envelope(pad=5000)) is None
    stats = box.stats()
    assert stats["dropped_full"] == 4 - len(box.pending()) + 1


def test_only_one_claim_wins(box: Outbox) -> None:
    data = envelope()
    entry = box.put(data)
    assert entry is not None
    other = Outbox(box.directory, box.sent_dir)
    first, second = box.claim(entry), other.claim(entry)
    assert first is not None
    assert second is None
    assert box.pending() == []
    assert box.read_claim(first) == data


def test_done_moves_to_a_bounded_sent_log_newest_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", sent_keep=3)
    ids = []
    for _ in range(5):
        claim = put_and_claim(box)
        box.done(claim)
        ids.append(claim.entry.event_id)
    assert [e.event_id for e in box.sent()] == ids[::-1][:3]
    times = [e.sent_at or 0 for e in box.sent()]
    assert times == sorted(times, reverse=True)
    assert time.time() - 60 < times[-1] <= time.time()
    assert box.pending() == []
    assert box.stats()["sent"] == 5
    assert box.read(box.sent()[0]).startswith(b'{"event_id"')


def test_retry_records_attempts_and_not_before(box: Outbox) -> None:
    claim = put_and_claim(box)
    entry = claim.entry
    later = time.time() + 100
    back = box.retry(claim, later)
    assert back.attempts == 1
    assert back.not_before >= later
    assert back.event_id == entry.event_id
    assert back.created == entry.created
    assert box.pending() == [back]
    assert box.due() == []
    assert box.due(now=later + 1) == [back]


def test_rate_limit_persists_for_a_new_outbox(box: Outbox) -> None:
    box.put(envelope("event"))
    box.put(envelope("session"))
    box.limit({"session": time.time() + 100})
    fresh = Outbox(box.directory, box.sent_dir)
    assert [e.kinds for e in fresh.due()] == [("event",)]
    fresh.limit({"": time.time() + 100})
    assert Outbox(box.directory, box.sent_dir).due() == []


def test_recover_returns_dead_claims_keeps_live_ones_and_cleans_temp(box: Outbox) -> None:
    dead_entry, live_entry = box.put(envelope()), box.put(envelope())
    assert dead_entry is not None
    assert live_entry is not None
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    dead_pid = int(dead.stdout)
    now = int(time.time())
    os.rename(dead_entry.path, f"{dead_entry.path}.claimed-{dead_pid}-{now}-abcdef01")
    live = box.claim(live_entry)  # claimed by this (live) process
    assert live is not None
    tmp = box.directory / f".tmp-{dead_pid}-0123abcd"
    tmp.write_bytes(b"half an env")
    old = time.time() - 60
    os.utime(tmp, (old, old))
    assert box.recover() == 2
    assert box.pending() == [dead_entry]
    assert live.path.exists()
    assert not tmp.exists()
    # a claim older than the stale limit is returned even if its process is alive
    assert box.recover(now=time.time() + STALE_CLAIM_SECONDS + 5) >= 1
    assert {e.event_id for e in box.pending()} == {dead_entry.event_id, live_entry.event_id}


def test_recover_drops_too_old_reports_and_counts(box: Outbox) -> None:
    event, session = box.put(envelope("event")), box.put(envelope("session"))
    assert event is not None
    assert session is not None
    box.recover(now=time.time() + 6 * 24 * 3600)  # sessions expire after 5 days
    assert box.pending() == [event]
    box.recover(now=time.time() + 31 * 24 * 3600)  # events after 30
    assert box.pending() == []
    assert box.stats()["dropped_old"] == 2


def test_a_symlinked_folder_is_refused_and_nothing_is_written_through_it(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox").symlink_to(elsewhere)
    box = Outbox(tmp_path / "state" / "outbox", tmp_path / "state" / "sent")
    with pytest.raises(OSError) as info:
        box.put(envelope())
    assert (info.value.strerror, info.value.filename) == (NOT_A_FOLDER, str(tmp_path / "state" / "outbox"))
    assert list(elsewhere.iterdir()) == []
    assert box.pending() == []


def test_a_symlinked_parent_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").symlink_to(elsewhere)
    box = Outbox(tmp_path / "state" / "outbox", tmp_path / "state" / "sent")
    with pytest.raises(OSError) as info:
        box.put(envelope())
    assert (info.value.strerror, info.value.filename) == (NOT_A_FOLDER, str(tmp_path / "state"))
    assert [p for p in elsewhere.rglob("*") if p.is_file()] == []


def test_a_planted_symlink_entry_is_never_read_through(box: Outbox, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the user's secret")
    entry = box.put(envelope())
    assert entry is not None
    entry.path.unlink()
    entry.path.symlink_to(secret)
    assert box.pending() == []  # not a regular file: not queued
    with pytest.raises(OSError):
        box.read(entry)
    assert box.purge() == 1
    assert secret.read_text() == "the user's secret"


def test_a_file_in_place_of_the_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / "outbox").write_text("not a folder")
    box = Outbox(tmp_path / "state" / "outbox", tmp_path / "state" / "sent")
    with pytest.raises(OSError) as info:
        box.put(envelope())
    assert info.value.strerror == NOT_A_FOLDER
    assert box.pending() == []
    assert box.stats()["pending"] == 0


def test_purge_deletes_queue_claims_temp_and_sent_log(box: Outbox) -> None:
    a, b, c = (box.put(envelope()) for _ in range(3))
    assert a is not None
    assert b is not None
    assert c is not None
    claim = box.claim(a)
    assert claim is not None
    box.done(claim)
    assert box.claim(b) is not None
    (box.directory / f".tmp-{os.getpid()}-0123abcd").write_bytes(b"x")
    assert box.purge() == 4
    assert box.pending() == []
    assert box.sent() == []
    assert box.claimed() == []


def test_missing_folders_read_as_empty(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "nope" / "outbox", tmp_path / "nope" / "sent")
    assert box.pending() == []
    assert box.sent() == []
    assert box.purge() == 0
    assert box.stats()["pending"] == 0
    assert box.due() == []
    assert box.next_due() is None
    assert not (tmp_path / "nope").exists()


def test_planted_symlinks_for_state_files_are_not_followed(box: Outbox, tmp_path: Path) -> None:
    box.put(envelope())
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for name in (".stats.json", ".ratelimit.json", ".lock"):
        path = box.directory / name
        path.unlink(missing_ok=True)
        path.symlink_to(victim)
    box.limit({"": time.time() + 100})  # writes replace the link, never the file behind it
    box._count("dropped_4xx")
    assert victim.read_text() == "keep me"
    assert box.stats()["dropped_4xx"] == 1
    assert box.rate_limits() != {}
    assert not (box.directory / ".lock").is_symlink()


def test_corrupt_state_files_read_as_empty(box: Outbox) -> None:
    box.put(envelope())
    (box.directory / ".stats.json").write_bytes(b"\xff{not json")
    (box.directory / ".ratelimit.json").write_text('{"": "soon", "error": [1]}')
    stats = box.stats()
    assert stats["dropped_full"] == 0
    assert stats["pending"] == 1
    assert box.rate_limits() == {}
    assert len(box.due()) == 1


# -- bounds, exactly ---------------------------------------------------------------------------------
def test_an_envelope_of_exactly_the_byte_bound_is_kept_one_more_byte_is_refused(tmp_path: Path) -> None:
    data = envelope()
    box = Outbox(tmp_path / "o", tmp_path / "s", max_bytes=len(data))
    assert box.put(data) is not None
    assert box.put(data + b" ") is None
    assert box.stats()["dropped_full"] == 1
    assert len(box.pending()) == 1


def test_over_a_bound_the_queue_is_cut_to_ninety_percent_oldest_first(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", max_count=20)
    entries = [box.put(envelope()) for _ in range(21)]
    assert box.pending() == entries[-18:]  # 21 > 20: down to 18, fewer rescans after
    assert box.stats()["dropped_full"] == 3
    for _ in range(2):
        box.put(envelope())
    assert len(box.pending()) == 20  # within the bound again: nothing dropped
    assert box.stats()["dropped_full"] == 3


def test_the_byte_bound_counts_what_is_being_sent(tmp_path: Path) -> None:
    one = len(envelope())
    box = Outbox(tmp_path / "o", tmp_path / "s", max_bytes=3 * one)
    first = box.put(envelope())
    assert first is not None
    assert box.claim(first) is not None  # being sent: still on the disk
    box.put(envelope())
    box.put(envelope())
    assert len(box.pending()) == 2
    box.put(envelope())  # 4 on disk > 3: the oldest queued go
    assert len(box.pending()) == 1


def test_a_report_older_than_the_queue_is_never_the_one_dropped_for_room(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", max_count=3)
    for _ in range(3):
        box.put(envelope())
    late = box.put(envelope("session"), created=time.time() - 3600)  # a run that ended long ago
    assert late is not None
    assert late in box.pending()
    assert len(box.pending()) == 2  # 4 > 3: down to 90% of 3, the others dropped for room


def test_another_process_filling_the_queue_is_noticed(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", max_count=5)
    box.put(envelope())
    other = Outbox(tmp_path / "o", tmp_path / "s", max_count=5)
    for _ in range(5):
        other.put(envelope())
    box.put(envelope())  # this process's estimate says 2: the folder says more
    assert len(box.pending()) <= 5


# -- what a name records ----------------------------------------------------------------------------
def test_put_records_when_the_report_came_to_be_and_its_id(box: Outbox) -> None:
    rid = uuid.uuid4().hex
    entry = box.put(envelope("session"), created=1_700_000_000.25, report_id=rid)
    assert entry is not None
    assert entry.created == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert (entry.event_id, entry.kinds) == (rid, ("session",))
    assert (entry.attempts, entry.not_before, entry.sent_at) == (0, 0.0, None)
    assert box.has(rid) and not box.has(uuid.uuid4().hex)


def test_has_sees_queued_claimed_and_sent_reports(box: Outbox) -> None:
    ids = [uuid.uuid4().hex for _ in range(3)]
    entries = [box.put(envelope(event_id=i)) for i in ids]
    assert all(e is not None for e in entries)
    claim = box.claim(entries[1])  # type: ignore[arg-type]
    assert claim is not None
    done = box.claim(entries[2])  # type: ignore[arg-type]
    assert done is not None
    box.done(done)
    assert all(box.has(i) for i in ids)
    box.drop(claim, "dropped_4xx")
    assert not box.has(ids[1])


@pytest.mark.parametrize(("eid", "expected"), [
    ("ABCDEF01-2345-6789-abcd-ef0123456789", "abcdef0123456789abcdef0123456789"),
    ("abc", None), ("g" * 32, None), (42, None),
])  # fmt: skip
def test_describe_normalises_the_event_id(eid: object, expected: str | None) -> None:
    data = json.dumps({"event_id": eid}).encode() + b'\n{"type":"event"}\n{}\n'
    assert describe(data) == (("event",), expected)


def test_describe_names_each_kind_once_and_odd_ones_other() -> None:
    items = [{"type": t} for t in ("session", "session", "Bad Type!", "x" * 41, "client_report")]
    data = b"{}\n" + b"".join(json.dumps(i).encode() + b"\n{}\n" for i in items)
    assert describe(data) == (("session", "other", "client_report"), None)
    many = b"{}\n" + b"".join(json.dumps({"type": f"k{i}"}).encode() + b"\n{}\n" for i in range(60))
    assert len(describe(many)[0]) == 50
    assert describe(b'{}\n{"length": 2}\n{}\n') == (("other",), None)


def test_names_stay_within_their_fields(box: Outbox) -> None:
    from crashreport.delivery.outbox import _entry_name

    assert _entry_name(5, "0123abcd", (), None, 12345, -7) == \
        "0000000000000000005.0123abcd.other.-.9999.0.env"  # fmt: skip
    long = tuple(f"kind{i:02d}" for i in range(30))
    name = _entry_name(5, "0123abcd", long, "e" * 32, 1, 60)
    assert name.split(".")[2] == "+".join(long)[:120]
    assert name.endswith(f".{'e' * 32}.1.60.env")


@pytest.mark.parametrize(("kinds", "days"), [(("session",), 5), (("sessions",), 5),
                                             (("event",), 30), (("transaction",), 30),
                                             (("event", "session"), 5)])  # fmt: skip
def test_how_long_sentry_still_takes_a_report(kinds: tuple[str, ...], days: int) -> None:
    from crashreport.delivery.outbox import Entry

    assert Entry(Path("x"), 0.0, 1, kinds, None, 0, 0.0).max_age == days * 86400


# -- one send ---------------------------------------------------------------------------------------
def test_a_claim_names_its_process_and_time(box: Outbox) -> None:
    entry = box.put(envelope())
    assert entry is not None
    start = int(time.time())
    claim = box.claim(entry)
    assert claim is not None and claim.entry == entry
    [(claimed, pid, at)] = box.claimed()
    assert claimed.path == entry.path and pid == os.getpid() and start <= at <= time.time()
    assert box.claim(entry) is None
    assert box.stats()["claimed"] == 1


def test_a_retry_waits_at_least_until_asked_and_counts_a_failure(box: Outbox) -> None:
    claim = put_and_claim(box)
    entry = claim.entry
    back = box.retry(claim, 1_800_000_000.2)
    assert (back.attempts, back.not_before) == (1, 1_800_000_001.0)  # rounded up, never early
    assert (back.created, back.kinds, back.event_id) == (entry.created, entry.kinds, entry.event_id)
    assert back.path.name.split(".")[1] == entry.path.name.split(".")[1]  # the same report
    again = box.claim(back)
    assert again is not None
    held = box.retry(again, 1_800_000_005.0, failed=False)  # held by a rate limit: no failure
    assert (held.attempts, held.not_before) == (1, 1_800_000_005.0)
    assert box.stats()["failures"] == 1


def test_due_limited_and_next_due(box: Outbox) -> None:
    now = time.time()
    event, session = box.put(envelope("event")), box.put(envelope("session"))
    assert event is not None and session is not None
    claim = box.claim(event)
    assert claim is not None
    event = box.retry(claim, now + 100)
    assert box.due(now) == [session]
    assert box.due(now, backoff=False) == [event, session]
    assert box.next_due(now) == now
    box.limit({"session": now + 50})
    assert box.due(now) == [] and box.due(now, backoff=False) == [event]
    assert box.limited(now) == [session]
    assert box.next_due(now) == now + 50
    assert box.due(now + 60) == [session] and box.due(now + 101) == [event, session]
    assert box.stats()["rate_limited"] == 1


def test_limits_keep_the_latest_time_per_category_and_forget_past_ones(box: Outbox) -> None:
    now = time.time()
    box.limit({"error": now + 100, "": now + 10})
    box.limit({"error": now + 50, "session": now + 20})
    assert box.rate_limits(now) == {"error": now + 100, "": now + 10, "session": now + 20}
    assert box.rate_limits(now + 15) == {"error": now + 100, "session": now + 20}
    assert box.rate_limits(now + 200) == {}


def test_a_sent_log_of_zero_keeps_nothing(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", sent_keep=0)
    claim = put_and_claim(box)
    box.done(claim)
    assert box.sent() == [] and not claim.path.exists() and box.pending() == []
    assert box.stats()["sent"] == 1
    assert not box.sent_dir.exists()  # nothing is written for a log that keeps nothing


def test_a_refusal_is_counted_with_its_answer(box: Outbox) -> None:
    claim = put_and_claim(box)
    before = time.time()
    box.refused(claim, 413)
    stats = box.stats()
    assert (stats["dropped_4xx"], stats["pending"], stats["claimed"]) == (1, 0, 0)
    assert stats["last_refusal"]["status"] == 413
    assert before <= stats["last_refusal"]["at"] <= time.time()


def test_stats_report_every_counter_and_the_queue(box: Outbox) -> None:
    assert box.stats() == {"sent": 0, "dropped_full": 0, "dropped_4xx": 0, "dropped_old": 0,
                           "dropped_corrupt": 0, "dropped_ratelimit": 0, "failures": 0,
                           "last_refusal": None, "pending": 0, "pending_bytes": 0,
                           "rate_limited": 0, "claimed": 0, "sent_log": 0}  # fmt: skip
    a, b = box.put(envelope()), box.put(envelope(pad=10))
    assert a is not None and b is not None
    box.count("dropped_old", 2)
    (box.directory / ".stats.json").write_text(json.dumps(
        {**json.loads((box.directory / ".stats.json").read_text()), "odd": True, "text": "x",
         "last_refusal": "not a dict"}))  # fmt: skip
    stats = box.stats()
    assert (stats["dropped_old"], stats["pending"], stats["pending_bytes"]) == (2, 2, a.size + b.size)
    assert "odd" not in stats and "text" not in stats and stats["last_refusal"] is None


def test_a_full_disk_raises_for_the_caller_and_leaves_no_temporary_file(box: Outbox) -> None:
    box.put(envelope())  # the folder exists
    with full_disk(), pytest.raises(OSError):
        box.put(envelope(pad=500))
    assert [p.name for p in box.directory.iterdir() if p.name.startswith(".tmp-")] == []
    assert len(box.pending()) == 1


def test_a_file_grown_past_the_bound_is_not_read(box: Outbox) -> None:
    entry = box.put(envelope())
    assert entry is not None
    small = Outbox(box.directory, box.sent_dir, max_bytes=entry.size - 1)
    with pytest.raises(OSError) as info:
        small.read(entry)
    assert (info.value.errno, info.value.strerror) == (errno.EFBIG, "larger than the outbox bound")
    assert Outbox(box.directory, box.sent_dir, max_bytes=entry.size).read(entry) == \
        entry.path.read_bytes()  # fmt: skip


# -- upkeep -----------------------------------------------------------------------------------------
def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(proc.stdout)


def test_a_live_writers_temporary_file_is_left_alone(box: Outbox) -> None:
    box.put(envelope())
    now = time.time()
    live = box.directory / f".tmp-{os.getpid()}-0123abcd"
    live.write_bytes(b"being written")
    young = box.directory / f".tmp-{_dead_pid()}-0123abce"
    young.write_bytes(b"a moment ago")
    assert box.recover(now=now + 4) == 0  # a dead writer's file gets a few seconds' grace
    assert box.recover(now=now + 599) == 1  # the dead writer's, after its grace
    assert live.exists() and not young.exists()
    assert box.recover(now=now + 601) == 1  # even a live writer's, ten minutes on
    assert not live.exists()


def test_a_live_claim_is_returned_only_once_stale(box: Outbox) -> None:
    claim = put_and_claim(box)
    entry = claim.entry
    [(_entry, _pid, at)] = box.claimed()
    assert box.recover(now=at + 299) == 0 and box.pending() == []
    assert box.recover(now=at + 301) == 1 and box.pending() == [entry]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="Linux's /proc")
def test_a_claim_of_a_process_that_is_gone_but_not_reaped_is_returned(box: Outbox) -> None:
    entry = box.put(envelope())
    assert entry is not None
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.time() + 10
    while time.time() < deadline:  # exited, and not waited for: a zombie
        with open(f"/proc/{zombie.pid}/stat", "rb") as f:
            if f.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                break
        time.sleep(0.01)
    os.rename(entry.path, f"{entry.path}.claimed-{zombie.pid}-{int(time.time())}-abcdef01")
    try:
        assert box.recover() == 1 and box.pending() == [entry]
    finally:
        zombie.wait()


def test_reports_too_old_for_sentry_go_at_their_own_age(box: Outbox) -> None:
    now = time.time()
    session = box.put(envelope("session"), created=now - 5 * 86400 + 60)
    event = box.put(envelope("event"), created=now - 30 * 86400 + 60)
    assert session is not None and event is not None
    assert box.recover(now=now) == 0
    assert box.recover(now=now + 120) == 2
    assert box.pending() == [] and box.stats()["dropped_old"] == 2


@pytest.mark.parametrize("mode", [0o701, 0o710, 0o740, 0o707])
def test_any_access_for_others_to_the_folder_is_taken_away(tmp_path: Path, mode: int) -> None:
    folder = tmp_path / "outbox"
    folder.mkdir()
    folder.chmod(mode)
    Outbox(folder, tmp_path / "sent").put(envelope())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700


def test_every_file_in_the_folder_is_private_whatever_the_umask(box: Outbox) -> None:
    """The queue, its lock and state files are 0600 (a planted lock link replaced by a 0600 file)."""
    old = os.umask(0)
    try:
        box.put(envelope())
        box.limit({"": time.time() + 100})
        box.count("sent")
        made = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in box.directory.iterdir()}
        (box.directory / ".lock").unlink()
        (box.directory / ".lock").symlink_to(box.directory / "elsewhere")
        box.count("sent")
    finally:
        os.umask(old)
    modes = {p.name: stat.S_IMODE(p.lstat().st_mode) for p in box.directory.iterdir()}
    assert len(modes) == 4 and set(modes.values()) == {0o600}, modes
    assert made == modes  # the lock as first made, too


def test_the_byte_bound_cuts_to_ninety_percent_and_a_bound_of_one_keeps_one(tmp_path: Path) -> None:
    one = len(envelope())
    box = Outbox(tmp_path / "o", tmp_path / "s", max_bytes=10 * one)
    entries = [box.put(envelope()) for _ in range(11)]
    assert box.pending() == entries[-9:]  # 11 > 10 envelopes' bytes: down to 9
    assert box.stats()["dropped_full"] == 2
    for bound in ({"max_count": 1}, {"max_bytes": one}):
        single = Outbox(tmp_path / str(bound), tmp_path / "s2", **bound)  # type: ignore[arg-type]
        kept = [single.put(envelope()) for _ in range(3)][-1]
        assert single.pending() == [kept]


def test_the_outbox_folder_is_made_private_again(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "outbox"
    folder.mkdir(parents=True, mode=0o755)
    folder.chmod(0o755)
    box = Outbox(folder, tmp_path / "state" / "sent")
    box.put(envelope())
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    deep = tmp_path / "fresh" / "state" / "app"
    new = Outbox(deep / "outbox", deep / "sent")
    new.put(envelope())
    assert stat.S_IMODE(deep.stat().st_mode) == 0o700
    assert stat.S_IMODE((deep / "outbox").stat().st_mode) == 0o700


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_folder_owned_by_someone_else_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "state" / "outbox"
    folder.mkdir(parents=True, mode=0o700)
    os.chown(folder, 65534, 65534)
    with pytest.raises(OSError) as info:
        Outbox(folder, tmp_path / "state" / "sent").put(envelope())
    assert (info.value.strerror, info.value.filename) == ("folder owned by another user", str(folder))
    assert list(folder.iterdir()) == []


def test_the_sent_log_reads_newest_first_and_skips_strangers(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o", tmp_path / "s", sent_keep=5)
    for _ in range(2):
        claim = put_and_claim(box)
        box.done(claim)
    (box.sent_dir / "notes.txt").write_text("x")
    (box.sent_dir / f"{time.time_ns():020d}~not-an-entry.env").write_text("x")
    (box.sent_dir / f"{time.time_ns():020d}~{claim.entry.path.name}x").mkdir()
    sent = box.sent()
    assert len(sent) == 2 and sent[0].sent_at >= sent[1].sent_at  # type: ignore[operator]
    assert box.stats()["sent_log"] == 2
    assert box.purge() == 3  # the log's two, and the file named like the log's; not the folder


def test_the_sent_log_keeps_the_last_twenty_by_default(box: Outbox) -> None:
    for _ in range(21):
        box.done(put_and_claim(box))
    assert len(box.sent()) == 20 and box.stats()["sent"] == 21


def test_a_report_without_an_id_has_none(box: Outbox) -> None:
    entry = box.put(envelope("session"))
    assert entry is not None and entry.event_id is None
    assert box.pending()[0].event_id is None


def test_next_due_of_now(box: Outbox) -> None:
    before = time.time()
    box.put(envelope())
    assert before <= (box.next_due() or 0) <= time.time()


def test_claims_of_other_processes_alive_are_kept_and_of_none_returned(box: Outbox) -> None:
    """pid 0 is no process (os.kill(0, 0) would ask this process group); a sleeping process is
    alive and not a zombie; so is pid 1 (in a container, the sender itself may be pid 1)."""
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        entries = [box.put(envelope()) for _ in range(5)]
        now = int(time.time())
        pids = [alive.pid, 1, 0, _dead_pid(), _dead_pid()]
        for entry, pid in zip(entries, pids, strict=True):
            assert entry is not None
            os.rename(entry.path, f"{entry.path}.claimed-{pid}-{now}-abcdef01")
        assert box.recover() == 3
        assert box.pending() == entries[2:]
        assert sorted(pid for _entry, pid, _at in box.claimed()) == sorted([alive.pid, 1])
        time.sleep(0.05)
        assert alive.poll() is None  # asked whether it lives (signal 0), never signalled
    finally:
        alive.kill()
        alive.wait()


def test_a_state_file_is_read_up_to_sixty_four_kibibytes(box: Outbox) -> None:
    box.put(envelope())
    stats = box.directory / ".stats.json"
    head = '{"sent": 7, "pad": "'
    stats.write_text(head + "x" * (64 * 1024 - len(head) - 2) + '"}')
    assert box.stats()["sent"] == 7
    stats.write_text(head + "x" * (64 * 1024 - len(head) - 1) + '"}')
    assert box.stats()["sent"] == 0  # a planted huge file is not read


def test_a_report_dropped_before_it_was_queued_counts_once(box: Outbox) -> None:
    box.count("dropped_old")
    box.count("dropped_old", 3)
    assert box.stats()["dropped_old"] == 4


def test_a_writer_killed_half_way_leaves_nothing_once_recovered(box: Outbox) -> None:
    """Killed (power cut, SIGKILL) after writing its temporary file, before putting it in place:
    the next sender removes what it left, and the queue never lists it."""
    code = ("import os, sys\n"
            "from crashreport.delivery.outbox import Outbox\n"
            "os.replace = lambda *a: os._exit(9)  # dies between writing and renaming\n"
            "Outbox(sys.argv[1], sys.argv[2]).put(sys.stdin.buffer.read())\n")  # fmt: skip
    data = envelope()
    proc = subprocess.run([sys.executable, "-c", code, str(box.directory), str(box.sent_dir)],
                          input=data, capture_output=True)  # fmt: skip
    assert proc.returncode == 9
    [left] = [p for p in box.directory.iterdir() if p.name != ".lock"]
    assert left.read_bytes() == data
    assert box.pending() == []
    assert box.recover(now=time.time() + 10) == 1
    assert [p for p in box.directory.iterdir() if p.name != ".lock"] == []
