"""Usage signals: tracked actions (one span each) and counters, kept cheap.

Nothing here imports sentry-sdk. When telemetry is off (or below level ``all``) :func:`track`
returns a no-op action and :func:`count` returns at once. Counters live in memory and are sent
once, with the run's usage record, at exit.
"""

from __future__ import annotations

import _thread
import functools
import time
from contextlib import ContextDecorator

TYPE_CHECKING = False  # the typing module costs ~3 ms of start-up; mypy still sees these
if TYPE_CHECKING:
    from collections.abc import Callable
    from types import TracebackType
    from typing import Any, Protocol, TypeVar

    F = TypeVar("F", bound=Callable[..., Any])

    class SpanSink(Protocol):
        """Where a finished action goes (the run, while at level ``all``)."""

        def record_action(self, action: Action) -> None: ...


#: The reporter while the level is ``all``; None otherwise (then actions and counts are no-ops).
SINK: SpanSink | None = None


class Counters:
    """Thread-safe running totals, read once at the end of the run."""

    def __init__(self) -> None:
        self._lock = _thread.allocate_lock()
        self._totals: dict[str, float] = {}

    def add(self, name: str, n: float = 1) -> None:
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise TypeError(f"count({name!r}, {n!r}): the amount must be a number")
        with self._lock:
            self._totals[str(name)] = self._totals.get(str(name), 0) + n

    def snapshot(self) -> dict[str, float]:
        with self._lock:
            return dict(self._totals)


class Action(ContextDecorator):
    """One tracked action: ``with crashreport.track("fetch") as action: ...``.

    On leaving the block the action is recorded with its duration and outcome (``ok`` or
    ``error``). An exception is recorded (type and message, scrubbed before sending) and
    re-raised untouched. ``fail()`` marks a failure without an exception; ``set()`` adds
    ``exit_code`` (external process) or ``status_code`` (HTTP) and other small values.
    """

    def __init__(self, name: str, data: dict[str, Any] | None = None) -> None:
        self.name = name
        self.data: dict[str, Any] = dict(data or {})
        self.outcome = "ok"
        self.error_type: str | None = None
        self.error_message: str | None = None
        self.start: float = 0.0
        self.start_wall: float = 0.0
        self.duration: float = 0.0
        self._sink: SpanSink | None = None

    def set(self, **data: Any) -> None:
        self.data.update(data)

    def fail(self, message: str | None = None, *, exit_code: int | None = None,
             status_code: int | None = None) -> None:  # fmt: skip
        self.outcome = "error"
        if message is not None:
            self.error_message = message
        if exit_code is not None:
            self.data["exit_code"] = exit_code
        if status_code is not None:
            self.data["status_code"] = status_code

    def __enter__(self) -> Action:
        self._sink = SINK
        self.start = time.perf_counter()
        self.start_wall = time.time()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.duration = time.perf_counter() - self.start
        if exc_type is not None:
            self.outcome = "error"
            self.error_type = exc_type.__name__
            # Whole: the scrubber sees the full text and cuts only after (a cut e-mail or token
            # no longer has the shape a secret rule knows); rebuilt from its structure if known.
            self.error_message = _message(exc) if exc is not None else None
        elif _failed(self.data.get("exit_code"), self.data.get("status_code")):
            self.outcome = "error"
        if self._sink is not None:
            from .._safe import guard

            with guard():
                self._sink.record_action(self)

    def __call__(self, func: F) -> F:
        """As a decorator, each call is tracked afresh."""

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with Action(self.name, self.data):
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]


def _message(exc: BaseException) -> str:
    """The exception's message: rebuilt from its structure where crashreport knows it (an
    OSError's file names become placeholders), else its text (scrubbed before sending)."""
    from ..privacy.structured import exception_value

    return exception_value(exc) or str(exc)


def _failed(exit_code: object, status_code: object) -> bool:
    """A non-zero exit code or an HTTP status of 400 or more; anything else is no verdict."""
    if isinstance(exit_code, int) and exit_code != 0:
        return True
    return isinstance(status_code, int) and status_code >= 400


COUNTERS = Counters()


def count(name: str, n: float = 1) -> None:
    """Add ``n`` to counter ``name``; the totals are sent once, at the end of the run."""
    if SINK is not None:
        COUNTERS.add(name, n)
