"""Where fastpipe keeps its state under `.fastpipe/` in a project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

STATE_DIR = ".fastpipe"
GITIGNORE = """\
# Written by fastpipe. Lock files in stages/ are meant to be committed;
# everything else here (caches, logs, run records) is local to this checkout.
/*
!/.gitignore
!/stages/
"""


@dataclass(frozen=True)
class Layout:
    """The paths of a project's state directory."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / STATE_DIR

    @property
    def stages(self) -> Path:
        return self.state / "stages"

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def cache(self) -> Path:
        return self.state / "cache"

    @property
    def run_lock(self) -> Path:
        return self.state / "run.lock"

    @property
    def stat_cache(self) -> Path:
        return self.cache / "stat.json"

    @property
    def lock_cache(self) -> Path:
        return self.cache / "locks.json"

    @property
    def snapshot(self) -> Path:
        return self.cache / "snapshot.json"

    @property
    def run_record(self) -> Path:
        return self.cache / "runs.json"

    def lock_path(self, stage: str) -> Path:
        return self.stages / f"{stage}.lock"

    def unfinished_lock_path(self, stage: str) -> Path:
        """Where a stage's lock waits while the stage reruns (kept if the run never finishes)."""
        return self.cache / "unfinished" / f"{stage}.lock"

    def log_path(self, stage: str) -> Path:
        return self.logs / f"{stage}.log"

    def ensure(self) -> None:
        """Create the state directory and its .gitignore if missing."""
        for directory in (self.stages, self.logs, self.cache):
            directory.mkdir(parents=True, exist_ok=True)
        gitignore = self.state / ".gitignore"
        if not gitignore.exists():
            gitignore.write_text(GITIGNORE)
