"""``crashreport demo``: the README's main job, run as its user would."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .conftest import run_python

PERSONAL = re.compile(r"^  (your home folder|your user name '\w+'|this computer's name '[^']+')"
                      r"\s+(\d+)\s+(\d+)$", re.MULTILINE)  # fmt: skip


def unwrap(text: str) -> str:
    """Join the demo's continuation lines (marker, then only spaces where the label goes)."""
    return re.sub(r"\n[-+ ] {20,}", "", text)


def test_demo_compares_with_plain_sentry_sdk(home: Path) -> None:
    run = run_python(home, "-m", "crashreport", "demo",
                     env={"USER": "alice", "LOGNAME": "alice", "NO_COLOR": "1"}, timeout=120)
    assert run.returncode == 0, run.stderr
    assert_demo_output(run.stdout, home)


def assert_demo_output(stdout: str, home: Path) -> None:
    """The comparison a user alice sees (also from an installed wheel: test_packaging)."""
    out = unwrap(stdout)
    assert "\033[" not in out  # NO_COLOR and not a terminal
    assert "FileNotFoundError: [Errno 2] No such file or directory: '<path>.pdf'" in out
    # What plain sentry-sdk sends and crashreport removes, marked as such.
    assert re.search(r"^- server_name\s+\S", out, re.MULTILINE)
    assert re.search(r"^- extra\.sys\.argv\s+.*/home/alice/", out, re.MULTILINE)
    assert re.search(r"^- frame \d+ \(parse_report\)\.vars\s+path=PosixPath", out, re.MULTILINE)
    assert re.search(r"^\+ user\.id\s+[0-9a-f]{32}$", out, re.MULTILINE)
    assert re.search(r"^\+ tags\.subcommand\s+crash$", out, re.MULTILINE)
    assert re.search(r"^  exception\.values\[0\]\.type\s+FileNotFoundError$", out, re.MULTILINE)
    assert re.search(r"^\+ release\s+demoapp@1\.0\.0$", out, re.MULTILINE)
    assert re.search(r"^\+ contexts\.packages\.crashreport\s+\d", out, re.MULTILINE)
    assert "+ session: status crashed, release demoapp@1.0.0" in out
    counts = {m[0]: (int(m[1]), int(m[2])) for m in PERSONAL.findall(out)}
    assert len(counts) == 3, out
    assert all(theirs > 0 and ours == 0 for theirs, ours in counts.values()), counts
    # The throw-away HOME is gone; the real one (the test's) was not touched.
    tmp = re.search(r"throw-away HOME \((.+?)\)", out)
    assert tmp is not None
    assert not Path(tmp[1]).exists()
    assert list(home.iterdir()) == []


def test_demo_colours_on_a_terminal(home: Path) -> None:
    from .conftest import child_env

    master, slave = os.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "crashreport", "demo"], stdout=slave,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                              env=child_env(home, USER="alice", LOGNAME="alice"), cwd=home,
                              timeout=120)  # fmt: skip
        os.close(slave)
        data = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            if not chunk:
                break
            data += chunk
    finally:
        os.close(master)
    assert proc.returncode == 0, proc.stderr
    assert b"\033[31m- server_name" in data
    assert b"\033[32m+ user.id" in data
