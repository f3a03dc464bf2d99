"""What a packager and a new user get: the sdist and wheel that ``python -m build`` makes.

One build per session (the sdist, then the wheel built from it, as a packager's tools do); the
wheel is installed into a fresh virtual environment with its dependencies from the package
index, and ``crashreport demo`` runs there with nothing else installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from .conftest import ROOT
from .test_demo import assert_demo_output

pytestmark = pytest.mark.slow


def source_files() -> list[str] | None:
    """The files a release is made from: tracked or new, not ignored (None outside git)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, text=True)  # fmt: skip
    return listed.stdout.splitlines() if listed.returncode == 0 else None


@pytest.fixture(scope="session")
def dist(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    # Built from a clean copy: setuptools would otherwise also ship whatever an earlier build's
    # crashreport.egg-info/SOURCES.txt in the checkout lists, and leave build/ behind.
    source, out = ROOT, tmp_path_factory.mktemp("dist")
    files = source_files()
    if files is not None:
        source = tmp_path_factory.mktemp("source")
        for name in files:
            if (ROOT / name).is_file():
                (source / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(ROOT / name, source / name)
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out), str(source)],
                           capture_output=True, text=True, timeout=600)  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    [sdist] = out.glob("*.tar.gz")
    [wheel] = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_twine_check_passes(dist: dict[str, Path]) -> None:
    run = subprocess.run([sys.executable, "-m", "twine", "check", "--strict",
                          str(dist["sdist"]), str(dist["wheel"])],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("PASSED") == 2


def test_the_sdist_holds_what_a_packager_needs(dist: dict[str, Path]) -> None:
    with tarfile.open(dist["sdist"]) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    for needed in ("README.md", "LICENSE", "config.example.yaml", "pyproject.toml",
                   "MANIFEST.in", "crashreport/cli/demoapp.py", "crashreport/py.typed",
                   "tests/conftest.py", "tests/sentry_server.py", "tests/test_packaging.py",
                   "tests/data/crash_capture.py", "examples/mytool/pyproject.toml",
                   "examples/mytool/mytool/__main__.py", "bench/__main__.py",
                   "docs/notice-example.md", "scripts/install-e2e.sh"):  # fmt: skip
        assert needed in names, needed
    tests = {n for n in source_files() or () if n.startswith("tests/")}
    assert tests <= names, tests - names  # every test file ships
    junk = [n for n in names if "__pycache__" in n or "node_modules" in n or n.startswith(".venv")
            or (".egg-info" in n and n.split("/")[0] != "crashreport.egg-info")]  # fmt: skip
    assert junk == []


def test_the_wheel_holds_the_package_and_its_licence(dist: dict[str, Path]) -> None:
    with zipfile.ZipFile(dist["wheel"]) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read("crashreport-0.1.0.dist-info/METADATA").decode()
    assert {"crashreport/cli/demoapp.py", "crashreport/cli/notice.py", "crashreport/payload.py",
            "crashreport/py.typed", "crashreport-0.1.0.dist-info/licenses/LICENSE"} <= names
    assert not [n for n in names if not n.startswith(("crashreport/", "crashreport-0.1.0"))]
    assert "License-Expression: MIT" in metadata
    assert "Description-Content-Type: text/markdown" in metadata


def test_the_demo_runs_from_the_wheel_alone(dist: dict[str, Path], tmp_path: Path,
                                            home: Path) -> None:  # fmt: skip
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)  # fmt: skip
    python = venv / "bin" / "python"
    # pip runs `rustc --version` for its user agent, and rustup writes ~/.rustup: not alice's.
    pip_env = {**os.environ, "HOME": str(tmp_path)}
    install = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install",
                              "--quiet", str(dist["wheel"])],
                             env=pip_env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert install.returncode == 0, install.stderr[-3000:]
    env = {"HOME": str(home), "USER": "alice", "LOGNAME": "alice", "NO_COLOR": "1",
           "PATH": f"{venv / 'bin'}{os.pathsep}/usr/bin:/bin"}  # fmt: skip
    alone = subprocess.run([str(python), "-c", "import crashreport, importlib.util as u; "
                            "print(crashreport.__file__, u.find_spec('mytool'))"],
                           env=env, cwd=home, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert alone.stdout.startswith(str(venv)) and alone.stdout.split()[-1] == "None", alone
    demo = subprocess.run([str(venv / "bin" / "crashreport"), "demo"], env=env, cwd=home,
                          capture_output=True, text=True, timeout=180)  # fmt: skip
    assert demo.returncode == 0, demo.stderr
    assert_demo_output(demo.stdout, home)
