"""Usage signals through the loopback server: the run record, actions, counters, levels."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from .conftest import Run, run_mytool, run_python
from .sentry_server import SentryServer

#: The script is the app here but not installed code: it declares its own words as safe.
WORDS = ["git", "push", "rejected", "negative", "value", "url", "kind", "api", "download",
         "convert", "fetch", "changes", "bytes"]


def run_app(home: Path, server: SentryServer, body: str, level: str = "all") -> Run:
    """Run ``body`` after init; ``level`` is the user's config (the app variable cannot be
    overridden by set_level, the config can: it is the user changing their mind in the app)."""
    code = f"import sys, crashreport\nWORDS = {WORDS!r}\n" + (
        f"crashreport.init('mytool', dsn={server.dsn!r}, subcommand='sync', "
        f"config={{'telemetry': {{'collect': {level!r}}}}}, safe_words=WORDS)\n"
    ) + textwrap.dedent(body)  # fmt: skip
    return run_python(home, "-c", code)


def seconds(stamp: str | float) -> float:
    from datetime import datetime

    if isinstance(stamp, float):
        return stamp
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()  # 3.10 wants +00:00


def the_run(server: SentryServer) -> dict[str, Any]:
    [txn] = server.wait_for("transaction")
    return txn


@pytest.mark.parametrize(
    ("args", "code", "outcome", "status", "session", "errors"),
    [
        (["hello"], 0, "ok", "ok", "exited", 0),
        (["crash"], 1, "crashed", "internal_error", "crashed", 1),
        # A failed run counts in Sentry's failure rate but does not read as a crash.
        (["fail", "--code", "3"], 3, "failed", "aborted", "exited", 1),
        (["fail", "--code", "2"], 2, "failed", "invalid_argument", "exited", 1),
        (["fail", "--code", "130"], 130, "failed", "cancelled", "exited", 1),
        # Python ends itself with SIGINT after an unhandled KeyboardInterrupt: -2 as before.
        (["interrupt"], -2, "interrupted", "cancelled", "exited", 0),
    ],
)
def test_one_record_per_run(home: Path, sentry_server: SentryServer, args: list[str], code: int,
                            outcome: str, status: str, session: str, errors: int) -> None:  # fmt: skip
    run = run_mytool(home, *args, env={"MYTOOL_DSN": sentry_server.dsn, "MYTOOL_TELEMETRY": "1"})
    assert run.returncode == code
    txn = the_run(sentry_server)
    assert txn["transaction"] == args[0]
    assert txn["release"] == "mytool@1.4.2"
    assert txn["tags"]["subcommand"] == args[0] and txn["tags"]["python"]
    trace = txn["contexts"]["trace"]
    assert trace["op"] == "cli.run" and trace["status"] == status
    assert trace["data"]["outcome"] == outcome
    assert trace["data"]["exit_code"] == (130 if outcome == "interrupted" else code)
    assert seconds(txn["timestamp"]) >= seconds(txn["start_timestamp"])
    final = sentry_server.wait_for("session")[-1]
    assert final["status"] == session and final.get("errors", 0) == errors
    events = sentry_server.items("event")
    assert len(events) == (1 if outcome == "crashed" else 0)
    if events:  # the crash links to the run's trace
        assert events[0]["contexts"]["trace"]["trace_id"] == trace["trace_id"]


def test_tracked_actions_become_spans(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        import time

        with crashreport.track("fetch", url_kind="api") as action:
            time.sleep(0.05)
            action.set(status_code=200)

        @crashreport.track("convert")
        def convert(n):
            if n < 0:
                raise ValueError("negative value in /home/alice/data.csv")
            return n

        convert(1)
        try:
            convert(-1)
        except ValueError:
            pass
        with crashreport.track("git-push") as action:
            action.fail("push rejected", exit_code=128)
        with crashreport.track("download") as action:
            action.set(status_code=503)
    """)
    assert run.returncode == 0, run.stderr
    spans = the_run(sentry_server)["spans"]
    by_name = {}
    for span in spans:
        by_name.setdefault(span["description"], []).append(span)
    [fetch] = by_name["fetch"]
    assert fetch["op"] == "action" and fetch["status"] == "ok"
    assert fetch["data"]["outcome"] == "ok" and fetch["data"]["status_code"] == 200
    assert fetch["data"]["url_kind"] == "api"
    assert seconds(fetch["timestamp"]) - seconds(fetch["start_timestamp"]) >= 0.04
    ok, failed = by_name["convert"]
    assert ok["data"]["outcome"] == "ok"
    assert failed["data"]["outcome"] == "error" and failed["status"] == "internal_error"
    assert failed["data"]["error.type"] == "ValueError"
    assert "negative value" in failed["data"]["error.message"]
    assert "alice" not in failed["data"]["error.message"]
    [push] = by_name["git-push"]
    assert push["data"]["outcome"] == "error" and push["data"]["exit_code"] == 128
    assert push["data"]["error.message"] == "push rejected" and push["status"] == "aborted"
    [download] = by_name["download"]
    assert download["data"]["outcome"] == "error" and download["status"] == "unavailable"


def test_counters_are_summed_into_one_record(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        for i in range(1000):
            crashreport.count("changes")
        crashreport.count("changes", 5)
        crashreport.count("bytes", 2.5)
    """)
    assert run.returncode == 0, run.stderr
    txn = the_run(sentry_server)
    assert txn["contexts"]["trace"]["data"]["counters"] == {"changes": 1005, "bytes": 2.5}
    # ... and as custom measurements, which Sentry can sum and chart
    assert txn["measurements"] == {"changes": {"value": 1005, "unit": "none"},
                                   "bytes": {"value": 2.5, "unit": "none"}}
    assert sentry_server.requests <= 2  # the record and the session, not one per count


def test_set_subcommand_after_init(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, "crashreport.set_subcommand('export')\nraise RuntimeError('x')\n")
    assert run.returncode == 1
    assert the_run(sentry_server)["transaction"] == "export"
    [event] = sentry_server.wait_for("event")
    assert event["tags"]["subcommand"] == "export"


def test_level_errors_sends_only_the_error(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        with crashreport.track("fetch"):
            crashreport.count("n")
        raise RuntimeError("boom")
    """, level="errors")
    assert run.returncode == 1
    [event] = sentry_server.wait_for("event")
    assert event["exception"]["values"][0]["type"] == "RuntimeError"
    kinds = {item.type for envelope in sentry_server.envelopes for item in envelope.items}
    assert kinds == {"event"}


def test_set_level_off_mid_run_stops_everything(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        import logging
        logging.getLogger("x").error("before: this one is sent")
        print(crashreport.set_level("off").level.value)
        with crashreport.track("fetch"):
            crashreport.count("n")
        logging.getLogger("x").error("after: never sent")
        raise RuntimeError("after: never sent")
    """)
    assert run.returncode == 1 and run.stdout == "off\n"
    import time

    time.sleep(0.5)
    # The event from before may have gone out, or stays queued; nothing from after exists at all.
    sent = [e.get("logentry", {}).get("message") for e in sentry_server.items("event")]
    queue = home / ".local/state/mytool/crashreport/outbox"
    queued = [p.read_bytes() for p in queue.iterdir()] if queue.exists() else []
    assert sent + [b"before" for data in queued if b"before: this one is sent" in data] in (
        ["before: this one is sent"], [b"before"])  # fmt: skip
    assert not any(b"after: never sent" in data or b"fetch" in data for data in queued)
    kinds = {item.type for envelope in sentry_server.envelopes for item in envelope.items}
    assert kinds <= {"event"}


def test_set_level_on_from_off_starts_reporting(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        print(crashreport.set_level("all").level.value)
        raise RuntimeError("reported")
    """, level="off")
    assert run.returncode == 1 and run.stdout == "all\n"
    [event] = sentry_server.wait_for("event")
    assert event["exception"]["values"][0]["value"] == "reported"


def test_replaced_excepthook_still_reports_the_crash(home: Path, sentry_server: SentryServer) -> None:
    # Typer (and others) install their own sys.excepthook after init, bypassing sentry-sdk's.
    run = run_app(home, sentry_server, """
        def pretty(kind, value, tb):
            print("pretty:", kind.__name__, file=sys.stderr)
        sys.excepthook = pretty
        raise LookupError("lost?")
    """)
    assert run.returncode == 1 and "pretty: LookupError" in run.stderr
    [event] = sentry_server.wait_for("event")
    assert event["exception"]["values"][0]["type"] == "LookupError"
    assert event["exception"]["values"][0]["mechanism"]["handled"] is False
    assert sentry_server.wait_for("session")[-1]["status"] == "crashed"


def test_exception_in_a_thread_is_reported(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        import threading
        t = threading.Thread(target=lambda: 1 / 0)
        t.start(); t.join()
    """)
    assert run.returncode == 0
    [event] = sentry_server.wait_for("event")
    assert event["exception"]["values"][0]["type"] == "ZeroDivisionError"


def test_track_and_count_cost_nothing_when_off(home: Path) -> None:
    import crashreport

    crashreport.init("mytool", config={"telemetry": {"collect": False}})
    with crashreport.track("x") as action:
        crashreport.count("n")
    assert action.outcome == "ok"
    from crashreport.run import usage

    assert usage.SINK is None and usage.COUNTERS.snapshot() == {}


CLICK_APP = """
import click, crashreport

@click.group()
def cli():
    pass

@cli.command()
def sync():
    crashreport.init('mytool', dsn=DSN, subcommand='sync')
    raise KeyError('inside click')

@cli.command()
def bad():
    crashreport.init('mytool', dsn=DSN, subcommand='bad')
    raise click.UsageError('wrong option')

cli()
"""

TYPER_APP = """
import typer, crashreport

app = typer.Typer()

@app.command()
def sync(n: int = 1):
    crashreport.init('mytool', dsn=DSN, subcommand='sync')
    raise KeyError('inside typer')

@app.command()
def other():
    pass

app()
"""


@pytest.mark.parametrize(("name", "source"), [("click", CLICK_APP), ("typer", TYPER_APP)])
def test_crash_inside_click_and_typer_apps(home: Path, sentry_server: SentryServer, name: str,
                                           source: str) -> None:  # fmt: skip
    code = f"DSN = {sentry_server.dsn!r}\n" + source
    run = run_python(home, "-c", code, "sync", env={"MYTOOL_TELEMETRY": "1", "COLUMNS": "200"})
    assert run.returncode == 1
    assert "KeyError" in run.stderr
    [event] = sentry_server.wait_for("event")
    exc = event["exception"]["values"][-1]
    assert exc["type"] == "KeyError" and exc["mechanism"]["handled"] is False
    assert sentry_server.wait_for("session")[-1]["status"] == "crashed"
    assert the_run(sentry_server)["contexts"]["trace"]["data"]["outcome"] == "crashed"


def test_click_usage_error_is_a_failed_run_not_a_crash(home: Path, sentry_server: SentryServer) -> None:
    code = f"DSN = {sentry_server.dsn!r}\n" + CLICK_APP
    run = run_python(home, "-c", code, "bad", env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 2 and "wrong option" in run.stderr
    trace = the_run(sentry_server)["contexts"]["trace"]
    assert (trace["data"]["outcome"], trace["data"]["exit_code"]) == ("failed", 2)
    assert sentry_server.items("event") == []
    final = sentry_server.wait_for("session")[-1]
    assert final["status"] == "exited" and final["errors"] == 1


def test_example_app_tracks_and_counts(home: Path, sentry_server: SentryServer) -> None:
    env = {"MYTOOL_DSN": sentry_server.dsn, "MYTOOL_TELEMETRY": "1"}
    run_mytool(home, "hello", env=env)
    [hello] = sentry_server.wait_for("transaction")
    assert hello["contexts"]["trace"]["data"]["counters"] == {"greetings": 1}
    sentry_server.clear()
    run_mytool(home, "crash", env=env)
    [crash] = sentry_server.wait_for("transaction")
    [span] = crash["spans"]
    assert span["description"] == "parse-report" and span["data"]["error.type"] == "FileNotFoundError"


def test_set_level_cannot_override_do_not_track_or_the_app_variable(
    home: Path, sentry_server: SentryServer
) -> None:
    code = (
        "import crashreport\n"
        f"h = crashreport.init('mytool', dsn={sentry_server.dsn!r})\n"
        "print(crashreport.set_level('all').level.value)\n"
        "crashreport.set_level('off'); print(crashreport.set_level('all').level.value)\n"
        "raise RuntimeError('boom')\n"
    )
    for env in ({"DO_NOT_TRACK": "1", "MYTOOL_TELEMETRY": "1"}, {"MYTOOL_TELEMETRY": "errors"}):
        sentry_server.clear()
        run = run_python(home, "-c", code, env=env)
        level = "off" if "DO_NOT_TRACK" in env else "errors"
        assert run.stdout == f"{level}\n{'off'}\n", run.stderr
        assert "which a program cannot override" in run.stderr
        if level == "off":
            assert sentry_server.requests == 0
            assert not (home / ".local/share/mytool").exists()


def test_bad_values_to_track_and_count_never_raise(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        with crashreport.track("fetch") as action:
            action.set(status_code="n/a", exit_code="x")
        crashreport.count("n", "lots")
        crashreport.count("n", 2)
        print("still running")
    """)
    assert run.returncode == 0 and run.stdout == "still running\n", run.stderr
    txn = the_run(sentry_server)
    assert txn["contexts"]["trace"]["data"]["counters"] == {"n": 2}
    [span] = txn["spans"]
    assert span["data"]["outcome"] == "ok" and span["data"]["status_code"] == "n/a"


def test_a_crash_dropped_by_the_apps_before_send_still_counts_as_crashed(
    home: Path, sentry_server: SentryServer
) -> None:
    code = (
        "import crashreport\n"
        f"crashreport.init('mytool', dsn={sentry_server.dsn!r}, before_send=lambda e, h: None)\n"
        "raise RuntimeError('not reported')\n"
    )
    run = run_python(home, "-c", code, env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 1
    assert sentry_server.wait_for("session")[-1]["status"] == "crashed"
    assert sentry_server.items("event") == []


def test_subcommand_set_while_off_is_used_when_turned_on(home: Path, sentry_server: SentryServer) -> None:
    run = run_app(home, sentry_server, """
        crashreport.set_subcommand("export")
        crashreport.set_level("all")
    """, level="off")
    assert run.returncode == 0, run.stderr
    assert the_run(sentry_server)["transaction"] == "export"
