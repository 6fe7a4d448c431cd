"""Plain data <-> YAML text whose bytes depend only on the data (lock files, dvc.yaml).

Kept apart from lockfile so that commands which parse no YAML (a no-op status served from the
lock cache) do not import PyYAML at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

# PyYAML's pure-Python emitter writes these line breaks in plain or single-quoted scalars that
# then load as something else; double quotes escape them.
_ODD_BREAKS = ("\x85", "\u2028", "\u2029")
WIDTH = 1_000_000_000
_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_FLOW_LIMIT = 1000


class _Dumper(yaml.SafeDumper):
    """SafeDumper that never writes anchors and round-trips every string exactly."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if any(c in value for c in _ODD_BREAKS) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def _libyaml_dumper() -> type[Any] | None:
    """libyaml's emitter, 5x faster: it writes printable ASCII exactly as _Dumper does."""
    base: type[Any] | None = getattr(yaml, "CSafeDumper", None)
    if base is None:  # pragma: no cover - PyYAML built without libyaml
        return None

    class _CDumper(base):
        def ignore_aliases(self, data: Any) -> bool:
            return True

    return _CDumper


_C_DUMPER = _libyaml_dumper()


def _printable_ascii(value: object) -> bool:
    if isinstance(value, str):
        return value.isascii() and value.isprintable()
    if isinstance(value, Mapping):
        items: Mapping[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
        return all(_printable_ascii(k) and _printable_ascii(v) for k, v in items.items())
    if isinstance(value, list | tuple):
        seq: list[Any] | tuple[Any, ...] = value  # pyright: ignore[reportUnknownVariableType]
        return all(_printable_ascii(v) for v in seq)
    return True


def dump(data: Mapping[str, Any], *, sort_keys: bool) -> str:
    """Block-style YAML whose bytes depend only on `data` (and key order, if not sorted)."""
    # libyaml escapes some non-ASCII characters differently from the pure-Python emitter, and
    # the bytes written must not depend on whether PyYAML was built with it: only printable
    # ASCII goes through libyaml.
    dumper = _C_DUMPER if _C_DUMPER is not None and _printable_ascii(data) else _Dumper
    return yaml.dump(
        dict(data),
        Dumper=dumper,
        allow_unicode=True,
        sort_keys=sort_keys,
        default_flow_style=False,
        width=WIDTH,
    )


def load(text: str) -> Any:
    """Parse YAML with the safe loader (C accelerated); ValueError says why it is malformed."""
    # libyaml's parser recurses in C on nested flow collections and can crash the process on a
    # hostile file ("[" * 50_000); fastpipe never writes flow style, so such text gets the
    # pure-Python loader, whose RecursionError becomes an ordinary "malformed".
    loader = _LOADER if text.count("[") + text.count("{") < _FLOW_LIMIT else yaml.SafeLoader
    try:
        return yaml.load(text, Loader=loader)
    except yaml.YAMLError as e:
        raise ValueError(_yaml_problem(e)) from e
    except RecursionError as e:
        raise ValueError("nested too deeply") from e


def _yaml_problem(error: yaml.YAMLError) -> str:
    """'line N: problem' for a YAML syntax error."""
    if isinstance(error, yaml.MarkedYAMLError) and error.problem_mark is not None:
        return f"line {error.problem_mark.line + 1}: {error.problem or error.context}"
    return str(error).splitlines()[0]  # the rest names "<unicode string>", not the file
