"""``crashreport demo``: crash a small app and compare its report with plain sentry-sdk's.

The app is :mod:`.demoapp`, installed for the occasion in a throw-away folder (so the demo
works wherever crashreport is installed, with nothing else). In a throw-away HOME (named after
you, like a real one) it crashes twice on the same missing file:

1. with crashreport on (``DEMOAPP_TELEMETRY=1``) and no DSN: local mode, the scrubbed report
   stays in the outbox, where we read it;
2. with crashreport off and plain ``sentry_sdk.init(dsn=...)`` at start-up (a ``sitecustomize``
   in a temporary folder), whose transport writes each envelope to a file instead of sending.

Then the two events are shown field by field: ``-`` only in plain sentry-sdk (removed by
crashreport), ``+`` what crashreport sends instead, unmarked where both agree. Colours on a
terminal unless ``NO_COLOR`` is set. Nothing leaves the machine: the dummy DSN is never dialled.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TextIO

from .errors import CliError
from .text import exception_summary, first_event, size_text

#: The demo app's name and version, as its throw-away installation declares them.
APP, VERSION = "demoapp", "1.0.0"

#: Sent nowhere: port 9 (discard) on the loopback; the transport below never dials it anyway.
DUMMY_DSN = "http://0123456789abcdef0123456789abcdef@127.0.0.1:9/1"

PLAIN_SITECUSTOMIZE = '''\
"""What an app author gets from plain sentry-sdk: sentry_sdk.init(dsn=...) with its defaults."""
import os
import sentry_sdk
from sentry_sdk.transport import Transport


class FileTransport(Transport):
    """Writes each envelope to a file instead of sending it."""

    count = 0

    def capture_envelope(self, envelope):
        FileTransport.count += 1
        name = os.path.join(os.environ["CRASHREPORT_DEMO_OUT"], f"{FileTransport.count}.env")
        with open(name, "wb") as f:
            envelope.serialize_into(f)

    def flush(self, timeout, callback=None):
        pass

    def kill(self):
        pass


sentry_sdk.init(dsn=os.environ["CRASHREPORT_DEMO_DSN"], transport=FileTransport)
'''

#: Fields that differ on every run or say nothing about the user; not compared.
_SKIP = re.compile(
    r"^(event_id|timestamp|sdk|_meta|contexts\.trace|breadcrumbs\.values)(\.|\[|$)"
    r"|\.(pre_context|post_context|context_line|instruction_addr|raw_function)$"
)
_FRAME = re.compile(r"^exception\.values\[(\d+)\]\.stacktrace\.frames\[(\d+)\]\.(.*)$")


def run_demo(out: TextIO, err: TextIO, *, keep: bool = False, color: bool | None = None) -> int:
    """Run the demo; print the comparison to ``out``. Raises CliError on failure."""
    if color is None:
        color = _want_color(out)
    root = Path(tempfile.mkdtemp(prefix="crashreport-demo-"))
    try:
        user = _user_name()
        home = root / "home" / user
        home.mkdir(parents=True)
        ours, plain, others = _crash_twice(root, home, _install_app(root))
        _render(out, ours, plain, others, home=home, user=user, color=color)
        if keep:
            print(f"\nkept the throw-away HOME: {home}\n  see the queue: HOME={home} crashreport "
                  f"--app {APP} show   (add --json for the raw report)", file=out)  # fmt: skip
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    return 0


def _install_app(root: Path) -> Path:
    """Install the demo app in ``root/site``: its module and a dist-info (name, version,
    requirement and the files it installed), as pip would: crashreport reads an app's release
    and its own code (in-app frames, the program's text) from there."""
    from importlib import resources

    site = root / "site"
    info = site / f"{APP}-{VERSION}.dist-info"
    info.mkdir(parents=True)
    here = resources.files(__name__.rpartition(".")[0])
    (site / f"{APP}.py").write_text(here.joinpath("demoapp.py").read_text(encoding="utf-8"),
                                    encoding="utf-8")  # fmt: skip
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {APP}\nVersion: {VERSION}\n"
                                   "Requires-Dist: crashreport\n", encoding="utf-8")  # fmt: skip
    (info / "RECORD").write_text(f"{APP}.py,,\n{info.name}/METADATA,,\n{info.name}/RECORD,,\n",
                                 encoding="utf-8")  # fmt: skip
    return site


def _user_name() -> str:
    try:
        name = getpass.getuser()
    except Exception:
        name = ""
    return name if re.fullmatch(r"[\w.-]{1,64}", name or "") else "alice"


def _want_color(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _child_env(home: Path) -> dict[str, str]:
    """The user's environment with HOME swapped and anything that would steer either run removed."""
    drop = ("DO_NOT_TRACK", "CI", "CRASHREPORT_DEBUG", "XDG_DATA_HOME", "XDG_STATE_HOME",
            "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "PYTHONSTARTUP")  # fmt: skip
    env = {k: v for k, v in os.environ.items()
           if k not in drop and not k.startswith(("SENTRY_", f"{APP.upper()}_"))}  # fmt: skip
    env["HOME"] = str(home)
    env["PYTHONIOENCODING"] = "utf-8"
    return env


def _crash_twice(root: Path, home: Path, site: Path
                 ) -> tuple[dict[str, Any], dict[str, Any], list[str]]:  # fmt: skip
    missing = home / "clients" / "acme" / "taxes-2025.pdf"
    command = [sys.executable, "-m", APP, "crash", "--file", str(missing)]
    env = _child_env(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")]))

    run = subprocess.run(command, env={**env, f"{APP.upper()}_TELEMETRY": "1"}, cwd=home,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         timeout=120)  # fmt: skip
    ours, others = _read_outbox_event(home)
    if ours is None:
        raise CliError("the demo app crashed but left no report in its outbox "
                       f"(exit {run.returncode}: {_last_line(run.stderr)})")  # fmt: skip

    site = root / "plain-sentry-sdk"
    site.mkdir()
    (site / "sitecustomize.py").write_text(PLAIN_SITECUSTOMIZE, encoding="utf-8")
    envelopes = root / "plain-envelopes"
    envelopes.mkdir()
    plain_env = {
        **env,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(site), env.get("PYTHONPATH")])),
        "CRASHREPORT_DEMO_OUT": str(envelopes),
        "CRASHREPORT_DEMO_DSN": DUMMY_DSN,
    }
    run = subprocess.run(command, env=plain_env, cwd=home, stdin=subprocess.DEVNULL,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    plain = None
    for path in sorted(envelopes.glob("*.env")):
        plain = first_event(path.read_bytes())
        if plain is not None:
            break
    if plain is None:
        raise CliError("plain sentry-sdk wrote no event for the crash "
                       f"(exit {run.returncode}: {_last_line(run.stderr)})")  # fmt: skip
    return ours, plain, others


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"


@contextlib.contextmanager
def _home_as(home: Path) -> Iterator[None]:
    """Compute per-app paths as the child saw them (platformdirs reads HOME and XDG_*)."""
    names = ("HOME", "XDG_DATA_HOME", "XDG_STATE_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")
    saved = {k: os.environ.get(k) for k in names}
    try:
        for k in names[1:]:
            os.environ.pop(k, None)
        os.environ["HOME"] = str(home)
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _read_outbox_event(home: Path) -> tuple[dict[str, Any] | None, list[str]]:
    """crashreport's queued event, and one line for each other queued item (session, run)."""
    from ..delivery.envelopes import parse as parse_envelope
    from ..delivery.outbox import Outbox
    from ..paths import Paths
    from ..sender import wait_and_collect
    from .text import describe_item

    with _home_as(home):
        paths = Paths.for_app(APP)
        wait_and_collect(APP, timeout=10.0)
    outbox = Outbox(paths.outbox_dir, paths.sent_dir)
    event, others = None, []
    for entry in outbox.pending() + outbox.sent():
        _, items = parse_envelope(outbox.read(entry))
        for item in items:
            if item.type == "event" and event is None and isinstance(item.payload, dict):
                event = item.payload
            elif item.type != "event":
                others.append(f"{item.type}: {describe_item(item)}".rstrip(": "))
    return event, others


# -- the comparison ----------------------------------------------------------------------------
def flatten(event: dict[str, Any]) -> dict[str, str]:
    """``{"a.b[0].c": "json value"}`` for the fields worth comparing, in the event's order."""
    rows: dict[str, str] = {}

    def walk(value: Any, key: str) -> None:
        if key and _SKIP.search(key):
            return
        if key == "modules" and isinstance(value, dict):
            names = sorted(value)
            rows[key] = f"{len(names)} packages: " + ", ".join(names)
            return
        if key.endswith(".vars") and isinstance(value, dict):
            rows[key] = ", ".join(f"{k}={_short(v)}" for k, v in value.items()) or "(none)"
            return
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list) and any(isinstance(v, dict | list) for v in value):
            for i, v in enumerate(value):
                walk(v, f"{key}[{i}]")
        else:
            rows[key] = _short(value)

    walk(event, "")
    return rows


def _short(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


def _label(key: str, frames: dict[tuple[str, str], str]) -> str:
    m = _FRAME.match(key)
    if m is None:
        return key
    exc, frame, rest = m.groups()
    name = frames.get((exc, frame), "?")
    return f"frame {int(frame) + 1} ({name}).{rest}"


def _frame_names(event: dict[str, Any]) -> dict[tuple[str, str], str]:
    names = {}
    for i, exc in enumerate((event.get("exception") or {}).get("values") or []):
        for j, frame in enumerate((exc.get("stacktrace") or {}).get("frames") or []):
            names[(str(i), str(j))] = str(frame.get("function") or "?")
    return names


def compare(plain: dict[str, Any], ours: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Rows ``(marker, label, value)``: ``-`` removed, ``+`` crashreport's, `` `` the same."""
    a, b = flatten(plain), flatten(ours)
    names = {**_frame_names(plain), **_frame_names(ours)}
    order: list[str] = list(a)
    for i, key in enumerate(b):
        if key not in a:
            before = next((k for k in reversed(list(b)[:i]) if k in order), None)
            order.insert(order.index(before) + 1 if before else len(order), key)
    rows = []
    for key in order:
        label = _label(key, names)
        if key in a and key in b:
            if a[key] == b[key]:
                rows.append((" ", label, a[key]))
            else:
                rows += [("-", label, a[key]), ("+", label, b[key])]
        elif key in a:
            rows.append(("-", label, a[key]))
        else:
            rows.append(("+", label, b[key]))
    return rows


def personal_counts(text: str, *, home: Path, user: str, host: str) -> dict[str, int]:
    """How often the home folder, the user name and the host name occur in ``text``."""
    low = text.lower()
    return {
        "your home folder": low.count(str(home).lower()),
        f"your user name {user!r}": len(
            re.findall(rf"(?<![a-z0-9]){re.escape(user.lower())}(?![a-z0-9])", low)
        ),
        f"this computer's name {host!r}": low.count(host.lower()) if host else 0,
    }


def _render(out: TextIO, ours: dict[str, Any], plain: dict[str, Any], others: list[str], *,
            home: Path, user: str, color: bool) -> None:  # fmt: skip
    red, green, dim, bold, reset = (
        ("\033[31m", "\033[32m", "\033[2m", "\033[1m", "\033[0m") if color else ("",) * 5
    )
    width = max(80, min(shutil.get_terminal_size((100, 24)).columns, 160))
    what, where = exception_summary(ours)
    ours_json = json.dumps(ours, ensure_ascii=False)
    plain_json = json.dumps(plain, ensure_ascii=False)

    def line(text: str = "") -> None:
        print(text, file=out)

    line(f"{bold}crashreport demo{reset}: a small app ({APP} {VERSION}) crashed in a throw-away "
         f"HOME ({home}).")  # fmt: skip
    line(f"crashreport's report, kept in the outbox (no DSN: nothing was sent): "
         f"{size_text(len(ours_json))}")  # fmt: skip
    line(f"  {what}  [{where}]")
    line()
    line(f"{bold}Field by field, against plain sentry_sdk.init(dsn=...) for the same crash{reset}")
    line(f"  {red}- only in plain sentry-sdk (crashreport removed it){reset}   "
         f"{green}+ what crashreport sends instead{reset}   unmarked: the same in both")
    line()
    rows = compare(plain, ours)
    key_width = min(40, max(len(label) for _, label, _ in rows))
    room = max(30, width - key_width - 4)
    for marker, label, value in rows:
        value = value.replace("\n", "\\n")
        # What differs is the point: show it whole (a few lines); shorten only what agrees.
        chunks = [value[i : i + room] for i in range(0, len(value), room)] or [""]
        limit = 1 if marker == " " else 4
        if len(chunks) > limit:
            chunks = chunks[:limit]
            chunks[-1] = chunks[-1][:-3] + "..."
        tint = {"-": red, "+": green}.get(marker, dim)
        for n, chunk in enumerate(chunks):
            head = f"{label:<{key_width}}" if n == 0 else " " * key_width
            line(f"{tint}{marker} {head}  {chunk}{reset}")
    line()
    host = socket.gethostname()
    theirs = personal_counts(plain_json, home=home, user=user, host=host)
    mine = personal_counts(ours_json, home=home, user=user, host=host)
    line(f"{bold}{'Times each report contains':<36}{'plain sentry-sdk':>18}{'crashreport':>14}"
         f"{reset}")  # fmt: skip
    for name in theirs:
        line(f"  {name:<34}{theirs[name]:>18}{mine[name]:>14}")
    line(f"  {'(size of the event)':<34}{size_text(len(plain_json)):>18}"
         f"{size_text(len(ours_json)):>14}")  # fmt: skip
    if others:
        line()
        line(f"{bold}Also queued by crashreport{reset} (plain sentry-sdk sends no session for a "
             "script, so no crash-free or adoption figures):")  # fmt: skip
        for text in others:
            line(f"{green}+ {text}{reset}")
