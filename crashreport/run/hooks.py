"""The light hooks a run installs in the host: each only notes what happened and hands it on.

- ``sys.excepthook``: a crash (the host's previous hook still prints the traceback);
- ``threading.excepthook``: an exception that ended a thread;
- ``logging.Logger.callHandlers``: a breadcrumb for each record, a report for each error (the
  same place sentry-sdk's logging integration patches, so that the host's own handlers and
  ``logging.basicConfig`` behave exactly as without crashreport).

``threading`` and ``logging`` are not imported for this: a program that never imports them pays
nothing, and one that imports them later gets the hook then (:func:`when_imported`).
"""

from __future__ import annotations

import contextlib
import sys

from .._safe import guard

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from logging import LogRecord
    from types import ModuleType, TracebackType
    from typing import Any

    Crash = Callable[[BaseException, str], None]


def install_excepthook(on_crash: Crash) -> None:
    previous = sys.excepthook

    def excepthook(kind: type[BaseException], value: BaseException,
                   tb: TracebackType | None) -> Any:  # fmt: skip
        try:
            return previous(kind, value, tb)  # the user sees the traceback first
        finally:
            with guard():
                on_crash(value, "excepthook")

    excepthook.__crashreport__ = True  # type: ignore[attr-defined]
    sys.excepthook = excepthook


def install_threading_hook(on_crash: Crash) -> None:
    def install(threading: ModuleType) -> None:
        previous = threading.excepthook

        def excepthook(args: Any) -> Any:
            try:
                return previous(args)
            finally:
                if args.exc_value is not None and not isinstance(args.exc_value, SystemExit):
                    with guard():
                        on_crash(args.exc_value, "threading")

        threading.excepthook = excepthook  # type: ignore[attr-defined]

    when_imported("threading", install)


def install_logging_hook(on_record: Callable[[LogRecord], None]) -> None:
    def install(logging: ModuleType) -> None:
        original = logging.Logger.callHandlers
        if getattr(original, "__crashreport__", False):
            return

        def callHandlers(self: Any, record: LogRecord) -> None:
            with guard():
                on_record(record)
            original(self, record)

        callHandlers.__crashreport__ = True  # type: ignore[attr-defined]
        logging.Logger.callHandlers = callHandlers

    when_imported("logging", install)


def when_imported(name: str, callback: Callable[[ModuleType], None]) -> None:
    """Call ``callback(module)`` now if ``name`` is imported, else right after its import."""
    module = sys.modules.get(name)
    if module is not None:
        with guard():
            callback(module)
        return
    sys.meta_path.insert(0, _AfterImport(name, callback))


class _AfterImport:
    """A meta path finder that wraps one module's loader to run a callback after it loads,
    then removes itself."""

    def __init__(self, name: str, callback: Callable[[ModuleType], None]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(self)
        from importlib.util import find_spec

        spec = find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self.callback)  # type: ignore[assignment]
        return spec


class _Loader:
    """The module's own loader, with a callback after ``exec_module``."""

    def __init__(self, loader: Any, callback: Callable[[ModuleType], None]) -> None:
        self._loader, self._callback = loader, callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        module.__loader__ = self._loader
        with guard():
            self._callback(module)

    def __getattr__(self, name: str) -> Any:  # get_source, is_package …: the real loader's
        return getattr(self._loader, name)
