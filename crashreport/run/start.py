"""Start a run: resolve the options, load the anonymous id, write the journal, install the hooks."""

from __future__ import annotations

import sys

from .._safe import warn
from . import Run

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..config import Settings
    from ..consent import Level
    from ..options import Options


def start(level: Level, *, app: str, settings: Settings, **arguments: Any) -> Run:
    """The started run. Raises ValueError for an app argument that cannot be used (a scrub
    pattern that does not compile): the caller keeps telemetry off rather than send without the
    scrubbing the app author asked for."""
    from .. import identity
    from ..options import resolve
    from ..paths import Paths

    options, problems = resolve(app, settings, **arguments)
    options, more = _checked_names(app, options)
    for problem in [*problems, *more]:
        warn(problem)
    if options.scrub_patterns:
        import re

        for pattern in options.scrub_patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"a scrub pattern is not a valid regular expression ({exc})") from None
    paths = Paths.for_app(app)
    try:
        user_id = identity.load_or_create(paths.id_file)
    except OSError as exc:
        warn(f"cannot keep the anonymous id in {paths.data_dir} ({exc.strerror}); "
             "using one for this run only")  # fmt: skip
        user_id = identity.new_id()
    run = Run(options, level, user_id, paths)
    if not _in_worker_process():
        # A multiprocessing worker reports its errors, but the run (its session, its usage
        # record) is the parent's.
        try:
            run.start()
        except OSError as exc:
            warn(f"cannot keep reports in {paths.state_dir} ({exc.strerror or exc}); sending "
                 "them from memory at exit (this run is not counted in release health)",
                 key="state")  # fmt: skip
            run.journaled = False
    else:
        run.owner = False
        run.journaled = False
    run.install_hooks()
    return run


def _checked_names(app: str, options: Options) -> tuple[Options, list[str]]:
    """The release (when the app gave its version) and the environment, mended where Sentry
    would refuse them (it would drop every session of the release without a word)."""
    from ..release import check_environment, check_release

    problems = []
    version = options.version
    if version is not None:
        release = check_release(f"{app}@{version}", fallback=f"{app}@0+unknown")
        if release.warning:
            problems.append(release.warning)
            version = release.value.split("@", 1)[1] if "@" in release.value else None
    environment = check_environment(options.environment)
    if environment.warning:
        problems.append(environment.warning)
    return options.replace(environment=environment.value, version=version), problems


def _in_worker_process() -> bool:
    """True in a multiprocessing child (fork, spawn or forkserver)."""
    mp = sys.modules.get("multiprocessing")
    try:
        return mp is not None and mp.parent_process() is not None
    except Exception:
        return False

