"""Decide the telemetry level and say why.

Precedence, highest first (the order of :class:`Source`): ``DO_NOT_TRACK`` → ``<APP>_TELEMETRY``
→ ``CI`` → the config file → the default, off. A blank variable counts as unset; an unknown
value fails closed (off). Pure: takes the environment as an argument.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping

from ._record import Record
from .config import Settings, parse_level

_FALSY = frozenset({"", "0", "false", "no", "off", "n"})
#: DO_NOT_TRACK turns telemetry off when set to anything but these (consoledonottrack.com).
_DNT_UNSET = frozenset({"", "0", "false"})


class Level(str, enum.Enum):
    """How much is sent: everything, error events only, or nothing."""

    OFF = "off"
    ERRORS = "errors"
    ALL = "all"


class Source(enum.IntEnum):
    """Where a decision came from, highest precedence first."""

    DO_NOT_TRACK = 1
    APP_ENV = 2
    CI = 3
    RUNTIME = 4
    CONFIG = 5
    DEFAULT = 6


class Decision(Record):
    """The effective level, where it came from, and a sentence a user can read."""

    __slots__ = ("level", "source", "reason", "problem")
    _defaults = {"problem": None}
    level: Level
    source: Source
    reason: str
    problem: str | None

    @property
    def enabled(self) -> bool:
        return self.level is not Level.OFF


def env_var_name(app: str) -> str:
    """``my-app`` → ``MY_APP_TELEMETRY``."""
    return re.sub(r"[^A-Z0-9]", "_", app.upper()) + "_TELEMETRY"


def truthy(value: str | None) -> bool:
    """An environment value that says yes: set, and not blank, 0, false, no, off or n."""
    return value is not None and value.strip().lower() not in _FALSY


def decide(app: str, settings: Settings, environ: Mapping[str, str]) -> Decision:
    """The level for ``app`` given its settings and the environment."""
    dnt = environ.get("DO_NOT_TRACK")
    if dnt is not None and dnt.strip().lower() not in _DNT_UNSET:
        return Decision(Level.OFF, Source.DO_NOT_TRACK, f"DO_NOT_TRACK={dnt} is set")

    name = env_var_name(app)
    raw = (environ.get(name) or "").strip()
    if raw:
        level = parse_level(raw)
        if level is None:
            problem = f"{name}={raw!r} is not one of all, errors, off (or 1/0, true/false)"
            return Decision(Level.OFF, Source.APP_ENV, f"{name} has an unknown value", problem)
        return Decision(Level(level), Source.APP_ENV, f"{name}={raw}")

    if truthy(environ.get("CI")):
        return Decision(Level.OFF, Source.CI, "running in CI (CI is set)", settings.problem)

    if settings.problem:
        return Decision(Level.OFF, Source.CONFIG, "the config file has a problem", settings.problem)
    if settings.collect is not None:
        where = f"telemetry.collect in {settings.path}" if settings.path else "telemetry.collect"
        return Decision(Level(settings.collect), Source.CONFIG, f"{where} is {settings.collect}")
    return Decision(Level.OFF, Source.DEFAULT, "nobody opted in (the default is off)")
