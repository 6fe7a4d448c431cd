"""What importing a pipeline depended on besides its source files, as it happened.

While the pipeline module is imported (and its stages fingerprinted), an audit hook records
every file opened for reading and every directory listed, and a profile hook notices project
code asking for ambient state (environment variables, the clock, randomness, the working
directory) or starting processes and network connections. A snapshot of the loaded pipeline
may stand in for a later import only when nothing ambient was asked for: the recorded files
and listings are then all the import depended on.
"""

from __future__ import annotations

import contextlib
import contextvars
import datetime
import os
import random
import sys
import time
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

_LISTINGS = frozenset({"os.listdir", "os.scandir"})
_PROCESS_OR_NETWORK = frozenset(
    {"subprocess.Popen", "os.system", "os.posix_spawn", "os.exec", "os.spawn", "os.fork",
     "socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"}
)  # fmt: skip
# C functions are matched by (owner, name): `date.today` is a new bound method on every access.
_BUILTINS: tuple[Any, ...] = (
    time.time, time.time_ns, time.localtime, time.gmtime, time.ctime, time.strftime,
    os.getcwd, os.urandom, os.getpid,
)  # fmt: skip
_AMBIENT_C_FUNCTIONS: dict[tuple[int, str], str] = {
    (id(f.__self__), f.__name__): f"{f.__module__ or 'os'}.{f.__name__}()" for f in _BUILTINS
} | {
    (id(owner), name): f"{owner.__name__}.{name}()"
    for owner, name in ((datetime.datetime, "now"), (datetime.datetime, "utcnow"),
                        (datetime.datetime, "today"), (datetime.date, "today"))
}  # fmt: skip
_ENVIRON_CODES = {
    id(code): "os.environ"
    for code in (
        os.getenv.__code__, type(os.environ).__getitem__.__code__,
        type(os.environ).__iter__.__code__, type(os.environ).__len__.__code__,
    )
}  # fmt: skip
_STDLIB = os.path.dirname(os.__file__) + os.sep
_FASTPIPE = os.path.dirname(os.path.abspath(__file__)) + os.sep

_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "fastpipe_import_watch", default=None
)


@dataclass(frozen=True)
class ImportRecord:
    """What a watched import read, listed, and asked for that no file records."""

    files_read: frozenset[str]  # absolute paths
    dirs_listed: frozenset[str]  # absolute paths
    ambient: tuple[str, ...]  # e.g. "os.environ read by pipeline.py:12"
    imports_tried: frozenset[str] = frozenset()  # top-level names of modules it imported


class Recorder:
    """Collects audit and profile events while active (see `watch`)."""

    def __init__(self, is_project_file: Callable[[str], bool]) -> None:
        self._is_project_file = is_project_file
        self.files_read: set[str] = set()
        self.dirs_listed: set[str] = set()
        self.ambient: dict[str, None] = {}
        self.imports_tried: set[str] = set()

    def record(self) -> ImportRecord:
        return ImportRecord(
            frozenset(self.files_read),
            frozenset(self.dirs_listed),
            tuple(self.ambient),
            frozenset(self.imports_tried),
        )

    def audit(self, event: str, args: tuple[Any, ...], frame: types.FrameType | None) -> None:
        if event == "open":
            path, mode = args[0], args[1]
            if isinstance(path, str | bytes | os.PathLike) and _reads_only(mode):
                self.files_read.add(os.path.abspath(os.fsdecode(path)))  # pyright: ignore[reportUnknownArgumentType]
        elif event in _LISTINGS:
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, str | bytes | os.PathLike):
                self.dirs_listed.add(os.path.abspath(os.fsdecode(path)))  # pyright: ignore[reportUnknownArgumentType]
        elif event == "import" and isinstance(args[0], str):
            self.imports_tried.add(args[0].split(".")[0])
        elif event in _PROCESS_OR_NETWORK:
            self._ambient(f"{event} ({_describe(args)})", frame)

    def profile_hook(self) -> Callable[[types.FrameType, str, Any], None]:
        """The sys.setprofile hook: a closure, as it runs for every call during the import."""
        c_functions, environ_codes, ambient = _AMBIENT_C_FUNCTIONS, _ENVIRON_CODES, self._ambient
        is_project_file, random_class = self._is_project_file, random.Random

        def hook(frame: types.FrameType, event: str, arg: Any) -> None:
            if event == "c_call":
                owner = getattr(arg, "__self__", None)
                name = c_functions.get((id(owner), getattr(arg, "__name__", "")))
                if name is None and isinstance(owner, random_class):
                    name = f"random.{getattr(arg, '__name__', '?')}()"
                if name is not None and is_project_file(frame.f_code.co_filename):
                    ambient(name, frame)
            elif event == "call":
                name = environ_codes.get(id(frame.f_code))
                if name is not None:
                    ambient(name, frame.f_back)

        return hook

    def _ambient(self, what: str, frame: types.FrameType | None) -> None:
        """Note `what` if the nearest caller outside the standard library is project code."""
        while frame is not None and frame.f_code.co_filename.startswith((_STDLIB, "<frozen")):
            frame = frame.f_back
        if frame is not None and self._is_project_file(frame.f_code.co_filename):
            where = f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"
            self.ambient[f"{what} at {where}"] = None


def _reads_only(mode: object) -> bool:
    if mode is None:
        return True
    if isinstance(mode, str):
        return not set(mode) & set("wax+")
    return False  # os.open flags: treat as not a plain read


def _describe(args: tuple[Any, ...]) -> str:
    return repr(args[:2])[:80]


def _audit_hook(event: str, args: tuple[Any, ...]) -> None:
    recorder = _ACTIVE.get()
    if recorder is None or event.startswith("sys."):  # sys._getframe below is audited too
        return
    frame = None
    if event in _PROCESS_OR_NETWORK or event in _LISTINGS:
        with contextlib.suppress(ValueError):
            frame = sys._getframe(1)
    if event in _LISTINGS and _listed_by_machinery(frame):
        return
    recorder.audit(event, args, frame)


def _listed_by_machinery(frame: types.FrameType | None) -> bool:
    """A listing by the import system (snapshot.listings_of covers what imports can find) or
    by fastpipe itself, not by the pipeline's own code."""
    while frame is not None:
        filename = frame.f_code.co_filename
        if filename.startswith("<frozen importlib") or filename.startswith(_FASTPIPE):
            return True
        if not filename.startswith(_STDLIB):
            return False
        frame = frame.f_back
    return False


@contextlib.contextmanager
def watch(is_project_file: Callable[[str], bool]) -> Iterator[Recorder]:
    """Record what the code run inside this block reads, lists and asks for."""
    # Audit hooks cannot be removed, so one hook is added per process, and it does nothing
    # unless a recorder is active in the current context.
    if not getattr(sys, "_fastpipe_audit_hook", False):
        sys.addaudithook(_audit_hook)
        sys._fastpipe_audit_hook = True  # pyright: ignore[reportAttributeAccessIssue]
    recorder = Recorder(is_project_file)
    token = _ACTIVE.set(recorder)
    profiling = sys.getprofile() is None  # under a profiler or debugger: leave its hook be
    if profiling:
        sys.setprofile(recorder.profile_hook())
    else:
        recorder.ambient["a profiler was active, so ambient reads could not be watched"] = None
    try:
        yield recorder
    finally:
        if profiling:
            sys.setprofile(None)
        _ACTIVE.reset(token)
