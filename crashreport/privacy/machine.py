"""Facts about this machine: whose it is (home, user and host names) and where installed code lives.

Gathered once, at the edge (:func:`machine_context` reads the environment, ``/etc/hosts`` and
``sysconfig``, and never asks DNS). Everything else in :mod:`crashreport.privacy` takes a
:class:`MachineContext` as a plain value.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from .rules import COMMON_NAMES


@dataclass(frozen=True)
class MachineContext:
    """Personal strings of this machine and the roots of installed code, longest first.

    ``roots`` maps each folder of installed code (site-packages, stdlib, the interpreter's
    prefix) to the label that replaces it in free text; ``app_roots`` are the folders of the
    app's own packages (an editable checkout too): their code is the program's.
    """

    home: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()
    roots: tuple[tuple[str, str], ...] = ()
    app_roots: tuple[str, ...] = ()


def machine_context(
    environ: Mapping[str, str] | None = None, *, app_roots: Iterable[str] = ()
) -> MachineContext:
    """Gather home, user names, host names and installed-code roots (reads only, never raises)."""
    environ = os.environ if environ is None else environ
    homes = {environ.get("HOME", ""), environ.get("USERPROFILE", "")}
    with contextlib.suppress(Exception):  # no home is fine
        homes.add(os.path.expanduser("~"))
    names = {environ.get(k, "") for k in ("USER", "LOGNAME", "USERNAME")}
    try:
        import getpass

        names.add(getpass.getuser())
    except Exception:  # noqa: S110 - no user name is fine
        pass
    homes = {h.rstrip("/\\") for h in homes if h and h.rstrip("/\\")}
    for home in homes:
        names.add(re.split(r"[/\\]", home)[-1])
    names |= _real_name()
    roots = [os.path.realpath(r) for r in app_roots if isinstance(r, str) and r]
    return MachineContext(
        home=_longest_first(homes, 2),
        user_names=_longest_first(spellings(names), 2),
        host_names=_longest_first(_host_names(), 2),
        roots=_installed_roots(),
        app_roots=tuple(dict.fromkeys(r.rstrip("/\\") for r in roots)),
    )


#: German and Nordic spellings of letters that ASCII folding would otherwise just drop.
_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "Ä": "Ae", "Ö": "Oe",
                       "Ü": "Ue", "æ": "ae", "ø": "oe", "å": "aa"})  # fmt: skip


def spellings(names: Iterable[str]) -> set[str]:
    """Each name as written, NFC, and folded to ASCII both ways (``zoë.müller`` is also
    ``zoe.muller`` and ``zoe.mueller``): a user name appears in text in any of them."""
    out: set[str] = set()
    for name in names:
        if not name:
            continue
        nfc = unicodedata.normalize("NFC", name)
        plain = unicodedata.normalize("NFKD", nfc).encode("ascii", "ignore").decode()
        spelled = unicodedata.normalize("NFKD", nfc.translate(_FOLD)).encode("ascii", "ignore")
        out.update({name, nfc, plain, spelled.decode()})
    return {n for n in out if n and n.lower() not in COMMON_NAMES}


def _real_name() -> set[str]:
    """The user's real name from the account database (GECOS, POSIX), and its words: a name as
    likely to appear in a message as the login name."""
    try:
        import pwd

        full = pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except Exception:  # no pwd (Windows), no entry: fine
        return set()
    return {full, *full.split()} if full else set()


def _host_names() -> set[str]:
    """The host name, and its full names from /etc/hosts: what ``socket.getfqdn()`` finds on
    most machines, without its reverse DNS lookup (which can block start-up for seconds
    offline, and would be network traffic outside the transport)."""
    hosts: set[str] = set()
    with contextlib.suppress(Exception):  # no host name is fine
        hosts.add(socket.gethostname())
    short = {h.split(".")[0].lower() for h in hosts}
    with contextlib.suppress(OSError, UnicodeDecodeError), open("/etc/hosts", encoding="utf-8") as f:
        for line in f.read(1 << 16).splitlines():
            names = line.split("#", 1)[0].split()[1:]
            if any(n.split(".")[0].lower() in short for n in names):
                hosts.update(n for n in names if n.lower() not in ("localhost", "localhost.localdomain"))
    return hosts | {h.split(".")[0] for h in hosts}


def _longest_first(values: Iterable[str], min_len: int) -> tuple[str, ...]:
    keep = {v for v in values if v and len(v) >= min_len}
    return tuple(sorted(keep, key=lambda v: (-len(v), v)))


def _installed_roots() -> tuple[tuple[str, str], ...]:
    """Folders of installed code with their labels: stdlib, site-packages, the interpreter."""
    roots: dict[str, str] = {}

    def add(path: object, label: str) -> None:
        if isinstance(path, str) and len(path.rstrip("/\\")) > 1:
            roots.setdefault(path.rstrip("/\\"), label)

    try:
        import sysconfig

        paths = sysconfig.get_paths()
        for key in ("stdlib", "platstdlib"):
            add(paths.get(key), "<stdlib>")
        for key in ("purelib", "platlib"):
            add(paths.get(key), "<site-packages>")
    except Exception:  # noqa: S110 - fewer roots only means more "<path>"
        pass
    try:
        import site

        for path in [*site.getsitepackages(), site.getusersitepackages()]:
            add(path, "<site-packages>")
    except Exception:  # noqa: S110
        pass
    for path in sys.path:
        if path.rstrip("/\\").endswith(("site-packages", "dist-packages")):
            add(path, "<site-packages>")
    for path in (sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix):
        add(path, "<python>")
    return tuple(sorted(roots.items(), key=lambda kv: (-len(kv[0]), kv[0])))
