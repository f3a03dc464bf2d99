"""Where crashreport keeps its files for an app (computed only; nothing is created here)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Paths:
    """The per-app locations: the id file, the outbox and the sent log."""

    data_dir: Path
    state_dir: Path

    @classmethod
    def for_app(cls, app: str) -> Paths:
        import platformdirs

        return cls(
            data_dir=Path(platformdirs.user_data_dir(app, appauthor=False)),
            state_dir=Path(platformdirs.user_state_dir(app, appauthor=False)) / "crashreport",
        )

    @property
    def id_file(self) -> Path:
        return self.data_dir / "user_id.json"

    @property
    def outbox_dir(self) -> Path:
        return self.state_dir / "outbox"

    @property
    def sent_dir(self) -> Path:
        return self.state_dir / "sent"
