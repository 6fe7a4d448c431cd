"""The dask executor on a cluster given by address (SPEC 8, 11).

test_behaviour.py runs the shared suite on dask's own LocalCluster; here one real cluster per
module (worker processes under nannies, loopback only, two workers advertising `GPU=1`) is
reached by address, as a remote one would be: stages in worker processes, resources,
a worker killed mid-stage, errors before anything runs, byte-identical results.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fastpipe.devices import Device, StaticDevices
from fastpipe.errors import ExecutorError, ResourceError
from fastpipe.executors import ExecutorSettings, create
from fastpipe.executors.base import StageExecutor
from fastpipe.stage import StageSpec
from fastpipe.worker import StageTask
from tests.executors.test_behaviour import STAGES, _wait_gone, result_of, task
from tests.integration.project import ERROR_PREFIX, command_env
from tests.integration.test_interrupt import PIPELINE as INTERRUPTED_PIPELINE
from tests.test_runner import GPU_STAGES, SPANS, dag_pipeline, spans, write_pipeline

distributed = pytest.importorskip("distributed")

pytestmark = pytest.mark.timeout(120)

# "Promptly": far below how long the stages would run, with a margin no loaded machine misses.
PROMPT_S = 15.0
WORKER_STAGES = """
import os, signal, time
from pathlib import Path

def parent() -> None:
    Path("out.txt").write_text(str(os.getppid()))

def kill_worker_once() -> None:
    if not Path("attempted").exists():
        Path("attempted").write_text("")
        os.kill(os.getppid(), signal.SIGKILL)  # the stage process's parent: its Dask worker
        time.sleep(30)
    Path("out.txt").write_text("second attempt")

def kill_worker_always() -> None:
    os.kill(os.getppid(), signal.SIGKILL)
    time.sleep(30)
"""


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    """Two worker processes with two threads each, each advertising one (fake) GPU."""
    local = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=2,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        # A task whose worker dies once runs again elsewhere; twice, it fails (KilledWorker).
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0", "allowed_failures": 1},
        resources={"GPU": 1},
    )
    try:
        yield local
    finally:
        local.close(timeout=10)


@pytest.fixture
def client(cluster: Any) -> Iterator[Any]:
    """A client of the module's cluster, once both workers are up (a test may kill one)."""
    with distributed.Client(cluster.scheduler_address, set_as_default=False) as found:
        found.wait_for_workers(2, timeout=60)
        yield found


def make(
    address: str, root: Path, lines: list[str], specs: dict[str, StageSpec] | None = None
) -> StageExecutor:
    settings = ExecutorSettings(
        name="dask",
        jobs=4,
        root=str(root),
        on_output=lines.append,
        dask_address=address,
    )
    pool = create(settings)
    try:
        pool.warm_up([], specs or {})
    except BaseException:
        pool.shutdown()
        raise
    return pool


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The behaviour suite's stage functions, and the worker-killing ones."""
    (tmp_path / "stagefns.py").write_text(textwrap.dedent(STAGES))
    (tmp_path / "workerfns.py").write_text(textwrap.dedent(WORKER_STAGES))
    (tmp_path / "logs").mkdir()
    return tmp_path


@pytest.fixture
def remote(client: Any, project: Path) -> Iterator[tuple[StageExecutor, list[str]]]:
    lines: list[str] = []
    pool = make(client.scheduler.address, project, lines)
    try:
        yield pool, lines
    finally:
        pool.shutdown(cancel_futures=True)


def worker_task(root: Path, func: str) -> StageTask:
    return StageTask(
        name=func,
        module="workerfns",
        qualname=func,
        root=str(root),
        outputs=("out.txt",),
        log_path=str(root / "logs" / f"{func}.log"),
    )


# ------------------------------------------------------------------ the shared behaviour


def test_a_stage_runs_in_a_process_of_its_own_under_a_worker(
    remote: tuple[StageExecutor, list[str]], client: Any, project: Path
) -> None:
    pool, _ = remote
    result = result_of(pool.submit(worker_task(project, "parent")))
    assert result.ok, result.error
    workers = set(client.run(os.getpid).values())
    assert int((project / "out.txt").read_text()) in workers
    assert os.getpid() not in workers


def test_outputs_hashes_errors_and_env(
    remote: tuple[StageExecutor, list[str]], project: Path
) -> None:
    pool, _ = remote
    wrote = result_of(pool.submit(task(project, "write", text="hi")))
    assert wrote.ok and wrote.outputs["out.txt"].size == 2
    failed = result_of(pool.submit(task(project, "boom")))
    assert not failed.ok and failed.error is not None
    assert "ValueError: the user's own error" in failed.error and "in boom" in failed.error
    with_env = StageTask(
        **{**task(project, "show_env").__dict__, "env": {"CUDA_VISIBLE_DEVICES": "1"}}
    )
    assert result_of(pool.submit(with_env)).ok
    assert (project / "out.txt").read_text() == "1"


def test_output_reaches_the_log_and_this_process(
    remote: tuple[StageExecutor, list[str]], project: Path
) -> None:
    pool, lines = remote
    assert result_of(pool.submit(task(project, "noisy"))).ok
    log = (project / "logs" / "noisy.log").read_text()
    for text in ("from print", "from stderr", "from a subprocess"):
        assert text in log
        assert f"[noisy] {text}" in lines  # relayed before the result came back


@pytest.mark.parametrize("func", ["exits", "killed", "segfault"])
def test_a_dying_stage_process_fails_only_its_stage(
    remote: tuple[StageExecutor, list[str]], project: Path, func: str
) -> None:
    pool, _ = remote
    dead = result_of(pool.submit(task(project, func)))
    alive = result_of(pool.submit(task(project, "write", text="after")))
    assert not dead.ok and dead.error is not None and f"stage '{func}'" in dead.error
    assert {"exits": "code 3", "killed": "SIGKILL", "segfault": "SIGSEGV"}[func] in dead.error
    assert alive.ok and (project / "out.txt").read_text() == "after"


def test_timeout_kills_the_stage_and_its_children_on_the_worker(
    remote: tuple[StageExecutor, list[str]], project: Path
) -> None:
    pool, _ = remote
    slow = StageTask(**{**task(project, "sleepy").__dict__, "timeout": 1.0})
    result = result_of(pool.submit(slow))
    assert not result.ok and result.error is not None and "timed out after 1s" in result.error
    assert _wait_gone(int((project / "child.pid").read_text()))


def test_shutdown_with_cancel_ends_remote_stages_promptly(client: Any, project: Path) -> None:
    pool = make(client.scheduler.address, project, [])
    future = pool.submit(task(project, "sleepy"))
    deadline = time.monotonic() + 30
    while not (project / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    start = time.monotonic()
    pool.shutdown(cancel_futures=True)
    assert time.monotonic() - start < PROMPT_S  # the stage would sleep 30 s
    assert future.done() and not future.result().ok
    assert _wait_gone(int((project / "child.pid").read_text()))


# ------------------------------------------------------------------ dask's own concerns


def gpu_stages(gpus: int) -> str:
    return "".join(
        f"""
@stage(outs=["out/g{i}.txt"], gpus={gpus})
def g{i}() -> None:
    span("g{i}", 1.0)
"""
        for i in range(4)
    )


def most_at_once(found: dict[str, tuple[float, float, str]]) -> int:
    edges = sorted(
        [(start, 1) for start, _, _ in found.values()] + [(end, -1) for _, end, _ in found.values()]
    )
    running = peak = 0
    for _, step in edges:  # an end sorts before a start at the same instant
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.parametrize("gpus", [1, 0])
def test_gpu_stages_never_exceed_the_gpus_workers_advertise(
    client: Any, tmp_path: Path, gpus: int
) -> None:
    import fastpipe.api as api

    (tmp_path / "spanlib.py").write_text(textwrap.dedent(SPANS))
    write_pipeline(tmp_path, gpu_stages(gpus))
    try:
        result = api.run(
            root=tmp_path,
            jobs=8,
            dask_address=client.scheduler.address,
            devices=StaticDevices(()),  # none here: the cluster's workers have them
        )
    finally:
        for name in ("pipeline", "spanlib"):
            sys.modules.pop(name, None)
    assert result.ok, result
    found = spans(tmp_path)
    assert len(found) == 4
    if gpus:
        assert most_at_once(found) <= 2  # two workers with GPU=1 each
    else:
        assert most_at_once(found) > 2  # the control: four threads would run them together


def test_on_its_own_local_cluster_fastpipe_places_gpu_stages_as_it_does_locally(
    tmp_path: Path,
) -> None:
    import fastpipe.api as api

    (tmp_path / "spanlib.py").write_text(textwrap.dedent(SPANS))
    write_pipeline(tmp_path, GPU_STAGES)
    try:
        devices = StaticDevices((Device(0), Device(1)))
        assert api.run(root=tmp_path, jobs=4, executor="dask", devices=devices).ok
    finally:
        for name in ("pipeline", "spanlib"):
            sys.modules.pop(name, None)
    found = spans(tmp_path)
    assert {gpu for _, _, gpu in found.values()} == {"0", "1"}  # CUDA_VISIBLE_DEVICES set
    for a, (start, _, _) in found.items():
        running = [b for b, (s, e, _) in found.items() if b != a and s <= start < e]
        assert len(running) <= 1 and all(found[b][2] != found[a][2] for b in running)


def spec(name: str, gpus: int = 0, **resources: float) -> StageSpec:
    return StageSpec(
        name=name, module="m", qualname=name, gpus=gpus, resources=tuple(resources.items())
    )


@pytest.mark.parametrize(
    ("needs", "expected"),
    [
        (spec("big", gpus=2), "stage 'big' needs GPU=2"),
        (spec("db_user", db=1), "stage 'db_user' needs db=1"),
    ],
)
def test_a_stage_no_worker_can_take_is_refused_before_anything_runs(
    client: Any, project: Path, needs: StageSpec, expected: str
) -> None:
    with pytest.raises(ResourceError, match=expected) as caught:
        make(client.scheduler.address, project, [], {needs.name: needs})
    assert client.scheduler.address in str(caught.value)
    assert "dask worker --resources" in str(caught.value)


def test_workers_that_cannot_see_the_project_are_refused(client: Any, tmp_path: Path) -> None:
    with pytest.raises(ExecutorError, match="cannot see the project root"):
        make(client.scheduler.address, tmp_path / "not-shared", [])


def test_a_scheduler_without_workers_is_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr("fastpipe.executors.dask.WORKERS_TIMEOUT_S", 0.5)
    with (
        distributed.LocalCluster(
            n_workers=0,
            processes=False,
            protocol="tcp://",
            host="127.0.0.1",
            dashboard_address=None,
        ) as empty,
        pytest.raises(ExecutorError, match="has no workers"),
    ):
        make(empty.scheduler_address, tmp_path, [])


def test_without_the_extra_the_error_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # `import distributed` now fails
    with pytest.raises(ExecutorError, match=r"pip install 'fastpipe\[dask\]'"):
        make("tcp://127.0.0.1:1", tmp_path, [])


def fastpipe_command(*args: str, cwd: Path, prelude: str = "") -> subprocess.CompletedProcess[str]:
    code = f"{prelude}\nfrom fastpipe.cli import main\nmain({list(args)!r})"
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env=command_env(),
        check=False,
    )


def assert_one_error_line(proc: subprocess.CompletedProcess[str], fragment: str) -> None:
    lines = proc.stderr.splitlines()
    assert proc.returncode == 2, proc
    assert len(lines) == 1 and lines[0].startswith(ERROR_PREFIX), proc
    assert fragment in lines[0], proc


def test_cli_without_the_extra_exits_2_naming_the_install_command(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text("from fastpipe import stage\n")
    hide = "import sys; sys.modules['distributed'] = None"
    proc = fastpipe_command("run", "--executor", "dask", cwd=tmp_path, prelude=hide)
    assert_one_error_line(proc, "pip install 'fastpipe[dask]'")


def test_cli_unreachable_scheduler_exits_2_within_30_seconds(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(
        "from fastpipe import stage\n\n@stage(outs=['a'])\ndef a() -> None: ...\n"
    )
    with socket.socket() as probe:  # a loopback port nothing listens on
        probe.bind(("127.0.0.1", 0))
        address = f"tcp://127.0.0.1:{probe.getsockname()[1]}"
    start = time.monotonic()
    proc = fastpipe_command("run", "--dask-address", address, cwd=tmp_path)
    assert time.monotonic() - start < 30
    assert_one_error_line(proc, f"cannot reach the Dask scheduler at {address}")
    assert not (tmp_path / ".fastpipe" / "stages" / "a.lock").exists()


def test_the_address_comes_from_the_flag_then_the_environment_then_the_config(
    client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import fastpipe.api as api

    (tmp_path / "pipeline.py").write_text(
        "from pathlib import Path\nfrom fastpipe import stage\n\n"
        "@stage(outs=['a.txt'])\ndef a() -> None:\n    Path('a.txt').write_text('a')\n"
    )
    address = client.scheduler.address
    unreachable = "tcp://127.0.0.1:1"  # would fail if used
    (tmp_path / "pyproject.toml").write_text(
        f'[tool.fastpipe]\nexecutor = "dask"\ndask_address = "{unreachable}"\n'
    )
    monkeypatch.setenv("FASTPIPE_DASK_ADDRESS", address)
    try:
        assert api.run(root=tmp_path, force=True).ok  # the environment wins over the config
        monkeypatch.setenv("FASTPIPE_DASK_ADDRESS", unreachable)
        assert api.run(root=tmp_path, force=True, dask_address=address).ok  # the flag wins
        (tmp_path / "pyproject.toml").write_text(
            f'[tool.fastpipe]\nexecutor = "dask"\ndask_address = "{address}"\n'
        )
        monkeypatch.delenv("FASTPIPE_DASK_ADDRESS")
        assert api.run(root=tmp_path, force=True).ok  # the config, when nothing else says
        with pytest.raises(ExecutorError, match="--dask-address is for --executor dask"):
            api.run(root=tmp_path, executor="warm", dask_address=address)
    finally:
        sys.modules.pop("pipeline", None)


def test_random_dag_gives_byte_identical_outputs_and_locks_to_warm(
    client: Any, tmp_path: Path
) -> None:
    import fastpipe.api as api

    rng = random.Random(20260811)
    deps = [sorted(rng.sample(range(i), min(i, rng.randint(0, 3)))) for i in range(16)]
    found: dict[str, tuple[dict[str, bytes], dict[str, bytes]]] = {}
    for executor, address in (("warm", None), ("dask", client.scheduler.address)):
        root = tmp_path / executor
        root.mkdir()
        (root / "spanlib.py").write_text(textwrap.dedent(SPANS))
        write_pipeline(root, dag_pipeline(deps))
        try:
            assert api.run(root=root, jobs=4, executor=executor, dask_address=address).ok
        finally:
            for name in ("pipeline", "spanlib"):
                sys.modules.pop(name, None)
        order = spans(root)
        for i, ups in enumerate(deps):
            for u in ups:
                assert order[f"s{u}"][1] <= order[f"s{i}"][0], f"s{i} started before s{u} ended"
        outputs = {p.name: p.read_bytes() for p in (root / "out").glob("s*.txt")}
        locks = {p.name: p.read_bytes() for p in (root / ".fastpipe" / "stages").glob("*.lock")}
        assert len(outputs) == len(locks) == len(deps)
        found[executor] = (outputs, locks)
    assert found["dask"] == found["warm"]


def test_ctrl_c_cancels_remote_stages_and_exits_promptly(client: Any, tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(textwrap.dedent(INTERRUPTED_PIPELINE))
    command = [sys.executable, "-m", "fastpipe", "run", "-j", "2", "--quiet"]
    run = subprocess.Popen(
        [*command, "--dask-address", client.scheduler.address],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=_sigint_as_a_terminal_sends_it,
        env=command_env(),
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "child.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert (tmp_path / "child.pid").exists()
        start = time.monotonic()
        run.send_signal(signal.SIGINT)
        assert run.wait(PROMPT_S) == 130
        assert time.monotonic() - start < PROMPT_S  # the stages would sleep 30 s
    finally:
        run.kill()
        run.communicate()
    locks = tmp_path / ".fastpipe" / "stages"
    assert (locks / "quick.lock").exists() and not (locks / "slow.lock").exists()
    assert _wait_gone(int((tmp_path / "child.pid").read_text()), 3.0)


# Last: these kill workers of the module's cluster (their nannies start new ones).


def test_a_worker_killed_mid_stage_is_retried_elsewhere(
    remote: tuple[StageExecutor, list[str]], project: Path
) -> None:
    pool, _ = remote
    result = pool.submit(worker_task(project, "kill_worker_once")).result(timeout=60)
    assert result.ok, result.error
    assert (project / "out.txt").read_text() == "second attempt"


def test_a_stage_that_keeps_killing_workers_fails_and_does_not_hang(
    remote: tuple[StageExecutor, list[str]], project: Path
) -> None:
    pool, _ = remote
    result = pool.submit(worker_task(project, "kill_worker_always")).result(timeout=60)
    assert not result.ok and result.error is not None
    assert "stage 'kill_worker_always': the Dask workers running it died" in result.error


def _sigint_as_a_terminal_sends_it() -> None:
    """In the child, before exec: SIGINT handled by default, whatever the runner's disposition
    (a test runner started in the background ignores it, and Python then never raises
    KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
