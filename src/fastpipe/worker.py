"""What runs where a stage runs: import it by name, run it, check and hash its outputs.

Names in, values out: a StageTask names the function (module, qualname) and carries plain
params; a StageResult carries hashes and text. Nothing raises across this boundary except
KeyboardInterrupt, so every executor can ship both through a pipe or a network.

A stage owns its process while it runs: its working directory, environment and file
descriptors 1 and 2 are the process's. Executors therefore run one stage per process at a
time, never several in threads of one process.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import shutil
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from fastpipe import devices, fdio, iowatch
from fastpipe.hashing import FileHash, StatCache, StatEntry, hash_path, hash_tree_files

_THIS_FILE = os.path.abspath(__file__)
# What run_stage imports only when needed (peak_rss; cached outputs, reflinked): a server that
# forks stage processes imports them once, ahead, so no stage process finds and loads them.
STAGE_MODULES = ("resource", "fcntl", "fastpipe.outstore")
_PUMP_GRACE_S = 2.0  # how long to wait for a stage's lingering child processes to close output


@dataclass(frozen=True)
class StageTask:
    """Everything a worker needs to run one stage, by name."""

    name: str
    module: str
    qualname: str
    root: str
    params: Mapping[str, Any] = field(default_factory=dict[str, Any])
    outputs: tuple[str, ...] = ()
    persist: bool = False
    log_path: str | None = None
    env: Mapping[str, str] = field(default_factory=dict[str, str])
    pickled: bytes | None = None  # cloudpickled function, when it cannot be imported by name
    echo: bool = True  # copy the stage's output, prefixed, to this process's stderr
    timeout: float | None = None  # enforced by the executor (the process is killed)
    dispatched_at: float = 0.0  # time.time() when the scheduler handed it to the executor
    cache_dir: str | None = None  # the output cache the cached outputs are stored in
    cached: tuple[str, ...] = ()  # the outputs kept in the cache
    cache_link: str = "reflink"  # how workspace files relate to cache objects (links.LinkMode)


@dataclass(frozen=True)
class StageResult:
    """How a stage run ended: output hashes on success, the error text otherwise."""

    name: str
    ok: bool
    outputs: Mapping[str, FileHash] = field(default_factory=dict[str, FileHash])
    stat_entries: Mapping[str, StatEntry] = field(default_factory=dict[str, StatEntry])
    duration: float = 0.0
    error: str | None = None
    started_at: float = 0.0  # time.time() when the stage function was called
    peak_gpu_memory: int | None = None  # bytes, sampled with NVML for stages given GPUs
    peak_rss: int | None = None  # bytes: this process and its waited-for children, at the end
    opened: tuple[tuple[str, bool], ...] = ()  # (root-relative path, written), see iowatch


def run_stage(task: StageTask) -> StageResult:
    """Run one stage in this process and describe the outcome (never raises but Ctrl-C)."""
    start = time.perf_counter()
    root = Path(task.root)

    def failed(error: str) -> StageResult:
        return StageResult(task.name, False, duration=time.perf_counter() - start, error=error)

    try:
        func = resolve_function(task)
    except Exception as exc:
        return failed(f"cannot load stage '{task.name}':\n{format_user_error(exc)}")
    try:
        prepare_outputs(root, task.outputs, task.persist)
    except OSError as exc:
        return failed(f"stage '{task.name}': cannot prepare its outputs: {exc}")
    started_at = time.time()
    sampler = GpuSampler.start(task.env.get("CUDA_VISIBLE_DEVICES"))
    try:
        with iowatch.watch(task.root) as opened:
            error = call_stage(func, task)
    except OSError as exc:  # the log could not be opened, or the like: fastpipe's side
        return failed(f"stage '{task.name}': cannot capture its output: {exc}")
    finally:
        peak = sampler.stop() if sampler else None
    if error is not None:
        _append_to_log(task.log_path, error)
        return failed(error)
    missing = [out for out in task.outputs if not os.path.lexists(root / out)]
    if missing:
        return failed(f"stage '{task.name}' did not produce {', '.join(missing)}")
    cache = StatCache.empty()
    hashes: dict[str, FileHash] = {}
    for out in task.outputs:
        try:
            found = _hash_and_store(task, root, out, cache)
        except _StoreError as exc:
            return failed(str(exc))
        except OSError as exc:
            return failed(f"stage '{task.name}': cannot read its output {out}: {exc}")
        if found is None:
            return failed(f"stage '{task.name}' did not produce {out}")
        hashes[out] = found
    duration = time.perf_counter() - start
    return StageResult(
        task.name, True, hashes, cache.new_entries(), duration, None, started_at, peak,
        peak_rss(), tuple(opened),
    )  # fmt: skip


def peak_rss() -> int | None:
    """The peak resident set size of this process or of any child it waited for, in bytes."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports KiB, macOS bytes
    return max(own, children) * scale


class _StoreError(Exception):
    """An output could not be stored in the cache (full disk, read-only cache)."""


def _hash_and_store(task: StageTask, root: Path, out: str, cache: StatCache) -> FileHash | None:
    """Hash one output and, if it is cached, store it (in this process: stages store in
    parallel). A failure to store leaves the workspace output and existing objects intact."""
    if task.cache_dir is None or out not in task.cached:
        return hash_path(root, out, cache)
    from fastpipe.outstore import store_output

    tree = hash_tree_files(root, out, cache)
    found = tree[0] if tree else hash_path(root, out, cache)
    if found is None:
        return None
    try:
        store_output(task.cache_dir, task.cache_link, root, out, found.hash, tree)
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise _StoreError(
            f"stage '{task.name}': cannot store its output {out} in the cache "
            f"{task.cache_dir}: {why}"
        ) from None
    return found


def resolve_function(task: StageTask) -> Callable[..., Any]:
    """The stage function: imported by module and qualname, or unpickled."""
    if task.root not in sys.path:  # a fresh worker process: make project modules importable
        sys.path.insert(0, task.root)
    if task.pickled is not None:
        import cloudpickle

        return cloudpickle.loads(task.pickled)
    obj: Any = importlib.import_module(task.module)
    for part in task.qualname.split("."):
        obj = getattr(obj, part)
    return obj


def prepare_outputs(root: Path, outputs: tuple[str, ...], persist: bool) -> None:
    """Remove declared outputs (unless persist) and make sure their directories exist."""
    for out in outputs:
        path = root / out
        if not persist:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            elif os.path.lexists(path):
                path.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)


def call_stage(func: Callable[..., Any], task: StageTask) -> str | None:
    """Call the stage in the project root with its params; the user's traceback on failure."""
    with (
        _working_directory(task.root),
        _environment({**pipeline_environment(task.root), **task.env}),
        captured_output(task.name, task.log_path, task.echo),
    ):
        try:
            func(**task.params)
        except SystemExit as exc:
            if exc.code not in (None, 0):
                return f"stage '{task.name}' called sys.exit({exc.code!r})"
        except Exception as exc:
            return format_user_error(exc)
    return None


def pipeline_environment(root: str) -> dict[str, str]:
    """What tools check to know that a pipeline runner runs them, as `dvc repro` sets it.

    dvclive reads DVC_ROOT: set, it does not `dvc exp save` when the stage ends (docs/dvc.md).
    Under `dvc repro` (a `fastpipe exec` cmd) DVC has set it already, to its own root.
    """
    return {} if os.environ.get("DVC_ROOT") else {"DVC_ROOT": root}


def _append_to_log(log_path: str | None, text: str) -> None:
    """The failure, after the stage's output: the log is where one looks after a long run."""
    if log_path:
        with contextlib.suppress(OSError), open(log_path, "a", encoding="utf-8") as log:
            log.write(f"\n{text}\n")


def format_user_error(exc: BaseException) -> str:
    """The traceback of an exception raised by user code, without fastpipe's own frames."""
    tb = exc.__traceback__
    while tb is not None and os.path.abspath(tb.tb_frame.f_code.co_filename) == _THIS_FILE:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


@contextlib.contextmanager
def _working_directory(path: str) -> Iterator[None]:
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _environment(env: Mapping[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextlib.contextmanager
def captured_output(name: str, log_path: str | None, echo: bool) -> Iterator[None]:
    """Send file descriptors 1 and 2 (so C code and subprocesses too) to the log and stderr.

    Lines echoed to the original stderr are prefixed with `[name] `.
    """
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    log = open(log_path, "wb") if log_path else None  # noqa: SIM115 - the pump closes it
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    # The pump owns its own copy of the echo target and closes it (and the log) itself: a
    # child process the stage left running may keep the pipe open past the stage, and must
    # never write into a descriptor number this process has since reused for another file.
    echo_fd = os.dup(saved[1]) if echo else None
    pump = threading.Thread(
        target=_pump, args=(read_end, log, echo_fd, f"[{name}] ".encode()), daemon=True
    )
    pump.start()
    old_streams = sys.stdout, sys.stderr
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stdout = _line_buffered(1)
    sys.stderr = _line_buffered(2)
    interrupted = True
    try:
        yield
        interrupted = False
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = old_streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in saved:
            os.close(fd)
        pump.join(0.1 if interrupted else _PUMP_GRACE_S)


def _line_buffered(fd: int) -> Any:
    return open(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)


def _pump(read_end: int, log: BinaryIO | None, echo_fd: int | None, prefix: bytes) -> None:
    pending = b""
    try:
        with os.fdopen(read_end, "rb", buffering=0) as source:
            while chunk := source.read(65536):
                if log is not None:
                    log.write(chunk)
                    log.flush()
                if echo_fd is None:
                    continue
                lines = (pending + chunk).split(b"\n")
                pending = lines.pop()
                for line in lines:  # one write per line: lines of parallel stages never mix
                    _write_all(echo_fd, prefix + line + b"\n")
        if pending and echo_fd is not None:
            _write_all(echo_fd, prefix + pending + b"\n")
    finally:
        if log is not None:
            log.close()
        if echo_fd is not None:
            os.close(echo_fd)


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):  # an echo to a closed terminal is not the stage's error
        fdio.write_all(fd, data)


class GpuSampler:
    """Samples, in a thread, the GPU memory this process and its children use (NVML)."""

    INTERVAL_S = 0.1

    def __init__(self, indexes: list[int], probe: Callable[[list[int], set[int]], int]) -> None:
        self._indexes = indexes
        self._probe = probe
        self._stop = threading.Event()
        self.peak = 0
        self._thread = threading.Thread(target=self._run, name="fastpipe-gpu", daemon=True)

    @classmethod
    def start(cls, visible: str | None) -> GpuSampler | None:
        """A running sampler for the devices in CUDA_VISIBLE_DEVICES, if NVML is available."""
        if not visible:
            return None
        probe = devices.gpu_memory_probe()
        if probe is None:
            return None
        sampler = cls([int(i) for i in visible.split(",") if i.strip().isdigit()], probe)
        sampler._thread.start()
        return sampler

    def _run(self) -> None:
        while True:
            with contextlib.suppress(Exception):  # a failed sample is only a missed sample
                self.peak = max(self.peak, self._probe(self._indexes, process_tree()))
            if self._stop.wait(self.INTERVAL_S):
                return

    def stop(self) -> int | None:
        self._stop.set()
        self._thread.join(1.0)
        return self.peak or None


def process_tree() -> set[int]:
    """This process and its descendants (Linux /proc; just this process elsewhere)."""
    found = {os.getpid()}
    frontier = [os.getpid()]
    while frontier:
        pid = frontier.pop()
        with contextlib.suppress(OSError):
            for task_dir in Path(f"/proc/{pid}/task").iterdir():
                children = (task_dir / "children").read_text().split()
                for child in map(int, children):
                    if child not in found:
                        found.add(child)
                        frontier.append(child)
    return found


def is_importable(func: object, module: str, qualname: str) -> bool:
    """Whether importing `module` and walking `qualname` gives back `func`."""
    if "<locals>" in qualname:
        return False
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is func
