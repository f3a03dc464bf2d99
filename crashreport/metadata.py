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


def release_for(app: str, version: str | None, packages: dict[str, str] | None = None) -> str:
    """``app@version``: the version the app author passed, else its installed distribution's;
    mended where Sentry would refuse it (:mod:`crashreport.release`; init warned about it)."""
    from .release import check_release

    if not version:
        version = (packages if packages is not None else package_versions(app)).get(app)
    return check_release(f"{app}@{version or '0+unknown'}", fallback=f"{app}@0+unknown").value
