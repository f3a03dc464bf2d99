"""The app's own frames are in_app in every way an app is installed, launcher frames are not.

The example app is built into wheels once per session and installed as its users would: a venv
(its console script and ``python -m``), pipx, a zipapp, and the editable install of this
checkout. Each crashes with telemetry on against a loopback server; the event's frames must
mark mytool's code in_app and nothing else (``<frozen runpy>``, the console-script launcher,
the zipapp's ``__main__.py``, the standard library).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest

from .conftest import ROOT
from .sentry_server import SentryServer

pytestmark = pytest.mark.slow


def pip(*args: str, cwd: Path | None = None) -> None:
    subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                   check=True, capture_output=True, cwd=cwd, timeout=300)  # fmt: skip


@pytest.fixture(scope="session")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("wheels")
    pip("wheel", "--no-deps", "-w", str(out), str(ROOT), str(ROOT / "examples" / "mytool"))
    return {p.name.split("-")[0]: p for p in out.glob("*.whl")}


@pytest.fixture(scope="session")
def venv(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with both wheels (crashreport given as a file: PyPI has another one)."""
    where = tmp_path_factory.mktemp("kind-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(where)], check=True)
    pip("--python", str(where / "bin" / "python"), "install", str(wheels["crashreport"]),
        str(wheels["mytool"]))  # fmt: skip
    return where


@pytest.fixture(scope="session")
def pipx_bin(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("pipx")
    env = {**os.environ, "PIPX_HOME": str(base / "home"), "PIPX_BIN_DIR": str(base / "bin"),
           "PIPX_MAN_DIR": str(base / "man")}  # fmt: skip
    subprocess.run([str(Path(sys.executable).parent / "pipx"), "install", "--preinstall",
                    str(wheels["crashreport"]), str(wheels["mytool"])], check=True, env=env,
                   capture_output=True, timeout=300)  # fmt: skip
    return base / "bin"


@pytest.fixture(scope="session")
def zipapp(wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("zipapp")
    pip("install", "--target", str(base / "build"), str(wheels["crashreport"]), str(wheels["mytool"]))
    target = base / "mytool.pyz"
    subprocess.run([sys.executable, "-m", "zipapp", str(base / "build"), "-o", str(target),
                    "-m", "mytool.__main__:main"], check=True)  # fmt: skip
    return target


def editable(argv: list[str]) -> list[str]:
    """``argv``, run against this checkout's editable install of mytool (as .ci/run makes it)."""
    direct = metadata.distribution("mytool").read_text("direct_url.json") or "{}"
    if not json.loads(direct).get("dir_info", {}).get("editable"):
        pytest.skip("mytool is not installed editable here (pip install -e examples/mytool)")
    return argv


#: Each kind: how to build the command line, given the pytest request (for its fixtures).
KINDS: dict[str, Callable[[pytest.FixtureRequest], list[str]]] = {
    "venv-script": lambda r: [str(r.getfixturevalue("venv") / "bin" / "mytool")],
    "venv-python-m": lambda r: [str(r.getfixturevalue("venv") / "bin" / "python"), "-m", "mytool"],
    "pipx": lambda r: [str(r.getfixturevalue("pipx_bin") / "mytool")],
    "zipapp": lambda r: [sys.executable, str(r.getfixturevalue("zipapp"))],
    "editable-script": lambda r: editable([str(Path(sys.executable).parent / "mytool")]),
    "editable-python-m": lambda r: editable([sys.executable, "-m", "mytool"]),
}


def frames_of(event: dict[str, Any]) -> list[dict[str, Any]]:
    [exc] = event["exception"]["values"]
    return list(exc["stacktrace"]["frames"])


def describe(frames: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(f.get("module"), f.get("function"), f.get("filename"), f.get("in_app")) for f in frames]


@pytest.mark.parametrize("kind", list(KINDS))
def test_app_frames_in_app_launchers_not(request: pytest.FixtureRequest, kind: str, home: Path,
                                          sentry_server: SentryServer) -> None:  # fmt: skip
    argv = KINDS[kind](request)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(HOME=str(home), MYTOOL_TELEMETRY="1", MYTOOL_DSN=sentry_server.dsn)
    run = subprocess.run([*argv, "crash"], env=env, cwd=home, capture_output=True, text=True,
                         timeout=60)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert "FileNotFoundError" in run.stderr and "crashreport:" not in run.stderr
    [event] = sentry_server.wait_for("event")
    assert event["release"] == "mytool@1.4.2"  # the version comes from metadata in each kind
    frames = frames_of(event)
    seen = describe(frames)
    # mytool's functions; with python -m, mytool/__main__.py's module code too (the console
    # script's and the zipapp's __main__.py are launchers that only call main()).
    ours = [f for f in frames if f.get("function") in ("main", "parse_report") or (
        kind.endswith("python-m") and (f["module"], f["function"]) == ("__main__", "<module>"))]
    assert {f["function"] for f in ours} >= {"main", "parse_report"}, seen
    assert all(f["in_app"] is True for f in ours), seen
    others = [f for f in frames if f not in ours]
    assert others and all(f["in_app"] is False for f in others), seen
    stdlib = [f for f in frames if f.get("module") == "pathlib"]
    assert stdlib, seen
    launchers = [f for f in frames if "<frozen" in (f.get("filename") or "")]
    if kind.endswith("python-m") or kind == "zipapp":
        assert launchers, seen  # runpy's frames are there, and not the app's
    assert event["contexts"]["packages"]["crashreport"] == "0.1.0"  # ours, not PyPI's namesake
    # The program's own text is known in every kind (in a zipapp, read from the archive): the
    # protocol's words, the subcommand and the app's source lines are kept.
    [exc] = event["exception"]["values"]
    assert exc["mechanism"]["type"] == "excepthook"
    assert exc["value"] == "[Errno 2] No such file or directory: '<path>.pdf'"
    assert event["tags"]["subcommand"] == "crash" and event["transaction"] == "crash"
    assert all(f["context_line"] for f in ours if f["function"] == "parse_report"), seen
