"""A real Dask cluster, started as separate commands, runs a pipeline (SPEC 11).

`dask scheduler` and two `dask worker` processes on 127.0.0.1, then `fastpipe run
--dask-address`: 30 stages, outputs and locks checked, a second run finds everything fresh.
Every process started here is stopped, with its children, whatever happens.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import command_env

pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(180)

DASK = Path(sys.executable).with_name("dask")
START_TIMEOUT_S = 60.0
STAGES = 30

PART = """
@stage(deps=["seed.txt"], outs=["parts/{i:02d}.txt"])
def part{i:02d}() -> None:
    print(f"part {i} on worker pid {{os.getppid()}}")
    Path("pids").mkdir(exist_ok=True)
    Path("pids/{i:02d}").write_text(str(os.getppid()))
    text = digest(b"{i}", Path("seed.txt").read_bytes())
    Path("parts/{i:02d}.txt").write_text(text + "\\n")
"""

PIPELINE = f'''\
"""A fan-out, fan-in pipeline: seed, {STAGES - 2} parts, one total."""

import hashlib
import os
from pathlib import Path

from fastpipe import stage


def digest(*parts: bytes) -> str:
    return hashlib.sha256(b"".join(parts)).hexdigest()


@stage(outs=["seed.txt"])
def seed(size: int = 1000) -> None:
    Path("seed.txt").write_text("".join(f"{{i}}\\n" for i in range(size)))


@stage(deps=["parts"], outs=["total.txt"])
def total() -> None:
    parts = sorted(Path("parts").iterdir())
    Path("total.txt").write_text(digest(*(p.read_bytes() for p in parts)) + "\\n")
''' + "".join(PART.format(i=i) for i in range(STAGES - 2))


def _start(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [str(DASK), *args],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=command_env(),
            start_new_session=True,  # a group of its own: stopping it stops what it started
        )


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for proc in procs:
        _signal_group(proc, signal.SIGTERM)
    deadline = time.monotonic() + 10
    for proc in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.1, deadline - time.monotonic()))
        _signal_group(proc, signal.SIGKILL)  # the nanny's worker process too, if it lingers
        proc.wait()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)


def _wait_for(condition: Callable[[], bool], what: str, logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not ready:\n" + "\n".join(p.read_text() for p in logs))


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[str, list[int]]]:
    """(scheduler address, pids of the two `dask worker` commands)."""
    if not DASK.exists():
        pytest.skip(f"no dask command beside {sys.executable}")
    state = tmp_path / "dask"
    state.mkdir()
    scheduler_file = state / "scheduler.json"
    procs: list[subprocess.Popen[bytes]] = []
    logs = [state / "scheduler.log"]
    try:
        procs.append(
            _start(
                *("scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"),
                *("--scheduler-file", str(scheduler_file)),
                log=logs[0],
            )
        )
        _wait_for(scheduler_file.exists, "dask scheduler", logs)
        address = json.loads(scheduler_file.read_text())["address"]
        for n in range(2):
            logs.append(state / f"worker{n}.log")
            procs.append(
                _start(
                    *("worker", address, "--name", f"w{n}", "--nthreads", "2"),
                    *("--host", "127.0.0.1", "--no-dashboard"),
                    *("--local-directory", str(state / f"w{n}")),
                    log=logs[-1],
                )
            )
        _wait_for(
            lambda: all("Registered to" in p.read_text() for p in logs[1:]), "dask workers", logs
        )
        yield address, [p.pid for p in procs[1:]]
    finally:
        _stop(procs[::-1])


def _parent(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def test_a_30_stage_pipeline_runs_on_a_dask_cluster_started_by_hand(
    cluster: tuple[str, list[int]], make_project: MakeProject
) -> None:
    address, nannies = cluster
    project = make_project({"pipeline.py": PIPELINE})
    result = project.run("run", "--dask-address", address, "--jobs", "8", "--quiet")
    assert result.code == 0, result
    assert f"{STAGES} ran" in result.out

    parts = sorted((project.root / "parts").iterdir())
    assert len(parts) == STAGES - 2
    assert project.exists("total.txt")
    assert len(project.locks()) == STAGES
    for i in (0, STAGES - 3):
        name = f"part{i:02d}"
        assert project.lock(name)["outs"][f"parts/{i:02d}.txt"]["size"] == 65
        assert f"part {i} on worker pid" in project.log(name)  # written on the worker
        assert f"[{name}] part {i} on worker pid" in result.err  # and relayed here
    workers = {int(p.read_text()) for p in (project.root / "pids").iterdir()}
    assert {_parent(pid) for pid in workers} == set(nannies)  # under both workers, not here

    again = project.run("run", "--dask-address", address, "--quiet")
    assert again.code == 0, again
    assert "0 ran" in again.out and f"{STAGES} fresh" in again.out
    assert all(entry["status"] == "fresh" for entry in project.status().values())
