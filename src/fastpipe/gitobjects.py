"""Files as they were at a git revision, read from git's objects: no checkout, no clone.

One `git cat-file --batch` process answers every question of a command (which commit a
revision names, the bytes of a file at a commit, the entries of a directory), so reading the
locks of a revision costs one process start, not one per file. Paths are relative to the
project root, which may sit below the repository's top level.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from fastpipe.errors import RevisionError

_TREE_MODE_DIR = b"40000"


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a directory at a commit."""

    name: str
    is_dir: bool
    mode: str  # git's octal mode: 100644, 100755, 120000 (symlink), 40000, 160000


class GitObjects:
    """Reads revisions of the git repository holding `root` (a context manager)."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        top = _git(self.root, "rev-parse", "--show-toplevel")
        if top is None:
            raise RevisionError(f"'{self.root}' is not inside a git repository; revisions need git")
        self.toplevel = Path(top).resolve()
        prefix = self.root.relative_to(self.toplevel).as_posix()
        self._prefix = "" if prefix == "." else prefix + "/"
        self._proc: subprocess.Popen[bytes] | None = None
        self._commits: dict[str, str] = {}

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the cat-file process (reading again starts a new one)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait()

    def commit(self, rev: str) -> str:
        """The full SHA of the commit `rev` names (branch, tag, SHA, `HEAD~2`, ...)."""
        if rev not in self._commits:
            if not rev or rev.startswith("-") or any(c in rev for c in "\n\r\0 "):
                raise RevisionError(f"unknown revision '{rev}'")
            found = self._query(f"{rev}^{{commit}}")
            if found is None or found[1] != "commit":
                raise RevisionError(f"unknown revision '{rev}' (not a branch, tag or commit)")
            self._commits[rev] = found[0]
        return self._commits[rev]

    def read(self, rev: str, path: str) -> bytes | None:
        """The bytes of the file `path` (relative to the project root) at `rev`; None if absent
        or not a file there."""
        found = self._object(rev, path)
        if found is None or found[1] != "blob":
            return None
        return found[2]

    def entries(self, rev: str, path: str) -> list[TreeEntry] | None:
        """The entries of directory `path` at `rev`; None if it is no directory there."""
        found = self._object(rev, path)
        if found is None or found[1] != "tree":
            return None
        return _parse_tree(found[2])

    def is_tracked(self, rev: str, path: str) -> bool:
        """Whether git itself holds `path` (a file or directory) at `rev`."""
        found = self._object(rev, path)
        return found is not None and found[1] in ("blob", "tree")

    def all_commits(self) -> list[str]:
        """Every commit reachable from any branch or tag, newest first."""
        out = _git(self.root, "rev-list", "--branches", "--tags")
        return out.split() if out else []

    # ---------------------------------------------------------------- the batch process

    def _object(self, rev: str, path: str) -> tuple[str, str, bytes] | None:
        commit = self.commit(rev)
        clean = path.strip("/")
        if any(c in clean for c in "\n\r\0"):
            return None
        target = f"{self._prefix}{clean}".rstrip("/")
        return self._query(f"{commit}:{target}", content=True)

    def _query(self, name: str, *, content: bool = False) -> tuple[str, str, bytes] | None:
        """(sha, type, bytes) of the object `name` names, or None when git has none."""
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(name.encode("utf-8", "surrogateescape") + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline()
        if not header:
            self.close()
            raise RevisionError("git cat-file stopped unexpectedly")
        fields = header.split()
        if len(fields) != 3:  # "<name> missing" / "<name> ambiguous"
            return None
        sha, kind, size = fields[0].decode(), fields[1].decode(), int(fields[2])
        data = _read_exactly(proc.stdout, size)
        proc.stdout.read(1)  # the newline after the content
        return sha, kind, data if content else b""

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None:
            self._proc = subprocess.Popen(
                ["git", "cat-file", "--batch"],
                cwd=self.root,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
        return self._proc


def _read_exactly(stream: IO[bytes], size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        chunk = stream.read(left)
        if not chunk:
            raise RevisionError("git cat-file stopped in the middle of an object")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _parse_tree(data: bytes) -> list[TreeEntry]:
    """Entries of a raw tree object: `<mode> <name>\\0<20-byte sha>` repeated."""
    entries: list[TreeEntry] = []
    i = 0
    while i < len(data):
        space = data.index(b" ", i)
        nul = data.index(b"\0", space)
        mode = data[i:space]
        name = data[space + 1 : nul].decode("utf-8", "surrogateescape")
        entries.append(TreeEntry(name, mode == _TREE_MODE_DIR, mode.decode()))
        i = nul + 21  # NUL + 20 bytes of SHA-1
    return entries


def _git(cwd: Path, *args: str) -> str | None:
    """The stripped stdout of a git command, or None if git fails or is not installed."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=cwd, capture_output=True, text=True, check=False, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
