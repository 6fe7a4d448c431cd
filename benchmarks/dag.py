"""The benchmark's stage graphs: a chain, a wide fan-out/fan-in, or a seeded random layered DAG.

Stages are named `s000`, `s001`, ... in a topological order (every stage's upstream stages
come before it), so both tools and the body-timing run can walk them in name order.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass

SHAPES = ("chain", "wide", "layered")
MAX_FAN_IN = 3  # a layered stage reads 1..MAX_FAN_IN outputs of earlier layers


@dataclass(frozen=True)
class Dag:
    """Stage names in topological order and each stage's upstream stages."""

    shape: str
    names: tuple[str, ...]
    upstream: Mapping[str, tuple[str, ...]]

    def downstream(self, name: str) -> set[str]:
        """Every stage that (transitively) reads `name`'s output."""
        below: set[str] = set()
        for other in self.names:  # topological order: upstream stages are seen first
            if any(up == name or up in below for up in self.upstream[other]):
                below.add(other)
        return below


def stage_names(count: int) -> tuple[str, ...]:
    width = max(3, len(str(count - 1)))
    return tuple(f"s{i:0{width}d}" for i in range(count))


def build(shape: str, count: int, seed: int = 0) -> Dag:
    """The `shape` DAG of `count` stages (`seed` only matters for `layered`)."""
    if count < 3:
        raise ValueError("a benchmark pipeline needs at least 3 stages")
    names = stage_names(count)
    edges: dict[str, tuple[str, ...]]
    if shape == "chain":
        edges = {name: (names[i - 1],) if i else () for i, name in enumerate(names)}
    elif shape == "wide":
        edges = {name: (names[0],) for name in names[1:-1]}
        edges[names[0]] = ()
        edges[names[-1]] = names[1:-1]
    elif shape == "layered":
        edges = _layered(names, seed)
    else:
        raise ValueError(f"unknown shape {shape!r} (choose from {', '.join(SHAPES)})")
    return Dag(shape, names, {name: edges[name] for name in names})


def layer_width(count: int) -> int:
    """About sqrt(1.5 * count) stages a layer: 176 stages -> 11 layers of 16."""
    return max(2, round(math.sqrt(1.5 * count)))


def layers(names: tuple[str, ...]) -> list[tuple[str, ...]]:
    width = layer_width(len(names))
    return [names[i : i + width] for i in range(0, len(names), width)]


def _layered(names: tuple[str, ...], seed: int) -> dict[str, tuple[str, ...]]:
    """Each stage reads one stage of the previous layer and up to two more of any earlier one."""
    rng = random.Random(seed)
    edges: dict[str, tuple[str, ...]] = {}
    earlier: list[str] = []
    previous: tuple[str, ...] = ()
    for layer in layers(names):
        for name in layer:
            if not previous:
                edges[name] = ()
                continue
            picked = {rng.choice(previous)}
            for _ in range(rng.randint(0, MAX_FAN_IN - 1)):
                picked.add(rng.choice(earlier))
            edges[name] = tuple(sorted(picked))
        earlier.extend(layer)
        previous = layer
    return edges


def mid_stage(dag: Dag) -> str:
    """The stage an edit benchmark changes: the middle of the chain, the middle layer's first
    stage, or a fan-out stage of the wide shape."""
    if dag.shape == "layered":
        all_layers = layers(dag.names)
        return all_layers[len(all_layers) // 2][0]
    return dag.names[len(dag.names) // 2]
