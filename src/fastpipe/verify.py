"""`fastpipe verify`: re-run fresh stages in a temporary copy and compare their outputs.

A stage whose outputs differ from its lock's on a re-run with the same code, params and deps
is nondeterministic (a seed not fixed, a timestamp written, threads racing). Such stages are
recorded in `.fastpipe/cache/nondeterministic.json`, path by path, so that what restores
outputs from a cache can warn before it does (`is_nondeterministic`). The copy holds only
what the stage needs: its deps, the project's Python sources and the params files; the
project itself is never written.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from fastpipe.atomicfile import atomic_write
from fastpipe.context import Context
from fastpipe.layout import Layout

SCHEMA = 1
_SKIPPED_DIRS = frozenset({".fastpipe", ".git", ".venv", "venv", "__pycache__", "node_modules"})
_PARAMS_FILES = ("params.yaml", "pyproject.toml")


@dataclass(frozen=True)
class Verified:
    """One stage re-run: `differs` names the outputs that came out different."""

    name: str
    differs: tuple[str, ...] = ()
    skipped: str | None = None  # why it was not re-run (stale, failed)

    @property
    def nondeterministic(self) -> bool:
        return bool(self.differs)


def record_path(layout: Layout) -> Path:
    return layout.cache / "nondeterministic.json"


def is_nondeterministic(layout: Layout, stage: str) -> bool:
    """Whether `fastpipe verify` found the stage's outputs differ on a re-run."""
    return stage in _read(layout)


def verify(ctx: Context, targets: Sequence[str]) -> list[Verified]:
    """Re-run each selected fresh stage in a copy; compare its outputs with its lock's."""
    from fastpipe.worker import StageTask, run_stage

    statuses = {s.name: s for s in ctx.statuses(ctx.select(list(targets)))}
    found: list[Verified] = []
    for name in list(targets) if targets else list(statuses):
        if statuses[name].stale:
            found.append(Verified(name, skipped="stale: run it first"))
            continue
        entry = ctx.lock(name).entry
        assert entry is not None  # fresh
        spec = ctx.spec(name)
        with tempfile.TemporaryDirectory(prefix="fastpipe-verify-") as tmp:
            copy = Path(tmp)
            _copy_needs(ctx.root, copy, spec.deps)
            task = StageTask(
                name=name,
                module=spec.module,
                qualname=spec.qualname,
                root=str(copy),
                params=dict(ctx.params[name]),
                outputs=spec.outputs,
                echo=False,
            )
            result = run_stage(task)
        if not result.ok:
            found.append(Verified(name, skipped=f"the re-run failed: {result.error}"))
            continue
        differs = tuple(p for p in spec.outputs if result.outputs[p].hash != entry.outs[p].hash)
        found.append(Verified(name, differs))
    _record(ctx.pipeline.project.layout, found)
    return found


def _copy_needs(root: Path, copy: Path, deps: Sequence[str]) -> None:
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(".py"):
                source = Path(directory) / name
                target = copy / source.relative_to(root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    for relpath in (*_PARAMS_FILES, *deps):
        source = root / relpath
        target = copy / relpath
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)
        elif source.exists():
            shutil.copy2(source, target)


def _read(layout: Layout) -> dict[str, dict[str, object]]:
    try:
        data = json.loads(record_path(layout).read_bytes())
        if data.get("schema") == SCHEMA and isinstance(data.get("stages"), dict):
            return data["stages"]
    except (OSError, ValueError, AttributeError):
        pass
    return {}


def _record(layout: Layout, found: Sequence[Verified]) -> None:
    stages = _read(layout)
    at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    for item in found:
        if item.skipped is not None:
            continue
        if item.differs:
            stages[item.name] = {"paths": list(item.differs), "at": at}
        else:
            stages.pop(item.name, None)
    data = {"schema": SCHEMA, "stages": dict(sorted(stages.items()))}
    atomic_write(record_path(layout), json.dumps(data, indent=1).encode())
