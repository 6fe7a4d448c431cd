"""`fastpipe get PATH --rev REV` and fastpipe.open() on a real git repository."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import Project

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["model.txt", "data"])
def train(version: int = 0) -> None:
    Path("model.txt").write_text(f"model v{version}\\n")
    Path("data/part").mkdir(parents=True, exist_ok=True)
    Path("data/part/rows.txt").write_text(f"rows of v{version}\\n")
"""


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(make_project: MakeProject) -> Project:
    """Versions 0, 1, 2 committed (tag v0 on the first, branch old on the second)."""
    project = make_project(
        {"pipeline.py": PIPELINE, ".gitignore": "model.txt\n/data\n", "notes.txt": "n0\n"}
    )
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    for version in range(3):
        project.write("params.yaml", f"train:\n  version: {version}\n")
        project.write("notes.txt", f"n{version}\n")
        project.ok("run")
        git(project.root, "add", "-A")
        git(project.root, "commit", "-q", "-m", f"v{version}")
        if version == 0:
            git(project.root, "tag", "v0")
    git(project.root, "branch", "old", "HEAD~1")
    return project


def test_get_across_branch_tag_short_sha_and_relative_revisions(repo: Project) -> None:
    short = git(repo.root, "rev-parse", "--short", "HEAD~1")
    cases = {"v0": "model v0\n", "old": "model v1\n", short: "model v1\n", "HEAD~2": "model v0\n"}
    for rev, expected in cases.items():
        out = repo.root / f"got-{rev.replace('~', '_')}.txt"
        result = repo.run("get", "model.txt", "--rev", rev, "-o", str(out))
        assert result.code == 0, result
        assert out.read_text() == expected
    assert repo.read("model.txt") == "model v2\n"  # the workspace untouched
    assert git(repo.root, "rev-parse", "--abbrev-ref", "HEAD") == "main"


def test_get_defaults_to_the_file_name_in_the_working_directory(
    repo: Project, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    result = repo.run("get", "model.txt", "--rev", "v0", "-o", str(elsewhere / "m.txt"))
    assert result.code == 0, result
    sub = repo.root / "sub"
    sub.mkdir()
    from tests.integration.project import fastpipe

    done = fastpipe("get", "model.txt", "--rev", "v0", cwd=sub)
    assert done.code == 0, done
    assert (sub / "model.txt").read_text() == "model v0\n"


def test_get_does_not_overwrite_without_force(repo: Project) -> None:
    target = repo.root / "keep.txt"
    target.write_text("mine\n")
    result = repo.run("get", "model.txt", "--rev", "v0", "-o", str(target))
    assert result.code == 2 and "--force" in result.err, result
    assert target.read_text() == "mine\n"
    assert repo.run("get", "model.txt", "--rev", "v0", "-o", str(target), "--force").code == 0
    assert target.read_text() == "model v0\n"


def test_get_a_directory_out_and_a_file_inside_it(repo: Project) -> None:
    result = repo.run("get", "data", "--rev", "v0", "-o", str(repo.root / "old-data"))
    assert result.code == 0, result
    assert (repo.root / "old-data/part/rows.txt").read_text() == "rows of v0\n"
    inner = repo.root / "rows.txt"
    assert repo.run("get", "data/part/rows.txt", "--rev", "old", "-o", str(inner)).code == 0
    assert inner.read_text() == "rows of v1\n"


def test_a_git_tracked_path_comes_from_git(repo: Project) -> None:
    out = repo.root / "old-notes.txt"
    result = repo.run("get", "notes.txt", "--rev", "v0", "-o", str(out))
    assert result.code == 0 and "from git" in result.out, result
    assert out.read_text() == "n0\n"


def test_unknown_revision_and_unknown_path_exit_2(repo: Project) -> None:
    bad_rev = repo.run("get", "model.txt", "--rev", "no-such-branch")
    assert bad_rev.code == 2 and "no-such-branch" in bad_rev.err, bad_rev
    bad_path = repo.run("get", "nothing.txt", "--rev", "v0")
    assert bad_path.code == 2 and "nothing.txt" in bad_path.err, bad_path
    assert len(bad_path.err_lines) == 1


def test_a_missing_object_is_named(repo: Project) -> None:
    import shutil

    shutil.rmtree(repo.root / ".fastpipe/cache/files")
    result = repo.run("get", "model.txt", "--rev", "v0", "-o", str(repo.root / "x"))
    assert result.code == 2 and "train" in result.err and "not in the cache" in result.err


def test_open_reads_a_revision_and_the_workspace(repo: Project) -> None:
    import fastpipe

    with fastpipe.open("model.txt", rev="v0", root=repo.root) as f:
        assert f.read() == b"model v0\n"
    with fastpipe.open("data/part/rows.txt", rev="old", root=repo.root) as f:
        assert f.read() == b"rows of v1\n"
    with fastpipe.open("notes.txt", rev="HEAD~2", root=repo.root) as f:
        assert f.read() == b"n0\n"
    (repo.root / "model.txt").unlink()
    with fastpipe.open("model.txt", root=repo.root) as f:  # missing: from the cache
        assert f.read() == b"model v2\n"


def test_a_tampered_lock_at_a_revision_is_refused(repo: Project) -> None:
    git(repo.root, "checkout", "-q", "-b", "evil")
    lock = repo.path(".fastpipe/stages/train.lock")
    lock.write_text(lock.read_text().replace("model.txt:", "../../escape.txt:"))
    git(repo.root, "commit", "-q", "-am", "tampered")
    git(repo.root, "checkout", "-q", "main")
    result = repo.run("get", "../../escape.txt", "--rev", "evil", "-o", str(repo.root / "x"))
    assert result.code == 2, result
    assert len(result.err_lines) == 1 and "escape.txt" in result.err
    assert not (repo.root.parent.parent / "escape.txt").exists()
