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
from crashreport.yamledit import EditError, EditResult, edit_text, set_collect

from .disk import durability_log, full_disk
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


# -- each level's words, and the shapes a hand-written file takes ----------------------------------
@pytest.mark.parametrize(("before", "level", "after"), [
    ("", "errors", "telemetry:\n  collect: errors\n"),
    ("", "off", "telemetry:\n  collect: false\n"),
    ("  \n\n", "all", "telemetry:\n  collect: true\n"),
    ("~\n", "all", "telemetry:\n  collect: true\n"),
    ("# only a comment", "off", "# only a comment\ntelemetry:\n  collect: false\n"),
    ("# old Mac\r", "all", "# old Mac\rtelemetry:\n  collect: true\n"),  # no blank line added
    ("a: 1\r", "all", "a: 1\rtelemetry:\n  collect: true\n"),
    ("# a\r\n# b", "all", "# a\r\n# b\r\ntelemetry:\r\n  collect: true\r\n"),
    ("  a: 1\n", "off", "  a: 1\n  telemetry:\n    collect: false\n"),
    ("telemetry:\n  collect: off", "errors", "telemetry:\n  collect: errors"),
    ("{}", "errors", "{telemetry: {collect: errors}}"),
    ("{telemetry: ~}\n", "off", "{telemetry: {collect: false}}\n"),
    ("{telemetry: , a: 1}\n", "all", "{telemetry: {collect: true}, a: 1}\n"),
    ("a: 1\r\ntelemetry:\r\n  x: 1\r\n", "all", "a: 1\r\ntelemetry:\r\n  collect: true\r\n  x: 1\r\n"),
    ("a: 1\r\ntelemetry: ~\r\nb: 2\r\n", "off", "a: 1\r\ntelemetry: \r\n  collect: false\r\nb: 2\r\n"),
    ("telemetry:\n  x: 1\n  collect:   \n  y: 2\n", "all",
     "telemetry:\n  x: 1\n  collect: true   \n  y: 2\n"),
    ("telemetry: # c\n  x: 1\n", "off", "telemetry: # c\n  collect: false\n  x: 1\n"),
    ("telemetry:\n  collect: off\n  collect: off\n", "all",
     "telemetry:\n  collect: off\n  collect: true\n"),  # YAML keeps the last one: so do we
    ("telemetry: {a: 1,}\n", "errors", "telemetry: {a: 1, collect: errors}\n"),
    ("telemetry: {collect: }\n", "all", "telemetry: {collect: true }\n"),
    ("telemetry:\n  collect:\n    false\n", "errors", "telemetry:\n  collect:\n    errors\n"),
    ("telemetry:\n  collect: 0\n", "off", "telemetry:\n  collect: 0\n"),  # says so already
    ("telemetry:\n  collect: error\n", "errors", "telemetry:\n  collect: error\n"),
])  # fmt: skip
def test_edit_shapes_for_each_level(before: str, level: str, after: str) -> None:
    assert edit_text(before, level) == after


UNSAFE = [  # a plain splice would change another setting or break the file: refused
    "telemetry:\n  collect: |\n    false\n  x: 1\n",
    "telemetry:\n  collect: >-\n    false\nx: 1\n",
    "telemetry:\n  collect: &x false\n  other: *x\n",
    "telemetry: {collect}\n",
]


@pytest.mark.parametrize("text", UNSAFE)
def test_the_result_is_proven_before_anything_is_written(tmp_path: Path, text: str) -> None:
    path = tmp_path / "cfg" / "config.yaml"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(EditError) as info:
        set_collect(path, "all")
    assert str(info.value) == (f"{path}: could not set telemetry.collect without changing other "
                               "settings; add 'collect: true' under 'telemetry:' by hand")  # fmt: skip
    assert path.read_text() == text
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]


MESSAGES = [
    ("- 1\n", "{where}: the top level is not a mapping of keys; not touching it"),
    ("telemetry: 3\n", "{where}: 'telemetry' is not a mapping; not touching it"),
    ("telemetry: [1]\n", "{where}: 'telemetry' is not a mapping; not touching it"),
    ("base: &b {collect: false}\ntelemetry: *b\n",
     "{where}: 'telemetry' is an alias of another section; edit it by hand"),
    ("a: &v false\ntelemetry:\n  collect: *v\n",
     "{where}: telemetry.collect is not a plain value; edit it by hand"),
    ("telemetry:\n  collect: [1]\n", "{where}: telemetry.collect is not a plain value; edit it by hand"),
    ("{telemetry: 3}\n", "{where}: 'telemetry' is not a mapping; not touching it"),
    ("{b: &b {collect: 0}, telemetry: *b}\n",
     "{where}: 'telemetry' is an alias of another section; edit it by hand"),
    ("a: [\n", "{where} is not valid YAML (while parsing a flow node); fix it by hand first"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), MESSAGES)
def test_each_refusal_says_why_in_one_line(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    with pytest.raises(EditError) as info:
        set_collect(path, "all")
    assert str(info.value) == message.format(where=path)


def test_a_text_without_a_file_is_called_the_config() -> None:
    with pytest.raises(EditError) as info:
        edit_text("- 1\n", "all")
    assert str(info.value) == "the config: the top level is not a mapping of keys; not touching it"


def test_an_unknown_level_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="unknown level 'on'"):
        set_collect("/nonexistent/c.yaml", "on")


def test_what_is_in_the_way_of_reading_is_said(tmp_path: Path) -> None:
    folder = tmp_path / "config.yaml"
    folder.mkdir()
    with pytest.raises(EditError, match=r"config.yaml is a folder, not a config file$"):
        set_collect(folder, "all")
    long = tmp_path / ("c" * 300 + ".yaml")
    with pytest.raises(EditError, match=r"cannot be read \(File name too long\)$"):
        set_collect(long, "all")
    loop = tmp_path / "loop.yaml"
    loop.symlink_to(tmp_path / "loop2.yaml")
    (tmp_path / "loop2.yaml").symlink_to(loop)
    with pytest.raises(EditError, match="cannot be read"):
        set_collect(loop, "all")
    (tmp_path / "latin1.yaml").write_bytes(b"a: \xe9\n")
    with pytest.raises(EditError) as info:
        set_collect(tmp_path / "latin1.yaml", "all")
    assert str(info.value) == f"{tmp_path / 'latin1.yaml'} is not UTF-8 text; not touching it"


def test_a_folder_that_cannot_be_made_is_said(tmp_path: Path) -> None:
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere" / "deeper")
    path = tmp_path / "dangling" / "config.yaml"
    with pytest.raises(EditError) as info:
        set_collect(path, "all")
    assert str(info.value) == f"cannot write in {path.parent} (File exists)"
    assert not (tmp_path / "nowhere").exists()


def test_results_say_whether_the_file_was_created_or_changed(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    assert set_collect(path, "all") == EditResult(path, created=True, changed=True)
    assert set_collect(path, "all") == EditResult(path, created=False, changed=False)
    assert set_collect(path, "off") == EditResult(path, created=False, changed=True)
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    assert set_collect(empty, "off") == EditResult(empty, created=False, changed=True)
    assert empty.read_text() == "telemetry:\n  collect: false\n"


def test_a_file_left_as_it_is_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("telemetry:\n  collect: yes\n")
    os.utime(path, ns=(0, 0))
    set_collect(path, "all")
    assert path.stat().st_mtime_ns == 0


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o027, 0o640),
                                             (0o002, 0o664)])  # fmt: skip
def test_a_new_file_follows_the_users_umask(tmp_path: Path, umask: int, mode: int) -> None:
    """Never wider than the user's umask allows: another user must not rewrite the DSN."""
    old = os.umask(umask)
    try:
        set_collect(tmp_path / "config.yaml", "all")
        after = os.umask(umask)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "config.yaml").stat().st_mode) == mode
    assert after == umask  # the program's umask is as it was


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o664, 0o444, 0o755])
def test_an_existing_file_keeps_its_mode(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\n")
    path.chmod(mode)
    set_collect(path, "errors")
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_the_edit_reaches_the_disk_before_it_replaces_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """fsync, with everything written, before the rename: a power cut leaves the old file or the
    new one, never an empty config."""
    log = durability_log(monkeypatch, "replace")
    path = tmp_path / "config.yaml"
    path.write_text("a: 1\n")
    set_collect(path, "all")
    size = path.stat().st_size
    assert log == [("fsync", size), ("replace", size)]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="RLIMIT_FSIZE is POSIX")
def test_a_full_disk_leaves_the_file_and_no_temporary_file(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "config.yaml"
    path.parent.mkdir()
    path.write_text("a: 1\n" + "#" * 200 + "\n")
    with full_disk(), pytest.raises(EditError) as info:
        set_collect(path, "all")
    assert str(info.value) == f"cannot write {path} (File too large)"
    assert path.read_text() == "a: 1\n" + "#" * 200 + "\n"
    assert [p.name for p in path.parent.iterdir()] == ["config.yaml"]
