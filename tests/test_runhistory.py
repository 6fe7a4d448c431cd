"""Tests for fastpipe.runhistory: records written atomically, pruned, read back, listed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fastpipe import runhistory
from fastpipe.errors import RunNotFoundError
from fastpipe.runhistory import RunRecord, StageEntry


def record(run_id: str, started: float, outcome: str = "ran") -> RunRecord:
    stage = StageEntry("train", outcome, ("code",), "code: f changed", 0.5, 2.0, 1.4, 0, 1024)
    return RunRecord(
        run_id, "fastpipe run", started, started + 3, 2, "warm", (stage,), (("prep", "train"),)
    )


def test_a_record_round_trips_with_its_schema(tmp_path: Path) -> None:
    path = runhistory.save(tmp_path, record("20261206-100000-aaaa", 100.0))
    data = json.loads(path.read_text())
    assert data["schema"] == runhistory.SCHEMA
    assert data["stages"][0]["slot"] == 0
    assert runhistory.load(tmp_path, "20261206-100000-aaaa") == record(
        "20261206-100000-aaaa", 100.0
    )


def test_only_the_newest_records_are_kept(tmp_path: Path) -> None:
    for i in range(5):
        runhistory.save(tmp_path, record(f"20261206-10000{i}-aaaa", 100.0 + i), keep=3)
    kept = [r.run_id for r in runhistory.history(tmp_path)]
    assert kept == ["20261206-100004-aaaa", "20261206-100003-aaaa", "20261206-100002-aaaa"]
    assert runhistory.KEEP == 100


def test_latest_and_limit(tmp_path: Path) -> None:
    runhistory.save(tmp_path, record("20261206-100000-bbbb", 200.0))
    runhistory.save(tmp_path, record("20261206-100000-aaaa", 100.0))
    assert runhistory.load(tmp_path).run_id == "20261206-100000-bbbb"  # by start, not by name
    assert len(runhistory.history(tmp_path, 1)) == 1


def test_an_unknown_outcome_reads_back(tmp_path: Path) -> None:
    runhistory.save(tmp_path, record("20261206-100000-aaaa", 1.0, outcome="restored"))
    assert runhistory.load(tmp_path).stages[0].outcome == "restored"


def test_unknown_run_ids_and_an_empty_history(tmp_path: Path) -> None:
    with pytest.raises(RunNotFoundError, match="no run recorded yet"):
        runhistory.load(tmp_path)
    for bad in ("nope", "../x", ""):
        with pytest.raises(RunNotFoundError, match="fastpipe history"):
            runhistory.load(tmp_path, bad)


def test_unreadable_records_are_skipped(tmp_path: Path) -> None:
    runhistory.save(tmp_path, record("20261206-100000-aaaa", 1.0))
    (tmp_path / "runs" / "20261206-110000-zzzz.json").write_text('{"schema": 99}')
    (tmp_path / "runs" / "20261206-120000-zzzz.json").write_text("not json")
    assert [r.run_id for r in runhistory.history(tmp_path)] == ["20261206-100000-aaaa"]
    with pytest.raises(RunNotFoundError):
        runhistory.load(tmp_path, "20261206-110000-zzzz")


def test_run_ids_sort_by_time() -> None:
    first, second = runhistory.new_run_id(1_000_000.0), runhistory.new_run_id(1_000_001.0)
    assert first < second
    assert len(first.split("-")) == 3


def test_command_line_as_typed() -> None:
    assert runhistory.command_line(["/x/fastpipe/__main__.py", "run", "-j", "2"]) == (
        "fastpipe run -j 2"
    )
    assert runhistory.command_line(["script.py", "a b"]) == "script.py 'a b'"
