"""Matrix stages and real DVC: export's `matrix:` form, --validate, import-dvc (docs/dvc.md)."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.integration.conftest import MakeProject
from tests.integration.dvcproject import dvc_ok, dvc_status, init_repo, requires_dvc
from tests.integration.project import Project, fastpipe
from tests.integration.test_matrix import PIPELINE, VARIANTS

pytestmark = requires_dvc


def test_export_writes_one_matrix_stage_not_copies(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE, "params.yaml": "train:\n  lr: 0.5\n"})
    wrote = project.ok("export")
    stages = yaml.safe_load(project.read("dvc.yaml"))["stages"]
    assert list(stages) == ["split", "train", "summarize"]
    assert "(3 stages, 6 with their matrix variants)" in wrote.out  # DVC's count, then ours
    train = stages["train"]
    assert train["matrix"] == {"model": ["cnn", "xgb"], "fold": [0, 1]}
    assert train["cmd"] == "fastpipe exec train@${item.model}-${item.fold}"
    assert train["deps"] == ["data/${item.fold}.csv", "pipeline.py"]
    assert train["outs"] == ["models/${item.model}-${item.fold}.txt"]
    assert train["params"] == ["train.lr"]
    # summarize reads two variants; the matrix stage is exported whole all the same
    result = project.ok("export", "summarize", "--force")
    assert "(3 stages, 6 with their matrix variants)" in result.out
    partial = yaml.safe_load(project.read("dvc.yaml"))["stages"]
    assert partial["train"]["matrix"] == train["matrix"]


def test_a_matrix_pipeline_validates_against_dvc(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE})  # lr from the defaults file
    result = fastpipe("export", "--validate", cwd=project.root, timeout=300)
    assert result.code == 0, result
    assert result.out.splitlines()[-1].startswith("all 7 outputs identical")
    for name in VARIANTS:
        assert name in result.out


def test_per_variant_params_validate_and_a_partial_one_is_refused(
    make_project: MakeProject,
) -> None:
    every = "".join(f"{name}:\n  lr: 0.{i + 2}\n" for i, name in enumerate(VARIANTS))
    project = make_project({"pipeline.py": PIPELINE, "params.yaml": every})
    result = fastpipe("export", "--validate", cwd=project.root, timeout=300)
    assert result.code == 0, result
    train = yaml.safe_load(project.read("dvc.yaml"))["stages"]["train"]
    assert train["params"] == ["train@${item.model}-${item.fold}.lr"]
    project.write("params.yaml", "train@cnn-1:\n  lr: 0.9\n")
    refused = project.run("export")
    assert refused.code == 2
    assert "train@cnn-1 set param 'lr' in params.yaml and other variants do not" in refused.err


def test_import_dvc_adopts_the_variants_dvc_ran(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE, "params.yaml": "train:\n  lr: 0.5\n"})
    project.ok("export")
    init_repo(project.root)
    dvc_ok("repro", cwd=project.root)
    assert dvc_status(project.root) == {}
    adopted = project.ok("import-dvc")
    assert "adopted 6 of 6 stages" in adopted.out
    assert all(entry["status"] == "fresh" for entry in project.status().values())
    assert project.lock("train@xgb-1")["params"]["lr"] == 0.5


FOREACH_PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(matrix={"model": ["cnn", "xgb"]}, outs=["{model}.txt"])
def fit(model: str) -> None:
    Path(f"{model}.txt").write_text(model + "\\n")
"""

FOREACH_DVC_YAML = """\
stages:
  fit:
    foreach: [cnn, xgb]
    do:
      cmd: fastpipe exec fit@${item}
      deps: [pipeline.py]
      outs: ["${item}.txt"]
"""


def test_import_dvc_adopts_a_hand_written_foreach_stage(tmp_path: Path) -> None:
    project = Project(tmp_path / "project")
    project.write_files({"pipeline.py": FOREACH_PIPELINE, "dvc.yaml": FOREACH_DVC_YAML})
    init_repo(project.root)
    dvc_ok("repro", cwd=project.root)
    assert "fit@cnn:" in project.read("dvc.lock")
    adopted = project.ok("import-dvc")
    assert "adopted 2 of 2 stages" in adopted.out
    assert set(project.status()) == {"fit@cnn", "fit@xgb"}
    assert all(entry["status"] == "fresh" for entry in project.status().values())
