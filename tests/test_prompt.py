"""The consent prompt of ``init(..., ask=True)``, driven through a real pseudo-terminal."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from .conftest import child_env, run_python

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

PROMPT = b"[y/N]"
INIT = (
    "import crashreport, sys\n"
    "h = crashreport.init('mytool', config=sys.argv[1], ask=True)\n"
    "print('RESULT', h.level.value, h.source.name, flush=True)\n"
)


class Tty:
    """A child process whose stdin and stderr are a pseudo-terminal; stdout is a pipe."""

    def __init__(self, home: Path, args: list[str], env: dict[str, str] | None = None) -> None:
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, *args],
            stdin=slave,
            stderr=slave,
            stdout=subprocess.PIPE,
            env=child_env(home, **(env or {})),
            cwd=home,
        )
        os.close(slave)
        self.seen = b""

    def read_until(self, marker: bytes, timeout: float = 20) -> bool:
        """Read the terminal until ``marker`` shows (True) or the child exits/time runs out."""
        deadline = time.monotonic() + timeout
        while marker not in self.seen and time.monotonic() < deadline:
            ready, _, _ = select.select([self.master], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    break
                if not chunk:
                    break
                self.seen += chunk
            elif self.proc.poll() is not None:
                break
        return marker in self.seen

    def type(self, text: bytes) -> None:
        os.write(self.master, text)

    def finish(self, timeout: float = 30) -> str:
        out, _ = self.proc.communicate(timeout=timeout)
        self.read_until(b"\0", timeout=0.5)  # drain what is left on the terminal
        os.close(self.master)
        return out.decode()


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("answer", "level", "collect"),
    [(b"y\n", "all", True), (b"n\n", "off", False), (b"\n", "off", False),
     (b"YES\n", "all", True), (b"maybe\n", "off", False)],
)  # fmt: skip
def test_answer_is_recorded_and_never_asked_again(
    home: Path, answer: bytes, level: str, collect: bool
) -> None:
    config = home / ".config" / "mytool" / "config.yaml"
    tty = Tty(home, ["-c", INIT, str(config)])
    assert tty.read_until(PROMPT), tty.seen
    # Nothing is written (no id, no folders, no config) while the question waits.
    assert _files(home) == []
    text = tty.seen.decode()
    assert "Never sent" in text
    assert "your name" in text
    assert str(config) in text
    tty.type(answer)
    out = tty.finish()
    assert f"RESULT {level} CONFIG" in out
    assert yaml.safe_load(config.read_text())["telemetry"]["collect"] is collect

    again = Tty(home, ["-c", INIT, str(config)])
    assert not again.read_until(PROMPT, timeout=15)
    assert f"RESULT {level} CONFIG" in again.finish()


def test_answer_keeps_an_existing_config(home: Path) -> None:
    config = home / "mytool.yaml"
    config.write_text("# my settings\ncolour: blue  # favourite\ntelemetry:\n  dsn: null\n")
    tty = Tty(home, ["-c", INIT, str(config)])
    assert tty.read_until(PROMPT)
    tty.type(b"y\n")
    assert "RESULT all CONFIG" in tty.finish()
    text = config.read_text()
    assert text.startswith("# my settings\ncolour: blue  # favourite\ntelemetry:\n")
    assert yaml.safe_load(text) == {"colour": "blue", "telemetry": {"collect": True, "dsn": None}}


def test_the_example_app_asks_and_runs(home: Path) -> None:
    tty = Tty(home, ["-m", "mytool", "hello"])
    assert tty.read_until(PROMPT)
    assert b"mytool can send crash reports" in tty.seen
    tty.type(b"\n")
    assert tty.finish() == "hello from mytool\n"
    assert tty.proc.returncode == 0
    config = home / ".config" / "mytool" / "config.yaml"
    assert yaml.safe_load(config.read_text()) == {"telemetry": {"collect": False}}


@pytest.mark.parametrize(
    "env", [{"CI": "true"}, {"DO_NOT_TRACK": "1"}, {"MYTOOL_TELEMETRY": "0"}]
)
def test_no_question_when_something_already_decided(home: Path, env: dict[str, str]) -> None:
    config = home / "config.yaml"
    tty = Tty(home, ["-c", INIT, str(config)], env=env)
    assert not tty.read_until(PROMPT, timeout=15)
    assert "RESULT off" in tty.finish()
    assert not config.exists()


def test_no_question_when_the_config_decided(home: Path) -> None:
    config = home / "config.yaml"
    config.write_text("telemetry:\n  collect: false\n")
    tty = Tty(home, ["-c", INIT, str(config)])
    assert not tty.read_until(PROMPT, timeout=15)
    assert "RESULT off CONFIG" in tty.finish()


def test_not_interactive_means_off_without_waiting(home: Path) -> None:
    config = home / "config.yaml"
    proc = subprocess.run(
        [sys.executable, "-c", INIT, str(config)],
        stdin=subprocess.DEVNULL, capture_output=True, text=True, env=child_env(home),
        timeout=30, cwd=home,
    )  # fmt: skip
    assert proc.stdout.strip() == "RESULT off DEFAULT"
    assert proc.stderr == ""
    assert _files(home) == []


def test_stdin_a_terminal_but_stderr_redirected_does_not_ask(home: Path) -> None:
    master, slave = os.openpty()
    try:
        proc = subprocess.run(
            [sys.executable, "-c", INIT, str(home / "config.yaml")],
            stdin=slave, capture_output=True, text=True, env=child_env(home), timeout=30,
            cwd=home,
        )  # fmt: skip
    finally:
        os.close(slave)
        os.close(master)
    assert proc.stdout.strip() == "RESULT off DEFAULT"
    assert "[y/N]" not in proc.stderr


def test_ask_without_a_config_path_never_asks(home: Path) -> None:
    code = "import crashreport\nprint(crashreport.init('mytool', ask=True).level.value)\n"
    run = run_python(home, "-c", code)
    assert run.stdout.strip() == "off"


def test_end_of_input_counts_as_no(home: Path) -> None:
    config = home / "config.yaml"
    tty = Tty(home, ["-c", INIT, str(config)])
    assert tty.read_until(PROMPT)
    tty.type(b"\x04")  # Ctrl-D at the start of a line: end of input
    assert "RESULT off CONFIG" in tty.finish()
    assert yaml.safe_load(config.read_text()) == {"telemetry": {"collect": False}}
