"""The warm server: a process that imports the pipeline's modules once, then forks a stage
process per request, so every stage starts with numpy (or torch...) already imported.

`python -m fastpipe.executors.warm_server CONTROL_FD` talks to its executor over a socket:

    executor -> server   ("init", root, modules)   ("preload", modules)   ("run", id, payload)
                         ("reload", modules)   ("stop",)
    server -> executor   ("ready", failures)   ("reloaded", failures)   ("started", id, pid)
                         ("done", id, data, status)

It is single-threaded (so forking is safe), exits when its executor goes away, and takes its
stage processes with it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import pickle
import selectors
import signal
import sys
from multiprocessing.connection import Connection
from typing import Any

from fastpipe.executors.processes import (
    die_with_parent,
    kill_groups,
    pdeathsig_setter,
    release_free_memory,
)
from fastpipe.worker import STAGE_MODULES


def _preload(root: str, modules: list[str]) -> list[tuple[str, str]]:
    """Import `modules` with the project root importable; (module, error) for each failure.

    A name starting with `?` is a library object a stage uses (`?numpy.random.default_rng`):
    its longest importable prefix is imported, and failing to is no error.
    """
    if root not in sys.path:
        sys.path.insert(0, root)
    os.chdir(root)
    failures: list[tuple[str, str]] = []
    for name in modules:
        if name.startswith("?"):
            _import_longest_prefix(name[1:])
            continue
        try:
            importlib.import_module(name)
        except BaseException as exc:
            failures.append((name, f"{type(exc).__name__}: {exc}"))
    return failures


def _forget_project_modules(root: str, outside: set[str]) -> None:
    """Drop from sys.modules every module loaded from a file under `root` (not an installed
    package there), so that importing it again reads the edited source.

    `outside` holds the files found to lie outside the project at an earlier reload (their
    realpath, a few hundred of them, was the reload's largest cost): a library module keeps
    its file, and only project modules are imported again."""
    prefix = os.path.join(os.path.realpath(root), "")
    for name, module in list(sys.modules.items()):
        path = getattr(module, "__file__", None)
        if not path or path in outside:
            continue
        real = os.path.realpath(path)
        if real.startswith(prefix) and "site-packages" not in real:
            del sys.modules[name]
        else:
            outside.add(path)
    importlib.invalidate_caches()


def _import_longest_prefix(dotted: str) -> None:
    parts = dotted.split(".")
    for end in range(len(parts), 0, -1):
        name = ".".join(parts[:end])
        if name in sys.modules:
            return
        try:
            importlib.import_module(name)
            return
        except Exception:
            continue


def _settle() -> None:
    """After imports, before the next fork: everything imported so far lives as long as the
    server. Moved out of the collector's reach, a stage process's garbage collections do not
    touch (and so copy) those pages; the heap that compiling left free goes back to the system,
    so a fork copies the page tables of what the server holds, not of what it once needed."""
    gc.freeze()
    release_free_memory()


class _Server:
    def __init__(self, control: Connection, root: str) -> None:
        self.control = control
        self.root = root
        self.selector = selectors.DefaultSelector()
        self.selector.register(control, selectors.EVENT_READ)
        self.children: dict[int, tuple[int, int, bytearray]] = {}  # fd -> (id, pid, data)
        self.set_pdeathsig = pdeathsig_setter()  # loaded once, called in every stage process
        self.outside: set[str] = set()  # module files not under the root (see reload)

    def serve(self) -> None:
        while True:
            for key, _ in self.selector.select():
                if key.fileobj is self.control:
                    if not self._command():
                        return
                else:
                    self._collect(key.fd)

    def _command(self) -> bool:
        try:
            message: tuple[Any, ...] = self.control.recv()
        except (EOFError, OSError):
            message = ("stop",)
        if message[0] == "run":
            self._fork(message[1], message[2])
            return True
        if message[0] == "preload":
            self.control.send(("ready", _preload(self.root, message[1])))
            _settle()
            return True
        if message[0] == "reload":
            gc.unfreeze()
            _forget_project_modules(self.root, self.outside)
            self.control.send(("reloaded", _preload(self.root, message[1])))
            _settle()
            return True
        kill_groups([pid for _, pid, _ in self.children.values()])
        return False

    def _fork(self, request: int, payload: bytes) -> None:
        read_end, write_end = os.pipe()
        server = os.getpid()
        pid = os.fork()
        if pid == 0:
            os.close(read_end)
            self._child(write_end, payload, server)
        os.close(write_end)
        with contextlib.suppress(OSError):
            os.setpgid(pid, pid)  # also done in the child: whichever runs first wins the race
        self.children[read_end] = (request, pid, bytearray())
        self.selector.register(read_end, selectors.EVENT_READ)
        self.control.send(("started", request, pid))

    def _child(self, write_end: int, payload: bytes, server: int) -> None:
        status = 1
        try:
            os.setpgid(0, 0)
            die_with_parent(server, self.set_pdeathsig)
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)
            self.selector.close()
            for fd in list(self.children):
                os.close(fd)
            self.control.close()
            fn, args, kwargs = pickle.loads(payload)
            result = fn(*args, **kwargs)
            with os.fdopen(write_end, "wb") as out:
                pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)
            status = 0
        finally:
            os._exit(status)

    def _collect(self, fd: int) -> None:
        request, pid, data = self.children[fd]
        chunk = os.read(fd, 1 << 20)
        if chunk:
            data.extend(chunk)
            return
        self.selector.unregister(fd)
        os.close(fd)
        del self.children[fd]
        _, wait_status = os.waitpid(pid, 0)
        self.control.send(("done", request, bytes(data), os.waitstatus_to_exitcode(wait_status)))


def main(argv: list[str]) -> None:
    control = Connection(int(argv[0]))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the executor's to handle
    for name in STAGE_MODULES:  # what every stage process uses, imported once, here
        importlib.import_module(name)
    message = control.recv()
    assert message[0] == "init", message
    _, root, modules = message
    control.send(("ready", _preload(root, modules)))
    _settle()
    _Server(control, root).serve()


if __name__ == "__main__":
    main(sys.argv[1:])
