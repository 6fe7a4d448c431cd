"""`metrics` and `params` show/diff on a real git repository: commit, edit, compare."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import ERROR_PREFIX, Project

PIPELINE = """\
import json
from pathlib import Path

from fastpipe import stage


@stage(outs=["model.txt"], metrics=["metrics.json", "extra.yaml"])
def train(lr: float = 0.1, layers: int = 2, name: str = "base") -> None:
    Path("model.txt").write_text(f"{lr}\\n")
    metrics = {"eval": {"auc": round(0.5 + lr, 6), "loss": [1.0, lr]}, "name": name}
    Path("metrics.json").write_text(json.dumps(metrics) + "\\n")
    Path("extra.yaml").write_text(f"layers: {layers}\\n")


@stage(deps=["model.txt"], metrics=["score.toml"])
def score(bonus: int = 1) -> None:
    Path("score.toml").write_text(f"points = {bonus * 10}\\n")
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(make_project: MakeProject) -> Project:
    """The pipeline run and committed (lr 0.1), then run again with lr 0.3 in params.yaml."""
    project: Project = make_project({"pipeline.py": PIPELINE})
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    project.ok("run", "--executor", "inline")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "first")
    project.write("params.yaml", "train:\n  lr: 0.3\n  name: wide\n")
    project.ok("run", "--executor", "inline")
    return project


def test_metrics_show_flattens_every_declared_file(repo: Project) -> None:
    out = repo.ok("metrics", "show", "--json").out
    assert json.loads(out) == {
        "metrics.json": {"eval.auc": 0.8, "eval.loss.0": 1.0, "eval.loss.1": 0.3, "name": "wide"},
        "extra.yaml": {"layers": 2},
        "score.toml": {"points": 10},
    }
    table = repo.ok("metrics", "show", "score").out.splitlines()
    assert table == ["Path        Metric  Value", "score.toml  points  10"]


def test_metrics_diff_between_head_and_workspace(repo: Project) -> None:
    result = repo.ok("metrics", "diff")
    assert result.out.splitlines() == [
        "Path          Metric       Old   New   Change",
        "metrics.json  eval.auc     0.6   0.8   +0.2",
        "metrics.json  eval.loss.1  0.1   0.3   +0.2",
        "metrics.json  name         base  wide  -",
    ]
    found = json.loads(repo.ok("metrics", "diff", "HEAD", "--json").out)
    assert found["metrics.json"]["eval.auc"] == {"old": 0.6, "new": 0.8, "diff": 0.2}
    assert found["metrics.json"]["name"] == {"old": "base", "new": "wide", "diff": None}
    assert set(found) == {"metrics.json"}


def test_metrics_diff_precision_all_and_markdown(repo: Project) -> None:
    out = repo.ok("metrics", "diff", "--precision", "0", "--all", "--md").out.splitlines()
    assert out[0] == "| Path | Metric | Old | New | Change |"
    assert out[1] == "| --- | --- | --- | --- | --- |"
    assert "| metrics.json | eval.auc | 0.6 | 0.8 | 0.0 |" in out
    assert "| score.toml | points | 10 | 10 | 0 |" in out  # unchanged, shown with --all


def test_no_changes_between_equal_sides(repo: Project) -> None:
    assert repo.ok("metrics", "diff", "HEAD", "HEAD").out == "No changes.\n"
    assert repo.ok("metrics", "diff", "HEAD", "HEAD", "--json").out.strip() == "{}"
    assert repo.ok("params", "diff", "HEAD", "HEAD").out == "No changes.\n"


def test_a_metrics_file_absent_on_one_side_shows_a_dash(repo: Project) -> None:
    git(repo.root, "rm", "-q", "--cached", "score.toml")
    git(repo.root, "commit", "-q", "-m", "untrack score")
    out = repo.ok("metrics", "diff", "HEAD").out.splitlines()
    assert "score.toml    points       -     10    -" in out


def test_params_show_and_diff_from_locks_and_resolved_params(repo: Project) -> None:
    shown = json.loads(repo.ok("params", "show", "--json").out)
    assert shown == {"score": {"bonus": 1}, "train": {"layers": 2, "lr": 0.3, "name": "wide"}}
    repo.write("params.yaml", "train:\n  lr: 0.3\n  name: wide\nscore:\n  bonus: 2\n")
    out = repo.ok("params", "diff").out.splitlines()
    assert out == [
        "Param        Old   New   Change",
        "score.bonus  1     2     +1",
        "train.lr     0.1   0.3   +0.2",
        "train.name   base  wide  -",
    ]
    found = json.loads(repo.ok("params", "diff", "HEAD", "--json").out)
    assert found["train"]["lr"] == {"old": 0.1, "new": 0.3, "diff": 0.2}


def test_params_diff_between_two_revisions_reads_the_committed_locks(repo: Project) -> None:
    git(repo.root, "add", "-A")
    git(repo.root, "commit", "-q", "-m", "second")
    repo.write("params.yaml", "train:\n  lr: 0.9\n")  # the workspace is not either side
    out = repo.ok("params", "diff", "HEAD~1", "HEAD").out.splitlines()
    assert out[1:] == ["train.lr    0.1   0.3   +0.2", "train.name  base  wide  -"]


def test_unknown_revision_is_one_line_exit_2(repo: Project) -> None:
    for command in ("metrics", "params"):
        result = repo.run(command, "diff", "nosuchrev")
        assert result.code == 2, result
        assert result.err_lines == [
            f"{ERROR_PREFIX}unknown revision 'nosuchrev' (not a branch, tag or commit)"
        ]


def test_a_bad_metrics_file_is_named_and_the_others_still_shown(repo: Project) -> None:
    repo.write("extra.yaml", "layers: [1, 2\n")
    result = repo.run("metrics", "show")
    assert result.code == 2, result
    assert "score.toml    points       10" in result.out.splitlines()
    assert len(result.err_lines) == 1
    assert result.err_lines[0].startswith(
        f"{ERROR_PREFIX}metrics file 'extra.yaml' is not valid YAML:"
    )
    repo.write("metrics.json", "{not json")
    result = repo.run("metrics", "diff")
    assert result.code == 2
    assert any("'metrics.json' is not valid JSON" in line for line in result.err_lines)


def test_params_show_as_a_table_and_markdown(repo: Project) -> None:
    assert repo.ok("params", "show", "score").out.splitlines() == [
        "Param        Value",
        "score.bonus  1",
    ]
    assert repo.ok("params", "show", "score", "--md").out.splitlines()[2] == "| score.bonus | 1 |"
    result = repo.run("params", "show", "nosuch")
    assert result.code == 2 and result.err_lines == [f"{ERROR_PREFIX}unknown stage 'nosuch'"]


CACHED_METRICS = """\
import json
from pathlib import Path

from fastpipe import Out, stage


@stage(metrics=[Out("metrics.json", cache=True)])
def train(lr: float = 0.1) -> None:
    Path("metrics.json").write_text(json.dumps({"auc": lr}) + "\\n")
"""


def test_metrics_diff_reads_a_cached_metric_git_does_not_track(make_project: MakeProject) -> None:
    project: Project = make_project({"pipeline.py": CACHED_METRICS, ".gitignore": "metrics.json\n"})
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    project.ok("run", "--executor", "inline")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "first")
    assert "metrics.json" not in git(project.root, "ls-files")
    project.write("params.yaml", "train:\n  lr: 0.4\n")
    project.ok("run", "--executor", "inline")
    found = json.loads(project.ok("metrics", "diff", "HEAD", "--json").out)
    assert found == {"metrics.json": {"auc": {"old": 0.1, "new": 0.4, "diff": 0.3}}}
