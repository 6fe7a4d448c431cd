"""Tests for fastpipe.graph: building, checking, selecting and rendering the stage graph."""

from __future__ import annotations

import dataclasses
import itertools
import re
import time
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fastpipe.errors import GraphError, UnknownStageError
from fastpipe.graph import (
    build_graph,
    check_deps_exist,
    direct_upstream,
    select,
    stage_spec,
    to_ascii,
    to_dot,
    to_mermaid,
    topological_order,
)
from fastpipe.stage import StageSpec, spec_of, stage
from tests.strategies import expected_edges, pipelines


def spec(
    name: str,
    deps: tuple[str, ...] = (),
    outs: tuple[str, ...] = (),
    *,
    metrics: tuple[str, ...] = (),
    plots: tuple[str, ...] = (),
) -> StageSpec:
    return StageSpec(
        name=name, module="m", qualname=name, deps=deps, outs=outs, metrics=metrics, plots=plots
    )


def edges(graph: nx.DiGraph) -> dict[tuple[str, str], tuple[str, ...]]:
    return {(u, v): paths for u, v, paths in graph.edges(data="paths")}


def chain(*names: str) -> list[StageSpec]:
    """a -> b -> c ...: each stage outputs `<name>.out` and depends on the previous one's."""
    return [
        spec(name, deps=(f"{names[i - 1]}.out",) if i else (), outs=(f"{name}.out",))
        for i, name in enumerate(names)
    ]


DIAMOND = [
    spec("clean", ("raw.csv",), ("clean.csv",)),
    spec("featurize", ("clean.csv",), ("features.csv",)),
    spec("split", ("clean.csv",), ("split.csv",)),
    spec("train", ("features.csv", "split.csv"), ("model.pkl",)),
]


# --- build_graph: nodes and edges -------------------------------------------------------------


def test_nodes_carry_their_spec_and_edges_their_paths() -> None:
    specs = chain("a", "b", "c")
    graph = build_graph(specs)
    assert set(graph) == {"a", "b", "c"}
    assert graph.nodes["b"]["spec"] == specs[1]
    assert stage_spec(graph, "c") == specs[2]
    assert edges(graph) == {("a", "b"): ("a.out",), ("b", "c"): ("b.out",)}


def test_specs_from_the_stage_decorator() -> None:
    @stage(deps=["data/raw.csv"], outs=["data/clean.csv"])
    def clean(threshold: float = 0.5) -> None: ...

    @stage(deps=["data/clean.csv"], outs=["model.pkl"], metrics=["metrics.json"])
    def train(lr: float = 0.01) -> None: ...

    specs = [s for s in (spec_of(clean), spec_of(train)) if s is not None]
    assert edges(build_graph(specs)) == {("clean", "train"): ("data/clean.csv",)}


def test_metrics_and_plots_are_outputs() -> None:
    graph = build_graph(
        [
            spec("train", metrics=("metrics.json",), plots=("plots/loss.csv",)),
            spec("report", ("metrics.json", "plots")),
        ]
    )
    assert edges(graph) == {("train", "report"): ("metrics.json", "plots")}


def test_dep_inside_a_directory_output() -> None:
    graph = build_graph([spec("prep", outs=("data/prep",)), spec("use", ("data/prep/x/y.csv",))])
    assert edges(graph) == {("prep", "use"): ("data/prep/x/y.csv",)}


def test_dep_directory_containing_outputs_depends_on_each_producer() -> None:
    graph = build_graph(
        [
            spec("a", outs=("data/a.csv",)),
            spec("b", outs=("data/sub/b.csv",)),
            spec("c", outs=("other/c.csv",)),
            spec("all", ("data",)),
        ]
    )
    assert edges(graph) == {("a", "all"): ("data",), ("b", "all"): ("data",)}


def test_containment_is_by_path_components() -> None:
    graph = build_graph(
        [
            spec("a", outs=("data/a",)),
            spec("ab", ("data/ab", "data/a.csv", "data/a-b/x")),
            spec("c", outs=("data/ab.csv", "data/a.b")),
            spec("d", ("data/a",)),
        ]
    )
    assert edges(graph) == {("a", "d"): ("data/a",)}


def test_edge_paths_are_sorted_and_collect_every_dep() -> None:
    graph = build_graph(
        [spec("a", outs=("out", "z.csv")), spec("b", ("z.csv", "out/x", "out/a", "raw"))]
    )
    assert edges(graph) == {("a", "b"): ("out/a", "out/x", "z.csv")}


def test_empty_pipeline() -> None:
    graph = build_graph([])
    assert len(graph) == 0
    assert topological_order(graph) == []
    assert select(graph) == []


# --- build_graph: errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("deps", "outs", "expected"),
    [
        (("/etc/passwd",), (), "stage 'bad': dep '/etc/passwd' is absolute"),
        ((), ("C:/data/x.csv",), "stage 'bad': out 'C:/data/x.csv' is absolute"),
        (("../up.csv",), (), "stage 'bad': dep '../up.csv' is outside the project root"),
        ((), ("..",), "stage 'bad': out '..' is outside the project root"),
        ((".",), (), "stage 'bad': dep '.' is the project root itself"),
        ((), ("data/",), "stage 'bad': out 'data/' is not normalized; write it as 'data'"),
        (("a/./b",), (), "stage 'bad': dep 'a/./b' is not normalized; write it as 'a/b'"),
    ],
)
def test_paths_must_be_relative_normalized_and_inside_the_root(
    deps: tuple[str, ...], outs: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(GraphError, match=re.escape(expected)):
        build_graph([spec("ok", outs=("x",)), spec("bad", deps, outs)])


def test_dotdot_and_colons_inside_names_are_fine() -> None:
    graph = build_graph([spec("a", outs=("..hidden", "a:b")), spec("b", ("..hidden", "a:b"))])
    assert edges(graph) == {("a", "b"): ("..hidden", "a:b")}


def test_two_stages_with_one_name() -> None:
    with pytest.raises(GraphError, match="two stages are named 'a'; rename one"):
        build_graph([spec("a"), spec("b"), spec("a")])


def test_two_stages_declaring_one_output() -> None:
    message = "stages 'a' and 'b' both output 'data/x.csv'; each path may be output by one stage"
    with pytest.raises(GraphError, match=re.escape(message)):
        build_graph([spec("a", outs=("data/x.csv",)), spec("b", metrics=("data/x.csv",))])


def test_one_stage_declaring_an_output_twice() -> None:
    message = "stage 'a' declares output 'm.json' twice; keep one"
    with pytest.raises(GraphError, match=re.escape(message)):
        build_graph([spec("a", outs=("m.json",), metrics=("m.json",))])


@pytest.mark.parametrize("order", [("dir", "file"), ("file", "dir")])
def test_nested_outputs_of_different_stages(order: tuple[str, str]) -> None:
    specs = {"dir": spec("dir", outs=("a",)), "file": spec("file", plots=("a/b/c.csv",))}
    message = (
        "output 'a/b/c.csv' of stage 'file' is inside output 'a' of stage 'dir'; "
        "outputs of different stages must not overlap"
    )
    with pytest.raises(GraphError, match=re.escape(message)):
        build_graph([specs[name] for name in order])


@pytest.mark.parametrize(
    ("deps", "outs", "expected"),
    [
        (("x.csv",), ("x.csv",), "stage 's' depends on its own output 'x.csv'; remove it from"),
        (("d/x",), ("d",), "stage 's' depends on 'd/x', which overlaps its own output 'd'"),
        (("d",), ("d/x",), "stage 's' depends on 'd', which overlaps its own output 'd/x'"),
    ],
)
def test_a_stage_depending_on_its_own_output(
    deps: tuple[str, ...], outs: tuple[str, ...], expected: str
) -> None:
    with pytest.raises(GraphError, match=re.escape(expected)):
        build_graph([spec("s", deps, outs)])


def test_two_stage_cycle() -> None:
    specs = [spec("b", ("a.out",), ("b.out",)), spec("a", ("b.out",), ("a.out",))]
    with pytest.raises(GraphError, match=re.escape("cycle in the pipeline: a -> b -> a; remove")):
        build_graph(specs)


def test_cycle_message_prints_the_cycle_from_its_smallest_name() -> None:
    specs = [
        spec("root", outs=("root.out",)),
        spec("c", ("b.out", "root.out"), ("c.out",)),
        spec("a", ("c.out",), ("a.out",)),
        spec("b", ("a.out",), ("b.out",)),
    ]
    with pytest.raises(GraphError, match=re.escape("cycle in the pipeline: a -> b -> c -> a;")):
        build_graph(specs)


# --- check_deps_exist -------------------------------------------------------------------------


def test_missing_dep_names_the_stage_and_the_dep(tmp_path: Path) -> None:
    graph = build_graph([spec("train", ("data/x.csv",))])
    message = (
        "stage 'train' depends on 'data/x.csv', which does not exist and no stage outputs it; "
        "create it or add a stage that outputs it"
    )
    with pytest.raises(GraphError, match=re.escape(message)):
        check_deps_exist(graph, ["train"], tmp_path)


def test_deps_on_disk_or_produced_upstream_are_fine(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("x")
    (tmp_path / "rawdir").mkdir()
    graph = build_graph(
        [
            spec("a", ("raw.csv", "rawdir"), ("out.csv", "outdir", "d/o.csv")),
            spec("b", ("out.csv", "outdir/part", "d")),
        ]
    )
    check_deps_exist(graph, ["a", "b"], tmp_path)


def test_only_the_given_stages_are_checked(tmp_path: Path) -> None:
    graph = build_graph([spec("a", ("missing",)), spec("b")])
    check_deps_exist(graph, ["b"], tmp_path)
    with pytest.raises(GraphError, match="'missing'"):
        check_deps_exist(graph, select(graph), tmp_path)


def test_check_deps_exist_unknown_stage(tmp_path: Path) -> None:
    with pytest.raises(UnknownStageError, match="unknown stage 'trian' \\(did you mean 'train'"):
        check_deps_exist(build_graph([spec("train")]), ["trian"], tmp_path)


# --- order and selection ----------------------------------------------------------------------


def test_topological_order_breaks_ties_by_name() -> None:
    graph = build_graph([*reversed(DIAMOND), spec("aaa"), spec("zzz")])
    assert topological_order(graph) == ["aaa", "clean", "featurize", "split", "train", "zzz"]


def test_select_everything_without_targets() -> None:
    assert select(build_graph(DIAMOND)) == ["clean", "featurize", "split", "train"]


def test_select_targets_and_their_upstream() -> None:
    graph = build_graph([*DIAMOND, spec("report", ("model.pkl",)), spec("other")])
    assert select(graph, ["featurize"]) == ["clean", "featurize"]
    assert select(graph, ["train", "other"]) == ["clean", "featurize", "other", "split", "train"]
    assert select(graph, ["split", "split"]) == ["clean", "split"]


def test_select_downstream_leaves_out_stages_above() -> None:
    graph = build_graph([*DIAMOND, spec("report", ("model.pkl",)), spec("other")])
    assert select(graph, ["featurize"], downstream=True) == ["featurize", "train", "report"]
    assert select(graph, ["clean"], downstream=True) == [
        "clean",
        "featurize",
        "split",
        "train",
        "report",
    ]


def test_select_unknown_target_suggests_a_close_name() -> None:
    graph = build_graph(DIAMOND)
    with pytest.raises(UnknownStageError, match="unknown stage 'trian' \\(did you mean 'train'"):
        select(graph, ["trian"])
    with pytest.raises(UnknownStageError, match=r"unknown stage 'zzzz'$"):
        select(graph, ["clean", "zzzz"], downstream=True)


def test_direct_upstream_is_sorted() -> None:
    graph = build_graph(DIAMOND)
    assert direct_upstream(graph, "train") == ["featurize", "split"]
    assert direct_upstream(graph, "clean") == []
    with pytest.raises(UnknownStageError, match="unknown stage 'nope'"):
        direct_upstream(graph, "nope")


# --- rendering --------------------------------------------------------------------------------


def test_mermaid_uses_ids_with_quoted_labels() -> None:
    graph = build_graph(
        [
            spec("prep-data", outs=("p",)),
            spec("train@small", ("p",), ("m",)),
            spec("eval.v2", ("m",)),
            spec("lonely"),
        ]
    )
    assert to_mermaid(graph) == "\n".join(
        [
            "flowchart TD",
            '  n0["eval.v2"]',
            '  n1["lonely"]',
            '  n2["prep-data"]',
            '  n3["train@small"]',
            "  n2 --> n3",
            "  n3 --> n0",
        ]
    )


def test_mermaid_escapes_quotes_and_hashes() -> None:
    graph = nx.DiGraph()
    graph.add_node('say "hi" #1')
    assert to_mermaid(graph) == 'flowchart TD\n  n0["say #quot;hi#quot; #35;1"]'


def test_dot_quotes_every_name() -> None:
    graph = build_graph([*DIAMOND, spec("train@small")])
    assert to_dot(graph) == "\n".join(
        [
            "digraph fastpipe {",
            '  "clean";',
            '  "featurize";',
            '  "split";',
            '  "train";',
            '  "train@small";',
            '  "clean" -> "featurize";',
            '  "clean" -> "split";',
            '  "featurize" -> "train";',
            '  "split" -> "train";',
            "}",
        ]
    )


def test_dot_escapes_quotes_and_backslashes() -> None:
    graph = nx.DiGraph()
    graph.add_node('a"b\\c')
    assert to_dot(graph) == 'digraph fastpipe {\n  "a\\"b\\\\c";\n}'


def test_ascii_one_stage() -> None:
    assert to_ascii(build_graph([spec("only")])) == "only"


def test_ascii_empty() -> None:
    assert to_ascii(build_graph([])) == "(no stages)"


def test_ascii_chain() -> None:
    assert to_ascii(build_graph(chain("first", "second", "third"))) == (
        "first\nsecond  <- first\nthird   <- second"
    )


def test_ascii_diamond() -> None:
    assert to_ascii(build_graph(DIAMOND)) == "\n".join(
        [
            "clean",
            "featurize  <- clean",
            "split      <- clean",
            "train      <- featurize, split",
        ]
    )


def test_ascii_components_in_blocks_and_isolated_stages_last() -> None:
    specs = [*chain("x", "y"), *chain("b", "c"), spec("solo"), spec("alone")]
    assert to_ascii(build_graph(specs)) == "b\nc  <- b\n\nx\ny  <- x\n\nalone\nsolo"


# --- properties -------------------------------------------------------------------------------


@given(pipelines())
def test_random_pipelines_get_exactly_the_expected_edges(specs: list[StageSpec]) -> None:
    graph = build_graph(specs)
    assert set(graph) == {s.name for s in specs}
    assert edges(graph) == expected_edges(specs)


@given(pipelines())
def test_topological_order_respects_every_edge(specs: list[StageSpec]) -> None:
    graph = build_graph(specs)
    order = topological_order(graph)
    position = {name: i for i, name in enumerate(order)}
    assert sorted(order) == sorted(graph)
    assert all(position[u] < position[v] for u, v in graph.edges)
    assert order == topological_order(build_graph(reversed(specs)))


@given(st.data())
def test_select_is_targets_plus_ancestors_or_descendants(data: st.DataObject) -> None:
    graph = build_graph(data.draw(pipelines()))
    targets = data.draw(st.lists(st.sampled_from(sorted(graph)), max_size=3))
    up = select(graph, targets)
    down = select(graph, targets, downstream=True)
    if not targets:
        assert up == down == topological_order(graph)
        return
    ancestors = set().union(*(nx.ancestors(graph, t) for t in targets))
    descendants = set().union(*(nx.descendants(graph, t) for t in targets))
    assert set(up) == set(targets) | ancestors
    assert set(down) == set(targets) | descendants
    assert all(set(graph.predecessors(name)) <= set(up) for name in up)
    assert all(set(graph.successors(name)) <= set(down) for name in down)
    for chosen in (up, down):
        position = {name: i for i, name in enumerate(chosen)}
        assert len(position) == len(chosen)
        assert all(position[u] < position[v] for u, v in graph.subgraph(chosen).edges)


@given(st.data())
def test_a_back_edge_makes_a_cycle_error(data: st.DataObject) -> None:
    specs = data.draw(pipelines())
    graph = build_graph(specs)
    with_outputs = [s for s in specs if s.outputs and nx.ancestors(graph, s.name)]
    if not with_outputs:
        return
    below = data.draw(st.sampled_from(with_outputs))
    above = data.draw(st.sampled_from(sorted(nx.ancestors(graph, below.name))))
    back = dataclasses.replace(
        stage_spec(graph, above), deps=(*stage_spec(graph, above).deps, below.outputs[0])
    )
    changed = [back if s.name == above else s for s in specs]
    with pytest.raises(GraphError, match=r"^cycle in the pipeline: ") as caught:
        build_graph(changed)
    names = str(caught.value).split(": ", 1)[1].split(";")[0].split(" -> ")
    assert names[0] == names[-1]
    assert len(set(names)) == len(names) - 1
    cyclic = expected_edges(changed)
    assert all((u, v) in cyclic for u, v in itertools.pairwise(names))


# --- size -------------------------------------------------------------------------------------


def _timed_build(specs: list[StageSpec]) -> tuple[nx.DiGraph, float]:
    start = time.perf_counter()
    graph = build_graph(specs)
    return graph, time.perf_counter() - start


def test_ten_thousand_stage_chain_builds_quickly() -> None:
    n = 10_000
    specs = [
        spec(f"s{i}", (f"data/s{i - 1}.csv",) if i else (), (f"data/s{i}.csv",)) for i in range(n)
    ]
    graph, seconds = _timed_build(specs)
    print(f"10,000-stage chain: build_graph {seconds:.3f} s")
    assert graph.number_of_edges() == n - 1
    assert seconds < 120  # a bound, not a benchmark: benchmarks/ measures speed


def test_ten_thousand_stage_wide_graph_builds_quickly() -> None:
    n = 10_000
    specs = [spec("source", outs=("data/in",))]
    specs += [spec(f"w{i}", (f"data/in/part{i}",), (f"data/out/w{i}",)) for i in range(n - 2)]
    specs.append(spec("gather", ("data/out",), ("final",)))
    graph, seconds = _timed_build(specs)
    print(f"10,000-stage wide graph: build_graph {seconds:.3f} s")
    assert graph.number_of_edges() == 2 * (n - 2)
    assert len(select(graph, ["gather"])) == n
    assert seconds < 120  # a bound, not a benchmark: benchmarks/ measures speed


@pytest.mark.parametrize(
    ("stage_spec", "inner", "outer"),
    [
        (spec("evaluate", outs=("eval",), metrics=("eval/metrics.json",)), "metric", "out"),
        (spec("evaluate", outs=("eval", "eval/sub/x.csv")), "out", "out"),
        (spec("evaluate", metrics=("eval/m.json",), plots=("eval",)), "metric", "plot"),
    ],
)
def test_nested_outputs_of_one_stage_are_refused(
    stage_spec: StageSpec, inner: str, outer: str
) -> None:
    with pytest.raises(GraphError, match="DVC rejects overlapping outputs") as caught:
        build_graph([stage_spec])
    message = str(caught.value)
    assert message.startswith(f"stage 'evaluate': {inner} 'eval/")
    assert f"inside its {outer} 'eval'" in message and "\n" not in message


def test_sibling_outputs_of_one_stage_are_fine() -> None:
    build_graph([spec("evaluate", outs=("eval/plots", "evaluation"), metrics=("eval/m.json",))])
