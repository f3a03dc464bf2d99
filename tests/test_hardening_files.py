"""Hostile files in our folders, beyond test_outbox/test_identity: foreign owners, planted links
to outside files, garbage and truncated envelopes, a huge planted file, names off the scheme.

Always: no crash, the host's exit code unchanged, nothing sent that is not a whole envelope we
wrote, no file outside our folders read, followed or written.
"""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from pathlib import Path

import pytest

from crashreport.delivery.outbox import Outbox, is_envelope
from crashreport.paths import Paths
from crashreport.sender import SendResult, send_now

from .conftest import run_mytool
from .sentry_server import SentryServer
from .test_delivery import check_host_unchanged, event_ids, next_run, on, outbox
from .test_outbox import envelope

NOBODY = 65534
root_only = pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                               reason="chown to another user needs root")  # fmt: skip


def queued_name(event_id: str | None = None, kind: str = "event", created: int | None = None) -> str:
    """A file name that follows the outbox's naming scheme."""
    created = created or time.time_ns()
    return f"{created:019d}.{uuid.uuid4().hex[:8]}.{kind}.{event_id or uuid.uuid4().hex}.0.0.env"


def plant(box: Outbox, data: bytes, event_id: str | None = None) -> Path:
    box.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = box.directory / queued_name(event_id)
    path.write_bytes(data)
    os.chmod(path, 0o600)
    return path


# -- foreign owners ------------------------------------------------------------------------------
@root_only
def test_a_state_folder_owned_by_another_user_is_not_written(
    home: Path, sentry_server: SentryServer
) -> None:
    paths = Paths.for_app("mytool")
    paths.outbox_dir.parent.mkdir(parents=True, mode=0o700)
    os.chown(paths.outbox_dir.parent, NOBODY, NOBODY)  # e.g. left behind by another account
    off = run_mytool(home, "crash")
    run = run_mytool(home, "crash", env=on(sentry_server))
    check_host_unchanged(run, off, warnings=1)  # one line: reports go from memory
    assert len(sentry_server.wait_for("event", 1, timeout=10)) == 1
    assert list(paths.outbox_dir.parent.iterdir()) == []  # nothing written into it
    assert os.lstat(paths.outbox_dir.parent).st_uid == NOBODY  # and not taken over


@root_only
def test_an_id_file_owned_by_another_user_is_neither_changed_nor_fatal(
    home: Path, sentry_server: SentryServer
) -> None:
    paths = Paths.for_app("mytool")
    paths.id_file.parent.mkdir(parents=True, mode=0o700)
    paths.id_file.write_text(json.dumps({"user_id": "0" * 32}))
    os.chmod(paths.id_file, 0o600)
    os.chown(paths.id_file, NOBODY, NOBODY)
    before = paths.id_file.read_bytes()
    off = run_mytool(home, "hello")
    run = run_mytool(home, "hello", env=on(sentry_server))
    check_host_unchanged(run, off)
    assert paths.id_file.read_bytes() == before
    assert os.lstat(paths.id_file).st_uid == NOBODY


# -- planted links, garbage, huge files, odd names -------------------------------------------------
def test_a_queued_name_linking_outside_is_never_sent_read_or_overwritten(
    home: Path, sentry_server: SentryServer
) -> None:
    secret = home / "secret.env"
    secret_data = envelope(event_id="5" * 32)  # even a valid envelope: it is not ours to send
    secret.write_bytes(secret_data)
    box = outbox()
    box.put(envelope(event_id="1" * 32))
    link = box.directory / queued_name("5" * 32)
    link.symlink_to(secret)
    claimed_link = box.directory / (queued_name("6" * 32) + ".claimed-999999-1-abcdef01")
    claimed_link.symlink_to(secret)
    next_run(home, sentry_server)
    assert event_ids(sentry_server) == ["1" * 32]
    assert secret.read_bytes() == secret_data  # never written through
    assert link.is_symlink() and claimed_link.is_symlink()  # left alone, not followed
    assert [e.event_id for e in box.pending()] == []


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x00\xff" * 100,
        b"not json at all\n",
        b'{"event_id": "x"}\n',  # a header and no item
        b'{}\n{"type": "event", "length": 500}\n{"event_id": "trunc',  # truncated payload
        b'{}\n{"type": "event"}\n{"event_id": "trunc',  # truncated, no length
        b'[]\n{"type": "event"}\n{}\n',  # header not an object
        b'{}\n{"length": 2}\n{}\n',  # item without a type
        envelope(event_id="7" * 32)[:-20],  # a real one cut short
    ],
    ids=["empty", "binary", "text", "no-item", "trunc-len", "trunc", "list", "no-type", "cut"],
)
def test_a_garbage_or_truncated_file_is_dropped_counted_and_never_sent(
    sentry_server: SentryServer, data: bytes
) -> None:
    box = outbox()
    plant(box, data, event_id="7" * 32)
    good = envelope(event_id="2" * 32)
    box.put(good)
    assert not is_envelope(data)
    assert is_envelope(good)
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert result == SendResult(sent=1, kept=0, held=0, dropped=1)
    assert event_ids(sentry_server) == ["2" * 32]
    assert box.stats()["dropped_corrupt"] == 1
    assert box.pending() == []


def test_a_huge_planted_file_is_refused_without_being_read(
    home: Path, sentry_server: SentryServer
) -> None:
    box = Outbox(outbox().directory, outbox().sent_dir, max_bytes=1024 * 1024)
    box.directory.mkdir(parents=True, mode=0o700)
    huge = box.directory / queued_name("8" * 32, created=1)
    with open(huge, "wb") as f:  # 2 GiB, sparse: costs no disk, would cost memory to read
        f.truncate(2 * 1024**3)
    with pytest.raises(OSError):
        box.read(box.pending()[0])
    box.put(envelope(event_id="3" * 32))  # the bound drops it, oldest first, without reading
    assert [e.event_id for e in box.pending()] == ["3" * 32]
    huge2 = box.directory / queued_name("9" * 32)
    with open(huge2, "wb") as f:
        f.truncate(2 * 1024**3)
    result = send_now("mytool", config=None, dsn=sentry_server.dsn, timeout=5)
    assert result == SendResult(sent=1, kept=0, held=0, dropped=1)
    assert event_ids(sentry_server) == ["3" * 32]
    assert not huge2.exists()


def test_a_huge_planted_counter_file_reads_as_empty(home: Path) -> None:
    box = outbox()
    box.put(envelope())
    stats = box.directory / ".stats.json"
    stats.unlink(missing_ok=True)
    with open(stats, "wb") as f:
        f.write(b'{"sent": 1, "pad": "')
        f.truncate(1024**3)
    assert box.stats()["sent"] == 0
    assert box.rate_limits() == {}


ODD_NAMES = [
    "foo.env",
    "123.env",
    "1795405648678945289.542d7f64.event.-.0.0.env.bak",
    "1795405648678945289.542d7f64.EVENT.-.0.0.env",
    "1795405648678945289.xyz.event.-.0.0.env",
    "1795405648678945289.542d7f64.event.-.0.0.env.claimed-abc",
    "1795405648678945289.542d7f64.event.-.0.0.env.claimed-1-1-zz",
    ".tmp-notapid-1234",
    "répertoire-é.env",
    "x" * 250,
    " 1795405648678945289.542d7f64.event.-.0.0.env",
]


def test_names_off_the_scheme_are_ignored_never_sent_never_deleted(
    home: Path, sentry_server: SentryServer
) -> None:
    box = outbox()
    box.put(envelope(event_id="4" * 32))
    for name in ODD_NAMES:
        (box.directory / name).write_bytes(envelope(event_id="e" * 32))
    folder = box.directory / queued_name("d" * 32)
    folder.mkdir()  # a folder named like an entry
    assert [e.event_id for e in box.pending()] == ["4" * 32]
    run = next_run(home, sentry_server)
    assert run.returncode == 0 and "crashreport:" not in run.stderr
    assert event_ids(sentry_server) == ["4" * 32]
    for name in ODD_NAMES:
        assert (box.directory / name).exists(), name  # not ours: not removed either
    assert folder.is_dir()
    assert box.purge() >= 1
    assert (box.directory / "foo.env").exists()


def test_a_fifo_named_like_an_entry_never_blocks_a_run(
    home: Path, sentry_server: SentryServer
) -> None:
    box = outbox()
    box.put(envelope(event_id="c" * 32))
    fifo = box.directory / queued_name("f" * 32)
    os.mkfifo(fifo, 0o600)
    run = next_run(home, sentry_server, timeout=20)
    assert run.returncode == 0 and "crashreport:" not in run.stderr
    assert event_ids(sentry_server) == ["c" * 32]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
