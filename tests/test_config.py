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
    """Each refusal is the sentence the user reads, naming the file, and loads nothing."""
    latin1, folder = home / "latin1.yaml", home / "dir.yaml"
    latin1.write_bytes(b"telemetry:\n  collect: \xe9\n")
    assert load_settings(latin1) == Settings(path=latin1, problem=f"{latin1}: is not UTF-8 text")
    folder.mkdir()
    assert load_settings(folder) == Settings(path=folder, problem=f"{folder}: is not a regular file")
    (home / "big.yaml").write_bytes(b"#" * (2 << 20))
    assert "too large" in (load_settings(home / "big.yaml").problem or "")


def test_fifo_does_not_block(home: Path) -> None:
    fifo = home / "fifo.yaml"
    os.mkfifo(fifo)
    assert load_settings(fifo) == Settings(path=fifo, problem=f"{fifo}: is not a regular file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_unreadable_file(home: Path) -> None:
    path = home / "c.yaml"
    path.write_text("telemetry:\n  collect: true\n")
    path.chmod(0)
    assert "cannot be read" in (load_settings(path).problem or "")


# -- the words a user may write, exactly ---------------------------------------------------------
#: README: `true`/`all`, `errors`, `false`/`off` (and the usual yes/no, on/off, 1/0 spellings).
WORDS = {"all": "all", "true": "all", "on": "all", "yes": "all", "1": "all",
         "errors": "errors", "error": "errors",
         "off": "off", "false": "off", "no": "off", "0": "off"}  # fmt: skip
#: Words that look like an answer but are not one: refused (off, with a problem), never "on".
NOT_WORDS = ["n", "y", "none", "null", "", "2", "-1", "enable", "enabled", "disable", "crash",
             "crashes", "full", "everything", "nothing", "ok", "t", "f", "off!", "a ll"]  # fmt: skip


@pytest.mark.parametrize(("word", "level"), sorted(WORDS.items()))
def test_each_word_means_its_level_in_any_case_and_spacing(word: str, level: str) -> None:
    for spelling in (word, word.upper(), word.title(), f"  {word}\t"):
        assert parse_level(spelling) == level


@pytest.mark.parametrize("word", NOT_WORDS)
def test_other_words_are_no_level(word: str) -> None:
    assert parse_level(word) is None
    assert parse_level(word.upper()) is None


@pytest.mark.parametrize(("text", "level"), [
    ("n", None), ("y", None), ("yes", "all"), ("on", "all"), ("no", "off"), ("off", "off"),
    ("1", "all"), ("0", "off"), ("'1'", "all"), ("errors", "errors"), ("~", None), ("", None),
    ("1.0", None), ("2", None),
])  # fmt: skip
def test_collect_as_yaml_reads_it(home: Path, text: str, level: str | None) -> None:
    """YAML 1.1 reads yes/no/on/off as booleans but n and y as strings: n and y are refused."""
    path = home / "c.yaml"
    path.write_text(f"telemetry:\n  collect: {text}\n")
    s = load_settings(path)
    assert s.collect == level
    refused = text not in ("~", "") and level is None
    assert (s.problem is not None) == refused


def test_a_yaml_file_with_a_byte_order_mark_is_read(home: Path) -> None:
    path = home / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbftelemetry:\n  collect: errors\n")
    assert load_settings(path) == Settings(path=path, collect="errors")


@pytest.mark.parametrize("text", ["", "# nothing yet\n", "---\n", "theme: dark\n",
                                  "telemetry:\n", "telemetry: ~\n", "telemetry:\n  collect:\n"])
def test_saying_nothing_is_no_problem(home: Path, text: str) -> None:
    path = home / "c.yaml"
    path.write_text(text)
    assert load_settings(path) == Settings(path=path)


# -- each problem, as the user reads it ----------------------------------------------------------
PROBLEMS = {
    "telemetry: [collect: true\n": "not valid YAML (while parsing a flow sequence)",
    "telemetry: yes\n": "'telemetry' is not a mapping",
    "- a\n": "the top level is not a mapping",
    "telemetry:\n  collect: maybe\n":
        "telemetry.collect has an unknown value 'maybe'; use true, errors or false",
    "telemetry:\n  collect: {a: 1}\n":
        "telemetry.collect has an unknown value (a mapping); use true, errors or false",
    "telemetry:\n  collect: [1]\n":
        "telemetry.collect has an unknown value (a list); use true, errors or false",
    "telemetry:\n  collect: " + "x" * 50 + "\n":
        f"telemetry.collect has an unknown value '{'x' * 36}...; use true, errors or false",
    "telemetry:\n  collect: " + "x" * 38 + "\n":
        f"telemetry.collect has an unknown value '{'x' * 38}'; use true, errors or false",
    "telemetry:\n  collect: " + "x" * 39 + "\n":  # 41 characters shown: cut
        f"telemetry.collect has an unknown value '{'x' * 36}...; use true, errors or false",
    "telemetry:\n  dsn: 5\n": "telemetry.dsn is not a Sentry DSN (https://<key>@<host>/<project>)",
    "telemetry:\n  environment: a/b\n": "telemetry.environment must be a name Sentry accepts "
        "(at most 64 bytes, no '/', '\\' or control characters, not 'none')",
    "telemetry:\n  spotlight: 3\n": "telemetry.spotlight must be true, false or an http(s) URL",
    "telemetry:\n  exit_timeout: 11\n":
        "telemetry.exit_timeout must be a number of seconds between 0 and 10",
}  # fmt: skip


@pytest.mark.parametrize("text", sorted(PROBLEMS))
def test_each_problem_names_the_file_and_says_what_to_do(home: Path, text: str) -> None:
    path = home / "c.yaml"
    path.write_text(text)
    assert load_settings(path) == Settings(path=path, problem=f"{path}: {PROBLEMS[text]}")


def test_a_parsed_mapping_is_named_as_such_in_its_problem() -> None:
    assert load_settings({"telemetry": {"collect": "n"}}).problem == (
        "the config mapping: telemetry.collect has an unknown value 'n'; use true, errors or false")
    assert load_settings(["telemetry"]).problem == (  # type: ignore[arg-type]
        "config path ['telemetry'] is not usable (expected str, bytes or os.PathLike object, "
        "not list)")


@pytest.mark.parametrize("source", [123, "c\x00.yaml"])
def test_an_unusable_path_is_a_problem_not_an_exception(source: object) -> None:
    s = load_settings(source)  # type: ignore[arg-type]
    assert s.collect is None
    assert s.problem is not None and s.problem.startswith(f"config path {source!r} is not usable")


def test_a_path_under_a_file_is_a_missing_file(home: Path) -> None:
    (home / "file").write_text("x")
    assert load_settings(home / "file" / "c.yaml") == Settings(path=home / "file" / "c.yaml")


def test_the_size_bound_is_one_mebibyte(home: Path) -> None:
    path = home / "c.yaml"
    body = "\ntelemetry:\n  collect: true"  # at the very end: read whole, or not at all
    path.write_text("#" * ((1 << 20) - len(body)) + body)
    assert load_settings(path).collect == "all"
    path.write_text("#" * ((1 << 20) - len(body) + 1) + body)
    assert load_settings(path).problem == f"{path}: is too large ({(1 << 20) + 1} bytes) to be a config file"


# -- the other keys ------------------------------------------------------------------------------
@pytest.mark.parametrize(("dsn", "ok"), [
    ("https://key@o1.ingest.sentry.io/42", True), ("http://key@127.0.0.1:9000/1", True),
    ("https://key@host/path/to/7/", True), ("https://key:secret@host/3", True),
    ("https://host/42", False),  # no key: Sentry would refuse every report
    ("https://@host/42", False), ("ftp://key@host/42", False), ("https://key@/42", False),
    ("https://key@host/", False), ("https://key@host/abc", False), ("key@host/42", False),
    ("https://key@host/7X", False), ("https://key@host", False),
    ("https://key@[::1/42", False),  # not even a URL
])  # fmt: skip
def test_a_dsn_has_a_key_a_host_and_a_numeric_project(dsn: str, ok: bool) -> None:
    s = load_settings({"telemetry": {"dsn": dsn}})
    assert (s.dsn, s.problem is None) == ((dsn, True) if ok else (None, False))


@pytest.mark.parametrize(("value", "ok"), [
    (0, True), (0.0, True), (10, True), (2.5, True), (-0.01, False), (10.01, False),
    (True, False), (False, False), ("1", False), (None, True),
])  # fmt: skip
def test_exit_timeout_is_zero_to_ten_seconds(value: object, ok: bool) -> None:
    s = load_settings({"telemetry": {"exit_timeout": value}})
    assert (s.problem is None) == ok
    if ok and value is not None:
        assert s.exit_timeout == value and type(s.exit_timeout) is float


@pytest.mark.parametrize(("value", "ok"), [
    ("staging", True), ("a" * 64, True), ("a" * 65, False), ("é" * 32, True), ("é" * 33, False),
    ("qa/eu", False), ("qa\\eu", False), ("a\tb", False), ("none", False), ("None", False),
    ("..", False), ("", False), ("   ", False), (7, False),
])  # fmt: skip
def test_environment_names_relay_refuses_are_refused(value: object, ok: bool) -> None:
    s = load_settings({"telemetry": {"environment": value}})
    assert (s.environment, s.problem is None) == ((value, True) if ok else (None, False))


@pytest.mark.parametrize(("value", "ok"), [
    (True, True), (False, True), ("http://localhost:8969/stream", True), ("https://h/s", True),
    ("ftp://h/s", False), ("localhost:8969", False), (1, False), ([], False),
])  # fmt: skip
def test_spotlight_is_a_switch_or_an_http_url(value: object, ok: bool) -> None:
    s = load_settings({"telemetry": {"spotlight": value}})
    assert (s.spotlight, s.problem is None) == ((value, True) if ok else (None, False))


def test_every_key_is_read_together() -> None:
    s = load_settings({"telemetry": {"collect": "yes", "dsn": "https://k@h/1", "environment": "qa",
                                     "spotlight": True, "exit_timeout": 1}})  # fmt: skip
    assert s == Settings(collect="all", dsn="https://k@h/1", environment="qa", spotlight=True,
                         exit_timeout=1.0)  # fmt: skip


def test_a_path_the_system_cannot_open_is_a_problem(home: Path) -> None:
    path = home / ("c" * 300 + ".yaml")  # longer than a file name may be
    assert load_settings(path) == Settings(path=path, problem=f"{path}: cannot be read (File name too long)")


def test_the_off_path_reads_the_config_without_anything_heavy(home: Path) -> None:
    """Every run of the app reads the config, telemetry on or off: no typing, json, dataclasses or
    sentry-sdk is imported for it (each costs start-up time the user pays on every run)."""
    from .conftest import run_python

    (home / "c.yaml").write_text("telemetry:\n  collect: off\n  dsn: https://k@h.example/1\n")
    code = ("import sys\n"
            "before = set(sys.modules)\n"
            "from crashreport.config import load_settings\n"
            "from crashreport.consent import decide\n"
            "print(decide('mytool', load_settings('~/c.yaml'), {}).level.value)\n"
            "heavy = {'typing', 'json', 'dataclasses', 'sentry_sdk', 'uuid', 'platformdirs'}\n"
            "print(sorted(heavy & (set(sys.modules) - before)))\n")  # fmt: skip
    run = run_python(home, "-c", code, wait=False)
    assert (run.stdout, run.stderr) == ("off\n[]\n", "")
    # most users have no config file at all: then not even the YAML parser is loaded
    missing = code.replace("~/c.yaml", "~/none.yaml").replace("'uuid'", "'yaml', 'uuid'")
    run = run_python(home, "-c", missing, wait=False)
    assert (run.stdout, run.stderr) == ("off\n[]\n", "")


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="counts /proc/self/fd")
def test_reading_the_config_leaves_no_file_open(home: Path) -> None:
    """An app that reads its settings again and again (a long-running desktop app) must not
    run out of file descriptors."""
    for text in ("telemetry:\n  collect: true\n", "#" * ((1 << 20) + 1)):
        (home / "c.yaml").write_text(text)
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(20):
            load_settings(home / "c.yaml")
        assert len(os.listdir("/proc/self/fd")) == before
