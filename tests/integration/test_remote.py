"""`fastpipe push / fetch / pull` end to end: a directory remote, S3 on moto, faults."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import xxhash

from tests.integration.project import ERROR_PREFIX, OUTPUTS, Project, command_env
from tests.integration.remoteproject import cache_outs, commit_all, git

REMOTE_TOML = """\
[tool.fastpipe]
default_remote = "origin"

[tool.fastpipe.remotes.origin]
url = "../remote"
"""
CACHED = tuple(o for o in OUTPUTS if o != "metrics.json")
IGNORED = "".join(f"/{o}\n" for o in CACHED) + "/runs.log\n"


def key_of(data: bytes) -> str:
    digest = xxhash.xxh3_128_hexdigest(data)
    return f"files/xxh3/{digest[:2]}/{digest[2:]}"


@pytest.fixture
def shared(project: Project) -> Project:
    """The shared pipeline, run, its outs in the cache, with a directory remote ../remote."""
    project.write("pyproject.toml", REMOTE_TOML)
    project.write(".gitignore", IGNORED)
    cache_outs(project)
    # `fastpipe run` also recorded run-cache entries; these tests count the outs' objects, and
    # test_run_cache_entries_travel_both_ways covers the entries.
    shutil.rmtree(project.root / ".fastpipe" / "cache" / "runs", ignore_errors=True)
    return project


def test_round_trip_push_clone_pull_is_fresh_without_running(
    shared: Project, tmp_path: Path
) -> None:
    commit_all(shared.root)
    pushed = shared.ok("push", "--json")
    data = json.loads(pushed.out)
    assert data["uploaded"]["objects"] == len(CACHED)
    assert data["remote"] == "../remote"
    again = json.loads(shared.ok("push", "--json").out)
    assert again["uploaded"] == {"objects": 0, "bytes": 0}

    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    other = Project(clone)
    assert not (clone / ".fastpipe" / "cache").exists()
    assert not any((clone / o).exists() for o in CACHED)
    pulled = other.ok("pull")
    assert f"fetched {len(CACHED)} objects" in pulled.out
    assert sum(line.startswith("pull: ") for line in pulled.err_lines) == 1, pulled.err
    assert f"checkout: {len(CACHED)} outs restored" in pulled.out
    for out in OUTPUTS:
        assert (clone / out).read_bytes() == (shared.root / out).read_bytes(), out
    assert all(s["status"] == "fresh" for s in other.status().values())
    assert other.ok("status", "--check").code == 0
    assert other.runs() == []  # no stage body ran: runs.log is written by every stage
    assert other.ok("run").code == 0 and other.runs() == []


def test_pull_of_some_stages_and_a_second_pull_writes_nothing(
    shared: Project, tmp_path: Path
) -> None:
    commit_all(shared.root)
    shared.ok("push")
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    other = Project(clone)
    result = json.loads(other.ok("pull", "report", "--json").out)
    assert result["downloaded"]["objects"] == 1
    assert result["checkout"]["written"] == ["report.txt"]
    assert (clone / "report.txt").read_bytes() == (shared.root / "report.txt").read_bytes()
    assert not (clone / "model.txt").exists()
    again = json.loads(other.ok("pull", "report", "--json").out)
    assert again["downloaded"]["objects"] == 0
    assert again["checkout"]["unchanged"] == ["report.txt"]


def test_fetch_fills_the_cache_only(shared: Project, tmp_path: Path) -> None:
    shared.ok("push")
    cache = shared.root / ".fastpipe" / "cache"
    shutil.rmtree(cache / "files", onerror=lambda f, p, e: (os.chmod(p, 0o700), f(p)))
    (shared.root / "model.txt").unlink()
    result = json.loads(shared.ok("fetch", "--json").out)
    assert result["downloaded"]["objects"] == len(CACHED)
    assert (cache / key_of((shared.root / "report.txt").read_bytes())).is_file()
    assert not (shared.root / "model.txt").exists()


def test_run_cache_entries_travel_both_ways(shared: Project, tmp_path: Path) -> None:
    cache = shared.root / ".fastpipe" / "cache"
    entry = cache / "runs" / "ab" / ("c" * 30)
    entry.parent.mkdir(parents=True)
    entry.write_text('{"stage": "train"}')
    commit_all(shared.root)
    assert json.loads(shared.ok("push", "--json").out)["uploaded"]["objects"] == len(CACHED) + 1
    assert (tmp_path / "remote" / "runs" / "ab" / ("c" * 30)).read_text() == '{"stage": "train"}'
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    fetched = Project(clone).ok("fetch")
    assert (clone / ".fastpipe" / "cache" / "runs" / "ab" / ("c" * 30)).is_file()
    assert sum(line.startswith("fetch: ") for line in fetched.err_lines) == 1, fetched.err


def test_a_metrics_file_left_out_of_git_is_named_as_uncached_not_as_off_the_remote(
    shared: Project, tmp_path: Path
) -> None:
    shared.write(".gitignore", IGNORED + "/metrics.json\n")  # the mistake: metrics not in git
    commit_all(shared.root)
    shared.ok("push")
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)

    pulled = Project(clone).run("pull")

    assert pulled.code == 1, pulled
    warning = "metrics.json of stage 'train' is missing and not cached"
    assert any(line.startswith(f"fastpipe: warning: {warning}") for line in pulled.err_lines)
    assert "commit it to git" in pulled.err, pulled.err
    assert "not on remote" not in pulled.err, pulled.err  # every cached out came back
    assert all((clone / o).read_bytes() == (shared.root / o).read_bytes() for o in CACHED)


def test_no_remote_configured(project: Project) -> None:
    result = project.run("push")
    assert result.code == 2
    assert result.err_lines[-1].startswith(ERROR_PREFIX + "no remote configured: add [tool.")
    assert result.err_lines[-1].endswith("or set FASTPIPE_REMOTE=URL"), result  # -r needs one


def test_unknown_remote_name(shared: Project) -> None:
    result = shared.run("push", "-r", "orgin")
    assert result.code == 2
    assert result.err_lines == [
        ERROR_PREFIX + "unknown remote 'orgin' (-r); did you mean 'origin'?"
    ]


def test_unknown_stage(shared: Project) -> None:
    result = shared.run("push", "claen")
    assert result.code == 2
    assert result.err_lines == [ERROR_PREFIX + "unknown stage 'claen' (did you mean 'clean'?)"]


def test_a_stage_that_never_ran(new_project: Project) -> None:
    new_project.write("pyproject.toml", REMOTE_TOML)
    result = new_project.run("pull", "train")
    assert result.code == 2
    assert result.err_lines == [
        ERROR_PREFIX + "stage 'train' has never run: it has no outs to share yet"
    ]


def test_a_tampered_remote_object_is_named_and_never_used(shared: Project, tmp_path: Path) -> None:
    commit_all(shared.root)
    shared.ok("push")
    report = (shared.root / "report.txt").read_bytes()
    victim = tmp_path / "remote" / key_of(report)
    os.chmod(victim, 0o644)
    victim.write_bytes(b"rows=999\n")
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    result = Project(clone).run("pull")
    assert result.code == 2
    assert result.err_lines[-1].startswith(
        f"{ERROR_PREFIX}remote 'origin' (../remote): object '{key_of(report)}' does not match"
    )
    assert not (clone / "report.txt").exists()
    assert not (clone / ".fastpipe" / "cache" / key_of(report)).exists()
    assert (clone / "model.txt").read_bytes() == (shared.root / "model.txt").read_bytes()


def test_pull_trusts_only_the_objects_it_verified_itself(shared: Project, tmp_path: Path) -> None:
    """A corrupt object already in the clone's cache (so not downloaded) is still checked."""
    commit_all(shared.root)
    shared.ok("push")
    report = (shared.root / "report.txt").read_bytes()
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    planted = clone / ".fastpipe" / "cache" / key_of(report)
    planted.parent.mkdir(parents=True)
    planted.write_bytes(b"rows=999\n")
    result = Project(clone).run("pull")
    assert result.code == 1
    assert not (clone / "report.txt").exists()
    assert not planted.exists()  # removed from the cache as corrupt
    assert any("report.txt" in line for line in result.err_lines)
    assert (clone / "model.txt").read_bytes() == (shared.root / "model.txt").read_bytes()


def test_objects_missing_on_the_remote_are_warned_and_exit_1(
    shared: Project, tmp_path: Path
) -> None:
    commit_all(shared.root)
    shared.ok("push")
    report = key_of((shared.root / "report.txt").read_bytes())
    os.unlink(tmp_path / "remote" / report)
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    result = Project(clone).run("pull")
    assert result.code == 1
    assert (
        f"fastpipe: warning: not on remote 'origin': report.txt of stage 'report' ({report})"
        in result.err_lines
    )


BIG_PIPELINE = """
from pathlib import Path

from fastpipe import stage


@stage(outs=["big.bin"])
def big() -> None:
    block = bytes(range(256)) * 4096
    with open("big.bin", "wb") as f:
        for i in range(128):
            f.write(block[i:] + block[:i])
"""


def _wait_for_temp(folder: Path, proc: subprocess.Popen[bytes]) -> bool:
    """Poll until a temp file appears in `folder` (True) or the process ends (False)."""
    deadline = time.monotonic() + 60
    while proc.poll() is None and time.monotonic() < deadline:
        if folder.is_dir() and any(".tmp" in name for name in os.listdir(folder)):
            return True
        time.sleep(0.001)
    return False


def _start(args: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fastpipe", *args],
        cwd=cwd,
        env=command_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_killed_push_leaves_no_torn_object_and_the_next_push_completes_it(
    make_project: object, tmp_path: Path
) -> None:
    project = make_project({"pipeline.py": BIG_PIPELINE, "pyproject.toml": REMOTE_TOML})  # type: ignore[operator]
    project.ok("run")
    cache_outs(project)
    key = key_of((project.root / "big.bin").read_bytes())
    target = tmp_path / "remote" / key
    proc = _start(["push", "-j", "1"], project.root)
    seen = _wait_for_temp(target.parent, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen, "the push ended before its upload could be interrupted"
    if target.exists():  # killed just after the rename: then it must be whole
        assert target.read_bytes() == (project.root / "big.bin").read_bytes()
    result = json.loads(project.ok("push", "--json").out)
    assert target.read_bytes() == (project.root / "big.bin").read_bytes()
    run_entries = list((project.root / ".fastpipe" / "cache" / "runs").glob("*/*"))
    assert result["uploaded"]["objects"] + result["present"] == 1 + len(run_entries)

    # and a killed fetch: nothing torn in the cache, the next fetch completes it
    cache = project.root / ".fastpipe" / "cache"
    os.chmod(cache / key, 0o644)
    os.unlink(cache / key)
    proc = _start(["fetch", "-j", "1"], project.root)
    seen = _wait_for_temp(cache / "tmp", proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert seen, "the fetch ended before its download could be interrupted"
    if (cache / key).exists():
        assert (cache / key).read_bytes() == (project.root / "big.bin").read_bytes()
    project.ok("fetch")
    assert (cache / key).read_bytes() == (project.root / "big.bin").read_bytes()
    assert os.listdir(cache / "tmp") == []  # the killed fetch's temp file was cleaned up


def test_push_warns_about_outs_missing_from_the_local_cache(shared: Project) -> None:
    report = key_of((shared.root / "report.txt").read_bytes())
    victim = shared.root / ".fastpipe" / "cache" / report
    os.chmod(victim, 0o644)
    victim.unlink()
    result = shared.run("push")
    assert result.code == 1
    assert result.err_lines == [
        "push: 4 objects",  # progress, as plain lines when stderr is not a terminal
        "fastpipe: warning: not in the local cache (run its stage again): "
        f"report.txt of stage 'report' ({report})",
    ]
    assert "pushed 4 objects" in result.out


def test_names_on_the_remote_that_are_not_objects_are_ignored_with_a_warning(
    shared: Project, tmp_path: Path
) -> None:
    shared.ok("push")
    strange = tmp_path / "remote" / "runs" / "ab" / "not-an-object"
    strange.parent.mkdir(parents=True)
    strange.write_text("{}")
    result = shared.run("fetch")
    assert result.code == 0
    assert (
        "fastpipe: warning: remote 'origin' lists names that are not objects "
        "(1 in all, e.g. 'runs/ab/not-an-object'); ignored"
    ) in result.err_lines
    assert not (shared.root / ".fastpipe" / "cache" / "runs" / "ab").exists()


def test_get_rev_in_a_fresh_clone_falls_back_to_the_default_remote(
    shared: Project, tmp_path: Path
) -> None:
    commit_all(shared.root)
    shared.ok("push")
    clone = tmp_path / "clone"
    git("clone", "-q", str(shared.root), str(clone), cwd=tmp_path)
    other = Project(clone)
    assert not (clone / ".fastpipe" / "cache" / "files").exists()
    target = tmp_path / "model-at-head.txt"
    result = other.ok("get", "model.txt", "--rev", "HEAD", "-o", str(target))
    assert target.read_bytes() == (shared.root / "model.txt").read_bytes()
    assert "from cache" in result.out
    assert other.runs() == []


def test_a_lock_naming_a_path_outside_the_root_is_refused_by_pull(shared: Project) -> None:
    lock = shared.path(".fastpipe/stages/report.lock")
    lock.write_text(lock.read_text().replace("report.txt:", "../escape.txt:"))
    result = shared.run("pull")
    assert result.code == 2
    assert result.err_lines[-1].startswith(ERROR_PREFIX), result.err
    assert "../escape.txt" in result.err_lines[-1]
    assert not (shared.root.parent / "escape.txt").exists()
