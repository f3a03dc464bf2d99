"""The app's release: its version and its requirements' versions from the installed metadata, and
release and environment names that Sentry accepts, checked once, at init.

Sentry's ingest (Relay) validates both with ``sentry-release-parser`` (``validate_release``,
``validate_environment``): a session whose release is refused is dropped without a word, every
session of that release, and an error event loses its release; an environment that is refused
is removed. The rules:

- at most 200 bytes (release) or 64 bytes (environment), counted in UTF-8;
- not ``.`` or ``..``, nor ``latest`` (release) or ``none`` (environment), in any case;
- no ``/``, ``\\``, tab, newline or other control character (``\\x00``-``\\x1f``, ``\\x7f``).

Relay trims the release of an error event but not of a session, so surrounding whitespace would
split one release in two. Here a name is trimmed, each run of refused characters becomes ``-``,
and it is cut to its byte limit; a name that is still refused gives way to a fallback.
"""

from __future__ import annotations

import re

from ._record import Record

RELEASE_MAX_BYTES = 200
ENVIRONMENT_MAX_BYTES = 64
DEFAULT_ENVIRONMENT = "production"
_BAD = re.compile(r"[\\/\x00-\x1f\x7f]+")


class Rules(Record):
    """One kind of name: what it is called, its byte limit and its restricted values."""

    __slots__ = ("kind", "max_bytes", "restricted")
    kind: str
    max_bytes: int
    restricted: frozenset[str]


RELEASE = Rules("release", RELEASE_MAX_BYTES, frozenset({".", "..", "latest"}))
ENVIRONMENT = Rules("environment", ENVIRONMENT_MAX_BYTES, frozenset({".", "..", "none"}))


class Checked(Record):
    """The name to send and, when it differs from the one asked for, the warning to print."""

    __slots__ = ("value", "warning")
    _defaults = {"warning": None}
    value: str
    warning: str | None


def refusal(value: str, rules: Rules) -> str | None:
    """Why Relay refuses ``value`` as it stands (its own wording), or None when it accepts it."""
    if len(value.encode("utf-8", "surrogatepass")) > rules.max_bytes:
        return f"{rules.kind} name too long"
    if value.lower() in rules.restricted:
        return f"restricted {rules.kind} name"
    if _BAD.search(value):
        return f"bad characters in {rules.kind} name"
    return None


def sanitise(value: str, rules: Rules) -> str:
    """``value`` trimmed, refused characters replaced by ``-``, cut to the byte limit."""
    clean = _BAD.sub("-", value.strip())
    data = clean.encode("utf-8", "surrogatepass")
    if len(data) > rules.max_bytes:
        clean = data[: rules.max_bytes].decode("utf-8", "ignore").rstrip()
    return clean


def check(value: str, rules: Rules, fallback: str) -> Checked:
    """The name to send for ``value``: as it is when Relay takes it, else mended or ``fallback``."""
    reason = refusal(value, rules)
    if reason is None and value and value == value.strip():
        return Checked(value)
    reason = reason or ("empty" if not value.strip() else "surrounding whitespace")
    clean = sanitise(value, rules)
    if not clean or refusal(clean, rules) is not None:
        clean = sanitise(fallback, rules)
    return Checked(clean, f"{rules.kind} {_shown(value)} would be refused by Sentry ({reason}); "
                          f"sending {_shown(clean)}")  # fmt: skip


def check_release(release: str, fallback: str) -> Checked:
    return check(release, RELEASE, fallback)


def check_environment(environment: str) -> Checked:
    return check(environment, ENVIRONMENT, DEFAULT_ENVIRONMENT)


def _shown(value: str, limit: int = 60) -> str:
    return repr(value if len(value) <= limit else value[:limit] + "...")


# -- versions, from the installed distributions' metadata --------------------------------
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
    if not version:
        version = (packages if packages is not None else package_versions(app)).get(app)
    return check_release(f"{app}@{version or '0+unknown'}", fallback=f"{app}@0+unknown").value
