"""Which frames of a stack are the app's own code (``in_app``), from the app's distribution.

sentry-sdk decides by path: anything under ``site-packages`` is library code, anything under
the current folder is the app's. For an installed app both are wrong: its own frames (in a
venv, under pipx) are marked library code, and ``python -m``'s ``<frozen runpy>`` launcher
frames, whose path sits "in" the current folder, are marked the app's; Sentry's issue view then
folds away the app's code and shows the interpreter's.

Here the app's code is what its installed distribution declares: its top-level import names
(``top_level.txt``, else the files it installed) and, for an editable install, the folders its
``.pth`` file puts on ``sys.path``. A frame is the app's when its module is one of those packages
(or below) or its file lies in one of their folders; frozen and synthetic frames (``<...>``)
never are. Without a distribution (a plain script) only the synthetic frames are corrected.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from importlib.metadata import Distribution

_MODULE_SUFFIXES = (".py", ".pyc", ".so", ".pyd")


@dataclass(frozen=True)
class AppCode:
    """The app's top-level packages and the folders (or module files) they live in."""

    packages: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()

    @property
    def known(self) -> bool:
        return bool(self.packages or self.paths)

    def is_app_frame(self, module: str | None, path: str | None) -> bool:
        """True when a frame with this module and file path is the app's own code."""
        if path and _synthetic(path):
            return False
        if module and any(module == p or module.startswith(p + ".") for p in self.packages):
            return True
        if not path:
            return False
        path = os.path.normcase(path)
        return any(path.startswith(prefix) for prefix in self.paths)


def _synthetic(path: str) -> bool:
    """``<frozen runpy>``, ``<string>``, ``<stdin>``: code with no file (sentry-sdk may have
    made it absolute against the current folder)."""
    return os.path.basename(path).startswith("<") or path.startswith("<")


def top_level_names(dist: Distribution) -> tuple[str, ...]:
    """The import names a distribution installs: ``top_level.txt``, else from its files."""
    declared = dist.read_text("top_level.txt")
    if declared is not None:
        names = [line.strip() for line in declared.splitlines()]
    else:
        names = [name for name in map(_top_name, dist.files or ()) if name]
    return tuple(dict.fromkeys(n for n in names if n.isidentifier()))


def _top_name(file: Any) -> str | None:
    """The top-level import name a RECORD entry belongs to, or None (metadata, scripts, ...)."""
    parts = file.parts
    if not parts or parts[0] in ("..", "__pycache__") or parts[0].endswith((".dist-info",
                                                                              ".egg-info")):
        return None
    if len(parts) > 1:
        return str(parts[0])
    name = str(parts[0])
    if not name.endswith(_MODULE_SUFFIXES) or name.startswith("__editable__"):
        return None
    return name.split(".", 1)[0]


def pth_folders(dist: Distribution) -> tuple[str, ...]:
    """Folders that the distribution's ``.pth`` files add to ``sys.path`` (an editable install of
    hatchling, flit, pdm or setuptools' "compat" mode): all code there is the app's."""
    folders = []
    for file in dist.files or ():
        if file.suffix != ".pth":
            continue
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith(("#", "import ", "import\t")) and os.path.isdir(line):
                folders.append(line)
    return tuple(folders)


def package_paths(names: Iterable[str]) -> Iterator[str]:
    """Where each importable top-level name lives: a package's folders, a module's file."""
    import importlib.util

    for name in names:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            continue
        if spec is None:
            continue
        if spec.submodule_search_locations:
            yield from spec.submodule_search_locations
        elif spec.origin and spec.has_location:
            yield spec.origin


def from_distribution(dist: Distribution) -> AppCode:
    names = top_level_names(dist)
    return AppCode(names, _prefixes([*package_paths(names), *pth_folders(dist)]))


def _prefixes(paths: Iterable[str]) -> tuple[str, ...]:
    """Each path as it is and with links resolved; folders end with a separator so that
    ``.../mytool`` does not also claim ``.../mytool_extras``."""
    out: list[str] = []
    for path in paths:
        for form in (os.path.abspath(path), os.path.realpath(path)):
            form = os.path.normcase(form)
            if not form.endswith(_MODULE_SUFFIXES):
                form = form.rstrip(os.sep) + os.sep
            out.append(form)
    return tuple(dict.fromkeys(out))


@functools.lru_cache(maxsize=8)
def for_app(app: str) -> AppCode:
    """The app's code from its installed distribution ``app`` (empty when it is not installed)."""
    from importlib import metadata

    try:
        return from_distribution(metadata.distribution(app))
    except (metadata.PackageNotFoundError, ValueError, OSError):
        return AppCode()


def app_roots(app: str) -> tuple[str, ...]:
    """The folders (or module files) of the app's own code: the program's text, for the privacy
    step (:func:`crashreport.privacy.machine_context`)."""
    return tuple(dict.fromkeys(p.rstrip(os.sep) for p in for_app(app).paths))


def mark_frames(event: dict[str, Any], code: AppCode) -> None:
    """Set ``in_app`` on every frame of ``event`` (exceptions, threads, a bare stack trace)."""
    for frame in _frames(event):
        path = frame.get("abs_path") or frame.get("filename")
        module = frame.get("module")
        if code.known:
            frame["in_app"] = code.is_app_frame(module, path)
        elif isinstance(path, str) and _synthetic(path):
            frame["in_app"] = False


def _frames(event: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    stacks = [event.get("stacktrace")]
    for section in ("exception", "threads"):
        values = (event.get(section) or {}).get("values") or []
        stacks.extend(v.get("stacktrace") for v in values if isinstance(v, dict))
    for stack in stacks:
        if isinstance(stack, dict):
            yield from (f for f in stack.get("frames") or [] if isinstance(f, dict))
