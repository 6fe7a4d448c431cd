"""One behaviour suite for the executor contract (executors/base.py), run against every executor.

What an executor may differ in is its `capabilities`; the tests that need isolation (a
process per stage) or concurrency read them instead of naming executors.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from pathlib import Path

import pytest

from fastpipe.errors import ExecutorError
from fastpipe.executors import NAMES, ExecutorSettings, create
from fastpipe.executors.base import Capabilities, StageExecutor
from fastpipe.executors.warm import WarmExecutor
from fastpipe.worker import StageResult, StageTask

# "Promptly": far below how long the stages would run, with a margin no loaded machine misses.
PROMPT_S = 15.0
STAGES = """
import os, signal, subprocess, sys, time
from pathlib import Path

def write(text: str = "hello") -> None:
    Path("out.txt").write_text(text)

def noisy() -> None:
    print("from print")
    sys.stderr.write("from stderr\\n")
    subprocess.run(["echo", "from a subprocess"], check=True)
    Path("out.txt").write_text("x")

def boom() -> None:
    raise ValueError("the user's own error")

def exits() -> None:
    os._exit(3)

def killed() -> None:
    os.kill(os.getpid(), signal.SIGKILL)

def segfault() -> None:
    import ctypes
    ctypes.string_at(0)

def sleepy(seconds: float = 30.0) -> None:
    child = subprocess.Popen(["sleep", "60"])
    Path("child.pid").write_text(str(child.pid))
    time.sleep(seconds)

def timed(name: str = "a", seconds: float = 0.5) -> None:
    start = time.time()
    time.sleep(seconds)
    Path(f"{name}.span").write_text(f"{start} {time.time()}")

def show_env() -> None:
    Path("out.txt").write_text(os.environ.get("CUDA_VISIBLE_DEVICES", "<unset>"))

def preloaded() -> None:
    Path("out.txt").write_text(str("marker_module" in sys.modules))

def stage_modules_loaded() -> None:
    from fastpipe.worker import STAGE_MODULES
    Path("out.txt").write_text(str(all(name in sys.modules for name in STAGE_MODULES)))

def resident_kib() -> None:
    status = Path("/proc/self/status").read_text().splitlines()
    Path("out.txt").write_text(next(l.split()[1] for l in status if l.startswith("VmRSS")))

def pdeathsig() -> None:
    import ctypes
    sig = ctypes.c_int(0)
    ctypes.CDLL(None).prctl(2, ctypes.byref(sig))  # PR_GET_PDEATHSIG
    Path("out.txt").write_text(str(sig.value))
"""

# An import that leaves ~190 MB of heap freed but mapped, as compiling a big module does:
# blocks too big for pymalloc, too small for mmap, one in fifty kept so none can be merged.
FRAGMENTS = """
blocks = [bytearray(16_000) for _ in range(12_000)]
KEPT = blocks[::50]
del blocks
"""

# dask here: its own LocalCluster; tests/executors/test_dask.py covers a cluster by address.
DASK = ["dask"] if importlib.util.find_spec("distributed") else []
PROCESS_EXECUTORS = ["process", "warm", *DASK]
INTERPRETER = [
    pytest.param(
        "interpreter",
        marks=pytest.mark.skipif(
            sys.version_info < (3, 14), reason="needs Python 3.14 (InterpreterPoolExecutor)"
        ),
    )
]
LOCAL_EXECUTORS = ["inline", *PROCESS_EXECUTORS, *INTERPRETER]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "stagefns.py").write_text(textwrap.dedent(STAGES))
    (tmp_path / "marker_module.py").write_text("LOADED = True\n")
    (tmp_path / "fragments.py").write_text(FRAGMENTS)
    (tmp_path / "logs").mkdir()
    return tmp_path


@pytest.fixture
def lines() -> list[str]:
    return []


def make(name: str, root: Path, lines: list[str], preload: tuple[str, ...] = ()) -> StageExecutor:
    settings = ExecutorSettings(
        name=name,
        jobs=4,
        root=str(root),
        preload=("stagefns", *preload),
        on_output=lines.append,
        on_warning=lambda m: lines.append(f"WARNING {m}"),
    )
    return create(settings)


@pytest.fixture(params=LOCAL_EXECUTORS)
def executor(
    request: pytest.FixtureRequest, project: Path, lines: list[str]
) -> Iterator[StageExecutor]:
    monkey = pytest.MonkeyPatch()
    pool = make(request.param, project, lines)
    if not pool.capabilities.isolated:  # the stage imports its module in this process
        monkey.syspath_prepend(str(project))
    try:
        yield pool
    finally:
        pool.shutdown(cancel_futures=True)
        monkey.undo()
        sys.modules.pop("stagefns", None)


_WRITERS = (
    "write",
    "noisy",
    "show_env",
    "preloaded",
    "pdeathsig",
    "resident_kib",
    "stage_modules_loaded",
)


def task(root: Path, func: str, **params: object) -> StageTask:
    return StageTask(
        name=func,
        module="stagefns",
        qualname=func,
        root=str(root),
        params=params,
        outputs=("out.txt",) if func in _WRITERS else (),
        log_path=str(root / "logs" / f"{func}.log"),
    )


def result_of(future: Future[StageResult]) -> StageResult:
    return future.result(timeout=60)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")
@pytest.mark.parametrize("name", ["process", "warm"])
def test_a_stage_process_dies_with_its_parent(name: str, project: Path, lines: list[str]) -> None:
    """Its parent-death signal is SIGKILL: no stage outlives the process that started it."""
    with make(name, project, lines) as pool:
        assert result_of(pool.submit(task(project, "pdeathsig"))).ok
    assert (project / "out.txt").read_text() == "9"


def test_every_executor_meets_the_contract(executor: StageExecutor, project: Path) -> None:
    assert isinstance(executor, StageExecutor)
    assert isinstance(executor.capabilities, Capabilities)
    for _ in range(2):  # warm_up is accepted before and between runs, by every executor
        executor.warm_up(["json", "no_such_library_module"], {})
        assert result_of(executor.submit(task(project, "write"))).ok
        executor.reload(["stagefns"])  # project code changed (run --watch)


def test_capabilities_say_how_each_executor_runs_stages(project: Path, lines: list[str]) -> None:
    found: dict[str, Capabilities] = {}
    for name in ("inline", "process", "warm", *DASK):
        with make(name, project, lines) as pool:
            found[name] = pool.capabilities
    assert found["inline"] == Capabilities(isolated=False, concurrent=False)
    assert found["process"] == found["warm"] == Capabilities(isolated=True, concurrent=True)
    if DASK:  # its own LocalCluster: on this machine, placed by fastpipe
        assert found["dask"] == Capabilities(isolated=True, concurrent=True, remote=True)


def test_runs_a_stage_and_hashes_its_outputs(executor: StageExecutor, project: Path) -> None:
    result = result_of(executor.submit(task(project, "write", text="hi")))
    assert result.ok, result.error
    assert (project / "out.txt").read_text() == "hi"
    assert result.outputs["out.txt"].size == 2


def test_user_error_is_a_failed_result_with_their_traceback(
    executor: StageExecutor, project: Path
) -> None:
    result = result_of(executor.submit(task(project, "boom")))
    assert not result.ok
    assert result.error is not None
    assert "ValueError: the user's own error" in result.error
    assert "in boom" in result.error


def test_output_reaches_the_log(executor: StageExecutor, project: Path) -> None:
    result = result_of(executor.submit(task(project, "noisy")))
    assert result.ok, result.error
    log = (project / "logs" / "noisy.log").read_text()
    for text in ("from print", "from stderr", "from a subprocess"):
        assert text in log


@pytest.mark.parametrize("name", PROCESS_EXECUTORS)
def test_output_is_relayed_with_the_stage_prefix(
    name: str, project: Path, lines: list[str]
) -> None:
    with make(name, project, lines) as pool:
        assert result_of(pool.submit(task(project, "noisy"))).ok
    for text in ("from print", "from stderr", "from a subprocess"):
        assert f"[noisy] {text}" in lines


@pytest.mark.parametrize("func", ["exits", "killed", "segfault"])
@pytest.mark.parametrize("name", PROCESS_EXECUTORS)
def test_a_dying_worker_fails_only_its_stage(
    name: str, func: str, project: Path, lines: list[str]
) -> None:
    with make(name, project, lines) as pool:
        dead = result_of(pool.submit(task(project, func)))
        alive = result_of(pool.submit(task(project, "write", text="after")))
    assert not dead.ok
    assert dead.error is not None and f"stage '{func}'" in dead.error
    expected = {"exits": "code 3", "killed": "SIGKILL", "segfault": "SIGSEGV"}[func]
    assert expected in dead.error
    assert alive.ok and (project / "out.txt").read_text() == "after"


@pytest.mark.parametrize("name", PROCESS_EXECUTORS)
def test_stages_run_in_parallel(name: str, project: Path, lines: list[str]) -> None:
    with make(name, project, lines) as pool:
        futures = [pool.submit(task(project, "timed", name=n, seconds=1.0)) for n in "ab"]
        assert all(result_of(f).ok for f in futures)
    (a_start, a_end), (b_start, b_end) = (
        map(float, (project / f"{n}.span").read_text().split()) for n in "ab"
    )
    assert a_start < b_end and b_start < a_end  # the two sleeps overlapped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0); it is dead for our purposes
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split()[2] != "Z"


def _wait_gone(pid: int, seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("name", PROCESS_EXECUTORS)
def test_timeout_kills_the_stage_and_its_children(
    name: str, project: Path, lines: list[str]
) -> None:
    slow = StageTask(**{**task(project, "sleepy").__dict__, "timeout": 1.0})
    start = time.monotonic()
    with make(name, project, lines) as pool:
        result = result_of(pool.submit(slow))
    assert time.monotonic() - start < PROMPT_S  # the stage would sleep 30 s
    assert not result.ok
    assert result.error is not None and "timed out after 1s" in result.error
    assert _wait_gone(int((project / "child.pid").read_text()))


@pytest.mark.parametrize("name", PROCESS_EXECUTORS)
def test_shutdown_with_cancel_stops_running_stages_promptly(
    name: str, project: Path, lines: list[str]
) -> None:
    pool = make(name, project, lines)
    future = pool.submit(task(project, "sleepy"))
    deadline = time.monotonic() + 10
    while not (project / "child.pid").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    start = time.monotonic()
    pool.shutdown(cancel_futures=True)
    assert time.monotonic() - start < PROMPT_S  # the stage would sleep 30 s
    assert future.done()
    assert not future.result().ok
    assert _wait_gone(int((project / "child.pid").read_text()))


def test_env_is_applied_to_the_stage(executor: StageExecutor, project: Path) -> None:
    with_env = StageTask(
        **{**task(project, "show_env").__dict__, "env": {"CUDA_VISIBLE_DEVICES": "1"}}
    )
    assert result_of(executor.submit(with_env)).ok
    assert (project / "out.txt").read_text() == "1"


def test_warm_workers_start_with_the_preloaded_modules(project: Path, lines: list[str]) -> None:
    with make("warm", project, lines, preload=("marker_module",)) as pool:
        assert result_of(pool.submit(task(project, "preloaded"))).ok
    assert (project / "out.txt").read_text() == "True"


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="glibc's malloc_trim, /proc/self/status"
)
def test_warm_server_gives_back_the_heap_its_imports_freed(project: Path, lines: list[str]) -> None:
    """A stage process starts from the server's heap as it is after the imports, without the
    pages they freed: a fork's cost does not grow with what importing the pipeline once took."""
    with make("warm", project, lines, preload=("fragments",)) as pool:
        assert result_of(pool.submit(task(project, "resident_kib"))).ok
    assert int((project / "out.txt").read_text()) < 100_000  # KiB; ~200,000 if kept


def test_warm_stage_processes_start_with_what_running_a_stage_imports(
    project: Path, lines: list[str]
) -> None:
    with make("warm", project, lines) as pool:
        assert result_of(pool.submit(task(project, "stage_modules_loaded"))).ok
    assert (project / "out.txt").read_text() == "True"


def test_process_workers_start_cold(project: Path, lines: list[str]) -> None:
    with make("process", project, lines, preload=("marker_module",)) as pool:
        assert result_of(pool.submit(task(project, "preloaded"))).ok
    assert (project / "out.txt").read_text() == "False"


def test_a_failed_preload_is_reported(project: Path, lines: list[str]) -> None:
    with make("warm", project, lines, preload=("no_such_module_here",)) as pool:
        assert result_of(pool.submit(task(project, "write"))).ok
    warnings = [line for line in lines if line.startswith("WARNING")]
    assert any("no_such_module_here" in w and "ModuleNotFoundError" in w for w in warnings)


def test_warm_pool_survives_many_concurrent_submissions(project: Path, lines: list[str]) -> None:
    with make("warm", project, lines) as pool:
        futures = [
            pool.submit(task(project, "timed", name=f"s{i}", seconds=0.01)) for i in range(40)
        ]
        assert all(result_of(f).ok for f in futures)


def test_unknown_executor_is_an_error(project: Path, lines: list[str]) -> None:
    with pytest.raises(ExecutorError, match="unknown executor 'nope'"):
        make("nope", project, lines)


@pytest.mark.skipif(
    sys.version_info >= (3, 14), reason="InterpreterPoolExecutor exists on Python 3.14+"
)
def test_interpreter_executor_needs_python_314(project: Path, lines: list[str]) -> None:
    with pytest.raises(ExecutorError, match=r"needs Python 3\.14"):
        make("interpreter", project, lines)
    assert "interpreter" in NAMES


@pytest.mark.skipif(
    sys.version_info < (3, 14), reason="needs Python 3.14 (InterpreterPoolExecutor)"
)
def test_interpreter_executor_runs_one_stage_at_a_time_unisolated(
    project: Path, lines: list[str]
) -> None:  # pragma: no cover - Python 3.14 only
    with make("interpreter", project, lines) as pool:
        assert pool.capabilities == Capabilities(isolated=False, concurrent=False)


def test_threads_left_behind_are_daemons(project: Path, lines: list[str]) -> None:
    before = set(threading.enumerate())
    with make("warm", project, lines) as pool:
        assert result_of(pool.submit(task(project, "write"))).ok
    leftover = [t for t in threading.enumerate() if t not in before and t.is_alive()]
    assert all(t.daemon for t in leftover)


def test_warm_reload_imports_the_edited_project_modules_again(
    project: Path, lines: list[str]
) -> None:
    """Watch mode keeps the server across edits: `reload` forgets project modules only."""
    (project / "marker_module.py").write_text("VALUE = 'old'\n")
    (project / "stagefns.py").write_text(
        textwrap.dedent(STAGES)
        + "\ndef marker() -> None:\n    import marker_module, json\n"
        + "    Path('out.txt').write_text(marker_module.VALUE)\n"
    )
    marker = StageTask(**{**task(project, "marker").__dict__, "outputs": ("out.txt",)})
    with make("warm", project, lines, preload=("marker_module",)) as pool:
        assert isinstance(pool, WarmExecutor)
        assert result_of(pool.submit(marker)).ok
        assert (project / "out.txt").read_text() == "old"
        (project / "marker_module.py").write_text("VALUE = 'new'\n")
        assert result_of(pool.submit(marker)).ok
        assert (project / "out.txt").read_text() == "old"  # imported once, kept
        pool.reload(["stagefns", "marker_module"])
        assert result_of(pool.submit(marker)).ok
    assert (project / "out.txt").read_text() == "new"


def test_a_warm_reload_that_fails_to_import_warns_nothing_and_stages_still_run(
    project: Path, lines: list[str]
) -> None:
    """run --watch reports a broken edit from its own load; the server's is not repeated."""
    (project / "broken_module.py").write_text("value = (\n")
    with make("warm", project, lines) as pool:
        assert result_of(pool.submit(task(project, "write"))).ok
        pool.reload(["stagefns", "broken_module"])
        assert result_of(pool.submit(task(project, "write"))).ok  # answered after the reload
    assert not [line for line in lines if line.startswith("WARNING")], lines
