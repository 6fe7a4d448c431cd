"""Fixtures: temporary projects, fresh or already run once, for the real `fastpipe` command.

A subprocess costs ~0.3 s, so the shared pipeline is run once per session and each test gets
its own copy of the result (locks, outputs and all), never a shared directory.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from tests.integration.project import BASE_FILES, Project

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "examples" / "quickstart"

MakeProject = Callable[[Mapping[str, str]], Project]


def _copy(source: Path, target: Path) -> Project:
    shutil.copytree(source, target, symlinks=True)
    project = Project(target)
    project.clear_runs()
    return project


@pytest.fixture(scope="session")
def ran_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The shared pipeline after one successful `fastpipe run` (copy it, never modify it)."""
    project = Project(tmp_path_factory.mktemp("template") / "project")
    project.write_files(BASE_FILES)
    project.ok("run")
    return project.root


@pytest.fixture
def project(ran_template: Path, tmp_path: Path) -> Project:
    """A private copy of the shared pipeline, already run: every stage fresh, runs.log empty."""
    return _copy(ran_template, tmp_path / "project")


@pytest.fixture
def new_project(tmp_path: Path) -> Project:
    """The shared pipeline written to disk, never run."""
    project = Project(tmp_path / "project")
    project.write_files(BASE_FILES)
    return project


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    """A factory: a project holding exactly the given files (relative path -> dedented text)."""

    def make(files: Mapping[str, str]) -> Project:
        project = Project(tmp_path / "project")
        project.root.mkdir(parents=True, exist_ok=True)
        project.write_files(files)
        return project

    return make


@pytest.fixture(scope="session")
def quickstart_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, int]:
    """examples/quickstart copied and run once: (root, stdout of the run, its exit code)."""
    root = tmp_path_factory.mktemp("quickstart") / "quickstart"
    shutil.copytree(QUICKSTART, root, ignore=shutil.ignore_patterns(".fastpipe", "__pycache__"))
    result = Project(root).run("run")
    assert result.code == 0, result
    return root, result.out, result.code


@pytest.fixture
def quickstart(quickstart_template: tuple[Path, str, int], tmp_path: Path) -> Project:
    """A private copy of the quickstart example after its first run."""
    return _copy(quickstart_template[0], tmp_path / "quickstart")
