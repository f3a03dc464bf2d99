"""``notice``: the telemetry page lists exactly the fields real runs send, at the levels it says.

Real payloads come from the example app and a small program (an app's own tags and extra, a
breadcrumb, a logged error with values, an action with an HTTP status) through the loopback
server, at levels ``all`` and ``errors``. The page is parsed back and compared with them.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from crashreport import payload
from crashreport.cli import notice
from crashreport.config import Settings, parse_level
from crashreport.consent import Level, Source, decide

from .conftest import ROOT, run_mytool, run_python
from .sentry_server import SentryServer

EXAMPLE = ROOT / "docs" / "notice-example.md"

#: A program that sends what the example app does not: the app's own tags and extra (through
#: its before_send), a breadcrumb with data, a logged error with values, an action's HTTP status.
EXTRA = """\
import logging, sys, crashreport

def hook(event, hint):
    event["tags"]["plan"] = "pro"
    event.setdefault("extra", {})["note"] = "from the app"
    return event

crashreport.init("mytool", dsn=sys.argv[1], subcommand="sync", before_send=hook)
log = logging.getLogger("mytool.sync")
log.warning("cache is %s", "stale", extra={"entries": 3})
with crashreport.track("fetch") as action:
    action.set(status_code=503)
log.error("could not sync %s items", 3)
"""

#: A program that dies of a signal: reported by the next run's sender as a fatal crash event
#: with every thread's stack, its session ``crashed``.
SEGFAULT = """\
import ctypes, sys, crashreport
crashreport.init("mytool", dsn=sys.argv[1], subcommand="convert")
ctypes.string_at(0)
"""

RUNS = [("mytool", "hello"), ("mytool", "crash"), ("mytool", "fail"), ("mytool", "log-error"),
        ("extra", ""), ("segfault", "")]  # fmt: skip

Leaf = tuple[str, ...]


def leaves(value: Any, path: Leaf = ()) -> Iterator[Leaf]:
    """The paths of a payload's values (``ITEM`` for list items); empty containers carry none."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from leaves(item, (*path, key))
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, (*path, payload.ITEM))
    else:
        yield path


class Sent:
    """What the runs sent: per level, per item type, the leaf paths; and the raw bytes."""

    def __init__(self) -> None:
        self.fields: dict[Level, dict[str, set[Leaf]]] = {}
        self.raw: list[bytes] = []
        self.home = ""

    def add(self, level: Level, kind: str, value: Any) -> None:
        self.fields.setdefault(level, {}).setdefault(kind, set()).update(leaves(value))


def _one(base: Path, level: Level, what: str, command: str) -> tuple[Level, list[Any], str]:
    home = base / f"{level.value}-{what}-{command}" / "home" / "alice"
    home.mkdir(parents=True)
    server = SentryServer()
    try:
        env = {"MYTOOL_TELEMETRY": level.value, "MYTOOL_DSN": server.dsn, "USER": "alice"}
        if what == "mytool":
            run = run_mytool(home, command, env=env)
        elif what == "segfault":
            run = run_python(home, "-c", SEGFAULT, server.dsn, env=env)
            run_mytool(home, "hello", env=env)  # whose sender reports the run that died
        else:
            run = run_python(home, "-c", EXTRA, server.dsn, env=env)
        assert "crashreport:" not in run.stderr, run.stderr
        return level, list(server.envelopes), str(home)
    finally:
        server.close()


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    base = tmp_path_factory.mktemp("notice")
    jobs = [(level, what, command) for level in (Level.ALL, Level.ERRORS) for what, command in RUNS]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda job: _one(base, *job), jobs))
    out = Sent()
    for level, envelopes, home in results:
        out.home = home
        for envelope in envelopes:
            out.raw.append(envelope.raw)
            out.add(level, "envelope", envelope.headers)
            for item in envelope.items:
                assert set(item.headers) <= {"type", "length", "content_type"}, item.headers
                out.add(level, item.type, item.payload)
    return out


def page_rows(text: str) -> dict[str, dict[str, str]]:
    """``{item type: {path: level}}`` read back from the markdown page's field tables."""
    rows: dict[str, dict[str, str]] = {}
    kind = None
    for line in text.splitlines():
        if m := re.match(r"^### .*\(`(\w+)`\), from level", line):
            kind = m[1]
            rows[kind] = {}
        elif kind and (m := re.match(r"^\| `(.+?)` \| .+ \| `(\w+)` \|$", line)):
            rows[kind][m[1]] = m[2]
        elif line.startswith("## "):
            kind = None
    return rows


def mytool_page(fmt: str = "markdown") -> str:
    return notice.render("mytool", command=lambda w: f"mytool telemetry {w}",
                         config="~/.config/mytool/config.yaml", fmt=fmt)  # fmt: skip


def test_every_field_sent_is_on_the_page_at_its_level(sent: Sent) -> None:
    page = page_rows(mytool_page())
    assert set(page) == set(payload.KINDS)
    for level, kinds in sent.fields.items():
        for kind, fields in kinds.items():
            for leaf in fields:
                row = payload.row_for(kind, leaf)
                assert row is not None, (kind, leaf)
                assert page[kind].get(row.path) == row.level.value, (kind, row)
                # A field seen at level errors is one the page says errors sends.
                assert level is Level.ALL or row.level is Level.ERRORS, (kind, leaf, row)


def test_the_page_claims_no_field_that_is_never_sent(sent: Sent) -> None:
    for kind, rows in page_rows(mytool_page()).items():
        for path, level in rows.items():
            seen = {lv for lv, kinds in sent.fields.items() for leaf in kinds.get(kind, ())
                    if (row := payload.row_for(kind, leaf)) and row.path == path}  # fmt: skip
            assert seen, f"the page lists {kind} {path}, which no run sent"
            if level == "errors":
                assert Level.ERRORS in seen, f"{kind} {path}: said to be sent at errors, never was"


def test_each_level_sends_the_item_types_the_page_says(sent: Sent) -> None:
    assert set(sent.fields[Level.ALL]) == set(payload.KINDS)
    assert set(sent.fields[Level.ERRORS]) == {"event", "envelope"}
    levels = re.search(r"\| `errors` \| .+ \| (.+) \|", mytool_page())
    assert levels is not None and levels[1] == "crash reports"


def test_what_the_page_says_is_never_sent_is_not(sent: Sent) -> None:
    for level, kinds in sent.fields.items():
        for kind, path, _ in payload.NEVER:
            tokens = payload.parse_path(path)
            assert not any(leaf[: len(tokens)] == tokens for leaf in kinds.get(kind, ())), path
    raw = b"\n".join(sent.raw).decode()
    assert sent.home not in raw and "alice" not in raw
    assert "fetch" in raw and "from the app" in raw  # the runs did send the app's own values


def test_the_opt_outs_it_names_are_the_ones_the_code_obeys() -> None:
    page = mytool_page()
    tries = ["", " ", "0", "false", "FALSE", "no", "off", "n", "1", "true", "yes", "on", "please"]

    def listed(sentence: str) -> set[str]:
        return {w.lower() for w in re.findall(r"`([^`]*)`", sentence.replace("empty", "``"))}

    (dnt,) = re.findall(r"^1\. `DO_NOT_TRACK` set to anything but (.+?): off", page, re.M)
    for value in tries:
        said_off = value.strip().lower() not in listed(dnt)
        source = decide("mytool", Settings(collect="all"), {"DO_NOT_TRACK": value}).source
        assert (source is Source.DO_NOT_TRACK) == said_off, value
    (ci,) = re.findall(r"`CI` set, and not (.+?)\): off", page)
    for value in tries:
        said_ci = value.strip().lower() not in listed(ci)
        source = decide("mytool", Settings(collect="all"), {"CI": value}).source
        assert (source is Source.CI) == said_ci, value
    for level, words in re.findall(r"^\| `(\w+)`.*? \| (.+?) \| .+ \|$", page, re.M)[1:4]:
        for word in re.findall(r"`(\w+)`", words):
            assert parse_level(word) == level
            assert decide("mytool", Settings(), {"MYTOOL_TELEMETRY": word.upper()}).level == level
    order = re.findall(r"^\d\. (.+)$", page, re.M)
    assert len(order) == len(Source)
    assert "`MYTOOL_TELEMETRY`" in order[Source.APP_ENV - 1]
    assert "`telemetry.collect`" in order[Source.CONFIG - 1]


def test_the_locations_are_platformdirs_own(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from platformdirs import macos, unix, windows

    from crashreport.paths import Paths

    monkeypatch.setattr(windows, "get_win_folder", lambda name: {
        "CSIDL_LOCAL_APPDATA": "%LOCALAPPDATA%"}[name])  # fmt: skip
    rows = notice.locations("mytool")
    dirs = {"Linux": unix.Unix, "macOS": macos.MacOS, "Windows": windows.Windows}
    for column, (system, *_) in enumerate(notice.ROOTS, 1):
        made = dirs[system](appname="mytool", appauthor=False)
        sep = "\\" if system == "Windows" else "/"
        expected = [
            made.user_data_dir + sep + "user_id.json",
            made.user_state_dir + sep + sep.join(("crashreport", "outbox")),
            made.user_state_dir + sep + sep.join(("crashreport", "sent")),
        ]
        shown = [row[column].strip("`").replace("~", str(home), 1) for row in rows]
        if system == "Windows":  # os.path.join on this system joined with "/"
            expected = [path.replace("/", "\\") for path in expected]
        assert shown == expected, system
    here = Paths.for_app("mytool")  # and on this (Linux) machine, what the code really uses
    assert [str(here.id_file), str(here.outbox_dir), str(here.sent_dir)] == [
        row[1].strip("`").replace("~", str(home), 1) for row in rows
    ]


def test_text_format_has_no_markup() -> None:
    text = mytool_page("text")
    assert "Telemetry in mytool\n===================" in text
    assert "`" not in text and "**" not in text and "| ---" not in text
    assert "MYTOOL_TELEMETRY" in text and "exception.values[].stacktrace.frames[].lineno" in text
    assert max(len(line) for line in text.splitlines()) <= notice.WIDTH + 4


def test_the_example_in_docs_is_up_to_date(home: Path) -> None:
    run = run_mytool(home, "telemetry", "notice")
    assert run.returncode == 0, run.stderr
    assert run.stdout == mytool_page()
    assert EXAMPLE.read_text(encoding="utf-8") == run.stdout, (
        "docs/notice-example.md is out of date: python -m mytool telemetry notice > "
        "docs/notice-example.md"
    )


def test_the_command_in_every_form(home: Path) -> None:
    run = run_python(home, "-m", "crashreport", "--app", "mytool", "notice", "--format", "text")
    assert run.returncode == 0, run.stderr
    assert "crashreport --app mytool reset-id" in run.stdout
    assert "`" not in run.stdout
    run = run_python(home, "-m", "crashreport", "--app", "mytool", "--config", "~/my.yaml", "notice")
    assert "`crashreport --app mytool --config ~/my.yaml enable`" in run.stdout
    assert "config file (`~/my.yaml`)" in run.stdout
    assert run_python(home, "-m", "crashreport", "--app", "nosuchapp", "notice").returncode == 1
    after = run_python(home, "-m", "crashreport", "notice", "--app", "mytool", "--format", "text")
    assert (after.returncode, after.stdout) == (0, run_python(
        home, "-m", "crashreport", "--app", "mytool", "notice", "--format", "text").stdout)
    bad = run_python(home, "-m", "crashreport", "--app", "mytool", "notice", "--format", "html")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr
    pytest.importorskip("click")
    code = ("import sys, click, crashreport.cli\n"
            "@click.group()\n"
            "def cli(): pass\n"
            "cli.add_command(crashreport.cli.click_group(app='mytool', config='~/c.yaml'))\n"
            "cli(sys.argv[1:], prog_name='myclick')\n")  # fmt: skip
    run = run_python(home, "-c", code, "telemetry", "notice")
    assert run.returncode == 0, run.stderr
    assert "`myclick telemetry disable --purge`" in run.stdout and "(`~/c.yaml`)" in run.stdout
