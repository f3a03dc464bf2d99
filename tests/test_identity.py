"""identity: create, reuse, repair, reset, permissions, links, concurrent first runs."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from crashreport import identity

from .conftest import child_env
from .disk import durability_log


def test_created_once_then_reused(home: Path) -> None:
    path = home / "data" / "app" / "user_id.json"
    first = identity.load_or_create(path)
    assert len(first) == 32 and int(first, 16) >= 0
    assert identity.load_or_create(path) == first
    assert json.loads(path.read_text()) == {"user_id": first}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == ["user_id.json"]  # no temp left


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b'{"user_id": 5}', b'{"user_id": "xyz"}', b"\xff\xfe", b"null"]
)
def test_corrupt_file_is_replaced(home: Path, content: bytes) -> None:
    path = home / "user_id.json"
    path.write_bytes(content)
    new = identity.load_or_create(path)
    assert identity.read_id(path) == new


def test_deleted_gives_a_new_id(home: Path) -> None:
    path = home / "user_id.json"
    first = identity.load_or_create(path)
    assert identity.reset(path) is True
    assert identity.reset(path) is False
    assert identity.load_or_create(path) != first


def test_planted_symlink_is_not_followed(home: Path) -> None:
    victim = home / "victim.txt"
    victim.write_text("precious")
    path = home / "user_id.json"
    path.symlink_to(victim)
    new = identity.load_or_create(path)
    assert victim.read_text() == "precious"
    assert not path.is_symlink() and identity.read_id(path) == new


def test_sixteen_first_runs_agree_on_one_id(home: Path) -> None:
    """Sixteen enabled programs starting together, each through the real init (local mode)."""
    code = (
        "import sys, time, crashreport\n"
        "t = float(sys.argv[1])\n"
        "while time.time() < t: pass\n"
        "print(crashreport.init('mytool').user_id)\n"
    )
    import time

    start = str(time.time() + 2.0)
    env = child_env(home, MYTOOL_TELEMETRY="1")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, start], env=env, cwd=home, stdout=subprocess.PIPE, text=True
        )
        for _ in range(16)
    ]
    ids = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    path = home / ".local/share/mytool/user_id.json"
    assert len(ids) == 1 and identity.read_id(path) in ids
    assert [p.name for p in path.parent.iterdir()] == ["user_id.json"]


def test_unwritable_folder_raises_oserror_for_the_caller(home: Path) -> None:
    # init turns this into a per-run id and one warning (tested end to end in test_init).
    blocker = home / "file"
    blocker.write_text("")
    with pytest.raises(OSError):
        identity.load_or_create(blocker / "sub" / "user_id.json")


def test_umask_does_not_widen_modes(home: Path) -> None:
    old = os.umask(0)
    try:
        path = home / "u" / "user_id.json"
        identity.load_or_create(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


def test_widened_permissions_are_narrowed(home: Path) -> None:
    path = home / "user_id.json"
    first = identity.load_or_create(path)
    path.chmod(0o644)
    assert identity.load_or_create(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_fifo_or_folder_in_place_of_the_file(home: Path) -> None:
    fifo = home / "a" / "user_id.json"
    fifo.parent.mkdir()
    os.mkfifo(fifo)
    assert identity.read_id(fifo) is None
    new = identity.load_or_create(fifo)  # replaced, without blocking on the FIFO
    assert identity.read_id(fifo) == new
    folder = home / "b" / "user_id.json"
    folder.mkdir(parents=True)
    with pytest.raises(OSError):
        identity.load_or_create(folder)  # a folder is never deleted; init falls back to a per-run id


def test_a_link_to_a_valid_id_elsewhere_is_never_read(home: Path) -> None:
    """O_NOFOLLOW: a planted link would let someone else choose (or learn) the id we send."""
    planted = home / "elsewhere.json"
    planted.write_text(json.dumps({"user_id": "0123456789abcdef0123456789abcdef"}))
    path = home / "user_id.json"
    path.symlink_to(planted)
    assert identity.read_id(path) is None
    new = identity.load_or_create(path)
    assert new != "0123456789abcdef0123456789abcdef"
    assert not path.is_symlink() and identity.read_id(path) == new
    assert json.loads(planted.read_text()) == {"user_id": "0123456789abcdef0123456789abcdef"}


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o660, 0o610, 0o601])
def test_any_access_for_others_is_taken_away(home: Path, mode: int) -> None:
    path = home / "user_id.json"
    first = identity.load_or_create(path)
    path.chmod(mode)
    assert identity.read_id(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_private_file_is_left_as_it_is(home: Path) -> None:
    path = home / "user_id.json"
    first = identity.load_or_create(path)
    path.chmod(0o400)  # the user made it read-only: still theirs, not widened, not "fixed"
    assert identity.read_id(path) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o400


VALID = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(("content", "ok"), [
    (f'{{"user_id": "{VALID}"}}', True),
    (f'{{"user_id":"{VALID}"}}\n', True),
    (f' {{ "user_id" :\n "{VALID}" }} ', True),
    (f'{{"user_id": "{VALID}0"}}', False),  # only starts like an id
    (f'{{"user_id": "{VALID[:-1]}"}}', False),
    (f'{{"user_id": "{VALID.upper()}"}}', False),
    (f'{{"user_id": "{VALID[:-1]}g"}}', False),
    (f'{{"user_id": "{VALID}", "x": 1}}', False),
    (f'{{"user_id": "{VALID}"}}x', False),
    (f'x{{"user_id": "{VALID}"}}', False),
    (f'{{"id": "{VALID}"}}', False),
    ('{"user_id": "' + "X" * 32 + '"}', False),
    ('{"user_id": "' + "é" * 16 + '"}', False),  # 32 bytes, not hex
])  # fmt: skip
def test_only_an_exact_id_file_is_accepted(home: Path, content: str, ok: bool) -> None:
    path = home / "user_id.json"
    path.write_text(content)
    path.chmod(0o600)
    assert identity.read_id(path) == (VALID if ok else None)


def test_an_id_file_is_read_up_to_four_kibibytes(home: Path) -> None:
    path = home / "user_id.json"
    head, tail = '{"user_id":', f'"{VALID}"}}'
    path.write_text(head + " " * (4096 - len(head) - len(tail)) + tail)
    assert identity.read_id(path) == VALID
    path.write_text(head + " " * (4097 - len(head) - len(tail)) + tail)
    assert identity.read_id(path) is None


def test_ids_are_random_uuid4s() -> None:
    import uuid

    ids = [identity.new_id() for _ in range(64)]
    assert len(set(ids)) == 64
    for value in ids:
        u = uuid.UUID(value)
        assert (u.version, u.variant, u.hex) == (4, uuid.RFC_4122, value)
    # 122 random bits: every bit varies across 64 ids but the version's four and the variant's two
    for i in range(32):
        for bit in range(4):
            values = {int(value[i], 16) >> bit & 1 for value in ids}
            if i == 12:
                assert values == {(0b0100 >> bit) & 1}, (i, bit)
            elif i == 16 and bit >= 2:
                assert values == {(0b1000 >> bit) & 1}, (i, bit)
            else:
                assert values == {0, 1}, (i, bit)
    # ... and each independently: no random bit is a copy of another (64 ids: 2**-64 per pair)
    columns = [sum((int(value, 16) >> bit & 1) << n for n, value in enumerate(ids))
               for bit in range(128) if bit not in (*range(76, 80), 62, 63)]  # fmt: skip
    assert len(set(columns)) == 122


def test_the_id_reaches_the_disk_before_its_name_appears(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync, with the whole content written, before the file is linked into place: a power cut
    never leaves an empty id file (which would give the user a new id, a new "user")."""
    log = durability_log(monkeypatch, "link")
    path = home / "user_id.json"
    identity.load_or_create(path)
    size = path.stat().st_size
    assert log == [("fsync", size), ("link", size)]


def test_a_run_that_loses_the_race_takes_the_winners_id(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = home / "user_id.json"
    real = identity._write_aside

    def write_aside(target: Path, value: str) -> Path:
        tmp = real(target, value)
        path.write_text(json.dumps({"user_id": VALID}))  # another first run got there first
        path.chmod(0o600)
        return tmp

    monkeypatch.setattr(identity, "_write_aside", write_aside)
    assert identity.load_or_create(path) == VALID
    assert identity.read_id(path) == VALID
    assert [p.name for p in home.iterdir()] == ["user_id.json"]  # our copy is cleaned up


def test_a_corrupt_file_is_replaced_leaving_nothing_behind(home: Path) -> None:
    path = home / "user_id.json"
    path.write_text("garbage")
    new = identity.load_or_create(path)
    assert identity.read_id(path) == new
    assert [p.name for p in home.iterdir()] == ["user_id.json"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_reusing_the_id_writes_nothing(home: Path) -> None:
    path = home / "data" / "user_id.json"
    first = identity.load_or_create(path)
    os.utime(path.parent, ns=(0, 0))
    assert identity.load_or_create(path) == first
    assert path.parent.stat().st_mtime_ns == 0  # no file made or removed in the folder


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_reading_the_id_leaves_no_file_open(home: Path) -> None:
    path = home / "user_id.json"
    identity.load_or_create(path)
    os.mkfifo(home / "fifo")
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        identity.read_id(path)
        identity.read_id(home / "fifo")
    assert len(os.listdir("/proc/self/fd")) == before
