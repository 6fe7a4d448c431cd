"""`@stage`: annotate a function with a frozen StageSpec; nothing is registered anywhere."""

from __future__ import annotations

import inspect
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastpipe import matrix as matrices
from fastpipe.errors import StageDefinitionError

SPEC_ATTRIBUTE = "__fastpipe_stage__"
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.@-]*$")

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Out:
    """An `outs`/`metrics`/`plots` entry with options: `Out("model.pkl", cache=False)`.

    `cache` keeps the path out of the content-addressed output cache (False) or puts it there
    (True); None means the default of its kind: outs are cached, metrics and plots are not.
    """

    path: str
    cache: bool | None = None


@dataclass(frozen=True)
class Plot:
    """A `plots` entry that says how to draw it: `Plot("loss.csv", x="epoch", y="loss")`.

    `x` is the column (or key) along the horizontal axis, default the first column or the row
    index; `y` one column or several, default every numeric column; `title` the chart's title.
    """

    path: str
    x: str | None = None
    y: str | Sequence[str] | None = None  # normalized to a tuple by @stage
    title: str | None = None
    cache: bool | None = None


@dataclass(frozen=True)
class ParamSpec:
    """One stage parameter: its name, default value and (unevaluated) annotation."""

    name: str
    default: Any
    annotation: Any = inspect.Parameter.empty


@dataclass(frozen=True)
class StageSpec:
    """Everything `@stage` declares about a function, plus where to import it from."""

    name: str
    module: str
    qualname: str
    deps: tuple[str, ...] = ()
    outs: tuple[str, ...] = ()
    metrics: tuple[str, ...] = ()
    plots: tuple[str, ...] = ()
    persist: bool = False
    gpus: int = 0
    resources: tuple[tuple[str, float], ...] = ()
    timeout: float | None = None
    retries: int = 0
    params: tuple[ParamSpec, ...] = ()
    fingerprint: tuple[object, ...] = field(default=(), compare=False)
    cached: tuple[str, ...] = ()  # the outputs kept in the output cache, in declaration order
    plot_specs: tuple[Plot, ...] = ()  # one per plots entry (plain paths get default options)
    matrix: tuple[tuple[str, tuple[Any, ...]], ...] = ()  # key -> values, declaration order
    base: str | None = None  # a matrix variant: the declared stage's name (`train`)
    variant: tuple[tuple[str, Any], ...] = ()  # a matrix variant: its value of each key
    track_packages: bool = True  # record the versions of the distributions its code reaches

    @property
    def outputs(self) -> tuple[str, ...]:
        """Every path the stage produces: outs, metrics and plots."""
        return self.outs + self.metrics + self.plots

    def is_cached(self, path: str) -> bool:
        """Whether the output `path` is stored in the output cache."""
        return path in self.cached

    @property
    def param_defaults(self) -> dict[str, Any]:
        return {p.name: p.default for p in self.params}


def stage(
    *,
    deps: Iterable[str] = (),
    outs: Iterable[str | Out] = (),
    metrics: Iterable[str | Out] = (),
    plots: Iterable[str | Out | Plot] = (),
    name: str | None = None,
    persist: bool = False,
    gpus: int = 0,
    resources: Mapping[str, float] | None = None,
    timeout: float | None = None,
    retries: int = 0,
    fingerprint: Iterable[object] = (),
    matrix: Mapping[str, Sequence[Any]] | None = None,
    track_packages: bool = True,
) -> Callable[[F], F]:
    """Declare a pipeline stage; returns the function unchanged but for an attached spec.

    `matrix={"model": ["cnn", "xgb"], "fold": [0, 1]}` declares one stage per combination,
    named `train@cnn-0` and so on, with `{model}` and `{fold}` replaced in every path; each
    matrix key is a param of the function (it needs no default) and gets its variant's value.

    `outs`, `metrics` and `plots` take paths or `Out(path, cache=...)` entries (plots also
    `Plot(path, x=, y=, title=)`); outs are cached by default, metrics and plots are not.
    `fingerprint` is the escape hatch for code the automatic fingerprint cannot see: callables,
    classes, modules or values are fingerprinted as if the stage referenced them, and strings
    are project paths (files or directories) whose content joins the fingerprint.
    `track_packages=False`: an upgrade of an installed package its code uses does not make
    it stale (by default the version of each such distribution is recorded in its lock).
    """

    def decorate(func: F) -> F:
        if not callable(func) or not hasattr(func, "__qualname__"):
            raise StageDefinitionError(f"@stage must decorate a function, not {func!r}")
        stage_name = name if name is not None else func.__name__
        where = f"stage '{stage_name}'"
        if not isinstance(stage_name, str) or not _NAME_RE.match(stage_name):
            raise StageDefinitionError(
                f"{where}: invalid name (use letters, digits, '_', '.', '@', '-')"
            )
        out_entries = _outputs(outs, "outs", where, cached_by_default=True)
        metric_entries = _outputs(metrics, "metrics", where, cached_by_default=False)
        plot_entries = _outputs(plots, "plots", where, cached_by_default=False)
        entries = out_entries + metric_entries + plot_entries
        declared = () if matrix is None else matrices.check(matrix, where)
        keys = tuple(key for key, _ in declared)
        spec = StageSpec(
            name=stage_name,
            module=func.__module__,
            qualname=func.__qualname__,
            deps=_paths(deps, "deps", where),
            outs=tuple(e.path for e in out_entries),
            metrics=tuple(e.path for e in metric_entries),
            plots=tuple(e.path for e in plot_entries),
            persist=_bool(persist, "persist", where),
            gpus=_count(gpus, "gpus", where),
            resources=_resources(resources, where),
            timeout=_timeout(timeout, where),
            retries=_count(retries, "retries", where),
            params=_params(func, where, keys),
            fingerprint=_fingerprint(fingerprint, where),
            cached=tuple(e.path for e in entries if e.cached),
            plot_specs=tuple(e.plot for e in plot_entries if e.plot is not None),
            matrix=declared,
            track_packages=_bool(track_packages, "track_packages", where),
        )
        if declared:
            strings = [f for f in spec.fingerprint if isinstance(f, str)]
            matrices.check_paths((*spec.deps, *spec.outputs, *strings), keys, where)
        setattr(func, SPEC_ATTRIBUTE, spec)
        return func

    return decorate


def spec_of(obj: object) -> StageSpec | None:
    """The StageSpec attached to `obj` by @stage, or None."""
    try:
        spec = getattr(obj, SPEC_ATTRIBUTE, None)
    except Exception:  # objects with exotic __getattr__ are simply not stages
        return None
    return spec if isinstance(spec, StageSpec) else None


def normalize_path(path: str) -> str:
    """A declared path as a normalized POSIX path (no './', no trailing '/')."""
    return posixpath.normpath(path.replace("\\", "/"))


def _paths(value: Iterable[str], kind: str, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        raise StageDefinitionError(f"{where}: {kind} must be a list of paths, not a string")
    try:
        items = list(value)
    except TypeError:
        raise StageDefinitionError(f"{where}: {kind} must be a list of paths") from None
    out: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise StageDefinitionError(f"{where}: {kind} entry {item!r} is not a path")
        path = normalize_path(item)
        if path in out:
            raise StageDefinitionError(f"{where}: {kind} lists '{path}' twice")
        out.append(path)
    return tuple(out)


@dataclass(frozen=True)
class _Output:
    path: str
    cached: bool
    plot: Plot | None = None


def _outputs(
    value: Iterable[str | Out | Plot], kind: str, where: str, *, cached_by_default: bool
) -> tuple[_Output, ...]:
    """Declared outputs as normalized paths with their cache flag (and plot options)."""
    if isinstance(value, str):
        raise StageDefinitionError(f"{where}: {kind} must be a list of paths, not a string")
    if isinstance(value, Out | Plot):
        raise StageDefinitionError(f"{where}: {kind} must be a list, not a single entry")
    try:
        items = list(value)
    except TypeError:
        raise StageDefinitionError(f"{where}: {kind} must be a list of paths") from None
    raw: list[str] = []
    options: list[Out | Plot | None] = []
    for item in items:
        if isinstance(item, Plot) and kind != "plots":
            raise StageDefinitionError(f"{where}: Plot({item.path!r}) belongs in plots, not {kind}")
        if isinstance(item, Out | Plot):
            if item.cache is not None and not isinstance(item.cache, bool):
                raise StageDefinitionError(
                    f"{where}: {kind} entry {item.path!r}: cache must be True, False or None"
                )
            raw.append(item.path)
            options.append(item)
        else:
            raw.append(item)
            options.append(None)
    paths = _paths(raw, kind, where)
    found: list[_Output] = []
    for path, option in zip(paths, options, strict=True):
        cache = option.cache if option is not None else None
        cached = cached_by_default if cache is None else cache
        plot = None
        if kind == "plots":
            plot = _plot(option, path, where)
        found.append(_Output(path, cached, plot))
    return tuple(found)


def _plot(option: Out | Plot | None, path: str, where: str) -> Plot:
    if not isinstance(option, Plot):
        return Plot(path, cache=option.cache if option is not None else None)
    for name in ("x", "title"):
        value = getattr(option, name)
        if value is not None and not isinstance(value, str):
            raise StageDefinitionError(f"{where}: Plot({path!r}): {name} must be a string")
    y = option.y
    if isinstance(y, list | tuple):
        if not y or not all(isinstance(c, str) for c in y):  # pyright: ignore[reportUnknownVariableType]
            raise StageDefinitionError(f"{where}: Plot({path!r}): y must be a column name or names")
        y = tuple(y)  # pyright: ignore[reportUnknownArgumentType]
    elif y is not None and not isinstance(y, str):
        raise StageDefinitionError(f"{where}: Plot({path!r}): y must be a column name or names")
    return Plot(path, option.x, y, option.title, option.cache)


def _bool(value: object, kind: str, where: str) -> bool:
    if not isinstance(value, bool):
        raise StageDefinitionError(f"{where}: {kind} must be True or False, not {value!r}")
    return value


def _count(value: object, kind: str, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise StageDefinitionError(f"{where}: {kind} must be a whole number >= 0, not {value!r}")
    return value


def _timeout(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise StageDefinitionError(f"{where}: timeout must be a number of seconds > 0")
    return float(value)


def _resources(value: Mapping[str, float] | None, where: str) -> tuple[tuple[str, float], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise StageDefinitionError(f"{where}: resources must be a dict of name -> amount")
    items: list[tuple[str, float]] = []
    for key, amount in value.items():
        bad_amount = (
            isinstance(amount, bool) or not isinstance(amount, int | float) or not amount >= 0
        )
        if not isinstance(key, str) or not key or bad_amount:
            raise StageDefinitionError(
                f"{where}: resource {key!r} must map a name to an amount >= 0, not {amount!r}"
            )
        if key == "gpus":
            raise StageDefinitionError(f"{where}: use @stage(gpus=N), not resources={{'gpus': N}}")
        items.append((key, float(amount)))
    return tuple(sorted(items))


def _fingerprint(value: Iterable[object], where: str) -> tuple[object, ...]:
    if isinstance(value, str):
        raise StageDefinitionError(f"{where}: fingerprint must be a list, not a string")
    try:
        items = tuple(value)
    except TypeError:
        raise StageDefinitionError(f"{where}: fingerprint must be a list") from None
    return tuple(normalize_path(i) if isinstance(i, str) else i for i in items)


def _params(
    func: Callable[..., Any], where: str, matrix_keys: tuple[str, ...] = ()
) -> tuple[ParamSpec, ...]:
    try:
        # String annotations (PEP 563) become real types where they can be evaluated.
        signature = inspect.signature(func, eval_str=True)
    except Exception:
        try:  # an annotation that does not evaluate is kept as written
            signature = inspect.signature(func)
        except (TypeError, ValueError) as exc:
            raise StageDefinitionError(f"{where}: cannot read its signature ({exc})") from None
    params: list[ParamSpec] = []
    for p in signature.parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise StageDefinitionError(f"{where}: *{p.name} cannot be a param; remove it")
        if p.kind is p.POSITIONAL_ONLY:
            raise StageDefinitionError(f"{where}: param '{p.name}' must not be positional-only")
        if p.default is p.empty and p.name not in matrix_keys:
            raise StageDefinitionError(
                f"{where}: param '{p.name}' has no default; every stage param needs one"
            )
        params.append(ParamSpec(p.name, p.default, p.annotation))
    missing = [key for key in matrix_keys if key not in {p.name for p in params}]
    if missing:
        raise StageDefinitionError(
            f"{where}: matrix key '{missing[0]}' is not a parameter of the function; "
            f"add `{missing[0]}` to its parameters"
        )
    return tuple(params)
