"""A matrix stage as one DVC `matrix:` stage, not a copy per variant.

DVC names the stages a `matrix:` generates `train@cnn-0` (values joined by `-`, booleans as
`true`/`false`), as fastpipe names variants, so `fastpipe exec train@${item.model}-${item.fold}`
runs the right one and dvc.lock's names are fastpipe's. Paths become `${item.key}` templates.
Only what every variant shares in the same template form can be written once: a param that
params.yaml sets for some variants only, or fingerprint files that differ per variant in a way
no template says, are refused with a DvcError naming them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastpipe import matrix
from fastpipe.errors import DvcError
from fastpipe.stage import StageSpec

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_ITEM = re.compile(r"\$\{item\.([A-Za-z_][A-Za-z0-9_]*)\}")


def to_dvc(path: str) -> str:
    """`models/{model}.pkl` -> `models/${item.model}.pkl`."""
    return _PLACEHOLDER.sub(lambda m: "${item." + m.group(1) + "}", path)


def fill_dvc(text: str, values: Mapping[str, Any]) -> str:
    """What DVC makes of a `${item.key}` template for one variant."""
    return _ITEM.sub(lambda m: matrix.value_text(values[m.group(1)]), text)


def variant_template(base: str, keys: Sequence[str]) -> str:
    """`train@${item.model}-${item.fold}`: the variant's name as DVC interpolates it."""
    return f"{base}@" + "-".join("${item." + key + "}" for key in keys)


@dataclass(frozen=True)
class ParamSources:
    """Where DVC tracks each non-matrix param of a matrix stage from."""

    base_keys: tuple[str, ...]  # params.yaml `train.p` (the matrix stage's table)
    variant_keys: tuple[str, ...]  # params.yaml `train@cnn-0.p` (every variant's own table)
    defaults: dict[str, Any]  # params from the function's defaults: the defaults file


def param_sources(
    declared: StageSpec,
    variants: Sequence[StageSpec],
    params: Mapping[str, Mapping[str, Any]],
    user: Mapping[str, Mapping[str, Any]],
) -> ParamSources:
    keys = {key for key, _ in declared.matrix}
    base_keys: list[str] = []
    variant_keys: list[str] = []
    defaults: dict[str, Any] = {}
    for param in sorted(p.name for p in declared.params if p.name not in keys):
        own = [v.name for v in variants if param in user.get(v.name, {})]
        if own and len(own) != len(variants):
            raise DvcError(
                f"matrix stage '{declared.name}': {', '.join(own)} set param '{param}' in "
                f"params.yaml and other variants do not, which DVC's matrix form cannot say; "
                f"set it under '{declared.name}:' or for every variant"
            )
        if own:
            variant_keys.append(param)
        elif param in user.get(declared.name, {}):
            base_keys.append(param)
        else:
            defaults[param] = params[variants[0].name][param]
    return ParamSources(tuple(base_keys), tuple(variant_keys), defaults)


def shared_files(
    declared: StageSpec, variants: Sequence[StageSpec], files: Mapping[str, Sequence[str]]
) -> list[str]:
    """The dep list every variant agrees on, templated: declared deps and fingerprint paths
    as `${item.key}` templates, plus the code files common to all variants."""
    strings = [f for f in declared.fingerprint if isinstance(f, str)]
    templates = {to_dvc(p) for p in (*declared.deps, *strings)}
    common = set.intersection(*(set(files[v.name]) for v in variants))
    entry = sorted(templates | common)
    for variant in variants:
        values = dict(variant.variant)
        wanted = set(variant.deps) | set(files[variant.name])
        got = {fill_dvc(p, values) for p in entry}
        if got - wanted or wanted - got:
            extra = sorted(wanted - got) or sorted(got - wanted)
            raise DvcError(
                f"matrix stage '{declared.name}': variant '{variant.name}' depends on "
                f"{extra[0]}, which no path template of the stage names; DVC's matrix form "
                "needs deps every variant shares (fingerprint= a template path instead)"
            )
    return entry
