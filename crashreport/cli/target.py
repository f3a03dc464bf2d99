"""Which app a command is about: its name, its config file, the author's DSN, how it was called."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    from ..config import Settings
    from ..consent import Decision
    from ..paths import Paths


class Target:
    """The app a command is about. ``mounted`` when it runs as the app's own ``telemetry``
    command (``prog`` is then e.g. ``mytool telemetry``)."""

    __slots__ = ("_config", "app", "config_text", "dsn", "mounted", "prog")

    def __init__(self, app: str, config: str | os.PathLike[str] | None, dsn: str | None,
                 prog: str, mounted: bool = False) -> None:  # fmt: skip
        self.app = app
        #: The config path as the app gave it (``~/.config/myapp/config.yaml``), for documents.
        self.config_text = None if config is None else os.fspath(config)
        self._config = None if config is None else os.path.expanduser(os.fspath(config))
        self.dsn = dsn
        self.prog = prog
        self.mounted = mounted

    @property
    def config(self) -> Path | None:
        from pathlib import Path

        return None if self._config is None else Path(self._config)

    @property
    def paths(self) -> Paths:
        from ..paths import Paths

        return Paths.for_app(self.app)

    def settings(self) -> Settings:
        from ..config import load_settings

        return load_settings(self._config)

    def decision(self, settings: Settings | None = None) -> Decision:
        from ..consent import decide

        return decide(self.app, settings or self.settings(), os.environ)

    def command(self, words: str) -> str:
        """How the user types a command for this app: ``mytool telemetry status`` or
        ``crashreport --app mytool [--config PATH] status``."""
        if self.mounted:
            return f"{self.prog} {words}"
        config = f" --config {_quote(self.config_text)}" if self.config_text else ""
        return f"crashreport --app {_quote(self.app)}{config} {words}"


def _quote(word: str) -> str:
    """``word`` as a shell reads it; a leading ``~`` stays bare so that the shell expands it."""
    import re
    import shlex

    return word if re.fullmatch(r"[\w@%+=:,./~-]+", word) else shlex.quote(word)
