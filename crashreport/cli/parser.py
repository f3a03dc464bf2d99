"""The argparse side of the command: the standalone parser and the one a host app mounts."""

from __future__ import annotations

import argparse
import os

from .target import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

#: Where a mounted command keeps its :class:`Target` (and, with ``_name``, the subcommand).
KEY = "_crashreport_command"

#: ``notice --format`` choices; the first is the default.
FORMATS = ("markdown", "text")


def _add_subcommands(sub: Any, *, standalone: bool) -> None:
    sub.add_parser("status", help="the effective level, why, and where the files are") \
        .add_argument("--json", action="store_true", help="as JSON")  # fmt: skip
    enable = sub.add_parser("enable", help="set telemetry.collect: true in the config file")
    enable.add_argument("--errors", action="store_true", help="crash reports only, no sessions")
    disable = sub.add_parser("disable", help="set telemetry.collect: false in the config file")
    disable.add_argument("--purge", action="store_true",
                         help="also delete the queued reports and the sent log")  # fmt: skip
    show = sub.add_parser("show", help="the queued and recently sent reports")
    show.add_argument("--json", action="store_true", help="the raw scrubbed envelopes as JSON")
    send = sub.add_parser("send", help="deliver the queued reports now")
    send.add_argument("--timeout", type=float, default=10.0, help="seconds per report (10)")
    sub.add_parser("reset-id", help="forget the anonymous id (a new one is made when next on)")
    notice = sub.add_parser("notice", help="the telemetry page for the app's documentation: "
                            "what is sent, what never is, how to opt out")  # fmt: skip
    notice.add_argument("--format", choices=FORMATS, default=FORMATS[0],
                        help=f"{' or '.join(FORMATS)} (default {FORMATS[0]})")  # fmt: skip
    if standalone:
        demo = sub.add_parser("demo", help="crash a small demo app in a throw-away HOME and "
                              "compare its report with plain sentry-sdk's")  # fmt: skip
        demo.add_argument("--keep", action="store_true", help="keep the throw-away HOME")


def build_parser() -> argparse.ArgumentParser:
    """The standalone ``crashreport`` command's parser."""
    parser = argparse.ArgumentParser(
        prog="crashreport",
        description="See and change what an app using crashreport sends, and show what it is.",
    )
    _add_target_options(parser, None)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_subcommands(sub, standalone=True)
    for name, command in sub.choices.items():
        if name != "demo":  # also after the command: crashreport notice --app NAME
            _add_target_options(command, argparse.SUPPRESS)
    return parser


def _add_target_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--app", default=default, help="the app's name (its installed distribution)")
    parser.add_argument("--config", default=default, help="the app's YAML config file")
    parser.add_argument("--dsn", default=default,
                        help="where `send` delivers (default: telemetry.dsn)")  # fmt: skip


def add_commands(
    subparsers: Any,
    *,
    app: str,
    config: str | os.PathLike[str] | None = None,
    dsn: str | None = None,
    name: str = "telemetry",
) -> argparse.ArgumentParser:
    """Mount ``NAME status|enable|disable|show|send|reset-id|notice`` in a host app's parser.

    ``subparsers`` is what the host's ``parser.add_subparsers()`` returned. After parsing, the
    host calls :func:`crashreport.cli.dispatch` *before* ``crashreport.init`` (a ``telemetry
    disable`` must not start a session or ask for consent first)::

        crashreport.cli.add_commands(commands, app="myapp", config=CONFIG, dsn=DSN)
        args = parser.parse_args()
        code = crashreport.cli.dispatch(args)
        if code is not None:
            return code
        crashreport.init("myapp", dsn=DSN, config=CONFIG, subcommand=args.command)
    """
    parser: argparse.ArgumentParser = subparsers.add_parser(
        name, help="see or change what is sent to the authors (crash reports)"
    )
    sub = parser.add_subparsers(dest=f"{KEY}_name", metavar="COMMAND", required=True)
    _add_subcommands(sub, standalone=False)
    target = Target(app, config, dsn, prog=parser.prog, mounted=True)
    parser.set_defaults(**{KEY: target})
    return parser
