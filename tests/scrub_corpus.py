"""A realistic corpus of crash events with personal "canaries" planted where real ones hide.

Used by the scrubber's tests and by ``bench/scrub_bench.py``. The events have the shape
sentry-sdk 2.x builds for an unhandled exception in a CLI: 50 frames (stdlib, site-packages and
the user's own script) with real source context lines, 30 breadcrumbs, contexts, tags, extra
with ``sys.argv``, local variables and ``server_name``. Every personal string is a canary:
:func:`leaks` says which ones survive in a scrubbed payload.
"""

from __future__ import annotations

import json
import linecache
import random
import sysconfig
from pathlib import Path
from typing import Any

from crashreport.privacy import MachineContext, machine_context

HOME = "/home/alice"
HOST = "alice-thinkpad"
FQDN = "alice-thinkpad.corp.example.org"

#: Personal strings that must not leave the machine (matched case-insensitively).
CANARIES: dict[str, str] = {
    "user": "alice",
    "host": HOST,
    "folder": "acme-holdings",
    "file": "taxes-2025",
    "email": "alice.smith@example.com",
    "ipv4": "203.0.113.77",
    "ipv6": "2001:db8:85a3::8a2e:370:7334",
    "github": "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "slack": "xoxb-1234567890-abcdefghij",
    "stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
    "google": "AIzaSyA1234567890abcdefghijklmnopqrstu",
    "jwt": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl",
    "pem": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC",
    "password": "hunter2-xyzzy",
    "url_password": "pa55w0rd-url",
    "query": "q-secret-77",
    "card": "4111 1111 1111 1111",
    "win_user": "Bob.Jones",
}


def context() -> MachineContext:
    """The machine the corpus pretends to come from (installed roots are this interpreter's)."""
    real = machine_context({"HOME": HOME, "USER": "alice"})
    return MachineContext(
        home=(HOME, "C:\\Users\\Bob.Jones"),
        user_names=("alice", "Bob.Jones"),
        host_names=(FQDN, HOST),
        roots=real.roots,
    )


def leaks(payload: Any) -> list[str]:
    """The names of the canaries still present anywhere in ``payload`` (keys included)."""
    text = json.dumps(payload, default=str).lower()
    text_unescaped = text.replace("\\\\", "\\").replace("\\n", "\n")
    found = []
    for name, canary in CANARIES.items():
        low = canary.lower()
        if low in text or low in text_unescaped:
            found.append(name)
    return found


def _source_files() -> list[Path]:
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    names = ["json/decoder.py", "json/__init__.py", "argparse.py", "pathlib.py", "csv.py",
             "logging/__init__.py", "subprocess.py", "shutil.py", "configparser.py"]
    return [stdlib / n for n in names if (stdlib / n).exists()]


def _site_file() -> tuple[str, str]:
    import yaml  # an installed dependency: its frames are site-packages frames

    path = Path(yaml.__file__).with_name("constructor.py")
    return str(path), "yaml.constructor"


USER_SCRIPT = f"{HOME}/clients/acme-holdings/report_tool.py"
USER_SOURCE = [
    "import sys",
    f"API = 'https://alice:{CANARIES['url_password']}@api.example.com/v1?key={CANARIES['query']}'",
    f"TOKEN = '{CANARIES['github']}'",
    "def load(path):",
    "    with open(path) as fh:  # e.g. ~/clients/acme-holdings/taxes-2025.pdf",
    "        return fh.read()",
    f"AWS = '{CANARIES['aws']}'",
    "def main():",
    f"    notify('{CANARIES['email']}', host='{CANARIES['ipv4']}')",
    "    return load(sys.argv[1])",
    "if __name__ == '__main__':",
    "    main()",
]


def _frame(abs_path: str, module: str, function: str, lineno: int,
           lines: list[str] | None = None) -> dict[str, Any]:  # fmt: skip
    if lines is None:
        lines = [linecache.getline(abs_path, n).rstrip("\n") for n in range(lineno - 5, lineno + 6)]
    else:
        lines = (lines * 3)[lineno : lineno + 11]
        lines += [""] * (11 - len(lines))
    filename = module.replace(".", "/") + ".py" if module != "__main__" else "report_tool.py"
    return {
        "filename": filename,
        "abs_path": abs_path,
        "function": function,
        "module": module,
        "lineno": lineno,
        "pre_context": lines[:5],
        "context_line": lines[5],
        "post_context": lines[6:],
        "vars": {
            "path": f"'{HOME}/clients/acme-holdings/taxes-2025.pdf'",
            "password": f"'{CANARIES['password']}'",
            "self": "<Loader object at 0x7f3a2b1c4d50>",
            "n": str(lineno),
        },
        "in_app": module == "__main__",
    }


def make_event(seed: int = 0, frames: int = 50, breadcrumbs: int = 30) -> dict[str, Any]:
    """One event as sentry-sdk would build it for a crash in the user's script."""
    rng = random.Random(seed)
    files = _source_files()
    site_path, site_module = _site_file()
    stack = [_frame(USER_SCRIPT, "__main__", "<module>", 11, USER_SOURCE)]
    for i in range(frames - 2):
        if i % 4 == 3:
            stack.append(_frame(site_path, site_module, "construct_object", rng.randint(20, 400)))
        else:
            path = rng.choice(files)
            module = path.relative_to(sysconfig.get_paths()["stdlib"]).with_suffix("").as_posix()
            module = module.replace("/", ".").removesuffix(".__init__")
            stack.append(_frame(str(path), module, f"fn_{i % 7}", rng.randint(20, 600)))
    stack.append(_frame(USER_SCRIPT, "__main__", "load", 5, USER_SOURCE))
    crumbs = []
    for i in range(breadcrumbs):
        crumbs.append({
            "type": "log" if i % 3 else "http",
            "category": "mytool" if i % 3 else "httplib",
            "level": "info",
            "timestamp": f"2026-11-23T03:{i:02d}:00.000000Z",
            "message": rng.choice([
                f"reading {HOME}/clients/acme-holdings/taxes-2025.pdf for {CANARIES['email']}",
                f"connected to {CANARIES['ipv4']} as alice on {HOST}",
                f"retrying with token={CANARIES['slack']} (attempt {i})",
                "loaded config from C:\\Users\\Bob.Jones\\AppData\\acme-holdings\\cfg.ini",
                f"peer {CANARIES['ipv6']} sent {rng.randint(1, 9999)} bytes",
                f"step {i} done in {rng.random():.3f}s",
            ]),
            "data": {"url": f"https://api.example.com/v1/items?key={CANARIES['query']}&page={i}",
                     "method": "GET", "status_code": 200,
                     "authorization": f"Bearer {CANARIES['jwt']}"} if i % 3 == 0 else {},
        })  # fmt: skip
    message = (f"[Errno 2] No such file or directory: "
               f"'{HOME}/clients/acme-holdings/taxes-2025.pdf' (user alice@{FQDN})")  # fmt: skip
    return {
        "event_id": f"{seed:032x}",
        "timestamp": "2026-11-23T03:30:00.000000Z",
        "platform": "python",
        "level": "error",
        "release": "mytool@1.4.2",
        "environment": "production",
        "server_name": HOST,
        "exception": {"values": [{
            "type": "FileNotFoundError",
            "value": message,
            "module": None,
            "mechanism": {"type": "excepthook", "handled": False},
            "stacktrace": {"frames": stack},
        }]},
        "breadcrumbs": {"values": crumbs},
        "contexts": {
            "runtime": {"name": "CPython", "version": "3.11.7",
                        "build": "3.11.7 (main) [GCC 12.2.0]"},
            "trace": {"trace_id": f"{seed + 1:032x}", "span_id": f"{seed + 2:016x}"},
            "packages": {"mytool": "1.4.2", "pyyaml": "6.0.2"},
            "device": {"name": HOST},
            "app": {"cwd": f"{HOME}/clients/acme-holdings", "stripe": CANARIES["stripe"]},
        },
        "tags": {"subcommand": "crash", "python": "3.11.7", "host": FQDN},
        "extra": {
            "sys.argv": ["report_tool.py", "--password", CANARIES["password"],
                         f"{HOME}/clients/acme-holdings/taxes-2025.pdf"],
            "config_path": f"{HOME}/.config/mytool/config.yaml",
            "api_key": CANARIES["google"],
            "ssh_key": "-----BEGIN OPENSSH PRIVATE KEY-----\n" + CANARIES["pem"]
            + "\n-----END OPENSSH PRIVATE KEY-----",
            "card": f"paid with {CANARIES['card']}",
            f"{HOME}/clients/acme-holdings": "a key that is a path",
        },
        "user": {"id": f"{seed + 3:032x}", "ip_address": CANARIES["ipv4"],
                 "email": CANARIES["email"], "username": "alice"},
        "request": {"url": f"https://alice:{CANARIES['url_password']}@example.com/",
                    "headers": {"Cookie": "sessionid=abc"},
                    "env": {"REMOTE_ADDR": CANARIES["ipv4"]}},
        "modules": {"mytool": "1.4.2", "pyyaml": "6.0.2", "sentry-sdk": "2.75.0"},
        "sdk": {"name": "sentry.python", "version": "2.75.0"},
    }


def corpus(count: int = 20) -> list[dict[str, Any]]:
    """``count`` distinct events (different line numbers, breadcrumbs and ids)."""
    return [make_event(seed) for seed in range(count)]
