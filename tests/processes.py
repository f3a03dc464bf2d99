"""Helpers for tests about child processes: real servers (Spotlight, Bugsink) and crashreport's
own senders (found in ``/proc``; the benchmark uses them too)."""

from __future__ import annotations

import os
import subprocess
import threading
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


def sender_pids() -> list[int]:
    """Live sender processes of this machine (their command line names the module)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmd = f.read()
            with open(f"/proc/{name}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
        except OSError:
            continue
        if b"crashreport.sender" in cmd and state not in (b"Z", b"X"):
            pids.append(int(name))
    return pids


def senders_of(home: Path | str) -> list[int]:
    """Live senders whose HOME is ``home`` (one test's)."""
    mine = []
    for pid in sender_pids():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if f"HOME={home}".encode() in f.read().split(b"\0"):
                    mine.append(pid)
        except OSError:
            continue
    return mine


class SenderWatch:
    """Samples the number of live senders every 5 ms (of this test's HOME only)."""

    def __init__(self, home: Path) -> None:
        self.home, self.most, self._stop = str(home), 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.most = max(self.most, len(senders_of(self.home)))
            time.sleep(0.005)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.most
