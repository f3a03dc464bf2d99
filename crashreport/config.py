"""Read the ``telemetry`` section of the user's YAML config into frozen :class:`Settings`.

Bad input never raises: the result carries a ``problem`` (a short sentence naming the file) and
the caller turns telemetry off. The file is read with ``yaml.safe_load`` and only when it
exists; nothing here writes.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from ._record import Record
from .release import ENVIRONMENT, refusal

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Largest config file we parse; anything bigger is refused (a config is a few KiB).
MAX_CONFIG_BYTES = 1 << 20

#: The words ``telemetry.collect`` (and ``<APP>_TELEMETRY``) accept, and the level each means.
LEVEL_WORDS: dict[str, str] = {
    "all": "all", "true": "all", "on": "all", "yes": "all", "1": "all",
    "errors": "errors", "error": "errors",
    "off": "off", "false": "off", "no": "off", "0": "off",
}  # fmt: skip


class Settings(Record):
    """What the user's config says about telemetry (``collect`` is None when it says nothing)."""

    __slots__ = ("path", "collect", "dsn", "environment", "spotlight", "exit_timeout", "problem")
    _defaults = dict.fromkeys(__slots__, None)
    path: Path | None
    collect: str | None
    dsn: str | None
    environment: str | None
    spotlight: str | bool | None
    exit_timeout: float | None
    problem: str | None


def parse_level(value: object) -> str | None:
    """Map a YAML or env value to ``all``/``errors``/``off``; None when it is not a known word."""
    if isinstance(value, bool):
        return "all" if value else "off"
    if isinstance(value, int) and value in (0, 1):
        return "all" if value else "off"
    if isinstance(value, str):
        return LEVEL_WORDS.get(value.strip().lower())
    return None


def config_path(source: str | os.PathLike[str] | None) -> Path | None:
    """The config path with ``~`` expanded, or None."""
    if source is None:
        return None
    return Path(os.path.expanduser(os.fspath(source)))


def load_settings(source: str | os.PathLike[str] | Mapping[str, Any] | None) -> Settings:
    """Read settings from a path, an already-parsed mapping, or nothing."""
    if source is None:
        return Settings()
    if isinstance(source, Mapping):
        return settings_from_mapping(source, where="the config mapping")
    try:
        path = config_path(source)
        assert path is not None
        text, problem = _read_text(path)
    except (TypeError, ValueError) as exc:  # not a path, or one the system refuses (a NUL byte)
        return Settings(problem=f"config path {source!r} is not usable ({exc})")
    if problem:
        return Settings(path=path, problem=problem)
    if text is None:
        return Settings(path=path)
    try:
        import yaml

        data = yaml.safe_load(text)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return Settings(path=path, problem=f"{path}: not valid YAML ({first})")
    return settings_from_mapping(data, where=str(path), path=path)


def _read_text(path: Path) -> tuple[str | None, str | None]:
    """The file's text (None if it does not exist) and a problem, if any."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        return None, None
    except NotADirectoryError:
        return None, None
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None, f"{path}: is not a regular file"
        if info.st_size > MAX_CONFIG_BYTES:
            return None, f"{path}: is too large ({info.st_size} bytes) to be a config file"
        data = os.read(fd, MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        return None, f"{path}: cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        return None, f"{path}: is too large to be a config file"
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, f"{path}: is not UTF-8 text"


def settings_from_mapping(data: object, *, where: str, path: Path | None = None) -> Settings:
    """Validate the ``telemetry`` section of a parsed config; any problem fails closed."""
    if data is None:
        return Settings(path=path)
    if not isinstance(data, Mapping):
        return Settings(path=path, problem=f"{where}: the top level is not a mapping")
    section = data.get("telemetry")
    if section is None:
        return Settings(path=path)
    if not isinstance(section, Mapping):
        return Settings(path=path, problem=f"{where}: 'telemetry' is not a mapping")

    def bad(key: str, why: str) -> Settings:
        return Settings(path=path, problem=f"{where}: telemetry.{key} {why}")

    collect = None
    if section.get("collect") is not None:
        collect = parse_level(section["collect"])
        if collect is None:
            return bad("collect", f"has an unknown value {_short(section['collect'])}; "
                       "use true, errors or false")  # fmt: skip
    dsn = section.get("dsn")
    if dsn is not None and not (isinstance(dsn, str) and looks_like_dsn(dsn)):
        return bad("dsn", "is not a Sentry DSN (https://<key>@<host>/<project>)")
    environment = section.get("environment")
    if environment is not None and not (isinstance(environment, str) and environment.strip()
                                        and refusal(environment, ENVIRONMENT) is None):
        return bad("environment", "must be a name Sentry accepts (at most 64 bytes, no '/', '\\' "
                                  "or control characters, not 'none')")
    spotlight = section.get("spotlight")
    if spotlight is not None and not isinstance(spotlight, bool) and not (
        isinstance(spotlight, str) and spotlight.startswith(("http://", "https://"))
    ):
        return bad("spotlight", "must be true, false or an http(s) URL")
    exit_timeout = section.get("exit_timeout")
    if exit_timeout is not None:
        if isinstance(exit_timeout, bool) or not isinstance(exit_timeout, int | float) or not (
            0 <= exit_timeout <= 10
        ):
            return bad("exit_timeout", "must be a number of seconds between 0 and 10")
        exit_timeout = float(exit_timeout)
    return Settings(
        path=path,
        collect=collect,
        dsn=dsn,
        environment=environment,
        spotlight=spotlight,
        exit_timeout=exit_timeout,
    )


def looks_like_dsn(value: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        return (
            parts.scheme in ("http", "https")
            and bool(parts.username)
            and bool(parts.hostname)
            and parts.path.rstrip("/").rsplit("/", 1)[-1].isdigit()
        )
    except ValueError:
        return False


def _short(value: object) -> str:
    """A short description of a bad value; containers are named, never printed (alias bombs)."""
    if isinstance(value, Mapping):
        return "(a mapping)"
    if isinstance(value, list | tuple | set):
        return "(a list)"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
