"""Remember the status a program passes to ``sys.exit``.

Python tells an ``atexit`` handler nothing about the exit status, so this wraps ``sys.exit``
when crashreport is imported: the wrapper only notes the status and calls the original. It must
happen at import, not in init, because ``sys.exit(main())`` looks ``sys.exit`` up before
``main()`` (and so init) runs. A bare ``raise SystemExit(n)`` is not seen.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

#: The status of the last ``sys.exit`` call (None until one happens).
status: Any = None
_original = sys.exit


def _exit(arg: Any = None, /) -> NoReturn:
    global status
    status = arg
    _original(arg)


def install() -> None:
    if getattr(sys.exit, "__module__", None) != __name__:
        _exit.__doc__ = _original.__doc__
        sys.exit = _exit


def exit_code() -> int:
    """The process exit code the noted status means (0 if ``sys.exit`` was not called)."""
    if status is None:
        return 0
    if isinstance(status, int):
        return status
    return 1
