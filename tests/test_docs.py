"""The README and docs/: links that resolve, and the facts they repeat kept in step with code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from crashreport.cli import build_parser
from crashreport.config import Settings

from .conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"\]\(([^)\s]+)\)")


def anchors(path: Path) -> set[str]:
    """GitHub's anchors for a page's headings."""
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := re.match(r"^#+ (.+)$", line):
            slug = re.sub(r"[^\w\- ]", "", m[1].strip().lower()).replace(" ", "-")
            names.add(slug)
    return names


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_resolve(page: Path) -> None:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for target in LINK.findall(text):
        if target.startswith(("http://", "https://", "mailto:")):
            continue
        file, _, anchor = target.partition("#")
        path = (page.parent / file).resolve() if file else page
        assert path.exists(), f"{page.name}: {target}"
        if anchor:
            assert anchor in anchors(path), f"{page.name}: {target}"


def test_the_readme_test_command_is_what_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    install = next(line for line in ci if "pip install -e" in line)
    test = [line for line in ci if "pytest" in line and not line.startswith("#")][-1]
    block = re.search(r"## Working on crashreport\n\n```sh\n(.+?)```", readme, re.S)
    assert block is not None
    lines = block[1].splitlines()
    assert install.split("install", 1)[1].strip() in lines[0]
    assert lines[1] == test


def test_the_readme_lists_every_setting_and_every_command() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    table = re.search(r"## Configuration\n(.+?)\n## ", readme, re.S)
    assert table is not None
    keys = set(re.findall(r"^\| `(\w+)` \|", table[1], re.M))
    assert keys == set(Settings.__slots__) - {"path", "problem"}
    example = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    assert all(re.search(rf"^\s*#? ?{key}:", example, re.M) for key in keys)
    commands = next(a for a in build_parser()._actions if a.dest == "command").choices
    assert commands
    block = re.search(r"## The commands\n(.+?)\n## ", readme, re.S)
    assert block is not None
    reference = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    for name in commands:
        assert re.search(rf"^crashreport\b.* {name}\b", block[1], re.M), name
        assert re.search(rf"^## .*\b{name}\b", reference, re.M), name
