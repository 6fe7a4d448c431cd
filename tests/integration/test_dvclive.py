"""A stage using dvclive behaves as under `dvc repro`: it knows a pipeline runs it."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.dvcproject import dvc_env, init_repo, requires_dvc
from tests.integration.project import fastpipe

ENV_STAGE = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["root.txt"])
def where() -> None:
    Path("root.txt").write_text(os.environ.get("DVC_ROOT", "<unset>"))
"""

DVCLIVE_STAGE = """\
from dvclive import Live

from fastpipe import stage


@stage(outs=["dvclive"])
def train() -> None:
    with Live() as live:
        live.log_param("lr", 0.1)
        live.log_metric("acc", 0.9)
"""
HAS_DVCLIVE = importlib.util.find_spec("dvclive") is not None


@pytest.mark.parametrize("executor", ["warm", "process", "inline"])
def test_stages_run_with_dvc_root_set_to_the_project(
    make_project: MakeProject, executor: str
) -> None:
    project = make_project({"pipeline.py": ENV_STAGE})

    project.ok("run", "--executor", executor)

    assert Path(project.read("root.txt")).resolve() == project.root.resolve()


@requires_dvc
@pytest.mark.skipif(not HAS_DVCLIVE, reason="dvclive is not installed (pip install '.[dev]')")
def test_a_stage_using_dvclive_does_not_save_a_dvc_experiment(
    make_project: MakeProject,
) -> None:
    project = make_project({"pipeline.py": DVCLIVE_STAGE})
    init_repo(project.root)
    env = dvc_env(project.root.parent)
    git = ["git", "-C", str(project.root)]
    subprocess.run([*git, "add", "-A"], check=True, env=env, timeout=60)
    subprocess.run([*git, "commit", "-qm", "start"], check=True, env=env, timeout=60)

    ran = fastpipe("run", cwd=project.root, env=env)

    assert ran.code == 0, ran
    assert project.exists("dvclive/metrics.json")
    refs = subprocess.run(
        [*git, "for-each-ref", "refs/exps"], capture_output=True, text=True, env=env, timeout=60
    )
    assert refs.stdout == "", f"dvclive saved an experiment: {refs.stdout}"
