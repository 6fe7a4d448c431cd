"""The raw-bytecode scan of global reads agrees with the dis-based one, on a lot of code."""

from __future__ import annotations

import ast
import importlib
import types

import pytest

from fastpipe.fingerprint import bytecode

STDLIB_MODULES = [
    "argparse", "ast", "asyncio.base_events", "collections", "dataclasses", "email.message",
    "functools", "http.client", "inspect", "json.decoder", "logging", "pathlib", "shutil",
    "subprocess", "tarfile", "typing", "unittest.case", "zipfile",
]  # fmt: skip


def functions_of(module: types.ModuleType) -> list[types.CodeType]:
    found = []
    for value in vars(module).values():
        if isinstance(value, types.FunctionType):
            found.append(value.__code__)
        elif isinstance(value, type):
            for attr in vars(value).values():
                func = getattr(attr, "__func__", attr)
                if isinstance(func, types.FunctionType):
                    found.append(func.__code__)
    return found


def dis_scan(code: types.CodeType) -> set[tuple[str, ...]]:
    chains: set[tuple[str, ...]] = set()
    locals_: set[tuple[str, ...]] = set()
    for sub in bytecode.code_objects(code):
        bytecode._scan(sub, frozenset(), chains, locals_)
    return chains


def fast_scan(code: types.CodeType) -> set[tuple[str, ...]]:
    return bytecode.read_chains(code)[0]


@pytest.mark.parametrize("name", STDLIB_MODULES)
def test_fast_scan_matches_dis_on_the_standard_library(name: str) -> None:
    codes = functions_of(importlib.import_module(name))
    assert codes
    for code in codes:
        assert fast_scan(code) == dis_scan(code), code.co_qualname


def test_fast_scan_handles_many_names_and_nested_code() -> None:
    # More than 256 names forces EXTENDED_ARG; comprehensions and lambdas nest code objects.
    names = [f"g{i}" for i in range(300)]
    body = " + ".join(f"{n}.attr{i}" for i, n in enumerate(names))
    source = f"def f():\n    x = [lambda: h.a.b for _ in range(2)]\n    return {body}\n"
    namespace: dict[str, object] = {}
    exec(compile(ast.parse(source), "<test>", "exec"), namespace)
    code = namespace["f"].__code__  # pyright: ignore[reportAttributeAccessIssue]
    found = fast_scan(code)
    assert found == dis_scan(code)
    assert ("g299", "attr299") in found and ("h", "a", "b") in found
