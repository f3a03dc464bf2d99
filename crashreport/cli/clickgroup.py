"""The same commands as a click group, for click (and Typer) apps; click is imported only here."""

from __future__ import annotations

import argparse
import os
import sys

from .parser import FORMATS
from .target import Target

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def click_group(*, app: str, config: str | os.PathLike[str] | None = None,
                dsn: str | None = None, name: str = "telemetry") -> Any:  # fmt: skip
    """A click group with the same commands, for click apps: ``cli.add_command(click_group(...))``.

    click is imported only here; crashreport does not depend on it.
    """
    import click  # type: ignore[import-not-found,unused-ignore]

    def runner(command: str, **options: Any) -> None:
        from .commands import run

        parent = click.get_current_context().parent  # the group: "myapp telemetry"
        target = Target(app, config, dsn, prog=parent.command_path if parent else name,
                        mounted=True)  # fmt: skip
        ns = argparse.Namespace(json=False, errors=False, purge=False, timeout=10.0,
                                format=FORMATS[0])  # fmt: skip
        for key, value in options.items():
            setattr(ns, key, value)
        code = run(target, command, ns, sys.stdout, sys.stderr)
        if code:
            raise SystemExit(code)

    group = click.Group(name, help="See or change what is sent to the authors.")
    specs: list[tuple[str, list[click.Parameter]]] = [
        ("status", [click.Option(["--json"], is_flag=True, help="as JSON")]),
        ("enable", [click.Option(["--errors"], is_flag=True, help="crash reports only")]),
        ("disable", [click.Option(["--purge"], is_flag=True, help="also delete the queue")]),
        ("show", [click.Option(["--json"], is_flag=True, help="raw envelopes")]),
        ("send", [click.Option(["--timeout"], type=float, default=10.0)]),
        ("reset-id", []),
        ("notice", [click.Option(["--format", "format"], type=click.Choice(FORMATS),
                                 default=FORMATS[0], help="the page's format")]),
    ]  # fmt: skip
    for command, params in specs:
        group.add_command(click.Command(
            command, params=params, callback=lambda command=command, **kw: runner(command, **kw)
        ))  # fmt: skip
    return group
