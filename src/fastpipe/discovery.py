"""Find the project, read its config, import the pipeline module, collect its stages."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastpipe import matrix
from fastpipe.errors import FastpipeError, ProjectError, StageDefinitionError
from fastpipe.layout import Layout

if TYPE_CHECKING:
    from fastpipe.remotes import RemotesConfig
    from fastpipe.stage import StageSpec

PIPELINE_FILE = "pipeline.py"
_FASTPIPE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
_IMPORTLIB_DIR = os.path.dirname(os.path.abspath(importlib.__file__ or "")) + os.sep
_CONFIG_KEYS = {
    "pipeline": str,
    "preload": list,
    "executor": str,
    "jobs": int,
    "resources": dict,
    "dask_address": str,
    "cache_dir": str,
    "cache_link": str,
    "remotes": dict,  # [tool.fastpipe.remotes.NAME] tables, parsed by remotes.parse_remotes
    "default_remote": str,
    "track_packages": bool,
    "strict_io": bool,
    "io_ignore": list,
}
_LINK_MODES = ("copy", "reflink", "hardlink", "symlink")  # links.LinkMode's values


@dataclass(frozen=True)
class ProjectConfig:
    """`[tool.fastpipe]` of pyproject.toml, validated."""

    pipeline: str = "pipeline"
    preload: tuple[str, ...] = ()
    executor: str | None = None
    jobs: int | None = None
    resources: tuple[tuple[str, float], ...] = ()
    dask_address: str | None = None
    cache_dir: str | None = None  # the output cache (relative to the root, or absolute)
    cache_link: str | None = None  # how workspace files are made from cache objects
    remotes: RemotesConfig | None = None  # None: no remote configured
    track_packages: bool = True  # record the versions of the packages each stage reaches
    strict_io: bool = False  # fail a stage that opens files it did not declare
    io_ignore: tuple[str, ...] = ()  # globs of paths undeclared-I/O checks never report


@dataclass(frozen=True)
class Project:
    """A project root and its configuration."""

    root: Path
    config: ProjectConfig

    @property
    def layout(self) -> Layout:
        return Layout(self.root)


@dataclass(frozen=True)
class Stage:
    """A collected stage: its spec and the function that runs it."""

    spec: StageSpec
    func: Callable[..., Any]

    @property
    def name(self) -> str:
        return self.spec.name


@dataclass(frozen=True)
class Pipeline:
    """The registry value discovery builds: every stage of the project, by name."""

    project: Project
    module: types.ModuleType
    stages: Mapping[str, Stage]

    @property
    def specs(self) -> dict[str, StageSpec]:
        return {name: stage.spec for name, stage in self.stages.items()}


def find_root(start: Path) -> Path:
    """The nearest ancestor of `start` holding pipeline.py or a [tool.fastpipe] pyproject."""
    start = start.resolve()
    if not start.is_dir():
        raise ProjectError(f"'{start}' is not a directory")
    for directory in (start, *start.parents):
        if (directory / PIPELINE_FILE).is_file() or has_fastpipe_table(directory):
            return directory
    raise ProjectError(
        f"no fastpipe project in '{start}' or its parents (looked for pipeline.py or "
        "[tool.fastpipe] in pyproject.toml); run `fastpipe init` to start one"
    )


def has_fastpipe_table(directory: Path) -> bool:
    """Whether `directory` holds a pyproject.toml with a [tool.fastpipe] table."""
    pyproject = directory / "pyproject.toml"
    if not pyproject.is_file():
        return False
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return "fastpipe" in text and isinstance(_fastpipe_table(pyproject), dict)


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # here: a project without pyproject.toml does not pay for it

    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProjectError(f"{path.name}: cannot read it ({exc})") from None


def _fastpipe_table(pyproject: Path) -> object:
    """`[tool.fastpipe]` of a pyproject.toml (None when absent)."""
    tool = _read_toml(pyproject).get("tool")
    return tool.get("fastpipe") if isinstance(tool, dict) else None


def read_config(root: Path) -> ProjectConfig:
    """The validated `[tool.fastpipe]` table (defaults when there is none)."""
    pyproject = root / "pyproject.toml"
    if not pyproject.is_file():
        return ProjectConfig()
    table = _fastpipe_table(pyproject)
    if table is None:
        return ProjectConfig()
    if not isinstance(table, dict):
        raise ProjectError("pyproject.toml: [tool.fastpipe] must be a table")
    for key, value in table.items():
        expected = _CONFIG_KEYS.get(key)
        if expected is None:
            known = ", ".join(sorted(_CONFIG_KEYS))
            raise ProjectError(f"pyproject.toml: unknown [tool.fastpipe] key '{key}' ({known})")
        if not isinstance(value, expected) or (isinstance(value, bool) and expected is not bool):
            raise ProjectError(
                f"pyproject.toml: [tool.fastpipe] {key} must be {expected.__name__}, not {value!r}"
            )
    return ProjectConfig(
        pipeline=table.get("pipeline", "pipeline"),
        preload=_strings(table.get("preload", []), "preload"),
        executor=table.get("executor"),
        jobs=_positive(table.get("jobs")),
        resources=_resources(table.get("resources", {})),
        dask_address=table.get("dask_address"),
        cache_dir=table.get("cache_dir"),
        cache_link=_link_mode(table.get("cache_link")),
        remotes=_remotes(table),
        track_packages=table.get("track_packages", True),
        strict_io=table.get("strict_io", False),
        io_ignore=_strings(table.get("io_ignore", []), "io_ignore"),
    )


def _link_mode(value: str | None) -> str | None:
    if value is not None and value not in _LINK_MODES:
        raise ProjectError(
            f"pyproject.toml: [tool.fastpipe] cache_link must be one of {', '.join(_LINK_MODES)},"
            f" not {value!r}"
        )
    return value


def _remotes(table: dict[str, Any]) -> RemotesConfig | None:
    """The remotes tables, validated; their module is imported only by projects that have them."""
    if "remotes" not in table and "default_remote" not in table:
        return None
    from fastpipe.remotes import parse_remotes

    return parse_remotes(table)


def _strings(value: list[Any], key: str) -> tuple[str, ...]:
    if not all(isinstance(v, str) for v in value):
        raise ProjectError(f"pyproject.toml: [tool.fastpipe] {key} must be a list of strings")
    return tuple(value)


def _positive(value: int | None) -> int | None:
    if value is not None and value < 1:
        raise ProjectError(f"pyproject.toml: [tool.fastpipe] jobs must be >= 1, not {value}")
    return value


def _resources(value: dict[str, Any]) -> tuple[tuple[str, float], ...]:
    items: list[tuple[str, float]] = []
    for name, amount in value.items():
        if isinstance(amount, bool) or not isinstance(amount, int | float) or amount < 0:
            raise ProjectError(
                f"pyproject.toml: [tool.fastpipe] resources.{name} must be a number >= 0"
            )
        items.append((name, float(amount)))
    return tuple(sorted(items))


def load_project(start: Path) -> Project:
    """The project containing `start`."""
    root = find_root(start)
    return Project(root, read_config(root))


def import_pipeline(project: Project) -> types.ModuleType:
    """Import the pipeline module fresh, as a real module, with the root on sys.path."""
    root = str(project.root)
    # First on sys.path, even if already there: another project's root must not shadow it.
    sys.path[:] = [root, *(p for p in sys.path if p != root)]
    _forget_project_modules(project.root)
    name = project.config.pipeline
    try:
        # Like its stages, the module runs in the project root: relative paths it opens at
        # import time mean the same whether fastpipe was started there, below, or with -C.
        with contextlib.chdir(project.root):
            return importlib.import_module(name)
    except FastpipeError:
        raise
    except ModuleNotFoundError as exc:
        if exc.name is not None and (name == exc.name or name.startswith(exc.name + ".")):
            raise ProjectError(
                f"pipeline module '{name}' not found in {project.root} "
                "(set [tool.fastpipe] pipeline in pyproject.toml, or create pipeline.py)"
            ) from None
        raise _import_error(name, exc) from None
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise _import_error(name, exc) from None


def _import_error(name: str, exc: BaseException) -> ProjectError:
    import traceback

    shown = traceback.TracebackException.from_exception(exc)
    pending: list[tuple[traceback.TracebackException, BaseException]] = [(shown, exc)]
    seen: set[int] = set()
    while pending:  # the exception and its causes: only the user's frames, wherever they are
        found, real = pending.pop()
        if id(real) in seen:
            continue
        seen.add(id(real))
        keep = (
            []
            if isinstance(real, SyntaxError)
            else [  # its file, line and caret say where
                f for f in found.stack if not _is_machinery(f.filename)
            ]
        )
        found.stack = traceback.StackSummary.from_list(keep)
        for shown_link, real_link in (
            (found.__cause__, real.__cause__),
            (found.__context__, real.__context__),
        ):
            if shown_link is not None and real_link is not None:
                pending.append((shown_link, real_link))
    details = "".join(shown.format())
    return ProjectError(
        f"importing the pipeline module '{name}' failed: {type(exc).__name__}: {exc}",
        details=details,
    )


def _is_machinery(filename: str) -> bool:
    """Frames of fastpipe and of the import system, above the user's first frame."""
    if filename.startswith("<frozen importlib"):
        return True
    path = os.path.abspath(filename)
    return path.startswith(_FASTPIPE_DIR) or path.startswith(_IMPORTLIB_DIR)


def _forget_project_modules(root: Path) -> None:
    """Drop modules of this project (or shadowing its module names) so imports are fresh."""
    prefix = str(root) + os.sep
    top_level = {p.stem if p.suffix == ".py" else p.name for p in _importable_entries(root)}
    for name, module in list(sys.modules.items()):
        file = getattr(module, "__file__", None) or ""
        if file.startswith(prefix) or name.split(".")[0] in top_level:
            del sys.modules[name]
    importlib.invalidate_caches()


def _importable_entries(root: Path) -> list[Path]:
    try:
        entries = list(root.iterdir())
    except OSError:
        return []
    return [p for p in entries if p.suffix == ".py" or (p / "__init__.py").is_file()]


def collect_stages(module: types.ModuleType) -> dict[str, Stage]:
    """The @stage functions in `module`'s namespace, by name: one stage per function, one per
    variant for a matrix stage."""
    from fastpipe.stage import spec_of

    found: dict[str, Stage] = {}
    seen: set[int] = set()
    for value in list(vars(module).values()):
        spec = spec_of(value)
        if spec is None or id(value) in seen or not callable(value):
            continue
        seen.add(id(value))
        # A matrix stage is one function and a stage per combination of its matrix values.
        for each in matrix.expand(spec) if spec.matrix else (spec,):
            other = found.get(each.name)
            if other is not None:
                raise StageDefinitionError(
                    f"two stages are named '{each.name}': {other.spec.module}."
                    f"{other.spec.qualname} and {each.module}.{each.qualname}; "
                    "rename one with @stage(name=...)"
                )
            found[each.name] = Stage(each, value)
    for name, each in found.items():
        if each.spec.base is not None and each.spec.base in found:
            raise StageDefinitionError(
                f"stage '{each.spec.base}' is also the name of a matrix stage (its variant "
                f"'{name}'); rename one with @stage(name=...)"
            )
    return dict(sorted(found.items()))


def load_pipeline(project: Project) -> Pipeline:
    """Import the project's pipeline module and collect its stages."""
    module = import_pipeline(project)
    return Pipeline(project, module, collect_stages(module))
