"""The app's own code, from its distribution's metadata, and the in_app decision per frame."""

from __future__ import annotations

import os
import sys
from importlib.metadata import PathDistribution
from pathlib import Path
from typing import Any

import pytest

from crashreport.inapp import (
    AppCode,
    for_app,
    from_distribution,
    mark_frames,
    pth_folders,
    top_level_names,
)


def make_dist(site: Path, name: str, files: dict[str, str], top_level: str | None = None,
              record: list[str] | None = None) -> PathDistribution:  # fmt: skip
    """A distribution installed in ``site`` (a real folder): its files and its dist-info."""
    for rel, text in files.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text)
    info = site / f"{name}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    lines = [*(record if record is not None else files), f"{info.name}/METADATA,,",
             f"{info.name}/RECORD,,"]  # fmt: skip
    (info / "RECORD").write_text("".join(f"{line.split(',')[0]},,\n" for line in lines))
    return PathDistribution(info)


def test_top_level_txt_is_read_first(tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "My-Tool", {"my_tool/__init__.py": ""}, top_level="my_tool\nextra\n")
    assert top_level_names(dist) == ("my_tool", "extra")


def test_without_top_level_txt_names_come_from_the_installed_files(tmp_path: Path) -> None:
    dist = make_dist(tmp_path, "tool", {
        "tool/__init__.py": "", "tool/cli.py": "", "helper.py": "", "fast.cpython-311.so": "",
        "__editable___tool_1_0_finder.py": "", "_tool.pth": "",
    }, record=["tool/__init__.py", "tool/cli.py", "helper.py", "fast.cpython-311.so",
               "__editable___tool_1_0_finder.py", "_tool.pth", "../../../bin/tool",
               "__pycache__/helper.cpython-311.pyc", "tool-data/readme.txt"])  # fmt: skip
    assert top_level_names(dist) == ("tool", "helper", "fast")


def test_editable_pth_folders_are_the_apps(tmp_path: Path) -> None:
    src = tmp_path / "project" / "src"
    (src / "tool").mkdir(parents=True)
    site = tmp_path / "site"
    dist = make_dist(site, "tool", {"_tool.pth": f"{src}\n# a comment\nimport os\n/no/such/dir\n"})
    assert pth_folders(dist) == (str(src),)
    code = from_distribution(dist)
    assert code.is_app_frame(None, str(src / "tool" / "cli.py"))
    assert not code.is_app_frame(None, str(tmp_path / "project" / "setup.py"))


def test_package_folders_are_found_where_python_imports_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist = make_dist(site, "tool", {"tool/__init__.py": "", "helper.py": ""}, top_level="tool\nhelper\n")
    monkeypatch.syspath_prepend(str(site))
    code = from_distribution(dist)
    assert code.packages == ("tool", "helper")
    assert str(site / "tool") + os.sep in code.paths
    assert str(site / "helper.py") in code.paths
    assert code.is_app_frame("__main__", str(site / "tool" / "__main__.py"))  # python -m tool
    assert code.is_app_frame(None, str(site / "helper.py"))
    assert not code.is_app_frame(None, str(site / "helper_extra.py"))
    assert not code.is_app_frame(None, str(site / "toolbox" / "x.py"))  # not a prefix match
    assert not code.is_app_frame("toolbox.x", str(site / "toolbox" / "x.py"))


def test_links_count_both_ways(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = tmp_path / "real"
    make_dist(real, "tool", {"tool/__init__.py": ""}, top_level="tool\n")
    link = tmp_path / "link"
    link.symlink_to(real)
    monkeypatch.syspath_prepend(str(link))
    code = from_distribution(PathDistribution(link / "tool-1.0.dist-info"))
    assert code.is_app_frame(None, str(link / "tool" / "a.py"))
    assert code.is_app_frame(None, str(real / "tool" / "a.py"))


CODE = AppCode(packages=("mytool",), paths=("/venv/site-packages/mytool/",))


@pytest.mark.parametrize(
    ("module", "path", "in_app"),
    [
        ("mytool.__main__", "/venv/site-packages/mytool/__main__.py", True),
        ("mytool", "/venv/site-packages/mytool/__init__.py", True),
        ("__main__", "/venv/site-packages/mytool/__main__.py", True),  # python -m mytool
        ("mytool.cli", "/somewhere/else/mytool/cli.py", True),  # by its module name
        ("__main__", "/venv/bin/mytool", False),  # the console-script launcher
        ("runpy", "/home/alice/<frozen runpy>", False),  # made absolute by sentry-sdk
        ("runpy", "<frozen runpy>", False),
        ("mytool", "<string>", False),
        ("pathlib", "/usr/lib/python3.11/pathlib.py", False),
        ("yaml.loader", "/venv/site-packages/yaml/loader.py", False),
        ("mytoolkit", "/venv/site-packages/mytoolkit/a.py", False),
        (None, None, False),
    ],
)
def test_in_app_decision(module: str | None, path: str | None, in_app: bool) -> None:
    assert CODE.is_app_frame(module, path) is in_app


def frame(module: str, path: str, in_app: bool | None = None) -> dict[str, Any]:
    f: dict[str, Any] = {"module": module, "abs_path": path, "function": "f"}
    if in_app is not None:
        f["in_app"] = in_app
    return f


def event() -> dict[str, Any]:
    return {
        "exception": {"values": [{"stacktrace": {"frames": [
            frame("runpy", "/cwd/<frozen runpy>", True),
            frame("mytool.__main__", "/venv/site-packages/mytool/__main__.py", False),
            frame("pathlib", "/usr/lib/python3.11/pathlib.py"),
        ]}}, {"type": "chained, no stack"}]},
        "threads": {"values": [{"stacktrace": {"frames": [
            frame("mytool", "/venv/site-packages/mytool/x.py")]}}]},
        "stacktrace": {"frames": [frame("threading", "/usr/lib/python3.11/threading.py", True)]},
    }  # fmt: skip


def in_apps(ev: dict[str, Any]) -> list[bool | None]:
    stacks = [v.get("stacktrace") for v in ev["exception"]["values"]]
    stacks += [v["stacktrace"] for v in ev["threads"]["values"]] + [ev["stacktrace"]]
    return [f.get("in_app") for s in stacks if s for f in s["frames"]]


def test_mark_frames_sets_every_stack() -> None:
    ev = event()
    mark_frames(ev, CODE)
    assert in_apps(ev) == [False, True, False, True, False]


def test_without_a_distribution_only_synthetic_frames_change() -> None:
    ev = event()
    mark_frames(ev, AppCode())
    assert in_apps(ev) == [False, False, None, None, True]


def test_for_app_reads_the_installed_example() -> None:
    code = for_app("mytool")
    assert code.packages == ("mytool",)
    import mytool

    assert code.is_app_frame("__main__", str(Path(mytool.__file__).parent / "__main__.py"))
    assert not code.is_app_frame("os", os.__file__)
    assert for_app("no-such-distribution-zq") == AppCode()
    assert sys.modules["mytool"] is mytool
