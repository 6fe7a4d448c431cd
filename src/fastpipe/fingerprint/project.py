"""Which code is the project's (fingerprinted by source) and which is a library's (by name)."""

from __future__ import annotations

import inspect
import os
import sys
import types

_FASTPIPE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class ProjectCode:
    """Project code = files under the root, outside virtualenvs and site-packages."""

    def __init__(self, root: str) -> None:
        self._root = os.path.realpath(root)
        self._relpaths: dict[str, str | None] = {}
        self._venv_dirs: dict[str, bool] = {}

    def relpath(self, filename: str) -> str | None:
        """`filename` relative to the root (POSIX) if it is project code, else None."""
        if filename not in self._relpaths:
            self._relpaths[filename] = self._classify(filename)
        return self._relpaths[filename]

    def module_relpath(self, module: types.ModuleType) -> str | None:
        filename = getattr(module, "__file__", None)
        return self.relpath(filename) if isinstance(filename, str) else None

    def is_function(self, func: types.FunctionType) -> bool:
        return self.relpath(func.__code__.co_filename) is not None

    def is_class(self, cls: type) -> bool:
        module = sys.modules.get(cls.__module__)
        return module is not None and self.module_relpath(module) is not None

    def is_callable(self, obj: object) -> bool:
        """Whether a wrapper (lru_cache, ...) ultimately wraps a project function."""
        inner = inspect.unwrap(obj)  # pyright: ignore[reportArgumentType]
        return isinstance(inner, types.FunctionType) and self.is_function(inner)

    def _classify(self, filename: str) -> str | None:
        if not filename or filename.startswith("<"):
            return None
        path = os.path.realpath(filename)
        if path.startswith(_FASTPIPE_DIR + os.sep):
            return None
        rel = os.path.relpath(path, self._root)
        parts = rel.split(os.sep)
        if parts[0] == ".." or os.path.isabs(rel):
            return None
        if "site-packages" in parts or "dist-packages" in parts:
            return None
        directory = self._root
        for part in parts[:-1]:
            directory = os.path.join(directory, part)
            if self._is_venv(directory):
                return None
        return "/".join(parts)

    def _is_venv(self, directory: str) -> bool:
        if directory not in self._venv_dirs:
            self._venv_dirs[directory] = os.path.exists(os.path.join(directory, "pyvenv.cfg"))
        return self._venv_dirs[directory]
