"""Tests for fastpipe.context: what a repeated load (run --watch) takes over from the last one,
and that it never keeps anything whose source changed."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastpipe import graph
from fastpipe.context import Context, open_context

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["a.txt"], timeout={timeout})
def a(rate: float = 0.1, sizes: list[int] = [1]) -> None:
    Path("a.txt").write_text(str(rate))


@stage(deps=[{dep}], outs=["b.txt"])
def b() -> None:
    Path("b.txt").write_text("b")
"""


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "in.txt").write_text("x")
    write(tmp_path, timeout=10, dep='"in.txt"')
    before = dict(sys.modules)
    yield tmp_path
    for name in set(sys.modules) - set(before):
        del sys.modules[name]


def write(root: Path, *, timeout: int, dep: str) -> None:
    (root / "pipeline.py").write_text(PIPELINE.format(timeout=timeout, dep=dep))


def load(root: Path, previous: Context | None = None) -> Context:
    derived = previous.derived if previous is not None else None
    return open_context(root, listener=lambda _e: None, repeated=True, previous=derived)


def test_an_edited_params_yaml_is_parsed_again(root: Path) -> None:
    (root / "params.yaml").write_text("a:\n  rate: 0.5\n")
    first = load(root)
    assert first.params["a"]["rate"] == 0.5
    (root / "params.yaml").write_text("a:\n  rate: 0.7\n")
    assert load(root, first).params["a"]["rate"] == 0.7
    (root / "params.yaml").unlink()
    assert load(root, first).params["a"]["rate"] == 0.1


def test_an_unchanged_params_yaml_is_taken_over_as_a_copy(root: Path) -> None:
    (root / "params.yaml").write_text("a:\n  sizes: [1, 2]\n")
    first = load(root)
    first.params["a"]["sizes"].append(3)  # an inline stage mutating its params
    second = load(root, first)
    assert second.params["a"]["sizes"] == [1, 2]
    second.params["a"]["sizes"].append(4)
    assert load(root, second).params["a"]["sizes"] == [1, 2]


def test_the_graph_is_built_again_when_a_dep_changes(root: Path) -> None:
    first = load(root)
    assert list(first.graph.predecessors("b")) == []
    write(root, timeout=10, dep='"a.txt"')
    second = load(root, first)
    assert list(second.graph.predecessors("b")) == ["a"]
    assert list(first.graph.predecessors("b")) == []  # the last cycle's graph is not touched


def test_a_graph_taken_over_holds_the_new_specs(root: Path) -> None:
    first = load(root)
    write(root, timeout=99, dep='"in.txt"')
    second = load(root, first)
    assert graph.stage_spec(second.graph, "a").timeout == 99
    assert graph.stage_spec(first.graph, "a").timeout == 10


def test_a_plain_load_keeps_nothing_for_a_next_one(root: Path) -> None:
    ctx = open_context(root, listener=lambda _e: None)
    assert ctx.derived is None and ctx.load is not None
    assert load(root).load is None  # a repeated load is not recorded for a snapshot
