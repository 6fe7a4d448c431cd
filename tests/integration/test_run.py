"""`fastpipe run` end to end: outputs, lock files, incremental reruns, stage selection."""

from __future__ import annotations

import re
import shutil
import socket

import pytest

from tests.integration.project import HEX128, OUTPUTS, STAGES, Project


def _ran(summary: str) -> int:
    found = re.search(r"\b(\d+) ran\b", summary)
    assert found is not None, f"no 'N ran' in {summary!r}"
    return int(found.group(1))


def test_first_run_writes_outputs_and_locks(new_project: Project) -> None:
    result = new_project.ok("run")

    assert sorted(new_project.runs()) == sorted(STAGES)
    for out in OUTPUTS:
        assert new_project.exists(out), out
    report = "largest=6\nrows=6\ntotal=21\n"
    assert new_project.read("summary.txt") == report + new_project.read("metrics.json")
    assert sorted(new_project.locks()) == sorted(f"{name}.lock" for name in STAGES)
    # stdout is the result only: one summary line (progress and stage output go to stderr)
    assert len(result.out.strip().splitlines()) == 1, result.out
    assert _ran(result.out) == len(STAGES)


def test_lock_contents(project: Project) -> None:
    lock = project.lock("train")

    assert set(lock) == {"schema", "stage", "code", "params", "deps", "outs", "packages"}
    assert lock["packages"] == {}  # the standard library is never recorded
    assert type(lock["schema"]) is int
    assert lock["stage"] == "train"
    assert "pipeline.train" in lock["code"]
    assert "helpers.fit" in lock["code"]
    assert all(HEX128.match(h) for h in lock["code"].values()), lock["code"]
    assert lock["params"] == {"lr": 0.1, "epochs": 2}
    assert set(lock["deps"]) == {"data/features.txt"}
    assert set(lock["outs"]) == {"model.txt", "metrics.json"}  # metrics are outputs too
    for path, entry in {**lock["deps"], **lock["outs"]}.items():
        assert set(entry) == {"hash", "size"}, entry
        assert HEX128.match(entry["hash"]), entry
        assert entry["size"] == project.path(path).stat().st_size


def test_lock_of_stage_with_a_helper_only_it_reaches(project: Project) -> None:
    """The manifest follows project code: clean reaches the I/O helpers, not helpers.fit."""
    code = project.lock("clean")["code"]

    assert {"pipeline.clean", "helpers.read_numbers", "helpers.write_numbers"} <= set(code)
    assert "helpers.fit" not in code
    assert "pipeline.SCALE" in project.lock("featurize")["code"]


def test_second_run_runs_nothing_and_rewrites_no_lock(project: Project) -> None:
    before = project.lock_stats()

    result = project.ok("run")

    assert _ran(result.out) == 0
    assert project.runs() == []
    assert project.lock_stats() == before


def test_locks_are_deterministic(project: Project) -> None:
    """Deleting every lock and rerunning (in another directory than the first run) gives the
    same bytes: no timestamps, hostnames, durations or absolute paths."""
    before = project.locks()
    shutil.rmtree(project.path(".fastpipe/stages"))

    project.ok("run")

    assert project.locks() == before
    for name, data in before.items():
        text = data.decode()
        assert str(project.root) not in text, name
        assert "/tmp" not in text and "\\" not in text, name
        assert socket.gethostname() not in text, name
        assert not re.search(r"\d{4}-\d{2}-\d{2}|\d\d:\d\d:\d\d", text), name
        assert not re.search(r"(?m)^\s*(time|duration|host|date|created)\w*:", text), name


def test_lock_keys_are_sorted(project: Project) -> None:
    for name, data in project.locks().items():
        top = [line.split(":")[0] for line in data.decode().splitlines() if line[:1].isalpha()]
        assert top == sorted(top), name


def test_fresh_under_another_hash_seed(project: Project) -> None:
    """Locks written under a random PYTHONHASHSEED read as fresh under another one, although
    the pipeline reads a set constant."""
    result = project.run("status", "--check", env={"PYTHONHASHSEED": "12345"})

    assert result.code == 0, result


def test_force_reruns_targets_and_their_upstream(project: Project) -> None:
    result = project.ok("run", "--force", "featurize")

    assert project.runs() == ["clean", "featurize"]
    assert _ran(result.out) == 2


def test_force_downstream_runs_targets_and_below(project: Project) -> None:
    project.ok("run", "--force", "--downstream", "featurize")

    assert project.runs() == ["featurize", "train", "summarize"]


def test_downstream_does_not_run_stale_stages_above(project: Project) -> None:
    project.edit("pipeline.py", "n >= threshold", "n > threshold")  # clean is stale
    project.edit("pipeline.py", "SCALE = 2", "SCALE = 3")  # featurize is stale

    clean_lock = project.lock_stats()["clean.lock"]

    project.ok("run", "--downstream", "featurize")

    assert project.runs() == ["featurize", "train", "summarize"]
    assert project.lock_stats()["clean.lock"] == clean_lock


def test_targets_select_their_upstream_only(project: Project) -> None:
    project.append("data/raw.txt", "7\n")  # every stage is stale
    before = project.lock_stats()

    project.ok("run", "featurize")

    assert project.runs() == ["clean", "featurize"]
    after = project.lock_stats()
    assert {name for name in before if after[name] != before[name]} == {
        "clean.lock",
        "featurize.lock",
    }


def test_dry_run_with_work_to_do_exits_0(project: Project) -> None:
    project.edit("helpers.py", "weight = 0.0", "weight = 1.0")

    assert project.run("run", "--dry-run").code == 0


@pytest.mark.parametrize("flag", ["--dry-run", "-n"])
def test_dry_run_prints_the_plan_and_runs_nothing(project: Project, flag: str) -> None:
    project.edit("helpers.py", "weight = 0.0", "weight = 1.0")  # train is stale
    project.path("model.txt").unlink()
    locks = project.lock_stats()

    result = project.run("run", flag)

    assert result.code == 0, result
    lines = result.out.splitlines()
    assert len(lines) == 2, result.out  # train (code, outs) and summarize (upstream)
    train_line = next(line for line in lines if "train" in line)
    assert "helpers.fit" in train_line and "model.txt" in train_line
    assert any("summarize" in line and "train" in line for line in lines)
    assert project.runs() == []
    assert not project.exists("model.txt")
    assert project.lock_stats() == locks


def test_dry_run_with_nothing_stale(project: Project) -> None:
    result = project.ok("run", "-n")

    assert not any(name in result.out for name in STAGES), result.out
    assert project.runs() == []


def test_forced_dry_run_lists_targets_and_upstream(project: Project) -> None:
    result = project.run("run", "-n", "-f", "featurize")

    assert result.code == 0, result
    lines = result.out.splitlines()
    assert len(lines) == 2, result.out
    assert "clean" in lines[0] and "featurize" in lines[1]
    assert project.runs() == []
