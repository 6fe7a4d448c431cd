"""Smoke run of the benchmark harness: 10 stages, one repetition, both tools when installed.

Runs `python benchmarks/run.py` as the README documents it and checks what it recorded:
every step timed, byte-identical outputs (the harness fails otherwise), and that each run
re-ran exactly the stages it should. No timing assertions: speed is judged from real runs.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
RUN = REPO / "benchmarks" / "run.py"
STEPS = {"help", "cold", "noop", "status", "code_edit", "param_edit"}
STAGES = 10


def _dvc_installed() -> bool:
    beside = Path(sys.executable).parent / "dvc"
    return beside.is_file() or shutil.which("dvc") is not None


def _harness(tmp: Path, *args: str) -> tuple[dict[str, Any], str]:
    out = tmp / "results.json"
    done = subprocess.run(
        [sys.executable, str(RUN), *args, "--reps", "1", "--out", str(out), "--markdown"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(out.read_text(encoding="utf-8")), done.stdout


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    tmp = tmp_path_factory.mktemp("bench")
    # params on every 3rd stage and the edited one: both kinds of generated stage are run
    return _harness(
        tmp,
        "--stages",
        str(STAGES),
        "--shape",
        "layered",
        "--weight",
        "numpy",
        "--params-every",
        "3",
    )


def test_fastpipe_rows_cover_every_step(comparison: tuple[dict[str, Any], str]) -> None:
    data, stdout = comparison
    result = data["comparison"]
    fastpipe = result["results"]["fastpipe"]
    assert set(fastpipe) == STEPS
    assert all(len(fastpipe[step]["samples"]) == 1 for step in STEPS)
    reruns = result["expected_reruns_after_edit"]
    assert 1 < reruns < STAGES
    assert [fastpipe[s]["stages_run"] for s in ("cold", "noop", "code_edit", "param_edit")] == [
        STAGES,
        0,
        reruns,
        reruns,
    ]
    assert result["outputs_identical"] is True
    assert "| cold run | fastpipe |" in stdout
    assert data["machine"]["fastpipe_version"]


def test_dvc_rows_match_fastpipe(comparison: tuple[dict[str, Any], str]) -> None:
    data, stdout = comparison
    results = data["comparison"]["results"]
    if not _dvc_installed():
        assert "dvc" not in results
        assert "dvc_skipped" in data["machine"]
        pytest.skip("dvc is not installed: the harness skipped its rows")
    for step in STEPS:
        assert results["dvc"][step]["stages_run"] == results["fastpipe"][step]["stages_run"]
    assert data["comparison"]["ratio_dvc_over_fastpipe"]["cold"] > 0
    assert "| cold run | dvc |" in stdout


def test_scaling_mode_reports_overhead_and_memory(tmp_path: Path) -> None:
    data, stdout = _harness(tmp_path, "--scaling", "--sizes", "12,30")
    sizes = data["scaling"]["sizes"]
    assert [size["stages"] for size in sizes] == [12, 30]
    for size in sizes:
        assert set(size["seconds"]) == {"cold", "noop", "status"}
        assert size["peak_rss_kib_fastpipe_process"]["cold"] > 0
        # the kernel batches RSS counters per thread, so the two can differ by a few hundred KiB
        tree, main = (
            size["peak_rss_kib_process_tree"]["cold"],
            size["peak_rss_kib_fastpipe_process"],
        )
        assert tree >= main["cold"] - 2048
        assert isinstance(size["overhead_ms_per_stage"], float)
    assert "Overhead at 30 stages" in stdout
