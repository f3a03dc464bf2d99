"""The field table: its allowlist on payloads, its path syntax, and its wiring in the transport."""

from __future__ import annotations

from pathlib import Path

import pytest

from crashreport import payload
from crashreport.consent import Level
from crashreport.payload import ANY, ITEM, allow, parse_path, row_for

from .conftest import run_python
from .sentry_server import SentryServer

FRAME = {"filename": "pathlib.py", "abs_path": "pathlib.py", "function": "open", "lineno": 3,
         "vars": {"path": "/home/alice/taxes.pdf"}, "package": "/usr/lib/python3"}  # fmt: skip


def test_parse_path() -> None:
    assert parse_path('a.b[].c["d.e"].*') == ("a", "b", ITEM, "c", "d.e", ANY)
    assert parse_path("sdk") == ("sdk",)


def test_allow_keeps_listed_fields_and_drops_the_rest() -> None:
    event = {
        "event_id": "ab12",
        "server_name": "alices-laptop",
        "user": {"id": "u1", "email": "a@b.c", "ip_address": "1.2.3.4"},
        "tags": {"subcommand": "crash", "plan": "pro"},
        "extra": {"sys.argv": ["mytool", "--password", "x"], "note": "kept"},
        "exception": {"values": [{"type": "OSError", "stacktrace": {"frames": [FRAME, FRAME]}}]},
        "sdk": {"name": "sentry.python", "anything": {"below": 1}},
        "fingerprint": ["x"],
        "contexts": {"runtime": {"name": "CPython", "build": "gcc"}, "device": {"model": "x"}},
        "breadcrumbs": {"values": []},
    }
    assert allow("event", event) == {
        "event_id": "ab12",
        "user": {"id": "u1"},
        "tags": {"subcommand": "crash", "plan": "pro"},  # `tags.*`: the app's own tags
        "extra": {"note": "kept"},  # `extra.*`, but never sys.argv (NEVER wins over `*`)
        "exception": {"values": [{"type": "OSError", "stacktrace": {"frames": [
            {"filename": "pathlib.py", "abs_path": "pathlib.py", "function": "open", "lineno": 3},
        ] * 2}}]},
        "sdk": {"name": "sentry.python", "anything": {"below": 1}},  # a row keeps its subtree
        "contexts": {"runtime": {"name": "CPython"}},
        "breadcrumbs": {"values": []},
    }  # fmt: skip
    assert "server_name" in event and "vars" in FRAME  # a copy: the input is untouched


def test_allow_drops_what_does_not_fit_the_table() -> None:
    assert allow("attachment", {"a": 1}) is None  # an item type the table does not list
    assert allow("event", ["not", "a", "mapping"]) is None
    weird = {"exception": "a string where a mapping belongs", "tags": ["a", "list"],
             "breadcrumbs": {"values": [{"message": "m"}, "a string item", 3]},
             7: "a non-string key"}  # fmt: skip
    assert allow("event", weird) == {"breadcrumbs": {"values": [{"message": "m"}]}}


def test_row_for_follows_the_same_walk() -> None:
    frame = ("exception", "values", ITEM, "stacktrace", "frames", ITEM)
    row = row_for("event", (*frame, "lineno"))
    assert row is not None and row.path.endswith(".lineno") and row.level is Level.ERRORS
    assert row_for("event", (*frame, "vars")) is None
    assert row_for("event", ("extra", "sys.argv")) is None
    assert row_for("event", ("extra", "note")) == row_for("event", ("extra", "other"))
    assert row_for("event", ("tags", "subcommand")) != row_for("event", ("tags", "plan"))
    assert row_for("event", ("sdk", "packages", ITEM, "name")) == row_for("event", ("sdk",))
    assert row_for("event", ("exception",)) is None  # a container on the way is not a field
    assert row_for("nothing", ("a",)) is None


def test_overlapping_rows_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    E = Level.ERRORS
    monkeypatch.setitem(payload.FIELDS, "x", (payload.Field("a", E, ""), payload.Field("a.b", E, "")))
    with pytest.raises(ValueError, match="another goes on"):
        payload._compile("x")
    monkeypatch.setitem(payload.FIELDS, "x", (payload.Field("a", E, ""), payload.Field("a", E, "")))
    with pytest.raises(ValueError, match="two rows"):
        payload._compile("x")


def test_every_row_is_well_formed() -> None:
    """Levels are consent's; every kind has rows and a description; NEVER rows name kinds."""
    assert set(payload.FIELDS) == set(payload.KINDS)
    for kind, rows in payload.FIELDS.items():
        assert rows, kind
        assert len({r.path for r in rows}) == len(rows), kind
        for row in rows:
            assert row.level in (Level.ERRORS, Level.ALL) and row.text, row
            assert parse_path(row.path), row
            assert not (payload.KINDS[kind].level is Level.ALL and row.level is Level.ERRORS), row
    for kind, path, text in payload.NEVER:
        assert kind in payload.FIELDS and text
        assert row_for(kind, parse_path(path)) is None, path


def test_the_transport_sends_only_listed_fields(home: Path, sentry_server: SentryServer) -> None:
    """An app's before_send adds fields the table does not list: they never reach the server."""
    code = (
        "import crashreport\n"
        "def hook(event, hint):\n"
        "    event['fingerprint'] = ['acme-{{ default }}']\n"
        "    event['contexts']['device'] = {'model': 'ThinkPad of Alice'}\n"
        "    event['server_name'] = 'alices-laptop'\n"
        "    event['tags']['plan'] = 'pro'\n"
        "    return event\n"
        # An app's hook is in its own source, whose words are program text; a -c script's are
        # not: here they are the app's safe words.
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r}, before_send=hook,\n"
        "                 safe_words=('plan', 'pro', 'boom'))\n"
        "raise RuntimeError('boom')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 1
    [event] = sentry_server.wait_for("event")
    assert event["tags"]["plan"] == "pro"
    assert event["exception"]["values"][0]["value"] == "boom"
    assert "fingerprint" not in event and "server_name" not in event
    assert "device" not in event["contexts"] and "runtime" in event["contexts"]
    for envelope in sentry_server.envelopes:
        assert set(envelope.headers) <= {"event_id", "sent_at", "trace"}
