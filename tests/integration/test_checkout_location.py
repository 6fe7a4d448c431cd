"""The same commit checked out elsewhere (a teammate's clone, a CI runner) is all fresh."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import Project

FILES = {
    "pipeline.py": """\
        import os
        from pathlib import Path

        import paths

        from fastpipe import stage

        HERE = os.path.dirname(os.path.abspath(__file__))


        @stage(outs=["data/a.txt"])
        def a() -> None:
            paths.DATA.mkdir(exist_ok=True)
            (paths.DATA / "a.txt").write_text(paths.where() + "\\n")


        @stage(deps=["data/a.txt"], outs=["b.txt"])
        def b() -> None:
            Path(HERE, "b.txt").write_text(Path("data/a.txt").read_text())
        """,
    "paths.py": """\
        from pathlib import Path

        DATA = Path(__file__).resolve().parent / "data"


        def where() -> str:
            return f"{__file__} {__name__}"
        """,
}
GIT = shutil.which("git")


def _git(*args: str, cwd: Path) -> None:
    env_args = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.com",
        "-c",
        "init.defaultBranch=main",
    ]
    subprocess.run(
        [GIT or "git", *env_args, *args], cwd=cwd, check=True, timeout=60, capture_output=True
    )


@pytest.mark.skipif(GIT is None, reason="needs git")
def test_a_clone_elsewhere_is_all_fresh(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project(FILES)
    project.ok("run")
    _git("init", "-q", cwd=project.root)
    _git("add", "-A", cwd=project.root)
    _git("commit", "-qm", "ran", cwd=project.root)
    clone = tmp_path / "elsewhere" / "clone"
    clone.parent.mkdir()
    _git("clone", "-q", str(project.root), str(clone), cwd=tmp_path)

    # outputs are not in git (DVC's job): bring them over as a teammate would pull them
    for out in ("data/a.txt", "b.txt"):
        shutil.copy2(project.root / out, clone / out)
    cloned = Project(clone)

    assert cloned.stale() == {}
    assert {p.name for p in (clone / ".fastpipe" / "stages").glob("*.lock")} == {"a.lock", "b.lock"}
    assert (clone / ".fastpipe" / "stages" / "a.lock").read_bytes() == (
        project.root / ".fastpipe" / "stages" / "a.lock"
    ).read_bytes()


def test_a_copy_elsewhere_is_all_fresh(make_project: MakeProject, tmp_path: Path) -> None:
    project = make_project(FILES)
    project.ok("run")
    copy = tmp_path / "moved" / "project"
    shutil.copytree(project.root, copy)

    assert Project(copy).stale() == {}
    assert Project(copy).ok("run").out.startswith("0 ran")
