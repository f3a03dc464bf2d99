"""The ``crashreport`` command: see and change an app's telemetry decision in one place.

``crashreport --app NAME [--config PATH] status|enable|disable|show|send|reset-id|notice`` and
``crashreport demo`` (also ``python -m crashreport``). A host app mounts the same commands under
its own parser with :func:`add_commands` (``myapp telemetry status``) and runs them with
:func:`dispatch`; click apps use :func:`click_group`.

Exit codes: 0 ok, 1 failure (one line saying why), 2 usage error. Nothing here prints a
traceback for an expected problem (unknown app, missing or broken config, no DSN).

Host apps import this package at start-up to mount the commands, so it stays light: only the
parser is loaded then; the commands (:mod:`.commands`, :mod:`.notice`, :mod:`.demo`), the click
group and :class:`CliError` load on first use, and nothing imports typing, dataclasses, pathlib
or json at start-up.
"""

from __future__ import annotations

import sys

from .parser import KEY, add_commands, build_parser
from .target import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import Any, TextIO

    from .clickgroup import click_group
    from .errors import CliError

__all__ = ["CliError", "add_commands", "build_parser", "click_group", "dispatch", "main"]


def dispatch(args: argparse.Namespace, *, out: TextIO | None = None,
             err: TextIO | None = None) -> int | None:  # fmt: skip
    """Run a command mounted by :func:`add_commands`; None when ``args`` are not ours."""
    target = getattr(args, KEY, None)
    if not isinstance(target, Target):
        return None
    from .commands import run

    return run(target, getattr(args, f"{KEY}_name"), args, out or sys.stdout, err or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``crashreport`` and ``python -m crashreport``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import run_demo
        from .errors import guarded

        return guarded("crashreport", lambda: run_demo(sys.stdout, sys.stderr, keep=args.keep))
    if not args.app:
        parser.error(f"--app NAME is required for {args.command}")
    from .commands import run

    target = Target(args.app, args.config, args.dsn, prog="crashreport")
    return run(target, args.command, args, sys.stdout, sys.stderr)


def __getattr__(name: str) -> Any:
    if name == "CliError":
        from .errors import CliError

        return CliError
    if name == "click_group":
        from .clickgroup import click_group

        return click_group
    raise AttributeError(f"module 'crashreport.cli' has no attribute {name!r}")
