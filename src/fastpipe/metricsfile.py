"""Metrics and params as flat `dotted.key -> value` tables, and the diff of two such tables.

Metrics files are JSON, YAML or TOML (by extension; anything else is tried as JSON then
YAML). Nested mappings flatten to dotted keys and lists flatten by index (`eval.auc`,
`losses.0`). A side of a diff where a file is absent shows `-`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from fastpipe.errors import MetricsError

ABSENT = "-"  # how a value missing on one side of a diff is shown

Flat = Mapping[str, Any]  # dotted key -> scalar value


@dataclass(frozen=True)
class Change:
    """One key of a diff: its old and new values (None when absent) and the numeric delta."""

    group: str  # the metrics file, or the stage for params
    key: str
    old: Any
    new: Any
    diff: float | int | None  # new - old when both are numbers, else None

    @property
    def changed(self) -> bool:
        return self.old != self.new or type(self.old) is not type(self.new)


def parse(path: str, data: bytes) -> dict[str, Any]:
    """The flattened contents of the metrics file `path`; MetricsError if unreadable."""
    try:
        loaded = _load(path, data.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise MetricsError(f"metrics file '{path}' is not valid {_format(path)}: {reason}") from exc
    return flatten(loaded)


def _format(path: str) -> str:
    suffix = PurePosixPath(path).suffix.lower()
    return {".yaml": "YAML", ".yml": "YAML", ".toml": "TOML"}.get(suffix, "JSON")


def _load(path: str, text: str) -> object:
    fmt = _format(path)
    if fmt == "TOML":
        import tomllib

        return tomllib.loads(text)
    if fmt == "YAML":
        return _yaml(text)
    return json.loads(text)


def _yaml(text: str) -> object:
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(" ".join(str(exc).split())) from exc


def flatten(value: object, prefix: str = "") -> dict[str, Any]:
    """Nested mappings and lists as `a.b.0` keys; a scalar at the top is the key `prefix`."""
    if isinstance(value, Mapping):
        items: list[tuple[str, object]] = [(str(k), v) for k, v in value.items()]  # type: ignore[misc]
    elif isinstance(value, list | tuple):
        items = [(str(i), v) for i, v in enumerate(value)]  # type: ignore[arg-type]
    else:
        return {prefix: value} if prefix else {}
    flat: dict[str, Any] = {}
    for key, sub in items:
        flat.update(flatten(sub, f"{prefix}.{key}" if prefix else key))
    return flat


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def diff(
    old: Mapping[str, Flat | None],
    new: Mapping[str, Flat | None],
    *,
    precision: int = 5,
    include_unchanged: bool = False,
) -> list[Change]:
    """Every key of every group on either side (None: the group is absent there), sorted."""
    changes: list[Change] = []
    for group in sorted(set(old) | set(new)):
        before, after = old.get(group) or {}, new.get(group) or {}
        for key in sorted(set(before) | set(after)):
            change = Change(
                group,
                key,
                before.get(key),
                after.get(key),
                _delta(before.get(key), after.get(key), precision),
            )
            if include_unchanged or change.changed:
                changes.append(change)
    return changes


def _delta(old: object, new: object, precision: int) -> float | int | None:
    if not (is_number(old) and is_number(new)):
        return None
    delta = new - old  # type: ignore[operator]
    if isinstance(delta, float):
        if not math.isfinite(delta):
            return delta
        return round(delta, precision) + 0.0  # + 0.0: a rounded -0.0003 shows as 0.0, not -0.0
    return delta  # type: ignore[no-any-return]


def diff_json(changes: list[Change]) -> dict[str, dict[str, dict[str, Any]]]:
    """`{group: {key: {"old", "new", "diff"}}}`."""
    found: dict[str, dict[str, dict[str, Any]]] = {}
    for c in changes:
        found.setdefault(c.group, {})[c.key] = {"old": c.old, "new": c.new, "diff": c.diff}
    return found


def show_value(value: object) -> str:
    """A value as a table cell: None (absent) as `-`, strings bare, the rest as JSON."""
    if value is None:
        return ABSENT
    if isinstance(value, str):
        return value
    return json.dumps(value)
