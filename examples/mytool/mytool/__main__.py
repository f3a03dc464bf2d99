"""mytool's command line: a few subcommands, one of which crashes on purpose.

The one line that matters is the ``crashreport.init(...)`` call in :func:`main`. The
``telemetry`` subcommand (``mytool telemetry status|enable|disable|show|send|reset-id``) is
crashreport's, mounted with :func:`crashreport.cli.add_commands`.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

import crashreport
import crashreport.cli

#: The app author's DSN. Real apps hard-code theirs; the example reads it from the environment
#: so that tests can point it at a loopback server (no DSN means reports stay on this machine).
DSN = os.environ.get("MYTOOL_DSN") or None
CONFIG = os.environ.get("MYTOOL_CONFIG", "~/.config/mytool/config.yaml")


def parse_report(path: Path) -> dict[str, int]:
    """Count the words in a report file (crashes on a missing file, like real code does)."""
    text = path.read_text(encoding="utf-8")
    return {"words": len(text.split())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="mytool")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("hello", help="print a greeting")
    crash = commands.add_parser("crash", help="read a report file that does not exist")
    crash.add_argument("--file", default="~/clients/acme/taxes-2025.pdf")
    fail = commands.add_parser("fail", help="exit with status 3")
    fail.add_argument("--code", type=int, default=3)
    commands.add_parser("log-error", help="log an error and carry on")
    commands.add_parser("interrupt", help="behave as if Ctrl-C was pressed")
    crashreport.cli.add_commands(commands, app="mytool", config=CONFIG, dsn=DSN)
    args = parser.parse_args(argv)

    # `mytool telemetry ...` runs before init: disabling must not first start a session or ask.
    code = crashreport.cli.dispatch(args)
    if code is not None:
        return code
    crashreport.init("mytool", dsn=DSN, config=CONFIG, subcommand=args.command, ask=True)

    if args.command == "hello":
        print("hello from mytool")
        crashreport.count("greetings")  # a counter: summed in memory, sent once at exit
    elif args.command == "crash":
        with crashreport.track("parse-report"):  # an action: one span with duration and outcome
            parse_report(Path(os.path.expanduser(args.file)))
    elif args.command == "fail":
        print("mytool: something went wrong", file=sys.stderr)
        return int(args.code)
    elif args.command == "log-error":
        try:
            parse_report(Path(os.path.expanduser("~/notes/secret-plans.txt")))
        except OSError:
            logging.getLogger("mytool").exception("could not read the notes")
        print("carried on")
    elif args.command == "interrupt":
        raise KeyboardInterrupt
    return 0


if __name__ == "__main__":
    sys.exit(main())
