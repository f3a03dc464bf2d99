"""Ask the user once, on a terminal, whether the app may send crash reports.

Used by ``init(..., ask=True)`` only when nobody has decided yet (the decision came from the
default), stdin and stderr are terminals, and a config file path is known to record the answer
in. The default answer is No. The answer is written to ``telemetry.collect`` in that file, so
the question is never asked again. Without a terminal nothing is asked and nothing waits.
"""

from __future__ import annotations

import os
import sys

from ._safe import warn
from .consent import Decision, Level, Source, decide

TYPE_CHECKING = False  # no typing import at start-up (init(ask=True) runs on every start)
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any, TextIO

    from .config import Settings

QUESTION = """\
{app} can send crash reports to its authors, to help them fix bugs (via Sentry).
  Sent if you agree: the error and where in {app}'s code it happened, {app}'s version,
    the Python version, the subcommand, and a random id for this installation.
  Never sent: your name, this computer's name, your files and folders, the command's
    arguments, e-mail or IP addresses, passwords or tokens.
  Change it later: telemetry.collect in {config},
    or set DO_NOT_TRACK=1.
Send crash reports to {app}'s authors? [y/N] """

_YES = frozenset({"y", "yes"})


def should_ask(decision: Decision, config: object, stdin: Any, stderr: Any,
               environ: Mapping[str, str]) -> bool:  # fmt: skip
    """Ask only when undecided (so not in CI either), interactive, and the answer can be kept."""
    if decision.source is not Source.DEFAULT:
        return False
    if not isinstance(config, str | os.PathLike):
        return False  # no file to record the answer in: we would ask on every run
    try:
        return bool(stdin and stderr and stdin.isatty() and stderr.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def maybe_ask(
    app: str,
    config: object,
    settings: Settings,
    decision: Decision,
    *,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> tuple[Settings, Decision]:
    """The settings and decision after asking, when :func:`should_ask`; else those given."""
    stdin = sys.stdin if stdin is None else stdin
    stderr = sys.stderr if stderr is None else stderr
    environ = os.environ if environ is None else environ
    if not should_ask(decision, config, stdin, stderr, environ):
        return settings, decision
    assert isinstance(config, str | os.PathLike)
    return ask_and_record(app, config, settings, stdin, stderr, environ)


def ask(app: str, config: str | os.PathLike[str], stdin: TextIO, stderr: TextIO) -> bool:
    """Ask the question on ``stderr``, read one line from ``stdin``; True only for yes."""
    path = os.path.expanduser(os.fspath(config))
    stderr.write(QUESTION.format(app=app, config=path))
    stderr.flush()
    line = stdin.readline()
    if not line.endswith("\n"):
        stderr.write("\n")  # end of input: leave the terminal on a fresh line
    return line.strip().lower() in _YES


def ask_and_record(
    app: str,
    config: str | os.PathLike[str],
    settings: Settings,
    stdin: TextIO,
    stderr: TextIO,
    environ: Mapping[str, str],
) -> tuple[Settings, Decision]:
    """Ask, write the answer to the config, and return the settings and decision that follow."""
    from .config import load_settings
    from .yamledit import EditError, set_collect

    yes = ask(app, config, stdin, stderr)
    level = Level.ALL if yes else Level.OFF
    try:
        set_collect(config, level.value)
    except EditError as exc:
        warn(f"could not record your answer ({exc}); it applies to this run only")
        reason = "you answered the question (not saved)"
        return settings, Decision(level, Source.CONFIG, reason)
    settings = load_settings(config)
    return settings, decide(app, settings, environ)
