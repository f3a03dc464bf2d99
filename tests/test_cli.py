"""The ``crashreport`` command and ``mytool telemetry ...``, run as real subprocesses."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
import yaml

from .conftest import Run, run_mytool, run_python, settle

COMMENTED = """\
# mytool config: my notes must survive
colour: blue   # favourite
telemetry:
  # the authors asked nicely
  dsn: https://public123@o0.ingest.example.org/42   # our self-hosted Sentry
  environment: laptop
editor: vim    # of course
"""


def crashreport(home: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    return run_python(home, "-m", "crashreport", *args, env=env)


def config_of(home: Path) -> Path:
    return home / ".config" / "mytool" / "config.yaml"


def test_status_default_off_says_why_and_where(home: Path) -> None:
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "status")
    assert run.returncode == 0, run.stderr
    assert "mytool: telemetry is OFF" in run.stdout
    assert "decided by   the default" in run.stdout
    assert f"{config_of(home)} (does not exist)" in run.stdout
    assert str(home / ".local" / "share" / "mytool" / "user_id.json") in run.stdout
    assert "queued       0" in run.stdout
    assert "last sent    never" in run.stdout
    assert "nowhere: no DSN" in run.stdout
    assert sorted(p for p in home.rglob("*")) == []  # status wrote nothing


@pytest.mark.parametrize(
    ("env", "level", "source"),
    [
        ({"DO_NOT_TRACK": "1"}, "off", "DO_NOT_TRACK"),
        ({"MYTOOL_TELEMETRY": "errors"}, "errors", "MYTOOL_TELEMETRY"),
        ({"MYTOOL_TELEMETRY": "1", "DO_NOT_TRACK": "true"}, "off", "DO_NOT_TRACK"),
        ({"CI": "true"}, "off", "CI"),
        ({}, "all", "the config file"),
    ],
)
def test_status_names_the_deciding_source(home: Path, env: dict[str, str], level: str,
                                          source: str) -> None:  # fmt: skip
    config_of(home).parent.mkdir(parents=True)
    config_of(home).write_text("telemetry:\n  collect: true\n")
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "status",
                      "--json", env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    info = json.loads(run.stdout)
    assert (info["level"], info["decided_by"]) == (level, source)


def test_status_shows_the_dsn_host_never_the_key(home: Path) -> None:
    config_of(home).parent.mkdir(parents=True)
    config_of(home).write_text(COMMENTED)
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "status")
    assert "sends to     o0.ingest.example.org" in run.stdout
    assert "public123" not in run.stdout
    run = crashreport(home, "--app", "mytool", "--dsn", "http://k3y@127.0.0.1:9999/1", "status")
    assert "sends to     127.0.0.1:9999" in run.stdout
    assert "k3y" not in run.stdout


def test_enable_disable_keep_the_commented_file(home: Path) -> None:
    path = config_of(home)
    path.parent.mkdir(parents=True)
    path.write_text(COMMENTED)
    os.chmod(path, 0o640)
    args = ("--app", "mytool", "--config", str(path))

    run = crashreport(home, *args, "enable")
    assert run.returncode == 0, run.stderr
    assert f"wrote telemetry.collect: true to {path}" in run.stdout
    enabled = path.read_text()
    assert enabled == COMMENTED.replace("telemetry:\n", "telemetry:\n  collect: true\n", 1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert "telemetry is ON" in crashreport(home, *args, "status").stdout

    run = crashreport(home, *args, "disable")
    assert run.returncode == 0, run.stderr
    assert path.read_text() == enabled.replace("collect: true", "collect: false")
    assert yaml.safe_load(path.read_text())["colour"] == "blue"
    assert "telemetry is OFF" in crashreport(home, *args, "status").stdout

    run = crashreport(home, *args, "disable")
    assert "already says telemetry.collect: false" in run.stdout


def test_enable_creates_the_file(home: Path) -> None:
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "enable",
                      "--errors")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"created {config_of(home)}" in run.stdout
    assert yaml.safe_load(config_of(home).read_text()) == {"telemetry": {"collect": "errors"}}


def test_enable_says_when_the_environment_still_wins(home: Path) -> None:
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "enable",
                      env={"DO_NOT_TRACK": "1"})  # fmt: skip
    assert run.returncode == 0
    assert "note: DO_NOT_TRACK=1 is set, which wins over the config" in run.stdout


@pytest.mark.parametrize("text", ["- a list\n- not a mapping\n", "telemetry: [1, 2]\n",
                                  "telemetry: {collect: true\n"])  # fmt: skip
def test_enable_refuses_a_config_it_cannot_edit(home: Path, text: str) -> None:
    path = home / "config.yaml"
    path.write_text(text)
    run = crashreport(home, "--app", "mytool", "--config", str(path), "enable")
    assert run.returncode == 1
    assert run.stderr.startswith("crashreport: ")
    assert "nothing was changed" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert "Traceback" not in run.stderr
    assert path.read_text() == text


def test_usage_errors_exit_2(home: Path) -> None:
    run = crashreport(home, "status")
    assert run.returncode == 2
    assert "--app NAME is required" in run.stderr
    run = crashreport(home, "--app", "mytool", "enable")
    assert run.returncode == 2
    assert "pass --config PATH" in run.stderr
    assert crashreport(home, "--app", "mytool", "frobnicate").returncode == 2
    assert crashreport(home).returncode == 2


def test_unknown_app_is_a_clear_failure(home: Path) -> None:
    run = crashreport(home, "--app", "no-such-app-xyz", "status")
    assert run.returncode == 1
    assert run.stderr.strip() == ("crashreport: unknown app 'no-such-app-xyz': no installed "
                                  "distribution of that name and no crashreport files for it "
                                  "(is the name right?)")  # fmt: skip


def test_reset_id(home: Path) -> None:
    run = run_mytool(home, "hello", env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 0, run.stderr
    id_file = home / ".local" / "share" / "mytool" / "user_id.json"
    first = json.loads(id_file.read_text())["user_id"]
    run = crashreport(home, "--app", "mytool", "reset-id")
    assert run.returncode == 0
    assert f"forgot the anonymous id (deleted {id_file})" in run.stdout
    assert not id_file.exists()
    assert "no anonymous id to forget" in crashreport(home, "--app", "mytool", "reset-id").stdout
    run_mytool(home, "hello", env={"MYTOOL_TELEMETRY": "1"})
    assert json.loads(id_file.read_text())["user_id"] != first


def test_mounted_in_the_example_app(home: Path) -> None:
    run = run_mytool(home, "telemetry", "status")
    assert run.returncode == 0, run.stderr
    assert "mytool: telemetry is OFF" in run.stdout
    assert "change it    mytool telemetry enable | disable" in run.stdout

    run = run_mytool(home, "telemetry", "enable")
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(config_of(home).read_text()) == {"telemetry": {"collect": True}}
    # The telemetry command itself runs before init: no id, no session, nothing queued.
    assert not (home / ".local" / "share" / "mytool").exists()
    assert not (home / ".local" / "state" / "mytool").exists()
    assert "telemetry is ON" in run_mytool(home, "telemetry", "status").stdout

    run = run_mytool(home, "telemetry", "disable")
    assert yaml.safe_load(config_of(home).read_text()) == {"telemetry": {"collect": False}}
    assert run_mytool(home, "telemetry").returncode == 2


def test_mounted_honours_the_apps_config_variable(home: Path) -> None:
    other = home / "elsewhere.yaml"
    run = run_mytool(home, "telemetry", "enable", env={"MYTOOL_CONFIG": str(other)})
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(other.read_text()) == {"telemetry": {"collect": True}}
    assert not config_of(home).exists()


def test_python_dash_m_and_console_script_agree(home: Path) -> None:
    import shutil
    import subprocess
    import sys

    script = shutil.which("crashreport", path=str(Path(sys.executable).parent))
    if script is None:
        pytest.skip("the console script is not installed in this environment")
    from .conftest import child_env

    out = subprocess.run([script, "--app", "mytool", "status", "--json"], capture_output=True,
                         text=True, env=child_env(home), cwd=home, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == json.loads(
        crashreport(home, "--app", "mytool", "status", "--json").stdout
    )


# -- show / send / purge: these need the outbox (local mode keeps reports on disk) ---------------

def crash_locally(home: Path, times: int = 1) -> None:
    """Crash mytool with telemetry on and no DSN: its reports stay queued in the outbox."""
    for _ in range(times):
        run = run_mytool(home, "crash", env={"MYTOOL_TELEMETRY": "1"})
        assert run.returncode == 1
        assert "FileNotFoundError" in run.stderr  # the host's own traceback still prints
        settle()  # the sender turns the run into its session and usage record


def test_show_lists_queued_reports_for_a_person(home: Path) -> None:
    assert "no reports queued or sent" in crashreport(home, "--app", "mytool", "show").stdout
    crash_locally(home)
    run = crashreport(home, "--app", "mytool", "show")
    assert run.returncode == 0, run.stderr
    assert "queued (oldest first):" in run.stdout
    event_line = next(line for line in run.stdout.splitlines() if " event " in line)
    assert "FileNotFoundError: [Errno 2] No such file or directory" in event_line
    assert "[pathlib in open]" in event_line
    assert " kB " in event_line or " B " in event_line
    assert "session" in run.stdout
    assert "status crashed, release mytool@1.4.2" in run.stdout
    assert "none recently sent" in run.stdout
    assert str(home) not in run.stdout  # what is shown is what is sent: scrubbed
    queued = len(json.loads(crashreport(home, "--app", "mytool", "show", "--json").stdout))
    assert queued >= 2
    assert f"queued       {queued}" in crashreport(home, "--app", "mytool", "status").stdout


def test_show_json_prints_the_scrubbed_envelopes(home: Path) -> None:
    crash_locally(home)
    run = crashreport(home, "--app", "mytool", "show", "--json")
    assert run.returncode == 0, run.stderr
    records = json.loads(run.stdout)
    assert {r["state"] for r in records} == {"queued"}
    kinds = [item["headers"]["type"] for r in records for item in r["items"]]
    assert kinds.count("event") == 1
    assert kinds.count("session") == 1
    event = next(i["payload"] for r in records for i in r["items"] if i["headers"]["type"] == "event")
    assert event["exception"]["values"][-1]["type"] == "FileNotFoundError"
    assert event["tags"]["subcommand"] == "crash"
    sent = json.dumps([[r["headers"], r["items"]] for r in records])  # not the local file name
    assert str(home) not in sent
    assert "alice" not in sent


def test_send_delivers_the_queue_with_progress(home: Path, sentry_server: object) -> None:
    from .sentry_server import SentryServer

    assert isinstance(sentry_server, SentryServer)
    crash_locally(home, times=2)  # 2 events + 2 sessions (+ runs): more than a few, so progress
    on = {"MYTOOL_TELEMETRY": "1"}
    queued = len(json.loads(crashreport(home, "--app", "mytool", "show", "--json").stdout))
    assert queued >= 4
    run = crashreport(home, "--app", "mytool", "--dsn", sentry_server.dsn, "send", env=on)
    assert run.returncode == 0, run.stderr
    assert f"sent {queued} to 127.0.0.1:" in run.stdout
    assert f"sending {queued}/{queued}" in run.stderr
    assert "sending 1/" in run.stderr
    assert len(sentry_server.items("event")) == 2
    assert len(sentry_server.items("session")) == 2
    status = crashreport(home, "--app", "mytool", "status", env=on).stdout
    assert "queued       0" in status
    assert "last sent    never" not in status
    shown = crashreport(home, "--app", "mytool", "show").stdout
    assert "recently sent (newest first):" in shown
    assert "nothing queued" in crashreport(home, "--app", "mytool", "--dsn", sentry_server.dsn,
                                           "send", env=on).stdout  # fmt: skip


def test_send_failure_keeps_the_queue(home: Path, sentry_server: object) -> None:
    from .sentry_server import SentryServer

    assert isinstance(sentry_server, SentryServer)
    crash_locally(home)
    sentry_server.fault("500")
    run = crashreport(home, "--app", "mytool", "--dsn", sentry_server.dsn, "send",
                      env={"MYTOOL_TELEMETRY": "1"})  # fmt: skip
    assert run.returncode == 1
    assert "could not be sent now; they stay queued" in run.stderr
    assert "queued       0" not in crashreport(home, "--app", "mytool", "status").stdout


def test_send_refuses_when_off_or_without_a_dsn(home: Path) -> None:
    crash_locally(home)
    run = crashreport(home, "--app", "mytool", "--dsn", "http://k@127.0.0.1:9/1", "send")
    assert run.returncode == 1
    assert "telemetry is off (nobody opted in" in run.stderr
    run = crashreport(home, "--app", "mytool", "send", env={"MYTOOL_TELEMETRY": "1"})
    assert run.returncode == 1
    assert "no DSN to send to" in run.stderr


def test_disable_purge_deletes_queue_and_sent_log(home: Path) -> None:
    crash_locally(home)
    queued = len(json.loads(crashreport(home, "--app", "mytool", "show", "--json").stdout))
    run = crashreport(home, "--app", "mytool", "--config", str(config_of(home)), "disable",
                      "--purge")  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert f"deleted {queued} queued or sent report file(s)" in run.stdout
    assert "no reports queued or sent" in crashreport(home, "--app", "mytool", "show").stdout
    assert yaml.safe_load(config_of(home).read_text()) == {"telemetry": {"collect": False}}


def test_mytool_telemetry_show(home: Path) -> None:
    crash_locally(home)
    run = run_mytool(home, "telemetry", "show")
    assert run.returncode == 0, run.stderr
    assert "FileNotFoundError" in run.stdout
    assert "the raw reports: mytool telemetry show --json" in run.stdout


def test_click_group_mounts_the_same_commands(home: Path) -> None:
    pytest.importorskip("click")  # optional: crashreport does not depend on click
    code = (
        "import sys, click, crashreport.cli\n"
        "@click.group()\n"
        "def cli(): pass\n"
        "cli.add_command(crashreport.cli.click_group(app='mytool', config=sys.argv[1]))\n"
        "cli(sys.argv[2:], prog_name='myclick')\n"
    )
    config = home / "click.yaml"
    run = run_python(home, "-c", code, str(config), "telemetry", "enable")
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(config.read_text()) == {"telemetry": {"collect": True}}
    run = run_python(home, "-c", code, str(config), "telemetry", "status", "--json")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["level"] == "all"
    config.write_text("- not a mapping\n")
    run = run_python(home, "-c", code, str(config), "telemetry", "disable")
    assert run.returncode == 1
    assert "not a mapping" in run.stderr


def test_status_reports_a_broken_config(home: Path) -> None:
    path = home / "config.yaml"
    path.write_text("telemetry: [on]\n")
    run = crashreport(home, "--app", "mytool", "--config", str(path), "status")
    assert run.returncode == 0, run.stderr
    assert "telemetry is OFF" in run.stdout
    assert f"problem      {path}: 'telemetry' is not a mapping" in run.stdout


def test_mounting_the_commands_stays_light(home: Path) -> None:
    """A host imports crashreport.cli at start-up: only the parser loads, nothing heavy."""
    import subprocess
    import sys

    from .conftest import ROOT

    code = ("import sys, crashreport.cli\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('crashreport')"
            " or m in ('typing', 'dataclasses', 'json'))))\n")  # fmt: skip
    out = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": str(ROOT)},
                         capture_output=True, text=True, cwd=home, timeout=30)  # fmt: skip
    assert out.returncode == 0, out.stderr
    loaded = set(out.stdout.split())
    assert not loaded & {"typing", "dataclasses", "json"}
    assert {m for m in loaded if m.startswith("crashreport.cli")} == {
        "crashreport.cli", "crashreport.cli.parser", "crashreport.cli.target"}


def test_imports_run_one_way() -> None:
    """The commands may use everything; nothing but ``python -m crashreport`` imports them, and
    no cli module imports the cli package itself (no circle through it)."""
    import ast

    from .conftest import ROOT

    for path in (ROOT / "crashreport").rglob("*.py"):
        if path.name == "__main__.py" and path.parent.name == "crashreport":
            continue
        inside = path.parent.name == "cli"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                module = "." * node.level + (node.module or "")
                names = [a.name for a in node.names]
                if inside:
                    assert module not in ("", ".", "..cli", "crashreport.cli"), (path, module)
                else:
                    assert "cli" not in module.split(".") and "cli" not in names, (path, module)
            elif isinstance(node, ast.Import) and not inside:
                assert all(not a.name.startswith("crashreport.cli") for a in node.names), path


def test_typer_apps_mount_the_click_group(home: Path) -> None:
    """As docs/integrating.md shows: add the group to the click command Typer builds."""
    pytest.importorskip("typer")
    code = (
        "import sys, typer, crashreport.cli\n"
        "app = typer.Typer()\n"
        "@app.command()\n"
        "def hello(): print('hello')\n"
        "@app.command()\n"
        "def other(): pass\n"
        "command = typer.main.get_command(app)\n"
        "command.add_command(crashreport.cli.click_group(app='mytool', config=sys.argv[1]))\n"
        "command(sys.argv[2:], prog_name='mytyper')\n"
    )
    config = home / "typer.yaml"
    run = run_python(home, "-c", code, str(config), "telemetry", "enable", "--errors")
    assert run.returncode == 0, run.stderr
    assert yaml.safe_load(config.read_text()) == {"telemetry": {"collect": "errors"}}
    run = run_python(home, "-c", code, str(config), "telemetry", "status")
    assert "telemetry is ON (errors only)" in run.stdout
    assert "change it    mytyper telemetry enable | disable" in run.stdout
