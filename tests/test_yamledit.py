"""The comment-preserving edit of ``telemetry.collect``."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from crashreport.config import load_settings
from crashreport.yamledit import EditError, edit_text, set_collect

from .strategies import examples

COMMENTED = """\
# mytool settings — edited by hand, please keep my notes
colour: blue        # favourite
paths:
  - ~/work          # first
  - ~/play

telemetry:
  # decided on 2026-01-05 after reading the docs
  collect: false    # off for now
  dsn: https://abc@sentry.example.org/7   # our own server
  environment: laptop

# trailing notes
editor: vim
"""


def test_commented_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    assert set_collect(path, "all").changed
    enabled = path.read_text(encoding="utf-8")
    assert enabled == COMMENTED.replace("collect: false    # off", "collect: true    # off")
    assert load_settings(path).collect == "all"

    assert set_collect(path, "off").changed
    assert path.read_text(encoding="utf-8") == COMMENTED  # byte for byte back where it was
    assert load_settings(path).collect == "off"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("", "telemetry:\n  collect: true\n"),
        ("# only a comment\n", "# only a comment\ntelemetry:\n  collect: true\n"),
        ("colour: blue", "colour: blue\ntelemetry:\n  collect: true\n"),
        ("telemetry:\n", "telemetry:\n  collect: true\n"),
        ("telemetry: ~  # later\nx: 1\n", "telemetry:   # later\n  collect: true\nx: 1\n"),
        ("telemetry: {collect: false}\n", "telemetry: {collect: true}\n"),
        ("telemetry: {}\n", "telemetry: {collect: true}\n"),
        ("telemetry: {dsn: null}  # c\n", "telemetry: {dsn: null, collect: true}  # c\n"),
        ("{a: 1, telemetry: {collect: no}}\n", "{a: 1, telemetry: {collect: true}}\n"),
        ("{a: 1}\n", "{a: 1, telemetry: {collect: true}}\n"),
        ("telemetry:\n    dsn: null  # d\n", "telemetry:\n    collect: true\n    dsn: null  # d\n"),
        ("telemetry:\n  collect:\n  x: 1\n", "telemetry:\n  collect: true\n  x: 1\n"),
        ("telemetry:\n  collect: 'off'  # q\n", "telemetry:\n  collect: true  # q\n"),
        ("a: 1\r\ntelemetry:\r\n  collect: no\r\n", "a: 1\r\ntelemetry:\r\n  collect: true\r\n"),
        ("a: 1\r\n", "a: 1\r\ntelemetry:\r\n  collect: true\r\n"),
        ("\ufeffa: 1\n", "\ufeffa: 1\ntelemetry:\n  collect: true\n"),
        ("telemetry:\n  collect: yes  # same\n", "telemetry:\n  collect: yes  # same\n"),
    ],
)  # fmt: skip
def test_edit_shapes(before: str, after: str) -> None:
    assert edit_text(before, "all") == after


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- 1\n- 2\n", "top level is not a mapping"),
        ("just a string\n", "top level is not a mapping"),
        ("telemetry: 3\n", "'telemetry' is not a mapping"),
        ("telemetry: [collect]\n", "'telemetry' is not a mapping"),
        ("base: &b {collect: false}\ntelemetry: *b\n", "alias"),
        ("telemetry:\n  collect: [1]\n", "not a plain value"),
        ("a: [\n", "not valid YAML"),
        ("a: 1\n---\nb: 2\n", "not valid YAML"),
    ],
)
def test_refuses_and_leaves_the_file_alone(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "cfg").mkdir()
    path = tmp_path / "cfg" / "config.yaml"
    path.write_text(text, encoding="utf-8")
    before = path.stat().st_mtime_ns
    with pytest.raises(EditError, match=message):
        set_collect(path, "all")
    assert path.read_text(encoding="utf-8") == text
    assert path.stat().st_mtime_ns == before
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]  # no temp file left


def test_creates_the_file_and_its_folder(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "er" / "config.yaml"
    result = set_collect(path, "errors")
    assert result.created
    assert result.changed
    assert yaml.safe_load(path.read_text()) == {"telemetry": {"collect": "errors"}}
    assert load_settings(path).collect == "errors"


def test_keeps_the_mode_and_writes_through_a_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real.yaml"
    real.write_text("a: 1\n")
    os.chmod(real, 0o600)
    link = tmp_path / "config.yaml"
    link.symlink_to(real)
    set_collect(link, "all")
    assert link.is_symlink()
    assert stat.S_IMODE(real.stat().st_mode) == 0o600
    assert yaml.safe_load(real.read_text()) == {"a": 1, "telemetry": {"collect": True}}


def test_unchanged_when_it_already_says_so(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("telemetry:\n  collect: on\n")
    assert not set_collect(path, "all").changed
    assert path.read_text() == "telemetry:\n  collect: on\n"


def test_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(EditError, match="UTF-8"):
        set_collect(path, "off")


keys = st.text("abcdefgh", min_size=1, max_size=6).filter(lambda k: k != "telemetry")
scalars = st.one_of(st.integers(-5, 5), st.booleans(), st.none(), st.text("xyz ", max_size=5))
values = st.recursive(
    scalars, lambda c: st.lists(c, max_size=3) | st.dictionaries(keys, c, max_size=3), max_leaves=8
)
sections = st.none() | st.dictionaries(
    st.sampled_from(["collect", "dsn", "environment", "other"]),
    st.sampled_from([True, False, "errors", None, "x"]), max_size=3,
)


@settings(max_examples=examples(150), deadline=None)
@given(
    data=st.dictionaries(keys, values, max_size=4),
    section=sections,
    flow=st.booleans(),
    level=st.sampled_from(["all", "errors", "off"]),
    comments=st.booleans(),
)
def test_any_document_keeps_everything_else(
    data: dict[str, object], section: object, flow: bool, level: str, comments: bool
) -> None:
    doc = dict(data)
    if section is not None or flow:
        doc["telemetry"] = section
    text = yaml.safe_dump(doc, default_flow_style=flow, sort_keys=False)
    if comments:
        text = "# head\n" + "".join(
            line + ("  # note" if not flow and line.rstrip().endswith(("true", "false")) else "")
            + "\n" for line in text.splitlines()
        )
    new = edit_text(text, level)
    parsed = yaml.safe_load(new)
    expected_section = dict(section) if isinstance(section, dict) else {}
    expected_section["collect"] = {"all": True, "errors": "errors", "off": False}[level] \
        if _level(expected_section.get("collect")) != level else expected_section.get("collect")
    assert parsed == {**doc, "telemetry": expected_section}
    if comments:
        assert new.count("#") == text.count("#")


def _level(value: object) -> str | None:
    from crashreport.config import parse_level

    return parse_level(value)
