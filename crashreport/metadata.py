"""The app's version and the versions of the packages it declares, from installed metadata."""

from __future__ import annotations

import re

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def declared_requirements(app: str) -> list[str]:
    """Names of the app's declared run-time requirements (extras left out)."""
    from importlib import metadata

    try:
        requires = metadata.requires(app) or []
    except (metadata.PackageNotFoundError, ValueError):
        return []
    names = []
    for requirement in requires:
        marker = requirement.partition(";")[2]
        if "extra" in marker:
            continue
        match = _NAME.match(requirement)
        if match:
            names.append(match.group(1))
    return names


def package_versions(app: str) -> dict[str, str]:
    """``{name: version}`` for the app and each installed declared requirement."""
    from importlib import metadata

    versions: dict[str, str] = {}
    for name in [app, *declared_requirements(app)]:
        try:
            versions[name] = metadata.version(name)
        except (metadata.PackageNotFoundError, ValueError):
            continue
    return versions


def app_roots(app: str) -> tuple[str, ...]:
    """The folders (or files) of the app's own top-level packages, from its distribution's
    metadata: installed, or editable from a checkout. Their code is the program's text."""
    import importlib.util
    import os
    import sys
    from importlib import metadata

    try:
        dist = metadata.distribution(app)
    except (metadata.PackageNotFoundError, ValueError):
        return ()
    names = (dist.read_text("top_level.txt") or "").split()
    if not names:
        names = sorted({str(f).split("/")[0].removesuffix(".py") for f in dist.files or ()
                        if not str(f).startswith(("..", "__")) and ".dist-info" not in str(f)
                        and ".egg-info" not in str(f) and _NAME.match(str(f))})  # fmt: skip
    roots: list[str] = []
    for name in names:
        if not name.isidentifier():
            continue
        module = sys.modules.get(name)
        try:
            spec = module.__spec__ if module is not None else importlib.util.find_spec(name)
        except (ImportError, ValueError, AttributeError):
            spec = None
        if spec is None:
            continue
        if spec.submodule_search_locations:
            roots += [os.path.realpath(p) for p in spec.submodule_search_locations]
        elif spec.origin and os.path.isfile(spec.origin):
            roots.append(os.path.realpath(spec.origin))
    return tuple(dict.fromkeys(roots))
