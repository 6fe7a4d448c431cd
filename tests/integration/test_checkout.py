"""`fastpipe checkout`: outs back from the cache, modified files protected, missing named."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.integration.conftest import MakeProject
from tests.integration.project import Project

DIR_PIPELINE = """\
import os
from pathlib import Path

from fastpipe import stage


@stage(outs=["data"])
def make(count: int = 5) -> None:
    Path("runs.log").open("a").write("make\\n")
    Path("data/sub").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Path(f"data/sub/f{i}.txt").write_text(f"row {i}\\n")
    Path("data/tool.sh").write_text("#!/bin/sh\\n")
    os.chmod("data/tool.sh", 0o755)
"""


def _objects(project: Project) -> list[Path]:
    return [p for p in project.path(".fastpipe/cache/files").rglob("*") if p.is_file()]


def test_checkout_restores_missing_outs_and_leaves_matching_ones(project: Project) -> None:
    model = project.path("model.txt").read_bytes()
    clean_inode = project.path("data/clean.txt").stat().st_ino
    project.path("model.txt").unlink()
    project.path("report.txt").unlink()
    result = project.ok("checkout", "--json")
    data = json.loads(result.out)
    assert data["ok"] is True
    assert sorted(data["restored"]) == ["model.txt", "report.txt"]
    assert project.path("model.txt").read_bytes() == model
    assert project.path("data/clean.txt").stat().st_ino == clean_inode  # untouched
    assert project.runs() == []


def test_checkout_of_one_stage_only(project: Project) -> None:
    project.path("model.txt").unlink()
    project.path("report.txt").unlink()
    project.ok("checkout", "report")
    assert project.exists("report.txt") and not project.exists("model.txt")


def test_modified_file_not_in_cache_is_kept_unless_forced(project: Project) -> None:
    model = project.path("model.txt").read_bytes()
    project.write("model.txt", "precious hand-made model\n")
    result = project.run("checkout")
    assert result.code == 1, result
    assert "model.txt" in result.out and "train" in result.out and "--force" in result.out
    assert ", 1 kept (modified), " in result.out.splitlines()[0], result.out
    data = json.loads(project.run("checkout", "--json").out)
    assert "model.txt" not in data["unchanged"]  # kept, and different from its lock
    assert data["kept"] == [{"stage": "train", "path": "model.txt"}]
    assert project.read("model.txt") == "precious hand-made model\n"
    project.ok("checkout", "--force")
    assert project.path("model.txt").read_bytes() == model


def test_modified_file_whose_content_is_cached_is_replaced(project: Project) -> None:
    clean = project.read("data/clean.txt")
    project.write("model.txt", clean)  # content the cache holds (data/clean.txt's object)
    project.ok("checkout")
    assert project.read("model.txt") != clean


def test_missing_object_is_named_with_its_stage(project: Project) -> None:
    model = project.path("model.txt").read_bytes()
    for obj in _objects(project):
        if obj.read_bytes() == model:
            obj.unlink()
    project.path("model.txt").unlink()
    result = project.run("checkout")
    assert result.code == 1, result
    assert "missing from the cache: model.txt (stage train" in result.out


def test_directory_out_extra_files_removed_and_exec_bit_restored(
    make_project: MakeProject,
) -> None:
    project = make_project({"pipeline.py": DIR_PIPELINE})
    project.ok("run")
    before = {
        p.relative_to(project.root): p.read_bytes()
        for p in project.path("data").rglob("*")
        if p.is_file()
    }
    (project.path("data/sub/f1.txt")).unlink()
    project.write("data/sub/f2.txt", "row 2\n")  # unchanged content
    project.write("data/sub/extra.txt", "row 3\n")  # extra, its content is cached (f3)
    project.path("data/tool.sh").chmod(0o644)
    project.path("data/tool.sh").unlink()
    project.ok("checkout")
    after = {
        p.relative_to(project.root): p.read_bytes()
        for p in project.path("data").rglob("*")
        if p.is_file()
    }
    assert after == before
    assert os.stat(project.path("data/tool.sh")).st_mode & 0o100
    assert project.run("status", "--check").code == 0


def test_lock_with_a_path_leaving_the_root_is_refused(project: Project, tmp_path: Path) -> None:
    lock = project.path(".fastpipe/stages/train.lock")
    lock.write_text(lock.read_text().replace("model.txt:", "../evil.txt:"))
    result = project.run("checkout")
    assert result.code == 2, result
    assert result.err.startswith("fastpipe: error: ") and "../evil.txt" in result.err
    assert not (project.root.parent / "evil.txt").exists()


def test_lock_with_a_malformed_hash_is_refused(project: Project) -> None:
    lock = project.path(".fastpipe/stages/train.lock")
    text = lock.read_text()
    digest = project.lock("train")["outs"]["model.txt"]["hash"]
    lock.write_text(text.replace(digest, "../../../../etc/passwd"))
    result = project.run("checkout")
    assert result.code == 2, result
    assert "32-hex-digit" in result.err


def test_api_checkout(project: Project) -> None:
    import fastpipe

    project.path("model.txt").unlink()
    report = fastpipe.checkout(root=project.root)
    assert report.ok and report.restored == ("model.txt",)


def test_checkout_recreates_a_missing_parent_folder(project: Project) -> None:
    """A fresh clone lacks git-ignored folders: checkout (and pull) must create them."""
    import shutil

    clean = project.path("data/clean.txt").read_bytes()
    features = project.path("data/features.txt").read_bytes()
    shutil.rmtree(project.path("data"))
    project.clear_runs()
    result = project.ok("checkout", "--json")
    assert set(json.loads(result.out)["restored"]) >= {"data/clean.txt", "data/features.txt"}
    assert project.path("data/clean.txt").read_bytes() == clean
    assert project.path("data/features.txt").read_bytes() == features
    assert project.runs() == []


NESTED_PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["out/deep/x.txt"])
def make() -> None:
    Path("runs.log").open("a").write("make\\n")
    Path("out/deep/x.txt").write_text("x\\n")
"""


def test_run_restores_outs_whose_folder_was_deleted(make_project: MakeProject) -> None:
    import shutil

    project = make_project({"pipeline.py": NESTED_PIPELINE})
    project.ok("run")
    shutil.rmtree(project.path("out"))
    project.clear_runs()
    assert "restored" in project.ok("run").out
    assert project.path("out/deep/x.txt").read_text() == "x\n"
    assert project.runs() == []
