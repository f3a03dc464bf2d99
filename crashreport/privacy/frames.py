"""Which code is the program's: a frame's or module's file under an installed root, or not.

Installed code is the stdlib, site-packages, the interpreter's prefix and the app's own packages
(``app_roots``, an editable checkout too). Anything else (a user's script, ``exec``'d text, a
template compiled to code, a file in /tmp) is the user's. Files are found from the frame's
absolute path, else from its module (``sys.modules``, then the roots), else from its relative
path under a root: so an already scrubbed frame (``json/decoder.py``) finds the same file again,
and a second scrub sees the same vocabulary.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import Any

from .text import TextRules, norm_path

_MODULE = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")
_SOURCE_EXT = re.compile(r"\.(?:py[cdwio]?|pyx|so|pyd)$")


def module_tail(norm: str, module: str | None) -> str | None:
    """``pkg/mod.py`` when ``norm`` ends with the module's path (relative to its sys.path entry)."""
    if not module or module == "__main__" or not _MODULE.fullmatch(module):
        return None
    ext = _SOURCE_EXT.search(norm)
    if ext is None:
        return None
    stem = module.replace(".", "/")
    for tail in (stem + ext.group(0), stem + "/__init__" + ext.group(0)):
        if norm == tail or norm.endswith("/" + tail):
            return tail
    return None


class Code:
    """Answers, cached per process and machine, about where code lives."""

    def __init__(self, rules: TextRules) -> None:
        self.rules = rules
        self._modules: dict[str, str | None] = {}
        self._frames: dict[tuple[str, str | None], str | None] = {}

    def module_file(self, module: str | None) -> str | None:
        """The installed file of a module (source or compiled extension), else None."""
        if not module or not _MODULE.fullmatch(module) or module == "__main__":
            return None
        if module in self._modules:
            return self._modules[module]
        found: str | None = None
        loaded = sys.modules.get(module)
        path = getattr(loaded, "__file__", None)
        if isinstance(path, str) and self.rules.installed(path):
            found = path
        else:
            stem = module.replace(".", "/")
            for root, _label in self.rules.roots:
                for candidate in (f"{root}/{stem}.py", f"{root}/{stem}/__init__.py"):
                    if os.path.isfile(candidate):
                        found = candidate
                        break
                else:
                    import glob

                    matches = glob.glob(glob.escape(f"{root}/{stem}") + ".*.so") if "/" in stem else []
                    found = matches[0] if matches else None
                if found:
                    break
        self._modules[module] = found
        return found

    def frame_file(self, frame: Mapping[str, Any]) -> str | None:
        """The installed file a frame runs, else None (the user's code, or unknown)."""
        path = frame.get("abs_path") or frame.get("filename")
        module = frame.get("module")
        path = path if isinstance(path, str) else None
        module = module if isinstance(module, str) else None
        key = (path or "", module)
        if key in self._frames:
            return self._frames[key]
        found: str | None = None
        if path and self.rules.installed(path):
            found = path
        elif path and (norm_path(path).startswith("/") or re.match(r"[A-Za-z]:/", norm_path(path))):
            found = None  # an absolute path outside the roots: the user's, whatever its module
        elif module_tail(norm_path(path or ""), module) is not None or (module and not path):
            found = self.module_file(module)
        elif path:
            found = self._under_roots(path)
        self._frames[key] = found
        return found

    def _under_roots(self, path: str) -> str | None:
        """A relative path (``<stdlib>/x.py`` or ``yaml/reader.py``) found under a root."""
        norm = norm_path(path)
        if ".." in norm.split("/"):
            return None
        for root, label in self.rules.roots:
            tail = norm[len(label):] if norm.startswith(label + "/") else "/" + norm
            if norm.startswith("<") and not norm.startswith(label + "/"):
                continue
            if os.path.isfile(root + tail):
                return root + tail
        return None

    def relative(self, path: str, module: str | None) -> str:
        """A frame's path of installed code: relative to its sys.path entry (Sentry's
        ``filename``), else to its root with the root's label."""
        norm = norm_path(path)
        tail = module_tail(norm, module)
        if tail:
            return tail
        where = self.rules.installed(norm)
        if where is None:
            return norm if norm.startswith("<") else norm.rsplit("/", 1)[-1]
        root, label = where
        return label + norm[len(root):]
