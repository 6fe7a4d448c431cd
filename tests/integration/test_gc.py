"""`fastpipe gc`: unreferenced objects and run-cache entries go, referenced ones stay."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from tests.integration.project import STAGES, Project


def _objects(project: Project) -> dict[str, Path]:
    base = project.path(".fastpipe/cache/files/xxh3")
    return {p.parent.name + p.name: p for p in base.rglob("*") if p.is_file()}


def _runs(project: Project) -> list[Path]:
    return [p for p in project.path(".fastpipe/cache/runs").rglob("*") if p.is_file()]


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_gc_needs_a_scope(project: Project) -> None:
    result = project.run("gc")
    assert result.code == 2 and "--workspace" in result.err, result


def test_gc_workspace_removes_only_unreferenced_objects(project: Project) -> None:
    model = project.path("model.txt").read_bytes()
    project.ok("run", "--set", "clean.threshold=4")  # new objects; the old ones unreferenced
    old = [p for p in _objects(project).values() if p.read_bytes() == model]
    assert old
    stat_cache = project.path(".fastpipe/cache/stat.json")
    named = {out["hash"] for stage in STAGES for out in project.lock(stage)["outs"].values()}
    referenced = named & set(_objects(project))
    dry = json.loads(project.ok("gc", "--workspace", "--dry-run", "--json").out)
    assert dry["objects"] >= 1 and dry["dry_run"] is True
    assert all(p.exists() for p in old)
    result = project.ok("gc", "--workspace")
    assert f"removed {dry['objects']} objects" in result.out and "freed" in result.out
    assert not any(p.exists() for p in old)
    assert referenced <= set(_objects(project))
    assert stat_cache.exists()  # the other caches beside the objects are not gc's
    project.path("data/clean.txt").unlink()
    project.ok("checkout")  # what the locks name is still there
    assert project.exists("data/clean.txt")
    assert len(_runs(project)) >= 1  # entries of the current outs stay


def test_gc_all_commits_keeps_what_any_commit_names(project: Project) -> None:
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "first")
    model = project.path("model.txt").read_bytes()
    project.ok("run", "--set", "clean.threshold=4")
    project.ok("gc", "--all-commits")
    assert any(p.read_bytes() == model for p in _objects(project).values())
    project.ok("gc", "--workspace")
    assert not any(p.read_bytes() == model for p in _objects(project).values())


def test_gc_removes_stale_temp_files_but_not_fresh_ones(project: Project) -> None:
    shard = next(iter(_objects(project).values())).parent
    stale = shard / ".tmp.deadbeef.123.456"
    fresh = shard / ".tmp.cafebabe.123.789"
    stale.write_bytes(b"torn")
    fresh.write_bytes(b"in progress")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    data = json.loads(project.ok("gc", "--workspace", "--json").out)
    assert data["temp_files"] == 1
    assert not stale.exists() and fresh.exists()


def test_gc_skips_a_broken_commit_with_a_warning(project: Project) -> None:
    git(project.root, "init", "-q", "-b", "main")
    git(project.root, "config", "user.email", "t@example.com")
    git(project.root, "config", "user.name", "t")
    lock = project.path(".fastpipe/stages/train.lock")
    good = lock.read_text()
    lock.write_text(good.replace("model.txt:", "/etc/evil:"))
    git(project.root, "add", "-A")
    git(project.root, "commit", "-q", "-m", "broken")
    lock.write_text(good)
    git(project.root, "commit", "-q", "-am", "fixed")
    result = project.ok("gc", "--all-commits")
    assert "warning" in result.err and "skipped commit" in result.err
    project.path("model.txt").unlink()
    project.ok("checkout")
    assert project.exists("model.txt")
