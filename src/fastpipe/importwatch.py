"""What importing a pipeline depended on besides its source files, as it happened.

While the pipeline module is imported (and its stages fingerprinted), an audit hook records
every file opened for reading and every directory listed, and a profile hook notices project
code asking for ambient state (environment variables, the clock, randomness, the working
directory) or starting processes and network connections. A snapshot of the loaded pipeline
may stand in for a later import only when nothing ambient was asked for: the recorded files
and listings are then all the import depended on.

Who asked decides what counts. Library code is not fingerprinted, so what a library reads or
asks for *while it is being imported* (psutil reading /proc/stat, a package reading its own
data, the clock, the environment) is not something the pipeline depends on. What project code
asks for counts, also through library calls (`pandas.read_csv("x.csv")` at module level): for
each event the stack is walked outward from the frame that asked; the first project frame
makes it count, a library module's body run by the import machinery reached first makes it a
library's import (`origin`). Files under the project root always count.

The profile hook costs a Python call for every call made while it is set. It is switched off
while a library module's body runs (`_SwitchingFinder` wraps each new module's loader for the
watch), since what a library's import asks for does not count anyway, and on again for any
project module that import brings in.
"""

from __future__ import annotations

import _thread
import contextlib
import contextvars
import datetime
import enum
import os
import random
import sys
import time
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.machinery import ModuleSpec
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
# Files of the interpreter and of installed packages: never a snapshot source (snapshot._key).
_INSTALLED = tuple({p + os.sep for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)})
_MACHINERY = "<frozen importlib"


class Origin(enum.Enum):
    """Who asked for something, found by walking the stack outward (see `origin`)."""

    PROJECT = "project"  # project code, directly or through library or stdlib calls
    LIBRARY_IMPORT = "library import"  # a library module's body, run by an import
    OTHER = "other"  # fastpipe itself, or no project frame at all


_ACTIVE: contextvars.ContextVar[Recorder | None] = contextvars.ContextVar(
    "fastpipe_import_watch", default=None
)


@dataclass(frozen=True)
class ImportRecord:
    """What a watched import read, listed, and asked for that no file records."""

    files_read: frozenset[str]  # absolute paths
    dirs_listed: frozenset[str]  # absolute paths
    ambient: tuple[str, ...]  # e.g. "os.environ read at pipeline.py:12"
    imports_tried: frozenset[str] = frozenset()  # top-level names of modules it imported
    # absolute path (file read or directory listed) -> "pipeline.py:3", the project code that
    # asked, where one did
    asked_at: Mapping[str, str] = field(default_factory=dict[str, str])


class Recorder:
    """Collects audit and profile events while active (see `watch`)."""

    def __init__(self, is_project_file: Callable[[str], bool]) -> None:
        self._is_project_file = is_project_file
        self.files_read: set[str] = set()
        self.dirs_listed: set[str] = set()
        self.ambient: dict[str, None] = {}
        self.imports_tried: set[str] = set()
        self.asked_at: dict[str, str] = {}

    def record(self) -> ImportRecord:
        return ImportRecord(
            frozenset(self.files_read),
            frozenset(self.dirs_listed),
            tuple(self.ambient),
            frozenset(self.imports_tried),
            dict(self.asked_at),
        )

    def origin(self, frame: types.FrameType | None) -> tuple[Origin, types.FrameType | None]:
        """Who asked, walking outward from `frame`: the first project frame (PROJECT, and that
        frame), or a library module's body run by the import machinery (LIBRARY_IMPORT), or a
        fastpipe frame or the bottom of the stack (OTHER)."""
        is_project_file = self._is_project_file
        while frame is not None:
            code = frame.f_code
            filename = code.co_filename
            if code in _LOADER_CODES:  # creating or running a module (an extension's too)
                loader = frame.f_locals.get("self")
                if isinstance(loader, _SwitchingLoader) and not loader.project:
                    return Origin.LIBRARY_IMPORT, None
                frame = frame.f_back
                continue
            if filename.startswith(_FASTPIPE):
                return Origin.OTHER, None
            if is_project_file(filename):
                return Origin.PROJECT, frame
            back = frame.f_back
            if (
                code.co_name == "<module>"
                and back is not None
                and back.f_code.co_filename.startswith(_MACHINERY)
                and not filename.startswith("<")
            ):
                return Origin.LIBRARY_IMPORT, None
            frame = back
        return Origin.OTHER, None

    def audit(self, event: str, args: tuple[Any, ...], frame: types.FrameType | None) -> None:
        if event == "open":
            path, mode = args[0], args[1]
            if isinstance(path, str | bytes | os.PathLike) and _reads_only(mode):
                self._read(os.path.abspath(os.fsdecode(path)), frame)  # pyright: ignore[reportUnknownArgumentType]
        elif event in _LISTINGS:
            path = args[0] if args and args[0] is not None else "."
            if isinstance(path, str | bytes | os.PathLike):
                absolute = os.path.abspath(os.fsdecode(path))  # pyright: ignore[reportUnknownArgumentType]
                who, asker = self.origin(frame)
                if who is not Origin.LIBRARY_IMPORT:  # (importlib.metadata scans sys.path)
                    self.dirs_listed.add(absolute)
                    self._note_asker(absolute, asker)
        elif event == "import" and isinstance(args[0], str):
            self.imports_tried.add(args[0].split(".")[0])
        elif event in _PROCESS_OR_NETWORK:
            self._ambient(f"{event} ({_describe(args)})", frame)
        elif event == "exec" and sys.getprofile() is None and _WATCHING.get() is not None:
            code = args[0]
            if isinstance(code, types.CodeType) and self._is_project_file(code.co_filename):
                # A project module run where the profile hook was off (imported by a library
                # through an import hook the watch did not see): its ambient reads are unseen.
                name = os.path.basename(code.co_filename)
                self.ambient[f"{name} ran unwatched inside a library's import"] = None

    def _read(self, path: str, frame: types.FrameType | None) -> None:
        if "site-packages" in path:
            return  # installed code and data: never a snapshot source (snapshot._key)
        if self._is_project_file(path):
            self.files_read.add(path)
            self._note_asker(path, self.origin(frame)[1])
            return
        if path.startswith(_INSTALLED):
            return  # the interpreter's own files, likewise
        who, asker = self.origin(frame)
        if who is not Origin.LIBRARY_IMPORT:
            self.files_read.add(path)
            self._note_asker(path, asker)

    def _note_asker(self, path: str, frame: types.FrameType | None) -> None:
        if frame is not None and path not in self.asked_at and not _imported(path):
            self.asked_at[path] = _where(frame)

    def profile_hook(self) -> Callable[[types.FrameType, str, Any], None]:
        """The sys.setprofile hook: a closure, as it runs for every call during the import."""
        c_functions, environ_codes, ambient = _AMBIENT_C_FUNCTIONS, _ENVIRON_CODES, self._ambient
        random_class = random.Random

        def hook(frame: types.FrameType, event: str, arg: Any) -> None:
            if event == "c_call":
                owner = getattr(arg, "__self__", None)
                name = c_functions.get((id(owner), getattr(arg, "__name__", "")))
                if name is None and isinstance(owner, random_class):
                    name = f"random.{getattr(arg, '__name__', '?')}()"
                if name is not None:
                    ambient(f"{name} called", frame)
            elif event == "call":
                name = environ_codes.get(id(frame.f_code))
                if name is not None:
                    ambient(f"{name} read", frame.f_back)

        return hook

    def _ambient(self, what: str, frame: types.FrameType | None) -> None:
        """Note `what` if project code asked for it (directly or through library calls)."""
        who, asker = self.origin(frame)
        if who is Origin.PROJECT and asker is not None:
            self.ambient[f"{what} at {_where(asker)}"] = None


def _imported(path: str) -> bool:
    """A module's source (read by the import system, not asked for by code)."""
    return path.endswith(_SOURCE_SUFFIXES)


_SOURCE_SUFFIXES = (".py", ".pyc", ".so", ".pyd", ".pth")


def _where(frame: types.FrameType) -> str:
    return f"{os.path.basename(frame.f_code.co_filename)}:{frame.f_lineno}"


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
    if event in _PROCESS_OR_NETWORK or event in _LISTINGS or event == "open":
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
    finder = None
    if profiling:
        hook = recorder.profile_hook()
        finder = _SwitchingFinder(hook, is_project_file)
        sys.meta_path.insert(0, finder)
        watching = _WATCHING.set(hook)
        sys.setprofile(hook)
    else:
        recorder.ambient["a profiler was active, so ambient reads could not be watched"] = None
    try:
        yield recorder
    finally:
        if finder is not None:
            sys.setprofile(None)
            finder.close()
            with contextlib.suppress(ValueError):
                sys.meta_path.remove(finder)
            _WATCHING.reset(watching)  # pyright: ignore[reportPossiblyUnboundVariable]
        _ACTIVE.reset(token)


# The profile hook of the watch running in this context (None: no watch, or a profiler's).
_WATCHING: contextvars.ContextVar[Callable[..., None] | None] = contextvars.ContextVar(
    "fastpipe_import_watch_hook", default=None
)


class _SwitchingFinder:
    """First on sys.meta_path during a watch: finds each new module as the finders after it
    would, and wraps its loader so that the module's body runs with the watch's profile hook
    off (a library) or on (project code), in the watching thread only."""

    def __init__(self, hook: Callable[..., None], is_project_file: Callable[[str], bool]) -> None:
        self._hook = hook
        self._is_project_file = is_project_file
        self.thread = _thread.get_ident()
        self.open = True

    def close(self) -> None:
        self.open = False  # a spec found but not loaded during the watch loads plainly

    def find_spec(
        self, name: str, path: Any = None, target: types.ModuleType | None = None
    ) -> ModuleSpec | None:
        if not self.open or _thread.get_ident() != self.thread:
            return None
        spec = None
        for finder in sys.meta_path:
            if finder is self:
                continue
            find = getattr(finder, "find_spec", None)
            if find is None:
                return None  # a legacy finder: let the import system ask them all in order
            spec = find(name, path, target)
            if spec is not None:
                break
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        where = spec.origin if spec.has_location and spec.origin else ""
        project = bool(where) and self._is_project_file(where)
        spec.loader = _SwitchingLoader(spec.loader, self, self._hook if project else None)  # pyright: ignore[reportAttributeAccessIssue]
        return spec


class _SwitchingLoader:
    """Runs one module's creation and body with the profile hook set to `profile`, then
    gives the spec and the module their own loader back."""

    def __init__(self, loader: Any, finder: _SwitchingFinder, profile: Any) -> None:
        self._loader = loader
        self._finder = finder
        self._profile = profile
        self.project = profile is not None

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        create = getattr(self._loader, "create_module", None)
        if create is None:
            return None
        try:
            with self._switched():
                return create(spec)
        except BaseException:
            spec.loader = self._loader
            raise

    def exec_module(self, module: types.ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        with self._switched():
            self._loader.exec_module(module)

    @contextlib.contextmanager
    def _switched(self) -> Iterator[None]:
        if not self._finder.open or _thread.get_ident() != self._finder.thread:
            yield
            return
        previous = sys.getprofile()
        sys.setprofile(self._profile)
        try:
            yield
        finally:
            sys.setprofile(previous)


_LOADER_CODES = frozenset(
    {_SwitchingLoader.create_module.__code__, _SwitchingLoader.exec_module.__code__}
)
