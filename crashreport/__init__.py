"""crashreport: opt-in, privacy-first crash reports and release adoption for Python programs.

One call at start-up::

    import crashreport
    crashreport.init("myapp", dsn=SENTRY_DSN, config="~/.config/myapp/config.yaml",
                     subcommand=args.command)

Nothing is sent, written or even imported from sentry-sdk unless the user opted in
(``telemetry.collect: true`` in their config, or ``MYAPP_TELEMETRY=1``). This module imports
nothing heavy: the light run lives in :mod:`crashreport.run`, and sentry-sdk is loaded
(:mod:`crashreport.capture`) only when there is an error to report.
"""

from __future__ import annotations

import os

from . import _exit
from ._record import Record
from ._safe import guard, warn
from .consent import Level, Source

TYPE_CHECKING = False  # the typing module costs start-up time; mypy still sees these
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from typing import Any

    from .run import Run
    from .run.usage import Action

__all__ = [
    "Action",
    "Handle",
    "Level",
    "Source",
    "__version__",
    "capture_exception",
    "count",
    "init",
    "set_level",
    "set_subcommand",
    "track",
]
__version__ = "0.1.0"

_exit.install()

_run: Run | None = None
_handle: Handle | None = None
_options: dict[str, Any] = {}  # init's arguments, for set_level() to start later
#: The highest level set_level() may choose: what DO_NOT_TRACK, <APP>_TELEMETRY or CI imposed.
_ceiling = Level.ALL
_RANK = {Level.OFF: 0, Level.ERRORS: 1, Level.ALL: 2}


class Handle(Record):
    """What :func:`init` decided: the level, where that came from, and the anonymous user id."""

    __slots__ = ("app", "level", "source", "reason", "user_id", "version")
    _defaults = {"user_id": None, "version": None}
    app: str
    level: Level
    source: Source
    reason: str
    user_id: str | None
    version: str | None

    @property
    def enabled(self) -> bool:
        return self.level is not Level.OFF

    @property
    def release(self) -> str | None:
        """``app@version`` of this run (None while telemetry is off)."""
        if not self.enabled:
            return None
        from .release import release_for

        return release_for(self.app, self.version)


def init(
    app: str,
    dsn: str | None = None,
    *,
    config: str | os.PathLike[str] | Mapping[str, Any] | None = None,
    subcommand: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    before_send: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None] | None = None,
    scrub_patterns: Iterable[str] = (),
    scrub_keys: Iterable[str] = (),
    safe_words: Iterable[str] = (),
    exit_timeout: float | None = None,
    max_queued: int | None = None,
    max_queued_bytes: int | None = None,
    spotlight: bool | str | None = None,
    ask: bool = False,
    max_errors: int | None = 50,
    ca_certs: str | None = None,
) -> Handle:
    """Turn on crash reporting for ``app`` if, and only if, its user opted in.

    ``app`` is the installed distribution's name: it gives the release (``app@version``), the
    folders (platformdirs) and the environment variable ``<APP>_TELEMETRY``. ``config`` is the
    user's YAML file (``~`` is expanded), an already-parsed mapping, or None. The user's
    ``telemetry.dsn``/``environment``/``exit_timeout``/``spotlight`` win over the arguments.

    A run with telemetry on costs next to nothing: sentry-sdk is loaded only when there is an
    error to report, and nothing waits for the network: the run's reports are on disk when it
    ends, and a sender started after the program delivers them.

    ``before_send`` is the app's own hook; it runs first, and crashreport's scrubber always
    runs after it. ``scrub_patterns`` (regular expressions) and ``scrub_keys`` (dictionary keys
    whose values are dropped) extend the scrubber; ``safe_words`` are the app's own words that
    may be sent as they are (enum values, error codes). ``exit_timeout`` bounds the wait at exit
    where no sender can be started after the program (a frozen app; default 0.25 s);
    ``max_queued``/``max_queued_bytes`` bound the on-disk outbox (default 200 envelopes /
    20 MiB, oldest dropped first). ``spotlight`` (True or a sidecar URL) also copies every
    scrubbed envelope to a local Spotlight. ``ask=True``: if nobody decided yet and this is a
    terminal, ask once (default No) and record the answer in ``config`` (see
    :mod:`crashreport.prompt`). ``max_errors`` caps the handled errors (logged or captured) one
    run sends: the first N distinct ones (default 50); repeats and the rest are counted
    (``crashreport.errors_dropped`` in the run's usage record); None sends every one. Crashes
    are never capped. ``ca_certs`` is a CA bundle for the DSN's server. Never raises.
    """
    global _handle, _ceiling
    handle = Handle(app, Level.OFF, Source.DEFAULT, "crashreport could not start")
    with guard():
        if _handle is not None:
            return _handle
        from .config import load_settings
        from .consent import decide

        settings = load_settings(config)
        decision = decide(app, settings, os.environ)
        if ask and decision.source is Source.DEFAULT:
            from .prompt import maybe_ask

            settings, decision = maybe_ask(app, config, settings, decision)
        for problem in {settings.problem, decision.problem} - {None}:
            warn(f"{problem}; telemetry is off" if not decision.enabled else f"{problem}")
        handle = Handle(app, decision.level, decision.source, decision.reason)
        _ceiling = decision.level if decision.source < Source.RUNTIME else Level.ALL
        _options.update(app=app, settings=settings, dsn=dsn, subcommand=subcommand,
                        version=version, environment=environment, before_send=before_send,
                        scrub_patterns=tuple(scrub_patterns), scrub_keys=tuple(scrub_keys),
                        safe_words=tuple(safe_words), exit_timeout=exit_timeout,
                        max_queued=max_queued, max_queued_bytes=max_queued_bytes,
                        spotlight=spotlight, max_errors=max_errors, ca_certs=ca_certs)  # fmt: skip
        if decision.enabled:
            handle = _start(handle, decision.level)
        _handle = handle
    return handle


def _start(handle: Handle, level: Level) -> Handle:
    """Start the light run with init's arguments; an unusable app argument leaves it off."""
    global _run
    from .run.start import start

    try:
        _run = start(level, **_options)
    except ValueError as exc:
        warn(f"{exc}; telemetry is off")
        return handle.replace(level=Level.OFF, reason=str(exc))
    return handle.replace(level=level, user_id=_run.user_id, version=_run.options.version)


def set_subcommand(name: str | None) -> None:
    """Tag this run with the subcommand, for apps that learn it after :func:`init`."""
    with guard():
        _options["subcommand"] = name
        if _run is not None:
            _run.set_subcommand(name)


def set_level(level: Level | str) -> Handle | None:
    """Change the level while running (a host app's settings page).

    ``off`` stops all sending at once; turning it on from off starts reporting with the
    arguments :func:`init` was given. Returns the new handle (None before :func:`init`).
    """
    global _handle
    with guard():
        try:
            new = Level(level)
        except ValueError:
            warn(f"set_level({level!r}): not one of all, errors, off; the level is unchanged")
            return _handle
        if _handle is None:
            return None
        if _RANK[new] > _RANK[_ceiling]:
            warn(f"set_level({new.value!r}): {_handle.reason}, which a program cannot override; "
                 "the level is unchanged")  # fmt: skip
            return _handle
        _handle = _handle.replace(level=new, source=Source.RUNTIME, reason=f"set_level({new.value!r})")
        if _run is not None:
            _run.set_level(new)
        elif new is not Level.OFF and _options:
            _handle = _start(_handle, new)
    return _handle


def track(name: str, **data: Any) -> Action:
    """Track one action: ``with crashreport.track("fetch"):`` or ``@crashreport.track("fetch")``.

    At level ``all`` the finished action becomes one span of the run's usage record, with its
    duration and outcome; otherwise it costs next to nothing.
    """
    from .run.usage import Action

    return Action(name, data)


def capture_exception(error: BaseException | None = None) -> None:
    """Report an exception the program caught and handled (default: the one being handled).

    Use this (or ``logging.exception``), not sentry-sdk's own ``capture_exception``: sentry-sdk
    is loaded only when crashreport has an error to report. Does nothing while telemetry is off.
    """
    if _run is not None:
        with guard():
            import sys

            exc = error if error is not None else sys.exc_info()[1]
            if exc is not None:
                _run.report(exc, handled=True, mechanism="generic")


def count(name: str, n: float = 1) -> None:
    """Add ``n`` to counter ``name``: kept in memory, sent once with the run's usage record."""
    if _run is not None:
        from .run.usage import count as add

        with guard():
            add(name, n)


def __getattr__(name: str) -> Any:
    if name == "Action":  # imported on first use: most runs never track an action
        from .run.usage import Action

        return Action
    raise AttributeError(f"module 'crashreport' has no attribute {name!r}")
