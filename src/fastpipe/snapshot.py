"""A loaded pipeline, remembered: lets `status` and a no-op `run` skip importing it.

Importing the pipeline (numpy and all) and fingerprinting every stage is most of what a
no-op command costs. After a full load, the stages' specs, resolved params and code
manifests are saved with the content hash of every file the load depended on: the project's
modules, params.yaml, pyproject.toml, any file the import read, and the listings that decide
what an import finds. A later command trusts the snapshot only if every one of those is
unchanged, fastpipe and the interpreter are the same, and the load asked for nothing ambient
(environment, clock, randomness, processes, network — see importwatch). Otherwise it loads
the pipeline as usual. Deps, outputs and locks are always read from disk.

When a load cannot be trusted, the snapshot file says why instead (`refuse`), and `causes`
names what changed since a snapshot was taken: `fastpipe -v` prints both.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import xxhash

from fastpipe.atomicfile import atomic_write
from fastpipe.hashing import StatCache, hash_file, hash_path
from fastpipe.packages import environment_state

if TYPE_CHECKING:  # importwatch (datetime, random, ...) is not needed to check a snapshot
    from fastpipe.importwatch import ImportRecord

VERSION = 2
# what an import (or importlib.metadata, which libraries ask at import) can find in a directory
_IMPORTABLE_SUFFIXES = (".py", ".pth", ".so", ".pyd", ".dist-info", ".egg-info", ".egg-link")
_MISSING = "missing"


@dataclass(frozen=True)
class StageEntry:
    """What status needs to know about one stage."""

    deps: tuple[str, ...]
    outputs: tuple[str, ...]
    upstream: tuple[str, ...]
    params: Mapping[str, Any]
    code: Mapping[str, str]
    warnings: tuple[str, ...]
    packages: Mapping[str, str] | None = None  # {distribution: version}; None: not tracked


@dataclass(frozen=True)
class Snapshot:
    environment: str
    sources: Mapping[str, str]  # path (relative to the root, or absolute) -> content hash
    listings: Mapping[str, str]  # directory -> digest of what an import could find there
    order: tuple[str, ...]  # topological
    stages: Mapping[str, StageEntry]
    missing: tuple[str, ...] = ()  # modules the load tried to import and did not find
    asked_at: Mapping[str, str] = field(default_factory=dict[str, str])  # key -> "pipeline.py:3"


def environment_key(root: Path) -> str:
    """fastpipe's own code, the interpreter, its import path and what is installed there (a
    package upgrade changes the recorded versions): a snapshot taken under others is never
    trusted."""
    package = Path(__file__).parent
    own = sorted(
        (str(p.relative_to(package)), p.stat().st_size, p.stat().st_mtime_ns)
        for p in package.rglob("*.py")
    )
    path = [p for p in sys.path if p and os.path.abspath(p) != str(root)]
    installed = environment_state(exclude=[str(root)])
    facts = (VERSION, sys.version, sys.executable, path, own, installed)
    return xxhash.xxh3_128_hexdigest(json.dumps(facts).encode())


def sources_of(
    root: Path, record: ImportRecord, modules: Iterable[str], cache: StatCache
) -> dict[str, str] | None:
    """Hashes of every file the load depended on; None if one cannot be hashed."""
    paths = {*record.files_read, *modules, str(root / "params.yaml"), str(root / "pyproject.toml")}
    found: dict[str, str] = {}
    for path in sorted(paths):
        key = _key(root, path)
        if key is None:
            continue
        digest = _digest(root, key, cache)
        if digest is None:
            return None
        found[key] = digest
    return found


def missing_modules(record: ImportRecord) -> tuple[str, ...]:
    """Top-level modules the load tried to import but could not: a new file may provide one."""
    return tuple(sorted(n for n in record.imports_tried if n not in sys.modules))


def listings_of(
    root: Path, record: ImportRecord, module_dirs: Iterable[str], missing: Iterable[str]
) -> dict[str, str]:
    """Digests of the directories an import looked in (and of the root and package dirs)."""
    found: dict[str, str] = {}
    absent = frozenset(missing)
    for directory in {str(root), *module_dirs}:
        key = _key(root, directory, directory=True)
        if key is not None:
            found[key] = _listing(root, key, importable_only=True, missing=absent)
    for directory in record.dirs_listed:
        key = _key(root, directory, directory=True)
        if key is not None:
            found[f"*{key}"] = _listing(root, key, importable_only=False, missing=absent)
    return found


def asked_at(root: Path, record: ImportRecord) -> dict[str, str]:
    """Snapshot key -> where project code read or listed it ("pipeline.py:3")."""
    found: dict[str, str] = {}
    for path, where in record.asked_at.items():
        key = _key(root, path, directory=os.path.isdir(path))
        if key is not None:
            found[key] = where
    return found


def still_valid(snapshot: Snapshot, root: Path, cache: StatCache) -> bool:
    """Whether nothing the snapshot's load depended on has changed."""
    return not causes(snapshot, root, cache)


def causes(snapshot: Snapshot, root: Path, cache: StatCache) -> list[str]:
    """What changed since the snapshot's load, one line each (empty: it can be trusted)."""
    if snapshot.environment != environment_key(root):
        return ["fastpipe, the interpreter or its import path changed"]
    found: list[str] = []
    for key, digest in snapshot.sources.items():
        if _digest(root, key, cache) != digest:
            where = snapshot.asked_at.get(key)
            found.append(f"{where} read {key}, which changed" if where else f"{key} changed")
    absent = frozenset(snapshot.missing)
    for key, digest in snapshot.listings.items():
        everything = key.startswith("*")
        directory = key[1:] if everything else key
        if _listing(root, directory, importable_only=not everything, missing=absent) != digest:
            where = snapshot.asked_at.get(directory) if everything else None
            if where:
                found.append(f"{where} listed {directory}/, which changed")
            else:
                found.append(f"modules or packages an import can find in {directory}/ changed")
    return found


def refuse(path: Path, why: Iterable[str]) -> None:
    """Leave, instead of a snapshot, why the last load could not be trusted."""
    data = {"version": VERSION, "refused": list(why)}
    try:
        atomic_write(path, json.dumps(data).encode())
    except OSError:
        path.unlink(missing_ok=True)


def why_none(path: Path) -> tuple[str, ...]:
    """Why `load` found no snapshot to trust, one line each."""
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return ("no snapshot yet",)
    except (OSError, ValueError):
        return ("the snapshot is unreadable",)
    if not isinstance(data, dict) or data.get("version") != VERSION:  # pyright: ignore[reportUnknownMemberType]
        return ("the snapshot is from another fastpipe version",)
    refused = data.get("refused")  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if isinstance(refused, list) and refused:
        return tuple(f"last load: {r}" for r in refused)  # pyright: ignore[reportUnknownVariableType]
    return ("the snapshot is unreadable",)


def save(path: Path, snapshot: Snapshot) -> None:
    data = {
        "version": VERSION,
        "environment": snapshot.environment,
        "sources": dict(snapshot.sources),
        "listings": dict(snapshot.listings),
        "order": list(snapshot.order),
        "missing": list(snapshot.missing),
        "asked_at": dict(snapshot.asked_at),
        "stages": {
            name: {
                "deps": list(s.deps),
                "outputs": list(s.outputs),
                "upstream": list(s.upstream),
                "params": dict(s.params),
                "code": dict(s.code),
                "warnings": list(s.warnings),
                "packages": None if s.packages is None else dict(s.packages),
            }
            for name, s in snapshot.stages.items()
        },
    }
    try:
        atomic_write(path, json.dumps(data, separators=(",", ":")).encode())
    except (OSError, TypeError, ValueError):
        return  # a snapshot only saves time


def load(path: Path) -> Snapshot | None:
    """The saved snapshot, or None if absent, unreadable or of another version."""
    try:
        data = json.loads(path.read_bytes())
        if data["version"] != VERSION:
            return None
        stages = {
            name: StageEntry(
                tuple(s["deps"]),
                tuple(s["outputs"]),
                tuple(s["upstream"]),
                s["params"],
                s["code"],
                tuple(s["warnings"]),
                s["packages"],
            )
            for name, s in data["stages"].items()
        }
        return Snapshot(
            data["environment"],
            data["sources"],
            data["listings"],
            tuple(data["order"]),
            stages,
            tuple(data["missing"]),
            data["asked_at"],
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def _key(root: Path, path: str, *, directory: bool = False) -> str | None:
    """Root-relative POSIX key for paths under the root; absolute for outside files.

    Files of the interpreter and installed packages are not keys (library code is not
    fingerprinted), nor is fastpipe's own state, nor compiled bytecode.
    """
    absolute = os.path.abspath(path)
    if "__pycache__" in absolute or absolute.endswith(".pyc"):
        return None
    rel = os.path.relpath(absolute, root)
    if not rel.startswith(".."):
        posix = "." if rel == "." else rel.replace(os.sep, "/")
        return None if posix.split("/")[0] == ".fastpipe" else posix
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.__file__)}
    if any(absolute.startswith(p + os.sep) for p in prefixes) or "site-packages" in absolute:
        return None
    return absolute if not directory or os.path.isdir(absolute) else None


def _digest(root: Path, key: str, cache: StatCache) -> str | None:
    try:
        if os.path.isabs(key):
            return hash_file(Path(key)) if os.path.isfile(key) else _MISSING
        found = hash_path(root, key, cache)
    except OSError:
        return None
    return found.hash if found is not None else _MISSING


def _listing(root: Path, key: str, *, importable_only: bool, missing: frozenset[str]) -> str:
    """A digest of the entries of a directory (with importable_only, those an import could
    find: modules, packages, and anything named like a module that was not found)."""
    directory = key if os.path.isabs(key) else str(root / key)
    try:
        with os.scandir(directory) as entries:
            names = sorted(
                e.name
                for e in entries
                if not importable_only
                or e.name.endswith(_IMPORTABLE_SUFFIXES)
                or e.name.split(".")[0] in missing
                or (e.is_dir() and os.path.exists(os.path.join(e.path, "__init__.py")))
            )
    except OSError:
        return _MISSING
    return xxhash.xxh3_128_hexdigest("\0".join(names).encode())
