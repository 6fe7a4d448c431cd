"""The two sides of a comparison: the workspace (files on disk) or a git revision.

Revisions are read from git's objects through one `git cat-file --batch` process
(gitobjects.py), never by checking out. Which files are metrics and plots comes from the
pipeline as declared in the workspace; params at a revision come from the locks committed
there (the params each stage last ran with), in the workspace from the params the next run
would resolve.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from fastpipe import metricsfile
from fastpipe.errors import MetricsError
from fastpipe.gitobjects import GitObjects
from fastpipe.stage import StageSpec

WORKSPACE = "workspace"  # the label of the side read from disk
_LOCK_DIR = ".fastpipe/stages"


def read_at(root: Path, rev: str, path: str, *, git: GitObjects) -> bytes | None:
    """The bytes of `path` (relative to the project root `root`) at `rev`; None if absent."""
    data = git.read(rev, path)
    if data is not None or git.is_tracked(rev, path):
        return data
    # A file git does not track at `rev` may be an output whose bytes the output cache holds
    # under the hash the lock at `rev` recorded.
    from fastpipe.revision import cached_bytes_at

    return cached_bytes_at(root, git, rev, path)


@dataclass(frozen=True)
class Values:
    """One side's values: group (a metrics file, or a stage) -> flat key -> value.

    A group mapped to None is declared but absent on that side. `errors` holds one line per
    file that could not be read (its group is then absent too).
    """

    label: str
    groups: Mapping[str, Mapping[str, Any] | None]
    errors: tuple[str, ...] = ()


@dataclass(frozen=True)
class Diff:
    """Two sides compared key by key (only changed keys unless asked for all)."""

    old: str
    new: str
    changes: tuple[metricsfile.Change, ...]
    errors: tuple[str, ...] = ()


class Sides:
    """Reads files of the project at `root` on either side (a context manager)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._git: GitObjects | None = None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._git is not None:
            self._git.close()

    @property
    def git(self) -> GitObjects:
        if self._git is None:
            self._git = GitObjects(self.root)
        return self._git

    def check(self, rev: str | None) -> str:
        """The label of side `rev` (None: the workspace); RevisionError if unknown."""
        if rev is None:
            return WORKSPACE
        self.git.commit(rev)
        return rev

    def read(self, rev: str | None, path: str) -> bytes | None:
        """`path` on side `rev` (None: the workspace), or None where it does not exist."""
        if rev is None:
            try:
                return (self.root / path).read_bytes()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
                return None
        return read_at(self.root, rev, path, git=self.git)

    def locked_params(self, rev: str) -> dict[str, Mapping[str, Any]]:
        """Stage -> the params its lock at `rev` records (the params it ran with)."""
        from fastpipe.lockfile import parse_lock

        found: dict[str, Mapping[str, Any]] = {}
        for entry in self.git.entries(rev, _LOCK_DIR) or ():
            if entry.is_dir or not entry.name.endswith(".lock"):
                continue
            data = self.git.read(rev, f"{_LOCK_DIR}/{entry.name}")
            try:
                lock = parse_lock((data or b"").decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue  # a malformed lock says nothing about the params it ran with
            found[lock.stage] = lock.params
        return found


def metrics_paths(specs: Iterable[StageSpec]) -> list[str]:
    """The declared metrics files of `specs`, each once, in declaration order."""
    return list(dict.fromkeys(path for spec in specs for path in spec.metrics))


def metric_values(sides: Sides, rev: str | None, paths: Sequence[str]) -> Values:
    """Each metrics file of `paths` on side `rev`, flattened (None where absent or bad)."""
    label = sides.check(rev)
    groups: dict[str, Mapping[str, Any] | None] = {}
    errors: list[str] = []
    for path in paths:
        data = sides.read(rev, path)
        groups[path] = None
        if data is None:
            continue
        try:
            groups[path] = metricsfile.parse(path, data)
        except MetricsError as exc:
            errors.append(str(exc) if rev is None else f"{exc} (at {rev})")
    return Values(label, groups, tuple(errors))


def param_values(
    sides: Sides,
    rev: str | None,
    workspace: Mapping[str, Mapping[str, Any]] | None,
    stages: Sequence[str] = (),
) -> Values:
    """Stage -> flattened params on side `rev`: the locks there, or `workspace` (resolved)."""
    label = sides.check(rev)
    source = workspace if rev is None else sides.locked_params(rev)
    chosen = set(stages)
    groups = {
        stage: metricsfile.flatten(dict(values))
        for stage, values in sorted((source or {}).items())
        if not chosen or stage in chosen
    }
    return Values(label, {k: v for k, v in groups.items() if v or not chosen})


def compare(
    old: Values, new: Values, *, precision: int = 5, include_unchanged: bool = False
) -> Diff:
    changes = metricsfile.diff(
        old.groups, new.groups, precision=precision, include_unchanged=include_unchanged
    )
    return Diff(old.label, new.label, tuple(changes), (*old.errors, *new.errors))
