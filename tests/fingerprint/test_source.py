"""SourceIndex hands each def node out once and drops it, yet answers every later question."""

from __future__ import annotations

import ast
import types
from pathlib import Path

import pytest

from fastpipe.fingerprint import sourceindex

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
    index = sourceindex.SourceIndex()
    top = ns["top"].__code__  # pyright: ignore[reportAttributeAccessIssue]
    first = index.code_node(top)
    assert isinstance(first, ast.FunctionDef) and first.name == "top"
    again = index.code_node(top)  # e.g. a stage also called as a plain function
    assert isinstance(again, ast.FunctionDef)
    assert ast.dump(again) == ast.dump(first)


def test_closures_of_one_code_all_get_its_node(tmp_path: Path) -> None:
    _, ns = _code(tmp_path)
    index = sourceindex.SourceIndex()
    make = ns["make"]
    codes = [make(i).__code__ for i in range(3)]  # pyright: ignore[reportCallIssue, reportOptionalCall, reportFunctionMemberAccess]
    found = [index.code_node(code) for code in codes]
    assert all(isinstance(n, ast.FunctionDef) and n.name == "inner" for n in found)


def test_the_module_tree_is_whole_after_defs_were_handed_out(tmp_path: Path) -> None:
    filename, ns = _code(tmp_path)
    index = sourceindex.SourceIndex()
    index.code_node(ns["top"].__code__)  # pyright: ignore[reportAttributeAccessIssue]
    tree = index.tree(filename)
    assert tree is not None
    assert [n.name for n in tree.body if isinstance(n, ast.FunctionDef)] == ["make", "top"]


TRICKY = '''"""A module docstring
with a line in column 0
"""
import functools

SQL = """
def not_code():
    return 0
"""
TABLE = [
1,
2,
]


@functools.lru_cache(
    maxsize=None,
)
@functools.wraps(print)
def decorated(x):
    return x  # a comment
# a comment in column 0, inside nothing


def with_string():
    text = """
def fake():
    pass
"""
    return text


if TABLE:
    def branch():
        return 1
else:
    def branch():
        return 2


class Box:
    size = 1

    def method(self):
        return lambda y: y + self.size


square = lambda v: v * v  # noqa: E731
'''


def _codes(code: types.CodeType) -> list[types.CodeType]:
    found = [code]
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            found += _codes(const)
    return found


def test_a_large_file_parsed_by_blocks_gives_the_nodes_a_whole_parse_gives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "tricky.py"
    path.write_text(TRICKY)
    codes = [c for c in _codes(compile(TRICKY, str(path), "exec")) if c.co_name != "<module>"]
    assert len(codes) >= 6
    whole = sourceindex.SourceIndex()
    expected = {(c.co_name, c.co_firstlineno): whole.code_node(c) for c in codes}
    monkeypatch.setattr(sourceindex, "CHUNKED_BYTES", -1)  # every file is "large"
    chunked = sourceindex.SourceIndex()
    for code in codes:
        node = chunked.code_node(code)
        want = expected[(code.co_name, code.co_firstlineno)]
        if want is None:  # a class body: classes are found by class_node
            assert node is None
            continue
        assert node is not None, code
        assert ast.dump(node, include_attributes=True) == ast.dump(want, include_attributes=True)
    box = chunked.class_node(str(path), "Box", TRICKY.splitlines().index("class Box:") + 1)
    assert box is not None and box.name == "Box"


def test_module_evals_of_a_large_file_parse_it_whole_only_when_it_names_eval_or_exec(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sourceindex, "CHUNKED_BYTES", -1)  # every file is "large"
    plain, hazard = tmp_path / "plain.py", tmp_path / "hazard.py"
    plain.write_text(MODULE)
    hazard.write_text(MODULE + "\nexec('GENERATED = 1')\n")
    parsed: list[str] = []
    real_parse = ast.parse

    def counting_parse(source: str, filename: str = "<unknown>", *args: object) -> ast.Module:
        parsed.append(filename)
        return real_parse(source, filename)

    monkeypatch.setattr(sourceindex.ast, "parse", counting_parse)
    index = sourceindex.SourceIndex()
    assert index.module_evals(str(plain)) == ()
    assert parsed == []  # no whole-file parse, and no whole-file index kept
    found = index.module_evals(str(hazard))
    assert len(found) == 1 and "module-level exec() (line 10)" in found[0]
    _, ns = _code(tmp_path)  # definitions are still found block by block afterwards
    node = index.code_node(ns["top"].__code__)  # pyright: ignore[reportAttributeAccessIssue]
    assert isinstance(node, ast.FunctionDef) and node.name == "top"
