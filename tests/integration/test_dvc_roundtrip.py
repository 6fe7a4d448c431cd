"""export -> real `dvc repro` -> identical outputs; `dvc status` after an edit; import-dvc.

DVC runs once per session on the bridge pipeline (`dvc_template`); each test works on a copy.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.integration.conftest import QUICKSTART
from tests.integration.dvcproject import (
    FILES,
    OUTPUTS,
    contents,
    copy_project,
    dvc_ok,
    dvc_status,
    init_repo,
    requires_dvc,
)
from tests.integration.project import Project, check_status_json

pytestmark = requires_dvc

QUICKSTART_OUTPUTS = (
    "data/raw.csv",
    "data/clean.csv",
    "data/features.npz",
    "models/model.json",
    "metrics.json",
)


@pytest.fixture(scope="module")
def fastpipe_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge pipeline after `fastpipe run` (copy it, never modify it)."""
    project = Project(tmp_path_factory.mktemp("fastpipe") / "project")
    project.write_files(FILES)
    project.ok("run")
    return project.root


@pytest.fixture(scope="module")
def dvc_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The bridge pipeline exported, in a `git init && dvc init` repo, after `dvc repro`."""
    project = Project(tmp_path_factory.mktemp("dvc") / "project")
    project.write_files(FILES)
    project.ok("export")
    init_repo(project.root)
    dvc_ok("repro", cwd=project.root)
    return project.root


def _copy(template: Path, tmp_path: Path) -> Project:
    target = tmp_path / "project"
    shutil.copytree(template, target, symlinks=True)
    return Project(target)


def test_quickstart_export_runs_in_dvc_with_identical_outputs(
    quickstart_template: tuple[Path, str, int], tmp_path: Path
) -> None:
    project = Project(copy_project(QUICKSTART, tmp_path / "quickstart"))
    project.ok("export")
    init_repo(project.root)

    dvc_ok("repro", cwd=project.root)

    fastpipe_root = quickstart_template[0]
    assert contents(project.root, QUICKSTART_OUTPUTS) == contents(fastpipe_root, QUICKSTART_OUTPUTS)
    assert dvc_status(project.root) == {}


def test_params_directory_outs_and_metrics_reproduce_identically(
    fastpipe_template: Path, dvc_template: Path
) -> None:
    produced = contents(dvc_template, OUTPUTS)

    assert produced == contents(fastpipe_template, OUTPUTS)
    assert "shards/nested/windows.txt" in produced  # the directory out, whole
    assert produced["data/clean.txt"] == b"2\n3\n4\n5\n6\n7\n"  # threshold from params.yaml


def test_dvc_lock_tracks_each_param_where_its_value_comes_from(dvc_template: Path) -> None:
    lock = yaml.safe_load((dvc_template / "dvc.lock").read_text())["stages"]

    assert lock["clean"]["params"] == {"params.yaml": {"clean.threshold": 2}}
    assert lock["shard"]["params"] == {"params.defaults.yaml": {"shard.parts": 2}}
    assert lock["train"]["params"] == {"params.yaml": {"train.epochs": 3, "train.lr": 0.5}}
    assert all(out.get("hash") == "md5" for s in lock.values() for out in s["outs"])
    assert dvc_status(dvc_template) == {}


def test_dvc_status_reports_the_stages_a_helper_edit_reaches(
    dvc_template: Path, tmp_path: Path
) -> None:
    project = _copy(dvc_template, tmp_path)
    project.edit("helpers.py", "weight += lr *", "weight += 2 * lr *")

    status = dvc_status(project.root)

    assert set(status) == {"clean", "shard", "train"}  # report reaches no helper
    assert {"changed deps": {"helpers.py": "modified"}} in status["train"]


def test_import_dvc_after_dvc_repro_makes_every_stage_fresh(
    dvc_template: Path, tmp_path: Path
) -> None:
    project = _copy(dvc_template, tmp_path)
    project.clear_runs()

    planned = project.ok("import-dvc", "--dry-run")
    assert not project.lock_path("clean").exists()
    adopted = project.ok("import-dvc")

    assert planned.out.count("would adopt") == 5, planned.out  # 4 stages and the total line
    assert "adopted 4 of 4 stages from dvc.lock" in adopted.out, adopted.out
    stages = check_status_json(project.ok("status", "--json").out)
    assert {s["status"] for s in stages.values()} == {"fresh"}
    assert "0 ran" in project.ok("run").out
    assert project.runs() == []


def test_import_dvc_leaves_stages_whose_files_changed_stale(
    dvc_template: Path, tmp_path: Path
) -> None:
    project = _copy(dvc_template, tmp_path)
    project.clear_runs()
    project.write("shards/part-0.txt", "99\n")

    result = project.ok("import-dvc")

    lines = {line.split()[0]: line for line in result.out.splitlines()}
    assert "left stale: out shards changed since dvc repro" in lines["shard"]
    assert "left stale: dep shards changed since dvc repro" in lines["train"]
    assert lines["clean"].split()[1] == "adopted"
    assert set(project.stale()) == {"shard", "train"}
    project.ok("run")
    assert project.runs() == ["shard", "train"]


def test_import_dvc_copies_dvc_cached_objects_so_checkout_works(
    dvc_template: Path, tmp_path: Path
) -> None:
    project = _copy(dvc_template, tmp_path)
    before = contents(project.root, ["model.txt", "shards", "data/clean.txt"])
    project.ok("import-dvc")
    shutil.rmtree(project.path("shards"))
    project.path("model.txt").unlink()
    project.path("data/clean.txt").unlink()
    project.clear_runs()

    project.ok("checkout")

    assert contents(project.root, ["model.txt", "shards", "data/clean.txt"]) == before
    assert project.runs() == []
    stages = check_status_json(project.ok("status", "--json").out)
    assert {s["status"] for s in stages.values()} == {"fresh"}
