"""Code the walker cannot read from a source file, told apart from library code.

Functions compiled from strings (`eval`, `exec`) have no file: they are hashed by their code
object and reported. A project module that raises when imported while fingerprinting (it
needs a library only the GPU machines have) is not a library: the walker fingerprints it from
its file and reports it.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass

from fastpipe.fingerprint.project import ProjectCode


@dataclass(frozen=True)
class ImportFailure:
    """A project module that raised when imported for fingerprinting."""

    name: str
    origin: str  # its source file
    error: str  # `ImportError: ...`

    @property
    def warning(self) -> str:
        return (
            f"project module '{self.name}' could not be imported while fingerprinting "
            f"({self.error}); fingerprinted from its source file"
        )


def try_import(
    name: str, project: ProjectCode, import_module: Callable[[str], types.ModuleType]
) -> types.ModuleType | ImportFailure | None:
    """The module `name` if it is project code; its failure if importing it raised.

    None: not project code (a library, installed or not), which is recorded by name.
    """
    try:
        spec = importlib.util.find_spec(name.split(".")[0])
    except (ImportError, ValueError):
        return None
    if spec is None or spec.origin is None or project.relpath(spec.origin) is None:
        return None
    try:
        return import_module(name)
    except Exception as exc:
        origin = spec.origin
        with contextlib.suppress(Exception):  # the submodule's own file, if it has one
            found = importlib.util.find_spec(name)
            origin = found.origin if found is not None and found.origin else origin
        return ImportFailure(name, origin, f"{type(exc).__name__}: {exc}")


def is_dynamic(func: types.FunctionType, project: ProjectCode) -> bool:
    """A function compiled from a string (eval, exec) by project code, not by a library."""
    filename = func.__code__.co_filename
    if not filename.startswith("<") or filename.startswith("<frozen"):
        return False
    name = func.__globals__.get("__name__")
    module = sys.modules.get(name) if isinstance(name, str) else None
    if module is None or vars(module) is not func.__globals__:
        return True  # exec(SRC, namespace): the globals of no module
    return project.module_relpath(module) is not None


def dynamic_warning(func: types.FunctionType) -> str:
    return (
        f"made by eval() or exec() from a string (its code is in {func.__code__.co_filename}, "
        "not in a file): fingerprinted by its bytecode, which changes with the Python "
        "version; define it in a module instead"
    )


def code_token(code: types.CodeType) -> tuple[object, ...]:
    """A code object's meaning, the same in every process: bytecode, names and constants.

    Constants are tokenized by type and value; nested code objects recursively; frozensets
    (`x in {'a', 'b'}`) sorted, as their iteration order depends on the hash seed.
    """
    return (
        code.co_code.hex(),
        code.co_names,
        code.co_varnames,
        code.co_freevars,
        code.co_cellvars,
        (code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, code.co_flags),
        tuple(_constant_token(c) for c in code.co_consts),
    )


def _constant_token(value: object) -> object:
    if isinstance(value, types.CodeType):
        return code_token(value)
    if isinstance(value, frozenset):
        members: frozenset[object] = value  # pyright: ignore[reportUnknownVariableType]
        return ("frozenset", sorted(repr(_constant_token(v)) for v in members))
    if isinstance(value, tuple):
        items: tuple[object, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return ("tuple", tuple(_constant_token(v) for v in items))
    return (type(value).__name__, repr(value))
