"""One settings object for a run: the app author's ``init`` arguments resolved against the user's
config (the user's ``telemetry.dsn``/``environment``/``exit_timeout``/``spotlight`` win).

Built once by :func:`crashreport.init` and passed along, instead of long argument lists.
"""

from __future__ import annotations

from ._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path
    from typing import Any

    from .config import Settings

    BeforeSend = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any] | None]

#: How long the exit may wait for this run's reports where no sender can be started after
#: exit (a frozen app, a platform without ``posix_spawn``); the rest stays queued.
DEFAULT_EXIT_TIMEOUT = 0.25
#: Handled errors (logged or captured) one run sends: the first N distinct ones.
DEFAULT_MAX_ERRORS = 50
DEFAULT_MAX_QUEUED = 200
DEFAULT_MAX_QUEUED_BYTES = 20 * 1024 * 1024


class Options(Record):
    """Everything a run needs to know about how to report, resolved and checked."""

    __slots__ = ("app", "dsn", "config", "subcommand", "version", "environment", "before_send",
                 "scrub_patterns", "scrub_keys", "safe_words", "exit_timeout", "max_queued",
                 "max_queued_bytes", "spotlight", "max_errors", "ca_certs")  # fmt: skip
    app: str
    dsn: str | None
    config: Path | None
    subcommand: str | None
    version: str | None
    environment: str
    before_send: BeforeSend | None
    scrub_patterns: tuple[str, ...]
    scrub_keys: tuple[str, ...]
    safe_words: tuple[str, ...]
    exit_timeout: float
    max_queued: int
    max_queued_bytes: int
    spotlight: str | None
    max_errors: int | None
    ca_certs: str | None


def resolve(
    app: str,
    settings: Settings,
    *,
    dsn: str | None = None,
    subcommand: str | None = None,
    version: str | None = None,
    environment: str | None = None,
    before_send: BeforeSend | None = None,
    scrub_patterns: Iterable[str] = (),
    scrub_keys: Iterable[str] = (),
    safe_words: Iterable[str] = (),
    exit_timeout: float | None = None,
    max_queued: int | None = None,
    max_queued_bytes: int | None = None,
    spotlight: bool | str | None = None,
    max_errors: int | None = DEFAULT_MAX_ERRORS,
    ca_certs: str | None = None,
) -> tuple[Options, list[str]]:
    """The options for ``app`` and the problems found (one warning line each).

    An unusable app argument is replaced by its safe default and named in the problems (a DSN
    that is not one keeps reports on this machine); nothing here raises.
    """
    from .config import looks_like_dsn

    problems: list[str] = []
    if dsn is not None and not settings.dsn and not (isinstance(dsn, str) and looks_like_dsn(dsn)):
        problems.append("the app's DSN is not a Sentry DSN (https://<key>@<host>/<project>); "
                        "reports stay on this machine")  # fmt: skip
        dsn = None
    options = Options(
        app=app,
        dsn=settings.dsn or dsn or None,
        config=settings.path,
        subcommand=_text(subcommand),
        version=_text(version),
        environment=settings.environment or _text(environment) or "production",
        before_send=before_send,
        scrub_patterns=tuple(str(p) for p in scrub_patterns),
        scrub_keys=tuple(str(k) for k in scrub_keys),
        safe_words=tuple(str(w) for w in safe_words),
        exit_timeout=_first(settings.exit_timeout, exit_timeout, DEFAULT_EXIT_TIMEOUT),
        max_queued=DEFAULT_MAX_QUEUED if max_queued is None else max(1, int(max_queued)),
        max_queued_bytes=(DEFAULT_MAX_QUEUED_BYTES if max_queued_bytes is None
                          else max(1, int(max_queued_bytes))),
        spotlight=_spotlight(spotlight if settings.spotlight is None else settings.spotlight),
        max_errors=None if max_errors is None else max(0, int(max_errors)),
        ca_certs=_text(ca_certs),
    )
    return options, problems


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _first(*values: float | None) -> float:
    return float(next(v for v in values if v is not None))


#: Where ``npx @spotlightjs/spotlight`` listens by default.
SPOTLIGHT_URL = "http://localhost:8969/stream"


def _spotlight(option: object) -> str | None:
    """The sidecar URL for a config value or ``init`` option: True → the default, a URL → it."""
    if option is True:
        return SPOTLIGHT_URL
    if isinstance(option, str) and option.strip().startswith(("http://", "https://")):
        return option.strip()
    return None
