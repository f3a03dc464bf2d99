"""The file queue alone: atomic writes, bounds, claims, recovery, hostile folders."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from crashreport.delivery.outbox import STALE_CLAIM_SECONDS, Outbox, describe


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
        entry = box.put(envelope())
        assert entry is not None
        claim = box.claim(entry)
        assert claim is not None
        box.done(claim)
        ids.append(entry.event_id)
    assert [e.event_id for e in box.sent()] == ids[::-1][:3]
    times = [e.sent_at or 0 for e in box.sent()]
    assert times == sorted(times, reverse=True)
    assert time.time() - 60 < times[-1] <= time.time()
    assert box.pending() == []
    assert box.stats()["sent"] == 5
    assert box.read(box.sent()[0]).startswith(b'{"event_id"')


def test_retry_records_attempts_and_not_before(box: Outbox) -> None:
    entry = box.put(envelope())
    assert entry is not None
    claim = box.claim(entry)
    assert claim is not None
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
    with pytest.raises(OSError):
        box.put(envelope())
    assert list(elsewhere.iterdir()) == []
    assert box.pending() == []


def test_a_symlinked_parent_is_refused(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "state").symlink_to(elsewhere)
    box = Outbox(tmp_path / "state" / "outbox", tmp_path / "state" / "sent")
    with pytest.raises(OSError):
        box.put(envelope())
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
    with pytest.raises(OSError):
        box.put(envelope())
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
