"""A per-run cap on handled errors, so that an error logged in a loop stays cheap.

Pure, no sentry import. The run asks :meth:`ErrorCap.admit` before anything is built: an error
identical to one already reported this run, or any past the ``limit``-th distinct one, costs
one dictionary lookup and is counted instead (``crashreport.errors_dropped`` in the run's usage
record). Crashes (unhandled errors) never meet the cap.
"""

from __future__ import annotations

import _thread

TYPE_CHECKING = False
if TYPE_CHECKING:
    from logging import LogRecord
    from typing import Any

#: The counter (in the run's usage record, level ``all``) of errors the cap kept back.
ERRORS_DROPPED = "crashreport.errors_dropped"


class ErrorCap:
    """The first ``limit`` distinct handled errors pass; repeats and the rest are counted."""

    def __init__(self, limit: int | None) -> None:
        self.limit = None if limit is None else max(0, int(limit))
        self.seen: set[tuple[Any, ...]] = set()
        self.dropped = 0
        self._lock = _thread.allocate_lock()

    def admit(self, key: tuple[Any, ...]) -> bool:
        """Whether an error with this key is reported (False: it is counted as dropped)."""
        if self.limit is None:
            return True
        with self._lock:
            if key not in self.seen and len(self.seen) < self.limit:
                self.seen.add(key)
                return True
            self.dropped += 1
            return False


def exception_key(exc: BaseException) -> tuple[Any, ...]:
    """What makes two exceptions "the same" here, close to how Sentry groups them: the types of
    the chain and the innermost frames of each."""
    parts: list[Any] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen and len(parts) < 10:
        seen.add(id(current))
        parts.append((type(current).__module__, type(current).__qualname__, _frames(current)))
        current = current.__cause__ or current.__context__
    return tuple(parts)


def record_key(record: LogRecord) -> tuple[Any, ...]:
    """A logged error: its logger, level and message template (not the formatted message), and
    the exception it carries."""
    exc = record.exc_info[1] if record.exc_info else None
    template = str(record.msg)[:200]
    return (record.name, record.levelno, template, exception_key(exc) if exc else None)


def _frames(exc: BaseException) -> tuple[tuple[str, str, int], ...]:
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        frames.append((code.co_filename, code.co_name, tb.tb_lineno))
        tb = tb.tb_next
    return tuple(frames[-3:])
