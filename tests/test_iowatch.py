"""Tests for fastpipe.iowatch: files opened while a stage runs, and which are undeclared."""

from __future__ import annotations

import os
from pathlib import Path

from fastpipe import iowatch


def test_watch_records_reads_and_writes_under_the_root_only(tmp_path: Path) -> None:
    root = tmp_path / "p"
    (root / "d").mkdir(parents=True)
    (root / "in.txt").write_text("x")
    outside = tmp_path / "outside.txt"
    outside.write_text("o")
    with iowatch.watch(str(root)) as opened:
        (root / "in.txt").read_text()
        (root / "d" / "out.txt").write_text("y")
        os.close(os.open(root / "flags.txt", os.O_WRONLY | os.O_CREAT))
        outside.read_text()
    (root / "after.txt").write_text("not watched")
    assert opened == [("d/out.txt", True), ("flags.txt", True), ("in.txt", False)]


def test_undeclared_sorts_out_what_is_declared() -> None:
    opened = [
        ("data/a.csv", False),  # inside a dep directory
        ("extra.csv", False),
        ("helpers.py", False),  # project source
        ("conf/settings.json", False),  # fingerprinted file
        ("params.yaml", False),
        ("model.pkl", True),  # an output
        ("tmp/scratch", True),
        (".fastpipe/logs/s.log", True),
        ("runs.log", True),
    ]
    found = iowatch.undeclared(
        opened, ["data/"], ["model.pkl"], ["conf/settings.json"], ignore=["runs.*"]
    )
    assert found == iowatch.Undeclared(read=("extra.csv",), written=("tmp/scratch",))
    assert found.messages("s") == [
        "stage 's' read extra.csv, not among its deps: add it to deps= "
        "(a change to it would not make the stage stale)",
        "stage 's' wrote tmp/scratch, not among its outputs: add it to outs=",
    ]
    assert not iowatch.undeclared([("data/x", False)], ["data"], [], [])


def test_many_paths_are_summarized() -> None:
    found = iowatch.undeclared([(f"f{i}", False) for i in range(7)], [], [], [])
    assert "f0, f1, f2, f3, f4 and 2 more" in found.messages("s")[0]
