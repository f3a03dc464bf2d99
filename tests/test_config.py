"""config.load_settings: paths, mappings and every kind of bad input."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from crashreport.config import Settings, load_settings, parse_level


@pytest.mark.parametrize(
    ("value", "level"),
    [(True, "all"), (False, "off"), ("all", "all"), ("errors", "errors"), ("off", "off"),
     ("YES", "all"), (" 0 ", "off"), (1, "all"), (0, "off"), ("maybe", None), (2, None),
     (None, None), ([], None)],
)  # fmt: skip
def test_parse_level(value: object, level: str | None) -> None:
    assert parse_level(value) == level


def test_none_is_empty_settings() -> None:
    assert load_settings(None) == Settings()


def test_mapping_is_accepted() -> None:
    s = load_settings({"telemetry": {"collect": "errors", "environment": "staging"}})
    assert (s.collect, s.environment, s.problem) == ("errors", "staging", None)


def test_path_with_tilde_is_expanded(home: Path) -> None:
    (home / "c.yaml").write_text("telemetry:\n  collect: true\n  dsn: https://k@h.example/3\n")
    s = load_settings("~/c.yaml")
    assert s.path == home / "c.yaml"
    assert (s.collect, s.dsn, s.problem) == ("all", "https://k@h.example/3", None)


def test_missing_file_is_silently_off(home: Path) -> None:
    s = load_settings(home / "nope.yaml")
    assert (s.collect, s.problem) == (None, None)


def test_other_keys_of_the_app_are_ignored(home: Path) -> None:
    (home / "c.yaml").write_text("theme: dark\nitems: [1, 2]\ntelemetry:\n  collect: false\n")
    assert load_settings(home / "c.yaml").collect == "off"


BAD = {
    "malformed": ("telemetry: [collect: true\n", "not valid YAML"),
    "not a mapping": ("telemetry: yes\n", "'telemetry' is not a mapping"),
    "top level list": ("- a\n- b\n", "top level is not a mapping"),
    "unknown collect": ("telemetry:\n  collect: maybe\n", "unknown value 'maybe'"),
    "bad dsn": ("telemetry:\n  collect: true\n  dsn: nope\n", "telemetry.dsn"),
    "bad environment": ("telemetry:\n  collect: true\n  environment: [1]\n", "environment"),
    "bad timeout": ("telemetry:\n  collect: true\n  exit_timeout: 99\n", "exit_timeout"),
    "bad spotlight": ("telemetry:\n  collect: true\n  spotlight: 3\n", "spotlight"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_content_is_a_problem_naming_the_file(home: Path, case: str) -> None:
    text, expected = BAD[case]
    path = home / "c.yaml"
    path.write_text(text)
    s = load_settings(path)
    assert s.collect is None
    assert s.problem is not None and str(path) in s.problem and expected in s.problem


def test_non_utf8_directory_and_huge_file(home: Path) -> None:
    (home / "latin1.yaml").write_bytes(b"telemetry:\n  collect: \xe9\n")
    assert "not UTF-8" in (load_settings(home / "latin1.yaml").problem or "")
    (home / "dir.yaml").mkdir()
    assert "not a regular file" in (load_settings(home / "dir.yaml").problem or "")
    (home / "big.yaml").write_bytes(b"#" * (2 << 20))
    assert "too large" in (load_settings(home / "big.yaml").problem or "")


def test_fifo_does_not_block(home: Path) -> None:
    fifo = home / "fifo.yaml"
    os.mkfifo(fifo)
    assert "not a regular file" in (load_settings(fifo).problem or "")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(home: Path) -> None:
    path = home / "c.yaml"
    path.write_text("telemetry:\n  collect: true\n")
    path.chmod(0)
    assert "cannot be read" in (load_settings(path).problem or "")
