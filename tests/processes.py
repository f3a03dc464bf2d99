"""Helpers for tests that run a real server as a child process (Spotlight, Bugsink)."""

from __future__ import annotations

import os
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

#: Read at import, before conftest's autouse fixture strips CI from the environment: in CI a
#: missing piece of an e2e set-up fails the run instead of skipping.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def require(what: str, pieces: dict[str, bool]) -> None:
    """Skip (outside CI) or fail (in CI) unless every piece is present; keys say how to get it."""
    missing = [name for name, present in pieces.items() if not present]
    if missing:
        message = f"{what} needs: " + ", ".join(missing)
        if IN_CI:
            pytest.fail(message + " (CI=true: missing pieces fail)")
        pytest.skip(message)


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, name: str,
                  timeout: float = 30) -> None:  # fmt: skip
    """Poll ``url`` until it answers 200; fail with the server's log if it dies or times out."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"{name} did not start: " + log.read_text(errors="replace"))
        time.sleep(0.2)


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
