"""Shared fixtures: an isolated HOME for every test, a loopback Sentry server, app runners."""

from __future__ import annotations

import os
import ssl
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import trustme
from hypothesis import settings

from crashreport import _safe

from .sentry_server import SentryServer

ROOT = Path(__file__).resolve().parent.parent

# sentry-relay's Rust errors capture a backtrace when RUST_BACKTRACE=1 (set on some machines):
# 0.1 s for each release it refuses. Its error messages are all the tests read.
os.environ["RUST_LIB_BACKTRACE"] = "0"

# Property tests never pass or fail by luck: the default profile ("ci") is derandomised (the
# same examples on every run, on every machine) and keeps no example database. Every example
# Hypothesis ever found is pinned with @example next to its test. Searching for new ones is a
# separate, longer run: HYPOTHESIS_PROFILE=explore python -m pytest -m "not slow" (see
# docs/testing.md); it multiplies each test's examples (tests.strategies.examples).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

#: Variables that would let the developer's own shell leak into a test.
_LEAKY = ("DO_NOT_TRACK", "CI", "MYTOOL_TELEMETRY", "MYTOOL_DSN", "MYTOOL_CONFIG",
          "CRASHREPORT_DEBUG", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME",
          "XDG_CACHE_HOME")  # fmt: skip


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Every test gets its own HOME and no telemetry-related variables from the caller."""
    home = tmp_path / "home" / "alice"
    home.mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    for name in list(os.environ):
        if name in _LEAKY or name.startswith("SENTRY_"):
            monkeypatch.delenv(name, raising=False)
    _safe.SWALLOWED.clear()
    _safe._warned.clear()
    yield home
    swallowed = list(_safe.SWALLOWED)
    _safe.SWALLOWED.clear()
    if swallowed:
        raise swallowed[0]


@pytest.fixture
def home(isolated: Path) -> Path:
    return isolated


@pytest.fixture
def sentry_server() -> Iterator[SentryServer]:
    server = SentryServer()
    yield server
    server.close()


def as_from_a_terminal() -> None:
    """``preexec_fn`` for a child that must take SIGHUP and SIGINT as from a terminal: a test
    run under ``nohup`` or as a background job would pass them on ignored."""
    import signal

    for sig in (signal.SIGHUP, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def tls_server(ca: trustme.CA) -> Iterator[SentryServer]:
    """The loopback Sentry server speaking HTTPS with a certificate of the throw-away CA."""
    server = SentryServer()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    httpd: ThreadingHTTPServer = server.httpd
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    yield server
    server.close()


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment for a child process: the isolated HOME, this checkout importable."""
    env = {k: v for k, v in os.environ.items()
           if k not in _LEAKY and not k.startswith("SENTRY_")}  # fmt: skip
    env["HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), str(ROOT / "examples" / "mytool"), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env.update(extra)
    return env


def run_python(home: Path, *args: str, env: dict[str, str] | None = None,
               timeout: float = 30, cwd: Path | None = None, wait: bool = True) -> Run:  # fmt: skip
    """Run ``python *args`` in a child process with the isolated HOME.

    With ``wait`` (the default), return only once the sender the run may have started after it
    exited is done (:func:`settle`): what a run reports is then at the server, or still queued.
    Tests of a server that hangs pass ``wait=False``."""
    import time

    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, *args],
        env=child_env(home, **(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd or home,
    )
    seconds = time.monotonic() - start
    if wait:
        settle(home=home)
    return Run(proc.returncode, proc.stdout, proc.stderr, seconds)


def settle(app: str = "mytool", timeout: float = 15.0, home: Path | None = None) -> bool:
    """Wait until the app's sender has finished (or ``timeout`` passed; the test's assertions
    then say what is missing): no sender holds its lock three times in a row, 20 ms apart (a
    sender lets go of the lock for a moment to look for late work before it exits). The app's
    folders are those of ``home``, by default this process's HOME (the test's isolated one).
    Whether it finished in time."""
    import fcntl
    import time

    from crashreport.paths import Paths

    saved = os.environ.get("HOME")
    if home is not None:
        os.environ["HOME"] = str(home)
    try:
        paths = Paths.for_app(app)
    finally:
        if saved is not None:
            os.environ["HOME"] = saved
    deadline = time.monotonic() + timeout
    free = 0
    while time.monotonic() < deadline and free < 3:
        try:  # never created here: the folder may be one a test keeps untouched
            fd = os.open(paths.sender_lock, os.O_RDWR)
        except OSError:
            free += 1
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                free += 1
            except OSError:
                free = 0
            finally:
                os.close(fd)
        time.sleep(0.02)
    return free >= 3


def run_mytool(home: Path, *args: str, **kwargs: object) -> Run:
    """Run the example app ``mytool`` as its user would."""
    return run_python(home, "-m", "mytool", *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True)
def fresh_crashreport() -> Iterator[None]:
    """init() remembers its handle per process; in-process tests start from scratch."""
    import crashreport
    from crashreport import _exit

    def reset() -> None:
        crashreport._handle = None
        crashreport._run = None
        crashreport._options.clear()
        crashreport._ceiling = crashreport.Level.ALL
        _exit.status = None

    reset()
    yield
    reset()
