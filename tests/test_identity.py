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
