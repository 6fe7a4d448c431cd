"""Stage params: function defaults, then params.yaml, then --set, resolved and type-checked."""

from __future__ import annotations

import difflib
import re
import reprlib
import types
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, cast, get_args, get_origin

import yaml

from fastpipe.errors import ParamsError
from fastpipe.stage import StageSpec

if TYPE_CHECKING:
    from yaml import SafeLoader as _BaseLoader
else:  # the C loader is much faster; PyYAML may be built without libyaml
    _BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

PARAMS_FILE = "params.yaml"
_FLOAT_TAG = "tag:yaml.org,2002:float"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
# YAML 1.1 wants a dot and a signed exponent in a float; people write 1e-3, 1E5 and -.5.
_MORE_FLOATS = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
        |[-+]?\.[0-9][0-9_]*(?:[eE][-+]?[0-9]+)?)$""",
    re.X,
)
_SCALAR_TYPES = (bool, int, float, str, type(None))


class YamlLoader(_BaseLoader):
    """The safe loader (C where available) that reads 1e-3 as a float and dates as strings."""


# Dates stay strings: a param value must survive a round trip through a lock file unchanged.
YamlLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP_TAG]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
YamlLoader.add_implicit_resolver(_FLOAT_TAG, _MORE_FLOATS, list("-+0123456789."))


@dataclass(frozen=True)
class Override:
    """One `--set STAGE.PARAM=VALUE`, its value already parsed as YAML."""

    stage: str
    param: str
    value: Any


class _MismatchError(Exception):
    """A value contradicts an annotation (internal; turned into a ParamsError)."""


def load_yaml(text: str) -> Any:
    """Parse YAML text with YamlLoader."""
    return yaml.load(text, Loader=YamlLoader)


def is_yaml_value(value: object) -> bool:
    """Whether `value` is plain YAML: bool, int, float, str, None, lists and str-keyed dicts."""
    return _is_plain(value, set(), tuples=False)


def _is_plain(value: object, active: set[int], *, tuples: bool) -> bool:
    """is_yaml_value, optionally allowing tuples; `active` holds the containers being walked."""
    if type(value) in _SCALAR_TYPES:
        return True
    if type(value) not in (list, dict) and not (tuples and type(value) is tuple):
        return False
    if id(value) in active:  # a container holding itself (a YAML `&a [*a]`) has no plain form
        return False
    if isinstance(value, dict) and not all(type(key) is str for key in value):
        return False
    children = value.values() if isinstance(value, dict) else cast("list[object]", value)
    active.add(id(value))
    plain = all(_is_plain(child, active, tuples=tuples) for child in children)
    active.discard(id(value))
    return plain


def override(key: str, value: object) -> Override:
    """`{"STAGE.PARAM": value}` from the API (the stage name may hold dots), as `--set` is."""
    stage_name, dot, param = key.strip().rpartition(".") if isinstance(key, str) else ("", "", "")
    if not dot or not stage_name or not param.isidentifier():
        raise ParamsError(f"bad param override {key!r}: expected 'STAGE.PARAM' as the key")
    return Override(stage_name, param, value)


def parse_override(text: str) -> Override:
    """Parse `STAGE.PARAM=VALUE` (the stage name may hold dots; VALUE is YAML)."""
    key, equals, raw = text.partition("=")
    stage_name, dot, param = key.strip().rpartition(".")
    if not equals or not dot or not stage_name or not param.isidentifier():
        raise ParamsError(f"bad --set '{text}': expected STAGE.PARAM=VALUE")
    try:
        value = load_yaml(raw)
    except (yaml.YAMLError, ValueError) as exc:
        raise ParamsError(
            f"bad --set '{text}': the value is not valid YAML ({_yaml_problem(exc)}); quote it"
        ) from None
    return Override(stage_name, param, value)


def load_params_file(root: Path) -> dict[str, dict[str, Any]]:
    """The stage -> {param: value} tables of `params.yaml` at `root` ({} if there is none)."""
    return parse_params_text(read_params_text(root))


def read_params_text(root: Path) -> str | None:
    """The text of `params.yaml` at `root`, None if there is none."""
    try:
        return (root / PARAMS_FILE).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ParamsError(f"{PARAMS_FILE}: cannot read it ({exc})") from None


def parse_params_text(text: str | None) -> dict[str, dict[str, Any]]:
    """The stage -> {param: value} tables of params.yaml text ({} for None: no file)."""
    if text is None:
        return {}
    try:
        data = load_yaml(text)
    except (yaml.YAMLError, ValueError) as exc:
        raise ParamsError(
            f"{PARAMS_FILE}: invalid YAML ({_yaml_problem(exc)}); fix the syntax"
        ) from None
    return _stage_tables(data)


def resolve_params(
    specs: Mapping[str, StageSpec],
    file_values: Mapping[str, Mapping[str, Any]],
    overrides: Sequence[Override],
) -> dict[str, dict[str, Any]]:
    """Stage -> {param: value} for every stage: defaults, then params.yaml, then --set."""
    resolved = {name: _defaults(spec) for name, spec in specs.items()}
    variants: dict[str, list[str]] = {}  # a matrix stage's name -> its variants' names
    for name, spec in specs.items():
        if spec.base is not None:
            variants.setdefault(spec.base, []).append(name)
    # A matrix stage's table (`train:`) applies to every variant; a variant's own table
    # (`train@cnn-0:`) comes after it, so it wins.
    ordered = sorted(file_values.items(), key=lambda item: item[0] not in variants)
    for name, table in ordered:
        if name not in variants:
            _require_stage(specs, name, f"{PARAMS_FILE}:")
        for param, value in table.items():
            where = f"{PARAMS_FILE}: {name}.{param}:"
            for each in variants.get(name, [name]):
                _assign(resolved[each], specs[each], param, value, (f"{PARAMS_FILE}:", where))
    for override in overrides:
        where = f"--set {override.stage}.{override.param}:"
        if override.stage not in variants:
            _require_stage(specs, override.stage, where)
        for each in variants.get(override.stage, [override.stage]):
            spec = specs[each]
            _assign(resolved[spec.name], spec, override.param, override.value, (where, where))
    return resolved


def _assign(
    values: dict[str, Any], spec: StageSpec, param: str, value: Any, where: tuple[str, str]
) -> None:
    """Set `values[param]` after checking; `where` prefixes name errors, then value errors."""
    known = {p.name: p.annotation for p in spec.params}
    if param in dict(spec.variant):
        raise ParamsError(
            f"{where[0]} param '{param}' of stage '{spec.base}' is a matrix key: each variant "
            "takes its own value; change the matrix instead"
        )
    if param not in known:
        listed = f" (its params: {', '.join(known)})" if known else " (it has no params)"
        hint = _close(param, known) or listed
        raise ParamsError(f"{where[0]} stage '{spec.name}' has no param '{param}'{hint}")
    values[param] = _checked(value, known[param], where[1])


def _stage_tables(data: object) -> dict[str, dict[str, Any]]:
    """Check the shape of a parsed params.yaml: {stage name: {param name: value}}."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParamsError(
            f"{PARAMS_FILE}: expected a mapping of stage name -> params, got {_show(data)}"
        )
    tables: dict[str, dict[str, Any]] = {}
    for stage_name, table in data.items():
        if not isinstance(stage_name, str):
            raise ParamsError(
                f"{PARAMS_FILE}: top-level key {stage_name!r} is not a stage name; "
                "top-level keys must be stage names"
            )
        tables[stage_name] = _param_table(stage_name, table)
    return tables


def _param_table(stage_name: str, table: object) -> dict[str, Any]:
    if table is None:  # `train:` with every param commented out
        return {}
    if not isinstance(table, dict):
        raise ParamsError(
            f"{PARAMS_FILE}: stage '{stage_name}' must map param names to values, "
            f"got {_show(table)}"
        )
    for param in table:
        if not isinstance(param, str):
            raise ParamsError(
                f"{PARAMS_FILE}: stage '{stage_name}' has key {param!r}, which is not a param "
                "name; use the name of a parameter of the stage function"
            )
    return dict(table)


def _defaults(spec: StageSpec) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for param in spec.params:
        where = f"stage '{spec.name}': param '{param.name}' has default"
        if not _is_plain(param.default, set(), tuples=True):
            raise ParamsError(
                f"{where} {_show(param.default)}, which is not a plain YAML value; use bool, "
                "int, float, str, None, or lists and str-keyed dicts of these"
            )
        try:
            values[param.name] = _coerce(_untupled(param.default), param.annotation)
        except _MismatchError:
            raise ParamsError(
                f"{where} {_show(param.default)} but is annotated "
                f"{_describe(param.annotation)}; fix one of them"
            ) from None
    return values


def _untupled(value: Any) -> Any:
    """A fresh copy of `value` with tuples turned into lists, as YAML would read it back."""
    if isinstance(value, tuple | list):
        return [_untupled(item) for item in value]
    if type(value) is dict:
        return {k: _untupled(v) for k, v in value.items()}
    return value


def _checked(value: Any, annotation: Any, where: str) -> Any:
    """`value` converted as `annotation` asks, or a ParamsError starting with `where`."""
    if not is_yaml_value(value):
        raise ParamsError(
            f"{where} {_show(value)} is not a plain YAML value; use bool, int, float, str, "
            "null, or lists and mappings of these"
        )
    try:
        return _coerce(value, annotation)
    except _MismatchError:
        raise ParamsError(f"{where} expected {_describe(annotation)}, got {_show(value)}") from None


def _coerce(value: Any, annotation: Any, strict: bool = False) -> Any:
    """`value` as `annotation` wants it (int -> float unless `strict`), else _MismatchError."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return _coerce(value, get_args(annotation)[0], strict)
    if origin is Union or origin is types.UnionType:
        return _coerce_union(value, get_args(annotation), strict)
    if origin is Literal:
        return _coerce_literal(value, get_args(annotation))
    kind = type(None) if annotation is None else origin or annotation
    # Identity, not ==: an annotation may be any object, with any __eq__.
    if any(kind is container for container in (list, tuple, dict)):
        return _coerce_container(value, kind, get_args(annotation), strict)
    if any(kind is scalar for scalar in _SCALAR_TYPES):
        return _coerce_scalar(value, kind, strict)
    return value  # Any, strings, TypeVars, custom classes: not checked


def _coerce_union(value: Any, members: tuple[Any, ...], strict: bool) -> Any:
    # An exact match wins over a conversion: 1 stays an int for `int | float`.
    for exact in (True,) if strict else (True, False):
        for member in members:
            try:
                return _coerce(value, member, exact)
            except _MismatchError:
                pass
    raise _MismatchError


def _coerce_literal(value: Any, choices: tuple[Any, ...]) -> Any:
    if any(type(value) is type(choice) and value == choice for choice in choices):
        return value
    raise _MismatchError


def _coerce_scalar(value: Any, annotation: type, strict: bool) -> Any:
    if type(value) is annotation:
        return value
    if annotation is float and type(value) is int and not strict:
        try:
            return float(value)
        except OverflowError:
            raise _MismatchError from None
    raise _MismatchError


def _coerce_container(value: Any, kind: type, args: tuple[Any, ...], strict: bool) -> Any:
    if kind is dict:
        if type(value) is not dict:
            raise _MismatchError
        key_type, value_type = args if len(args) == 2 else (Any, Any)
        return {
            _coerce(k, key_type, True): _coerce(v, value_type, strict) for k, v in value.items()
        }
    # YAML has no tuples, so a list stands for a tuple (and stays a list).
    if type(value) is not list and not (kind is tuple and type(value) is tuple):
        raise _MismatchError
    return [_coerce(item, item_type, strict) for item, item_type in _item_types(value, kind, args)]


def _item_types(value: Sequence[Any], kind: type, args: tuple[Any, ...]) -> Iterable[Any]:
    """Pairs (item, its annotation) for a list or tuple annotation."""
    if not args:
        return ((item, Any) for item in value)
    if kind is list or (len(args) == 2 and args[1] is Ellipsis):
        return ((item, args[0]) for item in value)
    if len(value) != len(args):
        raise _MismatchError
    return zip(value, args, strict=True)


def _require_stage(specs: Mapping[str, StageSpec], name: str, where: str) -> None:
    if name not in specs:
        hint = _close(name, specs) or " (run 'fastpipe list' to see the stages)"
        raise ParamsError(f"{where} unknown stage '{name}'{hint}")


def _close(name: str, known: Iterable[str]) -> str:
    """` (did you mean 'x'?)` for the closest known name, or '' when none is close."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _describe(annotation: Any) -> str:
    """A readable name for an annotation: float, list[int], int | None, Literal['a', 'b']."""
    if annotation is None or annotation is type(None):
        return "None"
    if isinstance(annotation, type) and get_origin(annotation) is None:
        return annotation.__name__
    return repr(annotation).replace("typing.", "")


def _show(value: object) -> str:
    """`str 'fast'`, `int 3`, `None`: a value with its type, shortened for messages."""
    if value is None:
        return "None"
    return f"{type(value).__name__} {reprlib.repr(value)}"


def _yaml_problem(exc: Exception) -> str:
    """One line from a YAML error: what is wrong and, where known, on which line."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "syntax error"
        return f"{problem} at line {mark.line + 1}" if mark else problem
    # ReaderError and the ValueErrors of explicit tags like `!!int x` carry no mark
    return (str(exc).splitlines() or [type(exc).__name__])[0]
