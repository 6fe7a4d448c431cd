"""Tests for fastpipe.gitobjects: files at git revisions, read from a real repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from fastpipe.errors import RevisionError
from fastpipe.gitobjects import GitObjects


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository whose project lives in `proj/`, with three commits, a branch and a tag."""
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "config", "user.email", "t@example.com")
    git(tmp_path, "config", "user.name", "t")
    proj = tmp_path / "proj"
    (proj / "sub").mkdir(parents=True)
    for i in range(3):
        (proj / "a.txt").write_text(f"version {i}\n")
        (proj / "sub" / f"f{i}.bin").write_bytes(bytes(range(256)) * (i + 1))
        git(tmp_path, "add", "-A")
        git(tmp_path, "commit", "-q", "-m", f"c{i}")
        if i == 0:
            git(tmp_path, "tag", "v0")
    git(tmp_path, "branch", "old", "HEAD~1")
    return proj


def test_reads_files_at_branch_tag_sha_and_relative_revisions(repo: Path) -> None:
    with GitObjects(repo) as g:
        assert g.read("HEAD", "a.txt") == b"version 2\n"
        assert g.read("v0", "a.txt") == b"version 0\n"
        assert g.read("old", "a.txt") == b"version 1\n"
        assert g.read("HEAD~2", "a.txt") == b"version 0\n"
        short = git(repo, "rev-parse", "--short", "HEAD~1")
        assert g.read(short, "a.txt") == b"version 1\n"
        assert g.read("HEAD", "sub/f2.bin") == bytes(range(256)) * 3
        assert g.commit("main") == git(repo, "rev-parse", "HEAD")


def test_missing_paths_and_directories(repo: Path) -> None:
    with GitObjects(repo) as g:
        assert g.read("HEAD", "nope.txt") is None
        assert g.read("v0", "sub/f2.bin") is None
        assert g.read("HEAD", "sub") is None  # a directory is not a file
        entries = g.entries("HEAD", "sub")
        assert entries is not None
        assert sorted(e.name for e in entries) == ["f0.bin", "f1.bin", "f2.bin"]
        assert not any(e.is_dir for e in entries)
        top = g.entries("HEAD", "")
        assert top is not None and {e.name: e.is_dir for e in top} == {"a.txt": False, "sub": True}
        assert g.entries("HEAD", "a.txt") is None
        assert g.is_tracked("HEAD", "sub") and not g.is_tracked("HEAD", "zzz")


@pytest.mark.parametrize("rev", ["nope", "HEAD~9", "--all", "a b", ""])
def test_unknown_revisions_are_errors_naming_them(repo: Path, rev: str) -> None:
    with GitObjects(repo) as g, pytest.raises(RevisionError, match="unknown revision"):
        g.commit(rev)


def test_not_a_repository(tmp_path: Path) -> None:
    with pytest.raises(RevisionError, match="not inside a git repository"):
        GitObjects(tmp_path)


def test_all_commits_cover_branches_and_tags(repo: Path) -> None:
    with GitObjects(repo) as g:
        assert len(g.all_commits()) == 3
