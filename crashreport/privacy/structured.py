"""Rebuild a message from its structure where the structure is known, instead of parsing text.

Pure functions of live objects, for the capture step (sentry-sdk's ``before_send`` hint):

- :func:`exception_value`: an ``OSError`` from ``errno`` and ``strerror`` with placeholders for
  its file names; a ``CalledProcessError``/``TimeoutExpired`` with the program's name and
  not its arguments; ``None`` for anything else (the text rules apply to ``str(exc)``);
- :func:`log_message`: a logging record's format string (code) with each argument replaced by
  what it is when its type says so (a path, bytes) and kept for the text rules otherwise.

What they return still goes through the scrubber (the program name, the format string's words
must be program text too); they only remove what text rules cannot see the edges of.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
from collections.abc import Mapping
from typing import Any

from .rules import PATH, TEXT
from .text import with_extension


def _path(name: Any) -> str:
    """A file name argument: ``<path>``, with its extension when that is a known one."""
    try:
        return with_extension(PATH, os.fsdecode(name))
    except (TypeError, ValueError):
        return PATH


#: A string that is an absolute path from its start: ``/``, ``~/``, ``C:\``, ``\\server``.
_ABSOLUTE = re.compile(r"(?:/|~[/\\]|[A-Za-z]:[/\\]|\\\\)[^\n]*\Z")


def _program(cmd: Any) -> str:
    """The program a command runs (its base name), never its arguments."""
    first: Any = cmd
    if isinstance(cmd, str | bytes):
        first = cmd.split()[0] if cmd.split() else ""
    elif isinstance(cmd, list | tuple):
        first = cmd[0] if cmd else ""
    try:
        name = os.fsdecode(first)
    except (TypeError, ValueError):
        return TEXT
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    more = " …" if (isinstance(cmd, list | tuple) and len(cmd) > 1) or (
        isinstance(cmd, str | bytes) and len(cmd.split()) > 1) else ""
    return name + more


def exception_value(exc: BaseException) -> str | None:
    """The message of ``exc`` rebuilt from its structure, or None (use the text rules)."""
    try:
        if isinstance(exc, subprocess.CalledProcessError):
            program = _program(exc.cmd)
            if exc.returncode and exc.returncode < 0:
                return f"Command '{program}' died with signal {-exc.returncode}."
            return f"Command '{program}' returned non-zero exit status {exc.returncode}."
        if isinstance(exc, subprocess.TimeoutExpired):
            return f"Command '{_program(exc.cmd)}' timed out after {exc.timeout} seconds"
        if isinstance(exc, OSError) and isinstance(exc.errno, int) and isinstance(exc.strerror, str):
            text = f"[Errno {exc.errno}] {exc.strerror}"
            if exc.filename is not None:
                text += f": '{_path(exc.filename)}'"
                if exc.filename2 is not None:
                    text += f" -> '{_path(exc.filename2)}'"
            return text
    except Exception:
        return None
    return None


def _argument(arg: Any) -> Any:
    """A logging argument: a path (by its type, or a string that is an absolute path as a whole)
    or bytes by type; numbers as they are; anything else its text (which the text rules then
    check word by word)."""
    if isinstance(arg, os.PathLike) or (isinstance(arg, str) and _ABSOLUTE.match(arg)):
        return _path(arg)
    if isinstance(arg, bytes | bytearray):
        return TEXT
    if arg is None or isinstance(arg, bool | int | float):
        return arg
    return str(arg)


def log_message(record: logging.LogRecord) -> str | None:
    """A record's message: its format string with each argument checked, or None."""
    try:
        args = record.args
        if not args or not isinstance(record.msg, str):
            return None
        if isinstance(args, Mapping):
            return record.msg % {k: _argument(v) for k, v in args.items()}
        return record.msg % tuple(_argument(a) for a in args)
    except Exception:
        return None


def _chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and the exceptions it was raised from or during (no cycles)."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and all(current is not e for e in chain) and len(chain) < 64:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


def structure_event(event: dict[str, Any], hint: Mapping[str, Any] | None) -> dict[str, Any]:
    """The capture step's call (sentry-sdk's ``before_send``): each exception value of
    ``event`` that :func:`exception_value` can rebuild from ``hint["exc_info"]`` (and its
    chain), and a logged event's message from ``hint["log_record"]``, replaced in place."""
    hint = hint or {}
    exc_info = hint.get("exc_info")
    exc = exc_info[1] if isinstance(exc_info, tuple) and len(exc_info) > 1 else None
    exception = event.get("exception")
    values = exception.get("values") if isinstance(exception, dict) else None
    if isinstance(exc, BaseException) and isinstance(values, list):
        for error in _chain(exc):
            rebuilt = exception_value(error)
            if rebuilt is None:
                continue
            for value in values:
                if (isinstance(value, dict) and value.get("type") == type(error).__name__
                        and value.get("value") == _text(error)):  # fmt: skip
                    value["value"] = rebuilt
    record = hint.get("log_record")
    logentry = event.get("logentry")
    if isinstance(record, logging.LogRecord) and isinstance(logentry, dict):
        message = log_message(record)
        if message is not None:
            logentry["formatted"] = message
            logentry.pop("params", None)
    return event


def structure_breadcrumb(crumb: dict[str, Any], hint: Mapping[str, Any] | None) -> dict[str, Any]:
    """The same for a logging breadcrumb (sentry-sdk's ``before_breadcrumb``)."""
    record = (hint or {}).get("log_record")
    if isinstance(record, logging.LogRecord) and isinstance(crumb.get("message"), str):
        message = log_message(record)
        if message is not None:
            crumb["message"] = message
    return crumb


def _text(exc: BaseException) -> str | None:
    try:
        return str(exc)
    except Exception:
        return None
