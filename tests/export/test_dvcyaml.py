"""`fastpipe export`: the dvc.yaml and params-defaults file it writes, byte for byte."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import fastpipe.api as api
from fastpipe.errors import DvcError
from fastpipe.export import report
from fastpipe.export.dvcyaml import DEFAULTS_FILE, MARKER
from tests.export.conftest import FILES, PARAMS, MakeProject


def _stages(root: Path, dvc_yaml: str = "dvc.yaml") -> dict[str, Any]:
    return yaml.safe_load((root / dvc_yaml).read_text())["stages"]


def test_each_stage_runs_fastpipe_exec_with_declared_and_code_deps(project: Path) -> None:
    api.export(root=project)

    stages = _stages(project)
    assert list(stages) == ["clean", "notes", "train"]  # topological, ties by name
    assert stages["clean"]["cmd"] == "fastpipe exec clean"
    assert stages["clean"]["deps"] == ["data/raw.txt", "helpers.py", "pipeline.py"]
    assert stages["notes"]["deps"] == ["pipeline.py"]  # reaches no helper


def test_params_come_from_params_yaml_or_from_the_defaults_file(project: Path) -> None:
    api.export(root=project)

    stages = _stages(project)
    assert stages["clean"]["params"] == ["clean.threshold", {DEFAULTS_FILE: ["clean.scale"]}]
    assert stages["train"]["params"] == ["train.lr", {DEFAULTS_FILE: ["train.epochs"]}]
    assert "params" not in stages["notes"]
    defaults = yaml.safe_load((project / DEFAULTS_FILE).read_text())
    assert defaults == {"clean": {"scale": 1.0}, "train": {"epochs": 2}}


def test_the_users_params_yaml_is_never_touched(project: Path) -> None:
    before = (project / "params.yaml").stat()

    api.export(root=project)

    after = (project / "params.yaml").stat()
    assert (project / "params.yaml").read_text() == PARAMS
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_outs_metrics_and_plots_as_dvc_users_expect(project: Path) -> None:
    api.export(root=project)

    stages = _stages(project)
    assert stages["train"]["outs"] == ["model", "model.txt"]
    assert stages["train"]["metrics"] == [{"metrics.json": {"cache": False}}]
    assert stages["train"]["plots"] == ["plots/loss.csv"]
    assert stages["notes"]["outs"] == [{"notes.txt": {"persist": True}}]


def test_output_is_deterministic_relative_and_says_how_to_regenerate(
    project: Path, make_project: MakeProject
) -> None:
    api.export(root=project)
    first = (project / "dvc.yaml").read_bytes(), (project / DEFAULTS_FILE).read_bytes()

    api.export(root=project)

    assert ((project / "dvc.yaml").read_bytes(), (project / DEFAULTS_FILE).read_bytes()) == first
    text = first[0].decode()
    assert text.startswith(MARKER)
    assert "# Regenerate it with:    fastpipe export\n" in text
    assert str(project) not in text
    assert str(project) not in first[1].decode()


def test_targets_export_their_upstream_and_the_header_names_them(project: Path) -> None:
    api.export(["train"], root=project)

    text = (project / "dvc.yaml").read_text()
    assert list(_stages(project)) == ["clean", "train"]
    assert "# Regenerate it with:    fastpipe export train\n" in text


def test_output_in_a_subdirectory_runs_stages_from_the_root(project: Path) -> None:
    result = api.export(root=project, output="review/")

    assert result.written == ("review/dvc.yaml", f"review/{DEFAULTS_FILE}")
    assert not (project / "dvc.yaml").exists()
    stages = _stages(project, "review/dvc.yaml")
    assert stages["clean"]["wdir"] == ".."
    assert stages["clean"]["params"][1] == {f"review/{DEFAULTS_FILE}": ["clean.scale"]}
    assert "-o review/dvc.yaml" in (project / "review/dvc.yaml").read_text()


@pytest.mark.parametrize("output", ["../elsewhere/dvc.yaml", ".fastpipe/dvc.yaml", "review.yaml"])
def test_output_outside_the_project_or_in_its_state_is_refused(project: Path, output: str) -> None:
    with pytest.raises(DvcError, match=r"dvc\.yaml"):
        api.export(root=project, output=output)


def test_a_dvc_yaml_fastpipe_did_not_write_is_kept_unless_forced(project: Path) -> None:
    (project / "dvc.yaml").write_text("stages:\n  mine:\n    cmd: make\n")

    with pytest.raises(DvcError, match=r"not written by `fastpipe export`.*--force"):
        api.export(root=project)
    assert "mine" in (project / "dvc.yaml").read_text()

    api.export(root=project, force=True)
    assert "mine" not in (project / "dvc.yaml").read_text()


def test_a_defaults_file_no_longer_needed_is_removed(
    project: Path, make_project: MakeProject
) -> None:
    api.export(root=project)
    everything = "clean:\n  threshold: 2\n  scale: 1.0\ntrain:\n  lr: 0.5\n  epochs: 2\n"
    make_project({"params.yaml": everything})

    result = api.export(root=project)

    assert result.written == ("dvc.yaml",)
    assert not (project / DEFAULTS_FILE).exists()
    assert _stages(project)["train"]["params"] == ["train.epochs", "train.lr"]


def test_a_users_file_named_like_the_defaults_file_is_not_removed(
    make_project: MakeProject,
) -> None:
    root = make_project({**FILES, "params.yaml": "", "pipeline.py": NO_PARAMS})
    (root / DEFAULTS_FILE).write_text("mine: 1\n")

    api.export(root=root)

    assert (root / DEFAULTS_FILE).read_text() == "mine: 1\n"


NO_PARAMS = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["out.txt"])
def only() -> None:
    Path("out.txt").write_text("x\\n")
"""

DOTTED = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["a.txt"], name="train.small")
def small(lr: float = 0.1) -> None:
    Path("a.txt").write_text("a\\n")
"""


def test_a_dotted_stage_name_nests_its_defaults_as_dvc_reads_keys(
    make_project: MakeProject,
) -> None:
    root = make_project({"pipeline.py": DOTTED})

    api.export(root=root)

    assert yaml.safe_load((root / DEFAULTS_FILE).read_text()) == {"train": {"small": {"lr": 0.1}}}
    assert _stages(root)["train.small"]["params"] == [{DEFAULTS_FILE: ["train.small.lr"]}]


def test_a_dotted_stage_name_with_params_in_params_yaml_is_refused(
    make_project: MakeProject,
) -> None:
    root = make_project({"pipeline.py": DOTTED, "params.yaml": "train.small:\n  lr: 0.2\n"})

    with pytest.raises(DvcError, match=r"stage 'train\.small'.*without '\.'"):
        api.export(root=root)


def test_a_stage_name_dvc_cannot_hold_is_refused(make_project: MakeProject) -> None:
    root = make_project({"pipeline.py": NO_PARAMS.replace("@stage(", '@stage(name="only@v1", ')})

    with pytest.raises(DvcError, match="'@'"):
        api.export(root=root)


@pytest.mark.parametrize("output", ["review", "deep/er/review/", "deep/er/dvc.yaml"])
def test_an_output_directory_that_does_not_exist_is_created(project: Path, output: str) -> None:
    result = api.export(root=project, output=output)

    dvc_yaml = result.written[0]
    assert dvc_yaml.endswith("/dvc.yaml") and (project / dvc_yaml).is_file()
    assert set(_stages(project, dvc_yaml)) == {"clean", "notes", "train"}


HAND_WRITTEN = """\
stages:
  mine:
    cmd: make
metrics:
- eval/metrics.json
plots:
- eval/plots/roc.json:
    x: fpr
    y: tpr
artifacts:
  model:
    path: model.pkl
    type: model
"""


def test_force_keeps_the_top_level_sections_it_does_not_generate(project: Path) -> None:
    (project / "dvc.yaml").write_text(HAND_WRITTEN)
    before = yaml.safe_load(HAND_WRITTEN)

    forced = api.export(root=project, force=True)
    again = api.export(root=project)  # a later export keeps them too

    after = yaml.safe_load((project / "dvc.yaml").read_text())
    assert set(after["stages"]) == {"clean", "notes", "train"}
    for section in ("metrics", "plots", "artifacts"):
        assert after[section] == before[section], section
    assert forced.plan.kept == again.plan.kept == ("metrics", "plots", "artifacts")
    assert report.exported(forced).endswith(
        "; kept the metrics:, plots:, artifacts: of the dvc.yaml it replaced"
    )
