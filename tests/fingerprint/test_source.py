"""SourceIndex hands each def node out once and drops it, yet answers every later question."""

from __future__ import annotations

import ast
from pathlib import Path

from fastpipe.fingerprint import source

MODULE = """
def make(i):
    def inner():
        return i
    return inner

def top():
    return 1
"""


def _code(tmp_path: Path) -> tuple[str, dict[str, object]]:
    path = tmp_path / "mod.py"
    path.write_text(MODULE)
    namespace: dict[str, object] = {}
    exec(compile(MODULE, str(path), "exec"), namespace)
    return str(path), namespace


def test_a_def_asked_for_again_is_found_again(tmp_path: Path) -> None:
    _, ns = _code(tmp_path)
    index = source.SourceIndex()
    top = ns["top"].__code__  # pyright: ignore[reportAttributeAccessIssue]
    first = index.code_node(top)
    assert isinstance(first, ast.FunctionDef) and first.name == "top"
    again = index.code_node(top)  # e.g. a stage also called as a plain function
    assert isinstance(again, ast.FunctionDef)
    assert ast.dump(again) == ast.dump(first)


def test_closures_of_one_code_all_get_its_node(tmp_path: Path) -> None:
    _, ns = _code(tmp_path)
    index = source.SourceIndex()
    make = ns["make"]
    codes = [make(i).__code__ for i in range(3)]  # pyright: ignore[reportCallIssue, reportOptionalCall, reportFunctionMemberAccess]
    found = [index.code_node(code) for code in codes]
    assert all(isinstance(n, ast.FunctionDef) and n.name == "inner" for n in found)


def test_the_module_tree_is_whole_after_defs_were_handed_out(tmp_path: Path) -> None:
    filename, ns = _code(tmp_path)
    index = source.SourceIndex()
    index.code_node(ns["top"].__code__)  # pyright: ignore[reportAttributeAccessIssue]
    tree = index.tree(filename)
    assert tree is not None
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["make", "top"]
