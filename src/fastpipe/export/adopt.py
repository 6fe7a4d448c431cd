"""`fastpipe import-dvc`: adopt the stages DVC already computed by writing their fastpipe locks.

A fastpipe stage is adopted when the DVC stage of the same name is one `dvc status` would call
unchanged and covers it: every dep and out in dvc.lock still has its md5 on disk, every locked
param still has its value, dvc.yaml still has the locked cmd, the fastpipe stage's deps and
outputs are among the DVC stage's (or inside its directories), and params named `STAGE.PARAM`
agree with fastpipe's. Its lock then records the current code fingerprint and params and the
files as they are, so the first `fastpipe run` after migrating runs nothing DVC had computed.
Anything else is left stale, with the reason.
"""

from __future__ import annotations

import enum
import json
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fastpipe import discovery, projectlock
from fastpipe.context import Context, open_context
from fastpipe.events import Listener, Waiting
from fastpipe.export.dvcfiles import DvcEntry, DvcStage, read_dvc_stages
from fastpipe.export.dvcyaml import dvc_yaml_path
from fastpipe.export.md5 import dvc_md5
from fastpipe.hashing import FileHash
from fastpipe.lockfile import LockEntry, write_lock
from fastpipe.params import load_yaml


class Adoption(enum.StrEnum):
    """What import-dvc did, or would do, with a stage."""

    ADOPTED = "adopted"
    WOULD_ADOPT = "would adopt"
    FRESH = "already fresh"
    STALE = "left stale"


@dataclass(frozen=True)
class StageImport:
    """One fastpipe stage: its adoption, and why it was left stale."""

    name: str
    adoption: Adoption
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportReport:
    """Every stage of the pipeline, in topological order."""

    dvc_yaml: str
    stages: tuple[StageImport, ...]


def import_dvc(
    start: Path, dvc_file: Path | str | None, *, dry_run: bool = False, listener: Listener
) -> ImportReport:
    """Adopt (with `dry_run`: only plan) every stage DVC computed, from `dvc_file`'s lock."""
    project = discovery.load_project(start)
    dvc_yaml = dvc_yaml_path(project.root, start, dvc_file)
    if dry_run:
        return _import(open_context(project.root, listener=listener), dvc_yaml, dry_run=True)
    on_wait: Callable[[str], None] = lambda message: listener(Waiting(message))  # noqa: E731
    with projectlock.hold(project.layout.run_lock, wait=True, on_wait=on_wait):
        return _import(open_context(project.root, listener=listener), dvc_yaml, dry_run=False)


def _import(ctx: Context, dvc_yaml: str, *, dry_run: bool) -> ImportReport:
    dvc_stages = read_dvc_stages(ctx.root, dvc_yaml)
    params_files = _ParamsFiles(ctx.root)
    found: list[StageImport] = []
    for name in ctx.select([]):
        if not ctx.statuses([name])[0].stale:
            found.append(StageImport(name, Adoption.FRESH))
            continue
        before = _fastpipe_hashes(ctx, name)
        reasons = mismatches(ctx, name, dvc_stages.get(name), params_files)
        if not reasons and _fastpipe_hashes(ctx, name) != before:
            reasons = ["its files changed while they were being compared"]
        if reasons:
            found.append(StageImport(name, Adoption.STALE, tuple(reasons)))
        elif dry_run:
            found.append(StageImport(name, Adoption.WOULD_ADOPT))
        else:
            entry = _write(ctx, name, before)
            _copy_objects(ctx, entry, dvc_stages[name])
            found.append(StageImport(name, Adoption.ADOPTED))
    ctx.cache.save()
    return ImportReport(dvc_yaml, tuple(found))


def _fastpipe_hashes(ctx: Context, name: str) -> dict[str, FileHash | None]:
    spec = ctx.spec(name)
    return {path: ctx.hash(path) for path in (*spec.deps, *spec.outputs)}


def _copy_objects(ctx: Context, entry: LockEntry, dvc: DvcStage) -> None:
    """The adopted outs into the object cache (from DVC's cache where it has them)."""
    from fastpipe.export.dvccache import import_objects
    from fastpipe.store import object_store

    store = object_store(ctx.pipeline.project)
    import_objects(ctx.root, store, entry, dvc, ctx.spec(entry.stage).is_cached)


def _write(ctx: Context, name: str, hashes: Mapping[str, FileHash | None]) -> LockEntry:
    spec = ctx.spec(name)
    present = {path: found for path, found in hashes.items() if found is not None}
    entry = LockEntry(
        stage=name,
        code=dict(ctx.manifest(name).items),
        params=dict(ctx.params[name]),
        deps={path: present[path] for path in spec.deps},
        outs={path: present[path] for path in spec.outputs},
    )
    layout = ctx.pipeline.project.layout
    layout.ensure()
    write_lock(layout.lock_path(name), entry)
    layout.unfinished_lock_path(name).unlink(missing_ok=True)
    ctx.forget_lock(name)
    return entry


def mismatches(
    ctx: Context, name: str, dvc: DvcStage | None, params_files: _ParamsFiles
) -> list[str]:
    """Why stage `name` cannot be adopted from `dvc` (empty: it can)."""
    if dvc is None:
        return ["not in dvc.lock: DVC has not run it"]
    if not dvc.defined:
        return ["dvc.yaml no longer defines it"]
    reasons = ["its cmd in dvc.yaml changed since dvc.lock was written"] if dvc.cmd_changed else []
    spec = ctx.spec(name)
    dvc_deps = {entry.path for entry in dvc.deps}
    dvc_outs = {entry.path for entry in dvc.outs}
    reasons += [
        f"dep {p} is not a dep of the DVC stage" for p in spec.deps if not _covered(p, dvc_deps)
    ]
    reasons += [
        f"{p} is not an out of the DVC stage" for p in spec.outputs if not _covered(p, dvc_outs)
    ]
    for kind, entries in (("dep", dvc.deps), ("out", dvc.outs)):
        reasons += [r for entry in entries if (r := _file_problem(ctx.root, kind, entry))]
    # A param edited since DVC ran also disagrees with fastpipe: saying so twice is noise.
    # A matrix variant's params may be tracked under its own name or its matrix stage's.
    names = (name,) if spec.base is None else (name, spec.base)
    reasons += _param_problems(dvc, params_files) or [
        problem for each in names for problem in _param_disagreements(each, ctx.params[name], dvc)
    ]
    return reasons


def _covered(path: str, dvc_paths: set[str]) -> bool:
    """Whether DVC tracked `path` itself or a directory holding it (then its md5 covers it)."""
    return path in dvc_paths or any(path.startswith(d + "/") for d in dvc_paths)


def _file_problem(root: Path, kind: str, entry: DvcEntry) -> str | None:
    what = f"{kind} {entry.path}"
    if entry.path == ".." or entry.path.startswith("../"):
        return f"{what} is outside the project"
    if entry.md5 is None:
        return f"dvc.lock records no md5 for {what}"
    found = dvc_md5(root / entry.path, dos2unix=entry.dos2unix)
    if found is None:
        return f"{what} is missing or unreadable"
    if found != entry.md5:
        return f"{what} changed since dvc repro (md5 {entry.md5} in dvc.lock, {found} now)"
    return None


def _param_problems(dvc: DvcStage, files: _ParamsFiles) -> list[str]:
    """Locked params whose value changed since (what `dvc status` reports as modified)."""
    problems: list[str] = []
    for path, values in dvc.params.items():
        for key, old in values.items():
            new = files.value(path, key)
            if new is _MISSING:
                problems.append(f"param {key} is no longer in {path}")
            elif not same_value(old, new):
                problems.append(
                    f"param {key} in {path} changed since dvc repro ({_show(old, new)})"
                )
    return problems


def _param_disagreements(name: str, resolved: Mapping[str, Any], dvc: DvcStage) -> list[str]:
    """Params that DVC tracked as `STAGE.PARAM` with another value than fastpipe resolves."""
    problems: list[str] = []
    for values in dvc.params.values():
        for param, value in resolved.items():
            old = _lookup(values, f"{name}.{param}")
            if old is not _MISSING and not same_value(old, value):
                problems.append(
                    f"param {name}.{param} was {json.dumps(old)} for DVC but fastpipe "
                    f"resolves {json.dumps(value)}"
                )
    return problems


def _show(old: Any, new: Any) -> str:
    return f"{json.dumps(old, default=str)} -> {json.dumps(new, default=str)}"


def same_value(a: Any, b: Any) -> bool:
    """Param equality as DVC sees it, except that a bool is never a number."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


_MISSING: Any = object()


def _lookup(values: Mapping[str, Any], key: str) -> Any:
    """A locked value by dotted key: `a.b` is values['a.b'] or values['a']['b'], like dpath."""
    if key in values:
        return values[key]
    node: Any = values
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


class _ParamsFiles:
    """Params files read once each (YAML, JSON or TOML, as DVC reads them)."""

    def __init__(self, root: Path) -> None:
        self._root = root
        self._loaded: dict[str, Any] = {}

    def value(self, path: str, key: str) -> Any:
        if path not in self._loaded:
            self._loaded[path] = self._load(path)
        return _lookup(self._loaded[path], key)

    def _load(self, path: str) -> Any:
        try:
            text = (self._root / path).read_text(encoding="utf-8")
            if path.endswith(".json"):
                data = json.loads(text)
            elif path.endswith(".toml"):
                data = tomllib.loads(text)
            else:
                data = load_yaml(text)
        except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError):
            return {}
        return data if isinstance(data, dict) else {}
