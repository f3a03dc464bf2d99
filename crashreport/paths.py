"""Where crashreport keeps its files for an app (computed only; nothing is created here).

On Linux the folders follow the XDG base directory rules directly (a variable counts only when it
holds an absolute path, as the specification and platformdirs say): ``import platformdirs``
costs ~9 ms (it pulls in tempfile, shutil and random), more than a run with telemetry on may
cost. Elsewhere (macOS, Windows) platformdirs decides. tests/test_paths.py holds the Linux rules
against platformdirs itself, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from ._record import Record


class Paths(Record):
    """The per-app locations: the id file, the run journal, the outbox and the sent log."""

    __slots__ = ("data_dir", "state_dir")
    data_dir: Path
    state_dir: Path

    @classmethod
    def for_app(cls, app: str) -> Paths:
        if sys.platform.startswith("linux"):
            data = os.path.join(_xdg("XDG_DATA_HOME", ".local/share"), app)
            state = os.path.join(_xdg("XDG_STATE_HOME", ".local/state"), app)
        else:
            import platformdirs

            data = platformdirs.user_data_dir(app, appauthor=False)
            state = platformdirs.user_state_dir(app, appauthor=False)
        return cls(data_dir=Path(data), state_dir=Path(state, "crashreport"))

    @property
    def id_file(self) -> Path:
        return self.data_dir / "user_id.json"

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    @property
    def sent_dir(self) -> Path:
        return self.state_dir / "sent"

    @property
    def runs_dir(self) -> Path:
        """The run journal: one small record per run, finished at exit (see :mod:`.run.journal`)."""
        return self.state_dir / "runs"

    @property
    def spotlight_dir(self) -> Path:
        """Copies of reports for a local Spotlight sidecar, when one is configured."""
        return self.state_dir / "spotlight"

    @property
    def paused(self) -> Path:
        """Present while a running program has switched telemetry off (``set_level("off")``)."""
        return self.state_dir / "paused"

    @property
    def sender_lock(self) -> Path:
        """Held by the one sender process of this app while it works."""
        return self.state_dir / "sender.lock"


def _xdg(variable: str, default: str) -> str:
    value = os.environ.get(variable, "")
    return value if os.path.isabs(value) else os.path.join(os.path.expanduser("~"), default)
