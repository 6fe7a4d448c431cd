"""What runs where a stage runs: import it by name, run it, check and hash its outputs.

Names in, values out: a StageTask names the function (module, qualname) and carries plain
params; a StageResult carries hashes and text. Nothing raises across this boundary except
KeyboardInterrupt, so every executor can ship both through a pipe or a network.
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

from fastpipe.hashing import FileHash, StatCache, StatEntry, hash_path

_THIS_FILE = os.path.abspath(__file__)
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


@dataclass(frozen=True)
class StageResult:
    """How a stage run ended: output hashes on success, the error text otherwise."""

    name: str
    ok: bool
    outputs: Mapping[str, FileHash] = field(default_factory=dict[str, FileHash])
    stat_entries: Mapping[str, StatEntry] = field(default_factory=dict[str, StatEntry])
    duration: float = 0.0
    error: str | None = None


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
    prepare_outputs(root, task.outputs, task.persist)
    error = call_stage(func, task)
    if error is not None:
        return failed(error)
    missing = [out for out in task.outputs if not os.path.lexists(root / out)]
    if missing:
        return failed(f"stage '{task.name}' did not produce {', '.join(missing)}")
    cache = StatCache.empty()
    hashes: dict[str, FileHash] = {}
    for out in task.outputs:
        found = hash_path(root, out, cache)
        if found is None:
            return failed(f"stage '{task.name}' did not produce {out}")
        hashes[out] = found
    duration = time.perf_counter() - start
    return StageResult(task.name, True, hashes, cache.new_entries(), duration)


def resolve_function(task: StageTask) -> Callable[..., Any]:
    """The stage function: imported by module and qualname, or unpickled."""
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
        _environment(task.env),
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
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    read_end, write_end = os.pipe()
    log = open(log_path, "wb") if log_path else None  # noqa: SIM115 - closed below
    pump = threading.Thread(
        target=_pump,
        args=(read_end, log, saved[1] if echo else None, f"[{name}] ".encode()),
        daemon=True,
    )
    pump.start()
    old_streams = sys.stdout, sys.stderr
    os.dup2(write_end, 1)
    os.dup2(write_end, 2)
    os.close(write_end)
    sys.stdout = _line_buffered(1)
    sys.stderr = _line_buffered(2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = old_streams
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        pump.join(_PUMP_GRACE_S)
        for fd in saved:
            os.close(fd)
        if log is not None and not pump.is_alive():
            log.close()


def _line_buffered(fd: int) -> Any:
    return open(fd, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)


def _pump(read_end: int, log: BinaryIO | None, echo_fd: int | None, prefix: bytes) -> None:
    pending = b""
    with os.fdopen(read_end, "rb", buffering=0) as source:
        while chunk := source.read(65536):
            if log is not None:
                log.write(chunk)
                log.flush()
            if echo_fd is None:
                continue
            lines = (pending + chunk).split(b"\n")
            pending = lines.pop()
            if lines:
                _write_all(echo_fd, b"".join(prefix + line + b"\n" for line in lines))
    if pending and echo_fd is not None:
        _write_all(echo_fd, prefix + pending + b"\n")


def _write_all(fd: int, data: bytes) -> None:
    with contextlib.suppress(OSError):
        while data:
            data = data[os.write(fd, data) :]


def is_importable(func: object, module: str, qualname: str) -> bool:
    """Whether importing `module` and walking `qualname` gives back `func`."""
    if "<locals>" in qualname:
        return False
    obj: Any = sys.modules.get(module)
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
    return obj is func
