"""The pipeline graph: pure functions over nx.DiGraph that build, check, select and render it."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath, PureWindowsPath

import networkx as nx

from fastpipe.errors import GraphError, UnknownStageError
from fastpipe.stage import StageSpec, normalize_path
from fastpipe.targets import expand as expand_targets


def build_graph(specs: Iterable[StageSpec]) -> nx.DiGraph:
    """One node per stage (attribute `spec`), an edge producer -> consumer (attribute `paths`)."""
    stages = _unique(specs)
    for spec in stages:
        _check_paths(spec)
    producers = _output_index(stages)
    outputs = sorted(producers)
    graph = nx.DiGraph()
    for spec in stages:
        graph.add_node(spec.name, spec=spec)
    for spec in stages:
        for producer, paths in _producers_of(spec, producers, outputs).items():
            graph.add_edge(producer, spec.name, paths=tuple(sorted(paths)))
    _check_acyclic(graph)
    return graph


def check_deps_exist(graph: nx.DiGraph, stages: Iterable[str], root: Path) -> None:
    """Raise GraphError for a dep of `stages` that no upstream stage outputs and is not on disk."""
    for name in stages:
        spec = stage_spec(graph, name)
        produced = {path for _, _, paths in graph.in_edges(name, data="paths") for path in paths}
        for dep in spec.deps:
            if dep not in produced and not (root / dep).exists():
                raise GraphError(
                    f"stage '{name}' depends on '{dep}', which does not exist and no stage "
                    "outputs it; create it or add a stage that outputs it"
                )


def stage_spec(graph: nx.DiGraph, name: str) -> StageSpec:
    """The StageSpec of stage `name`; UnknownStageError if the graph has no such stage."""
    _require(graph, name)
    return graph.nodes[name]["spec"]


def topological_order(graph: nx.DiGraph) -> list[str]:
    """Every stage, upstream before downstream, ties broken by name."""
    return list(nx.lexicographical_topological_sort(graph))


def select(
    graph: nx.DiGraph, targets: Sequence[str] = (), *, downstream: bool = False
) -> list[str]:
    """The stages a run of `targets` covers, in topological order (no targets: every stage).

    The targets plus everything upstream of them; with `downstream`, the targets plus everything
    below them instead (as `dvc repro --downstream`).
    """
    if not targets:
        return topological_order(graph)
    targets = expand_targets(targets, sorted(graph))
    step = graph.successors if downstream else graph.predecessors
    return topological_order(graph.subgraph(_closure(targets, step)))


def direct_upstream(graph: nx.DiGraph, name: str) -> list[str]:
    """The stages `name` directly depends on, sorted by name."""
    _require(graph, name)
    return sorted(graph.predecessors(name))


def to_mermaid(graph: nx.DiGraph) -> str:
    """A Mermaid flowchart: every stage declared as `nI["name"]`, then `nI --> nJ` edges."""
    ids = {name: f"n{i}" for i, name in enumerate(sorted(graph))}
    lines = ["flowchart TD"]
    lines += [f'  {ids[name]}["{_mermaid_label(name)}"]' for name in sorted(graph)]
    lines += [f"  {ids[u]} --> {ids[v]}" for u, v in sorted(graph.edges)]
    return "\n".join(lines)


def to_dot(graph: nx.DiGraph) -> str:
    """A Graphviz digraph named fastpipe: every stage as a quoted node, then the edges."""
    lines = ["digraph fastpipe {"]
    lines += [f"  {_dot_id(name)};" for name in sorted(graph)]
    lines += [f"  {_dot_id(u)} -> {_dot_id(v)};" for u, v in sorted(graph.edges)]
    lines.append("}")
    return "\n".join(lines)


def group_variants(graph: nx.DiGraph) -> nx.DiGraph:
    """The graph with each matrix stage's variants as one node, `train@{cnn-0,cnn-1}`.

    Edges to or from any variant become edges of the group; other stages keep their names.
    """
    members: dict[str, list[str]] = {}
    for name in graph:
        base = stage_spec(graph, name).base
        if base is not None:
            members.setdefault(base, []).append(name)
    label: dict[str, str] = {name: name for name in graph}
    for base, names in members.items():
        suffixes = ",".join(name.split("@", 1)[1] for name in sorted(names))
        for name in names:
            label[name] = f"{base}@{{{suffixes}}}"
    grouped = nx.DiGraph()
    grouped.add_nodes_from(sorted(set(label.values())))
    grouped.add_edges_from((label[u], label[v]) for u, v in graph.edges if label[u] != label[v])
    return grouped


def to_ascii(graph: nx.DiGraph) -> str:
    """The DAG as text: one line per stage, `name  <- upstream, ...` where it has upstream.

    Each connected part of the pipeline is a block, ordered by its first stage name; blocks are
    separated by a blank line, and stages connected to nothing share one last block. Inside a
    block stages go by topological layer (sources first), then by name, padded so that the
    arrows of a block line up. No trailing newline; an empty graph renders as `(no stages)`.
    """
    if not graph:
        return "(no stages)"
    parts = sorted(sorted(part) for part in nx.weakly_connected_components(graph))
    blocks = [_ascii_block(graph, part) for part in parts if len(part) > 1]
    loners = [name for part in parts if len(part) == 1 for name in part]
    if loners:
        blocks.append(loners)
    return "\n\n".join("\n".join(block) for block in blocks)


def _ascii_block(graph: nx.DiGraph, names: list[str]) -> list[str]:
    width = max(len(name) for name in names)
    lines: list[str] = []
    for layer in nx.topological_generations(graph.subgraph(names)):
        for name in sorted(layer):
            upstream = ", ".join(sorted(graph.predecessors(name)))
            lines.append(f"{name:<{width}}  <- {upstream}" if upstream else name)
    return lines


def _unique(specs: Iterable[StageSpec]) -> list[StageSpec]:
    stages: list[StageSpec] = []
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            raise GraphError(f"two stages are named '{spec.name}'; rename one of them")
        seen.add(spec.name)
        stages.append(spec)
    return stages


def _check_paths(spec: StageSpec) -> None:
    declared = [("dep", path) for path in spec.deps] + [("out", path) for path in spec.outputs]
    for kind, path in declared:
        where = f"stage '{spec.name}': {kind} '{path}'"
        if PurePosixPath(path).is_absolute() or PureWindowsPath(path).is_absolute():
            raise GraphError(f"{where} is absolute; use a path relative to the project root")
        if path.split("/")[0] == "..":
            raise GraphError(f"{where} is outside the project root; use a path inside it")
        if path in ("", "."):
            raise GraphError(f"{where} is the project root itself; name a path inside it")
        if normalize_path(path) != path:
            raise GraphError(f"{where} is not normalized; write it as '{normalize_path(path)}'")


def _output_index(stages: Sequence[StageSpec]) -> dict[str, str]:
    """Output path -> the stage that outputs it, after checking that outputs do not clash."""
    index: dict[str, str] = {}
    for spec in stages:
        if len(set(spec.outputs)) < len(spec.outputs):
            twice = next(out for out in spec.outputs if spec.outputs.count(out) > 1)
            raise GraphError(f"stage '{spec.name}' declares output '{twice}' twice; keep one")
        for out in spec.outputs:
            owner = index.setdefault(out, spec.name)
            if owner != spec.name:
                raise GraphError(
                    f"stages '{owner}' and '{spec.name}' both output '{out}'; "
                    "each path may be output by one stage only"
                )
    for spec in stages:
        _check_nested_outputs(spec)
    for out, name in index.items():
        for parent in _parents(out):
            owner = index.get(parent, name)
            if owner != name:
                raise GraphError(
                    f"output '{out}' of stage '{name}' is inside output '{parent}' of stage "
                    f"'{owner}'; outputs of different stages must not overlap"
                )
    return index


def _check_nested_outputs(spec: StageSpec) -> None:
    """One stage's outputs must not contain each other: DVC rejects overlapping outputs too."""
    declared = set(spec.outputs)
    for out in spec.outputs:
        for parent in _parents(out):
            if parent in declared:
                raise GraphError(
                    f"stage '{spec.name}': {_kind(spec, out)} '{out}' is inside its "
                    f"{_kind(spec, parent)} '{parent}' (DVC rejects overlapping outputs); "
                    f"declare the other paths under '{parent}' as outs instead of '{parent}', "
                    f"or write '{PurePosixPath(out).name}' outside it"
                )


def _kind(spec: StageSpec, path: str) -> str:
    return "metric" if path in spec.metrics else "plot" if path in spec.plots else "out"


def _producers_of(
    spec: StageSpec, index: Mapping[str, str], outputs: Sequence[str]
) -> dict[str, set[str]]:
    """Producer stage -> the deps of `spec` that make it depend on that producer."""
    found: dict[str, set[str]] = {}
    for dep in spec.deps:
        for out in _related_outputs(dep, index, outputs):
            producer = index[out]
            if producer == spec.name:
                raise _self_dependency(spec.name, dep, out)
            found.setdefault(producer, set()).add(dep)
    return found


def _related_outputs(dep: str, index: Mapping[str, str], outputs: Sequence[str]) -> Iterator[str]:
    """The outputs equal to `dep`, containing it, or inside it (by path components)."""
    if dep in index:
        yield dep
    yield from (parent for parent in _parents(dep) if parent in index)
    prefix = dep + "/"
    # Paths sharing a prefix are contiguous once sorted, so the outputs inside `dep` form a run.
    for i in range(bisect.bisect_left(outputs, prefix), len(outputs)):
        if not outputs[i].startswith(prefix):
            break
        yield outputs[i]


def _parents(path: str) -> Iterator[str]:
    """'a/b/c' -> 'a/b', 'a'."""
    end = path.rfind("/")
    while end > 0:
        yield path[:end]
        end = path.rfind("/", 0, end)


def _self_dependency(name: str, dep: str, out: str) -> GraphError:
    if dep == out:
        return GraphError(
            f"stage '{name}' depends on its own output '{out}'; remove it from its deps or outs"
        )
    return GraphError(
        f"stage '{name}' depends on '{dep}', which overlaps its own output '{out}'; "
        "remove one of them"
    )


def _check_acyclic(graph: nx.DiGraph) -> None:
    if nx.is_directed_acyclic_graph(graph):
        return
    cycle = [u for u, _ in nx.find_cycle(graph)]
    start = cycle.index(min(cycle))  # start at the smallest name so the message is stable
    cycle = cycle[start:] + cycle[: start + 1]
    raise GraphError(
        f"cycle in the pipeline: {' -> '.join(cycle)}; remove one of these dependencies"
    )


def _closure(starts: Iterable[str], step: Callable[[str], Iterable[str]]) -> set[str]:
    """`starts` plus every node reachable from them by repeated `step`."""
    seen = set(starts)
    stack = list(seen)
    while stack:
        for node in step(stack.pop()):
            if node not in seen:
                seen.add(node)
                stack.append(node)
    return seen


def _require(graph: nx.DiGraph, name: str) -> None:
    if name not in graph:
        raise UnknownStageError(name, graph.nodes)


def _mermaid_label(name: str) -> str:
    return name.replace("#", "#35;").replace('"', "#quot;")


def _dot_id(name: str) -> str:
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
