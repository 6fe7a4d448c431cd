"""Shared hypothesis strategies: random valid pipelines of StageSpecs."""

from __future__ import annotations

from hypothesis import strategies as st

from fastpipe.stage import StageSpec

STAGE_NAME_STEMS = ("clean", "train", "train@small", "feat.v2", "eval-x", "a", "ab")
GROUPS = ("data", "data/sub", "models", "")
# 'o1' is a string prefix of 'o1.csv', 'o1_b' and 'o10': none of them is inside 'o1'.
OUT_SUFFIXES = ("", ".csv", "_b")


def related(dep: str, out: str) -> bool:
    """Whether a dep and an output are the same path or one holds the other (by components)."""
    return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")


def expected_edges(specs: list[StageSpec]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(producer, consumer) -> sorted deps causing the edge, by brute force over all pairs."""
    edges: dict[tuple[str, str], set[str]] = {}
    for producer in specs:
        for consumer in specs:
            for dep in consumer.deps:
                if any(related(dep, out) for out in producer.outputs):
                    edges.setdefault((producer.name, consumer.name), set()).add(dep)
    return {pair: tuple(sorted(deps)) for pair, deps in edges.items()}


@st.composite
def pipelines(draw: st.DrawFn, max_stages: int = 12) -> list[StageSpec]:
    """A valid pipeline: stage i depends only on outputs of earlier stages, raw files and dirs.

    Deps are an earlier output, a path inside an earlier directory output, a group directory
    holding earlier outputs (sealed: no later stage outputs into it), or a raw input file.
    Output names share string prefixes (`o1`, `o1.csv`, `o10`) to catch prefix-vs-component bugs.
    """
    count = draw(st.integers(1, max_stages))
    sealed: set[str] = set()
    made: list[tuple[str, bool]] = []  # (path, is directory) of every output so far
    specs: list[StageSpec] = []
    for i in range(count):
        deps = _deps(draw, made, sealed) if made else []
        outs = _outs(draw, i, sealed)
        made += outs
        paths = [path for path, _ in outs]
        kind = st.sampled_from(("outs", "metrics", "plots"))
        kinds = draw(st.lists(kind, min_size=len(paths), max_size=len(paths)))
        stem = draw(st.sampled_from(STAGE_NAME_STEMS))
        specs.append(
            StageSpec(
                name=f"{stem}{i}",
                module="m",
                qualname=f"f{i}",
                deps=tuple(deps),
                outs=tuple(p for p, k in zip(paths, kinds, strict=True) if k == "outs"),
                metrics=tuple(p for p, k in zip(paths, kinds, strict=True) if k == "metrics"),
                plots=tuple(p for p, k in zip(paths, kinds, strict=True) if k == "plots"),
            )
        )
    return draw(st.permutations(specs))


def _deps(draw: st.DrawFn, made: list[tuple[str, bool]], sealed: set[str]) -> list[str]:
    deps: list[str] = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(("exact", "inside", "group", "raw")))
        dirs = [path for path, is_dir in made if is_dir]
        if kind == "exact" or (kind == "inside" and not dirs):
            dep = draw(st.sampled_from([path for path, _ in made]))
        elif kind == "inside":
            dep = draw(st.sampled_from(dirs)) + "/part" + str(draw(st.integers(0, 2)))
        elif kind == "group":
            dep = draw(st.sampled_from([g for g in GROUPS if g]))
            sealed.update(g for g in GROUPS if g and (g == dep or g.startswith(dep + "/")))
        else:
            dep = f"raw/r{draw(st.integers(0, 3))}"
        if dep not in deps:
            deps.append(dep)
    return deps


def _outs(draw: st.DrawFn, i: int, sealed: set[str]) -> list[tuple[str, bool]]:
    open_groups = [g for g in GROUPS if g not in sealed]
    outs: list[tuple[str, bool]] = []
    for suffix in OUT_SUFFIXES[: draw(st.integers(1, len(OUT_SUFFIXES)))]:
        group = draw(st.sampled_from(open_groups))
        name = f"o{i}{suffix}"
        outs.append((f"{group}/{name}" if group else name, draw(st.booleans())))
    return outs
