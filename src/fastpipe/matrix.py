"""Matrix stages: one declared stage swept over every combination of its matrix values.

`@stage(matrix={"model": ["cnn", "xgb"], "fold": [0, 1]}, outs=["models/{model}-{fold}.pkl"])`
declares four stages, `train@cnn-0`, `train@cnn-1`, `train@xgb-0`, `train@xgb-1` (values in
declaration order, joined by `-`), each with `{key}` replaced in every path and the matrix
keys as params taking that variant's value. `check` runs when the decorator does; `expand`
when the pipeline's stages are collected. Pure functions over StageSpec values.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from fastpipe.errors import StageDefinitionError

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec

Scalar = str | int | float | bool
Matrix = tuple[tuple[str, tuple[Scalar, ...]], ...]
_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_VALUE_TEXT = re.compile(r"^[A-Za-z0-9_.]+$")


def check(value: object, where: str) -> Matrix:
    """A declared matrix as a tuple of (key, values), or a StageDefinitionError saying why."""
    if not isinstance(value, Mapping) or not value:
        raise StageDefinitionError(
            f"{where}: matrix must be a non-empty dict of param name -> list of values"
        )
    found: list[tuple[str, tuple[Scalar, ...]]] = []
    for key, values in value.items():  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(key, str) or not key.isidentifier():
            raise StageDefinitionError(f"{where}: matrix key {key!r} is not a param name")
        if isinstance(values, str | bytes) or not isinstance(values, Sequence) or not values:
            raise StageDefinitionError(
                f"{where}: matrix key '{key}' must list one value or more, not {values!r}"
            )
        items: list[Scalar] = []
        for item in values:  # pyright: ignore[reportUnknownVariableType]
            if type(item) not in (str, int, float, bool):
                raise StageDefinitionError(
                    f"{where}: matrix value {item!r} of '{key}' is not a YAML scalar "
                    "(use str, int, float or bool)"
                )
            text = value_text(item)  # pyright: ignore[reportUnknownArgumentType]
            if not _VALUE_TEXT.match(text):
                raise StageDefinitionError(
                    f"{where}: matrix value {item!r} of '{key}' cannot be part of a stage name "
                    "(use letters, digits, '_' and '.')"
                )
            if item in items:
                raise StageDefinitionError(f"{where}: matrix key '{key}' lists {item!r} twice")
            items.append(item)  # pyright: ignore[reportUnknownArgumentType]
        found.append((key, tuple(items)))
    return tuple(found)


def check_paths(paths: Iterable[str], keys: Iterable[str], where: str) -> None:
    """Every `{name}` in `paths` must be a matrix key."""
    known = set(keys)
    for path in paths:
        for name in _PLACEHOLDER.findall(path):
            if name not in known:
                listed = ", ".join(sorted(known))
                raise StageDefinitionError(
                    f"{where}: path '{path}' uses {{{name}}}, which is no matrix key "
                    f"(its keys: {listed})"
                )


def value_text(value: Scalar) -> str:
    """A matrix value as it appears in stage names and paths (booleans as YAML writes them)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def variant_name(base: str, values: Sequence[Scalar]) -> str:
    return f"{base}@{'-'.join(value_text(v) for v in values)}"


def fill(path: str, values: Mapping[str, Scalar]) -> str:
    """`path` with every `{key}` replaced by that key's value."""
    return _PLACEHOLDER.sub(lambda m: value_text(values[m.group(1)]), path)


def expand(spec: StageSpec) -> tuple[StageSpec, ...]:
    """One StageSpec per combination of `spec.matrix`, in declaration order."""
    from fastpipe.stage import ParamSpec, normalize_path

    keys = [key for key, _ in spec.matrix]
    variants: list[StageSpec] = []
    owner: dict[str, str] = {}
    for combination in itertools.product(*(values for _, values in spec.matrix)):
        values = dict(zip(keys, combination, strict=True))
        name = variant_name(spec.name, combination)

        def paths(items: tuple[str, ...], values: dict[str, Scalar] = values) -> tuple[str, ...]:
            return tuple(normalize_path(fill(p, values)) for p in items)

        variant = dataclasses.replace(
            spec,
            name=name,
            deps=paths(spec.deps),
            outs=paths(spec.outs),
            metrics=paths(spec.metrics),
            plots=paths(spec.plots),
            cached=paths(spec.cached),
            plot_specs=tuple(
                dataclasses.replace(p, path=normalize_path(fill(p.path, values)))
                for p in spec.plot_specs
            ),
            fingerprint=tuple(
                normalize_path(fill(f, values)) if isinstance(f, str) else f
                for f in spec.fingerprint
            ),
            params=tuple(
                ParamSpec(p.name, values[p.name], p.annotation) if p.name in values else p
                for p in spec.params
            ),
            base=spec.name,
            variant=tuple(values.items()),
        )
        for out in variant.outputs:
            if out in owner:
                raise StageDefinitionError(
                    f"stage '{spec.name}': variants '{owner[out]}' and '{name}' both write "
                    f"'{out}'; put every matrix key in its outs (e.g. {{{keys[0]}}})"
                )
            owner[out] = name
        variants.append(variant)
    return tuple(variants)


def variant_values(spec: StageSpec) -> dict[str, Any]:
    """A variant's matrix values by key ({} for a stage that is no variant)."""
    return dict(spec.variant)
