"""How a command fails: :class:`CliError` for an expected problem, and the guard that prints it.

An expected failure (unknown app, missing or broken config, no DSN) is one line on stderr and an
exit code, never a traceback.
"""

from __future__ import annotations

import contextlib
import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TextIO


class CliError(Exception):
    """An expected failure: printed as one line, exit code ``code``."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def guarded(prog: str, body: Callable[[], int], err: TextIO | None = None) -> int:
    """Run ``body``; turn expected failures into one line on ``err`` and an exit code."""
    err = err or sys.stderr
    try:
        return body()
    except CliError as exc:
        print(f"{prog}: {exc}", file=err)
        return exc.code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=err)
        return 130
    except BrokenPipeError:  # `crashreport show | head`: the reader left; not an error to report
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as exc:
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{prog}: {exc.strerror or exc}{where}", file=err)
        return 1
