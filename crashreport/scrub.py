"""The privacy core: pure functions that remove personal data from event payloads.

No sentry import and no I/O here: :func:`machine_context` gathers the facts about this machine
once (at the edge), and :class:`Scrubber` applies them to any JSON-like payload. Every string
value and every dictionary key is scrubbed; the payload keeps its shape.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

USER = "<user>"
HOST = "<host>"


@dataclass(frozen=True)
class MachineContext:
    """Personal strings of this machine, longest first where order matters."""

    home: tuple[str, ...] = ()
    user_names: tuple[str, ...] = ()
    host_names: tuple[str, ...] = ()


def machine_context(environ: Mapping[str, str] | None = None) -> MachineContext:
    """Gather the home folder, the user's names and the host's names (side effects: reads only)."""
    environ = os.environ if environ is None else environ
    homes = {os.path.expanduser("~"), environ.get("HOME", ""), environ.get("USERPROFILE", "")}
    names = {environ.get(k, "") for k in ("USER", "LOGNAME", "USERNAME")}
    try:
        import getpass

        names.add(getpass.getuser())
    except Exception:  # noqa: S110 - no user name is fine
        pass
    for home in homes:
        base = os.path.basename(home.rstrip("/\\"))
        if base and home.rstrip("/\\") not in ("", "/", "/root"):
            names.add(base)
    hosts = set()
    try:
        hosts.add(socket.gethostname())
        hosts.add(socket.getfqdn())
    except OSError:
        pass
    hosts |= {h.split(".")[0] for h in hosts}

    def clean(values: set[str], min_len: int) -> tuple[str, ...]:
        return tuple(sorted({v for v in values if len(v) >= min_len}, key=len, reverse=True))

    return MachineContext(
        home=clean({h.rstrip("/\\") for h in homes}, 2),
        user_names=clean(names, 2),
        host_names=clean(hosts - {"localhost"}, 2),
    )


class Scrubber:
    """Scrubs strings and nested payloads with rules compiled once."""

    def __init__(self, context: MachineContext) -> None:
        alternatives = []
        self._replacements: dict[str, str] = {}
        for home in context.home:
            alternatives.append(re.escape(home))
            self._replacements[home.lower()] = "~"
        for host in context.host_names:
            alternatives.append(re.escape(host))
            self._replacements[host.lower()] = HOST
        for name in context.user_names:
            alternatives.append(re.escape(name))
            self._replacements[name.lower()] = USER
        self._pattern = (
            re.compile("|".join(alternatives), re.IGNORECASE) if alternatives else None
        )

    def scrub_string(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._replacements[m.group(0).lower()], value)

    def scrub(self, value: Any) -> Any:
        """A scrubbed copy of a JSON-like value (dicts, lists, strings, numbers)."""
        if isinstance(value, str):
            return self.scrub_string(value)
        if isinstance(value, Mapping):
            return {self.scrub(k) if isinstance(k, str) else k: self.scrub(v)
                    for k, v in value.items()}  # fmt: skip
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value

    def scrub_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A scrubbed copy of an event; fields that must never be sent are removed."""
        out: dict[str, Any] = self.scrub(event)
        out.pop("server_name", None)
        extra = out.get("extra")
        if isinstance(extra, dict):
            extra.pop("sys.argv", None)
        return out
