"""The output cache end to end: outs stored, restored without running, run cache, corruption."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.integration.project import Project


def _objects(project: Project) -> list[Path]:
    base = project.path(".fastpipe/cache/files/xxh3")
    return [p for p in base.rglob("*") if p.is_file()] if base.is_dir() else []


def test_run_stores_cached_outs_but_not_metrics(project: Project) -> None:
    objects = {p.read_bytes() for p in _objects(project)}
    assert project.path("model.txt").read_bytes() in objects
    assert project.path("data/clean.txt").read_bytes() in objects
    assert project.path("metrics.json").read_bytes() not in objects
    assert all(not os.stat(p).st_mode & 0o222 for p in _objects(project))


def test_missing_out_is_restored_without_running_user_code(project: Project) -> None:
    before = project.path("model.txt").read_bytes()
    locks = project.locks()
    project.path("model.txt").unlink()
    status = project.status()
    assert status["train"]["action"] == "restore"
    assert status["summarize"]["action"] == "none"
    result = project.ok("run", "--json")
    assert project.runs() == []  # the marker: no stage function ran
    assert project.path("model.txt").read_bytes() == before
    outcomes = {s["name"]: s["outcome"] for s in json.loads(result.out.splitlines()[-1])["stages"]}
    assert outcomes["train"] == "restored"
    assert project.locks() == locks
    assert project.status()["train"]["action"] == "none"


def test_an_out_edited_by_hand_reruns(project: Project) -> None:
    project.write("model.txt", "hand edit\n")
    assert project.status()["train"]["action"] == "run"
    project.ok("run")
    assert "train" in project.runs()


def test_corrupt_object_is_removed_with_a_warning_and_the_stage_runs(project: Project) -> None:
    before = project.path("model.txt").read_bytes()
    corrupt = [p for p in _objects(project) if p.read_bytes() == before]
    assert len(corrupt) == 1
    corrupt[0].chmod(0o644)
    corrupt[0].write_bytes(b"tampered\n")
    project.path("model.txt").unlink()
    result = project.ok("run")
    assert "corrupt" in result.err and corrupt[0].parent.name in result.err
    assert project.runs() == ["train"]
    assert project.path("model.txt").read_bytes() == before
    assert b"tampered" not in project.path("model.txt").read_bytes()


def test_run_cache_brings_back_outs_of_a_reverted_param(project: Project) -> None:
    clean = project.path("data/clean.txt").read_bytes()
    project.ok("run", "--set", "clean.threshold=4")
    assert "clean" in project.runs()
    assert project.path("data/clean.txt").read_bytes() != clean
    project.clear_runs()
    result = project.ok("run", "--json")
    lines = [json.loads(line) for line in result.out.splitlines()]
    restored = {e["name"]: e["detail"] for e in lines if e.get("event") == "stage_restored"}
    assert restored == dict.fromkeys(["clean", "featurize", "summarize"], "from run cache")
    assert project.path("data/clean.txt").read_bytes() == clean
    assert project.runs() == ["train"]  # metrics.json is not cached: no run cache for train
    assert project.lock("clean")["params"]["threshold"] == 3
    assert all(s["status"] == "fresh" for s in project.status().values())


def test_run_cache_brings_back_outs_of_a_reverted_code_edit(project: Project) -> None:
    clean = project.path("data/clean.txt").read_bytes()
    project.edit("pipeline.py", "if n >= threshold]", "if n > threshold]")
    project.ok("run")
    project.edit("pipeline.py", "if n > threshold]", "if n >= threshold]")
    project.clear_runs()
    project.ok("run")
    assert "clean" not in project.runs()
    assert project.path("data/clean.txt").read_bytes() == clean


def test_no_run_cache_runs_the_stage(project: Project) -> None:
    project.ok("run", "--set", "clean.threshold=4")
    project.clear_runs()
    project.ok("run", "--no-run-cache")
    assert "clean" in project.runs()


def test_uncached_out_is_not_stored_and_reruns(project: Project) -> None:
    project.edit("pipeline.py", 'outs=["report.txt"]', 'outs=[Out("report.txt", cache=False)]')
    project.edit("pipeline.py", "from fastpipe import stage", "from fastpipe import Out, stage")
    project.ok("run")
    project.clear_runs()
    report = project.path("report.txt").read_bytes()
    project.path("report.txt").unlink()
    for p in _objects(project):
        if p.read_bytes() == report:
            p.chmod(0o644)
            p.unlink()
    assert project.status()["report"]["action"] == "run"
    project.ok("run")
    assert "report" in project.runs()


def test_cache_dir_from_the_environment(project: Project, tmp_path: Path) -> None:
    shared = tmp_path / "shared-cache"
    project.path("model.txt").unlink()
    project.write("data/raw.txt", "1\n2\n3\n4\n5\n6\n7\n")
    result = project.run("run", env={"FASTPIPE_CACHE_DIR": str(shared)})
    assert result.code == 0, result
    stored = {p.read_bytes() for p in (shared / "files" / "xxh3").rglob("*") if p.is_file()}
    assert project.path("model.txt").read_bytes() in stored


def test_a_lock_with_a_malformed_hash_is_stale_not_a_crash(project: Project) -> None:
    lock = project.path(".fastpipe/stages/train.lock")
    digest = project.lock("train")["outs"]["model.txt"]["hash"]
    lock.write_text(lock.read_text().replace(digest, "not-a-hash"))
    project.path("model.txt").unlink()
    assert project.status()["train"]["action"] == "run"


def test_hardlink_mode_leaves_read_only_workspace_files(project: Project) -> None:
    project.append("pyproject.toml", 'cache_link = "hardlink"\n')  # into its [tool.fastpipe]
    project.ok("run", "--force", "report")
    report = project.path("report.txt")
    assert not os.stat(report).st_mode & 0o222
    assert os.stat(report).st_nlink >= 2
    content = report.read_bytes()
    report.unlink()
    project.clear_runs()
    project.ok("run")
    assert project.runs() == []  # restored as a link to the object, not run
    assert report.read_bytes() == content and not os.stat(report).st_mode & 0o222
