"""A realistic app on real libraries, failing in realistic ways for a user with a non-ASCII name.

``belegtool`` (tests/data/belegtool) is installed with its metadata into a temporary folder, so
its code is the app's own (``app_roots``). It runs as a real subprocess for each of its
failures, with crashreport on in local mode (no DSN: reports stay in the outbox), under
``HOME=/tmp/.../home/zoë.müller-lüdenscheid`` in ``~/Documents/Kunden/Acme GmbH/Steuer 2026``.
The user's data comes from the command line and the user's files, never from the app's source.
Every kind of leak of issue 12 has a command: paths with spaces, umlauts and apostrophes,
relative, Windows and UNC paths, percent-encoded URL segments and queries, bot tokens in URL
paths (requests, httpx against a loopback server), pydantic's input_value, SQLAlchemy's
parameters, CalledProcessError's argv, a YAML error quoting the line, headers in a message, a
jinja2 template's path in a frame, folded and NFD user names, IPv4-mapped IPv6, MACs, lower-case
and dashed IBANs, new token formats, and track()'s long error message.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import unicodedata
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, unquote

import pytest

from crashreport.delivery.envelopes import parse
from crashreport.privacy.vocabulary import fold

from .conftest import ROOT

pytest.importorskip("requests")
pytest.importorskip("httpx")
pytest.importorskip("sqlalchemy")
pytest.importorskip("jinja2")
pytest.importorskip("pydantic")
pytest.importorskip("click")

USER = "zoë.müller-lüdenscheid"
NAME = "Zoë Müller-Lüdenscheid"
EMAIL = "zoe.mueller@kanzlei-lüdenscheid.de"
TOKENS = ["hf_" + "Qx7" * 12, "npm_" + "Zk9a" * 9, "glpat-" + "Rw3xYv8LmN2pQs5TuV7w",
          "sk-ant-api03-" + "Hq2" * 12, "sk-proj-" + "Jm4n" * 10, "pypi-AgEIcHlwaS5vcmc" + "Pz8" * 14,
          "ghp_" + "Wq1e" * 9]  # fmt: skip
INPUT = {
    "document": "~/Documents/Kunden/Acme GmbH/Steuer 2026/Arztbrief Zoë.pdf",
    "relative": "Belege 2025/Umsätze Zoë 2025.csv",
    "windows": "C:\\Users\\Zoë\\Documents\\Kunden\\Mandantin Zoë's Belege\\Steuerbescheid.pdf",
    "unc": "\\\\nas-lüdenscheid\\kanzlei\\Mandanten\\Müller",
    "email": EMAIL,
    "email_quoted": quote(EMAIL),
    "file_quoted": quote("Arztbrief Zoë.pdf"),
    "token": "Tq8vPz4kWm2nXr7s",
    "bot_token": "7312894561:AAHk2mWq9xZrT4vP8sLn3bY6cJd0fGhQeUi",
    "name": NAME,
    "birthday": "14.03.1987",
    "phone": "+49 170 1234567",
    "credentials": "zoe:Geheim123!",
    "remote": "https://git.kanzlei-lüdenscheid.de/mandanten/müller.git",
    "settings": "Zoë's Einstellungen.yaml",
    "template": "Brief an Zoë.html",
    "mapped_ip": "::ffff:192.168.178.23",
    "mac": "3c:22:fb:9a:41:7e",
    "iban_lower": "de89370400440532013000",
    "iban_dashed": "DE89-3704-0044-0532-0130-00",
    "tokens": TOKENS,
    "folded": "zoe.muller-ludenscheid",
    "nfd": unicodedata.normalize("NFD", USER),
    "upper": USER.upper(),
    "folder": "~/Documents/Kunden/Acme GmbH",
    "key": "mandantin_zoë",
}
#: Words of the user's data that must not be sent in any form (compared folded, as words).
CANARY_WORDS = {fold(w) for w in (
    "zoë", "zoe", "müller", "mueller", "muller", "lüdenscheid", "luedenscheid", "ludenscheid",
    "kunden", "acme", "gmbh", "steuer", "arztbrief", "belege", "umsätze", "einstellungen",
    "mandantin", "mandanten", "kanzlei", "steuerbescheid", "geheim123", "nas",
    "1234567", "1987", "0532", "0130", "3704", "tq8vpz4kwm2nxr7s", "7312894561",
)}  # fmt: skip
CANARY_STRINGS = ["192.168.178.23", "168.178.23", "3c:22:fb", "de89", "14.03", "+49 170",
                  *(t[:12].lower() for t in TOKENS), "aahk2mwq9xzrt4vp8sln3by6cjd0fghqeui"]  # fmt: skip
SETTINGS = f"name: {NAME}\nphone: {INPUT['phone']}\n  iban: DE89 3704 0044 0532 0130 00\n"
TEMPLATE = "Sehr geehrte Frau {{ customer.name }},\nIhre Unterlagen liegen bei Zoë Müller.\n"


class NotFound(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory, api: str) -> dict[str, Any]:
    """Run every failure of belegtool once; every envelope item it queued, per command."""
    from tests.data.belegtool import COMMANDS

    root = tmp_path_factory.mktemp("apps")
    site = root / "site"
    shutil.copytree(ROOT / "tests" / "data" / "belegtool", site / "belegtool")
    info = site / "belegtool-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: belegtool\nVersion: 1.0\n")
    (info / "top_level.txt").write_text("belegtool\n")
    home = root / "home" / USER
    cwd = home / "Documents" / "Kunden" / "Acme GmbH" / "Steuer 2026"
    (cwd / "Vorlagen").mkdir(parents=True)
    (cwd / "eingabe.json").write_text(json.dumps(INPUT, ensure_ascii=False), encoding="utf-8")
    (cwd / INPUT["settings"]).write_text(SETTINGS, encoding="utf-8")
    (cwd / "Vorlagen" / INPUT["template"]).write_text(TEMPLATE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SENTRY_", "XDG_"))}
    env.update(HOME=str(home), USER=USER, LOGNAME=USER, BELEGTOOL_TELEMETRY="1", BELEG_API=api,
               PYTHONPATH=os.pathsep.join([str(site), str(ROOT)]))  # fmt: skip
    state = home / ".local" / "state" / "belegtool" / "crashreport" / "outbox"
    runs: dict[str, Any] = {}
    for command in COMMANDS:
        before = set(state.glob("*")) if state.is_dir() else set()
        argv = [command, "--count", "3", NAME] if command == "choose" else [command]
        proc = subprocess.run([sys.executable, "-m", "belegtool", *argv], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        files = sorted(set(state.glob("*")) - before) if state.is_dir() else []
        items = [item for f in files for item in parse(f.read_bytes())[1]]
        runs[command] = {"returncode": proc.returncode, "stderr": proc.stderr, "items": items}
    return {"runs": runs, "home": str(home)}


def words_and_text(payloads: list[Any]) -> tuple[set[str], str]:
    text = json.dumps(payloads, ensure_ascii=False)
    text = unicodedata.normalize("NFC", unquote(text.replace("\\\\", "\\"))).casefold()
    return {fold(w) for w in re.findall(r"[^\W_]+", text)}, text


def events(run: dict[str, Any]) -> list[dict[str, Any]]:
    return [i.payload for i in run["items"] if i.type == "event"]


def test_every_failure_was_reported(sent: dict[str, Any]) -> None:
    for command, run in sent["runs"].items():
        assert events(run), (command, run["stderr"][-2000:])
        if command != "log-path":
            assert run["returncode"] == 1, (command, run["stderr"][-2000:])
            assert "Traceback" in run["stderr"]  # the app's own output is untouched


@pytest.mark.parametrize("command", sorted(__import__("tests.data.belegtool", fromlist=["x"]).COMMANDS))
def test_nothing_personal_leaves_in_any_item(sent: dict[str, Any], command: str) -> None:
    payloads = [[i.headers, i.payload] for i in sent["runs"][command]["items"]]
    words, text = words_and_text(payloads)
    assert not CANARY_WORDS & words, sorted(CANARY_WORDS & words)
    assert [s for s in CANARY_STRINGS if s.casefold() in text] == []
    assert fold(sent["home"]) not in text


#: What must still be there for the developer: the exception type and the code-made message.
KEPT = {
    "open-document": ("FileNotFoundError", "[Errno 2] No such file or directory: '<path>.pdf'"),
    "encrypt-document": ("RuntimeError", "cannot encrypt <path>"),
    "windows-path": ("ValueError", "unsupported location <path>"),
    "fetch-requests": ("HTTPError", "404 Client Error: Not Found for url: http://<ip>:"),
    "fetch-httpx": ("HTTPStatusError", "Client error '404 Not Found' for url 'http://<ip>:"),
    "validate-customer": ("ValidationError", "2 validation errors for Customer\nage\n  Input should "
                          "be a valid integer, unable to parse string as an integer [type=int_parsing"
                          ", input_value='<number>', input_type=str]"),
    "store-customer": ("IntegrityError", "(sqlite3.IntegrityError) UNIQUE constraint failed: "
                       "customers.name\n[SQL: INSERT INTO customers (name, email, phone, birthday) "
                       "VALUES (?, ?, ?, ?)]\n[parameters: ('<user>', '<email>', '<number>', "
                       "'<number>')]"),
    "push": ("CalledProcessError", "Command 'python3.11 …' returned non-zero exit status 128."),
    "send-headers": ("ConnectionError", "upload failed, headers were {'Authorization': '[Filtered]', "
                      "'X-Customer': '<email>'}"),
    "render-letter": ("UndefinedError", "'dict object' has no attribute 'name'"),
    "tokens": ("PermissionError", "rejected: [Filtered] [Filtered]"),
    "choose": ("ClickException", "unknown customer <user>"),
}  # fmt: skip


@pytest.mark.parametrize("command", sorted(KEPT))
def test_the_report_still_lets_a_developer_fix_it(sent: dict[str, Any], command: str) -> None:
    kind, message = KEPT[command]
    crash = next(e for e in events(sent["runs"][command]) if "exception" in e)
    last = crash["exception"]["values"][-1]
    assert last["type"] == kind
    expected = message.replace("python3.11", os.path.basename(sys.executable))
    assert last["value"].startswith(expected), last["value"]
    frames = last["stacktrace"]["frames"]
    own = [f for f in frames if f.get("module", "").startswith("belegtool")]
    assert own and all(f["context_line"] for f in own)  # the app's code keeps its source


def test_a_template_frame_is_the_users_text(sent: dict[str, Any]) -> None:
    crash = next(e for e in events(sent["runs"]["render-letter"]) if "exception" in e)
    frames = crash["exception"]["values"][-1]["stacktrace"]["frames"]
    template = [f for f in frames if "html" in json.dumps(f)]
    assert template
    assert all(f.get("context_line", "") == "" for f in template)  # the letter's text is not sent


def test_a_long_tracked_error_is_scrubbed_whole_then_cut(sent: dict[str, Any]) -> None:
    [tx] = [i.payload for i in sent["runs"]["long-action"]["items"] if i.type == "transaction"]
    [span] = [s for s in tx["spans"] if s["description"] == "sync"]
    message = span["data"]["error.message"]
    assert message.endswith(" <email> <user>")  # the e-mail at 490+ is whole when scrubbed
    assert span["data"]["folder"] == "<path> <text>"  # ~/Documents/Kunden/Acme GmbH
    assert "<text>" in json.dumps(span["data"])  # the user's key (a kwarg name) is not sent
