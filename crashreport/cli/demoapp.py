"""demoapp: the small program that ``crashreport demo`` lets crash.

It stands for any app that uses crashreport: one ``init`` line, a tracked action, and a bug that
reads a file this user does not have. The demo copies this file into a throw-away folder, next
to a ``demoapp-1.0.0.dist-info`` so that it is an installed app like any other (its release is
``demoapp@1.0.0``), and runs it there; nothing else needs to be installed.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import crashreport


def parse_report(path: Path) -> dict[str, int]:
    """Count the words in a report file (crashes on a missing file, like real code does)."""
    text = path.read_text(encoding="utf-8")
    return {"words": len(text.split())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="demoapp")
    commands = parser.add_subparsers(dest="command", required=True)
    crash = commands.add_parser("crash", help="read a report file that does not exist")
    crash.add_argument("--file", required=True)
    args = parser.parse_args(argv)

    crashreport.init("demoapp", config="~/.config/demoapp/config.yaml", subcommand=args.command)

    with crashreport.track("parse-report"):
        parse_report(Path(args.file))
    return 0


if __name__ == "__main__":
    sys.exit(main())
