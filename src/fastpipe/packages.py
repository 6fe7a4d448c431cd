"""Installed distributions a stage's code reaches, and their versions.

The walker records the library objects a stage reaches by name (`sklearn.ensemble.X`); the
top-level module of each is mapped to the distribution that installs it (scikit-learn) as
`importlib.metadata.packages_distributions()` maps it, once per command. That scan reads the
metadata of every installed distribution, so its result is kept in `.fastpipe/cache/packages.json`
keyed by `environment_state()`: a digest of the names in every `sys.path` directory, where
`*.dist-info` names carry versions, so installing, removing or upgrading a package changes it.
Neither the standard library nor fastpipe itself is ever recorded.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import xxhash

from fastpipe.atomicfile import atomic_write

if TYPE_CHECKING:
    from importlib import metadata

SCHEMA = 1
_NOT_RECORDED = frozenset({"fastpipe"})


def environment_state(exclude: Iterable[str] = ()) -> str:
    """A digest of what every `sys.path` entry holds (names only; a file by size and mtime).

    `exclude` names entries to leave out (the project root, whose files change all the time).
    """
    skipped = {os.path.abspath(p) for p in exclude}
    parts: list[str] = []
    for entry in sys.path:
        directory = os.path.abspath(entry or os.curdir)
        if directory in skipped:
            continue
        parts.append(directory)
        try:
            with os.scandir(directory) as entries:
                parts.extend(sorted(e.name for e in entries))
        except NotADirectoryError:
            stat = os.stat(directory)
            parts.append(f"{stat.st_size}:{stat.st_mtime_ns}")
        except OSError:
            parts.append("<missing>")
    return xxhash.xxh3_128_hexdigest("\0".join(parts).encode())


@dataclass(frozen=True)
class Distributions:
    """Which distributions install each top-level module, and each distribution's version."""

    modules: Mapping[str, tuple[str, ...]]
    versions: Mapping[str, str]

    def reached(self, libraries: Iterable[str]) -> dict[str, str]:
        """`{distribution: version}` for the library objects named (`numpy.load`), sorted."""
        found: dict[str, str] = {}
        for name in libraries:
            top = name.split(".", 1)[0]
            if top in sys.stdlib_module_names or top in sys.builtin_module_names:
                continue
            for dist in self.modules.get(top, ()):
                version = self.versions.get(dist)
                if version is not None and dist.lower() not in _NOT_RECORDED:
                    found[dist] = version
        return dict(sorted(found.items()))


def scan() -> Distributions:
    """Read the installed distributions' metadata: what `importlib.metadata` would answer
    (`packages_distributions()` and each distribution's `Name` and `Version`), read without
    its email parser or its `PackagePath` objects, which made this the slowest step of a cold
    run in an environment of a few hundred distributions."""
    from importlib import metadata

    modules: dict[str, set[str]] = {}
    versions: dict[str, str] = {}
    for dist in metadata.distributions():  # in sys.path order: the first found is imported
        name, version = _headers(dist)
        for top in _top_level(dist):
            modules.setdefault(top, set()).add(name or "")
        if name:
            versions.setdefault(name, version or "")
    found = {m: tuple(sorted(d for d in dists if d)) for m, dists in modules.items()}
    return Distributions({m: d for m, d in found.items() if d}, versions)


def _headers(dist: metadata.Distribution) -> tuple[str | None, str | None]:
    """The first `Name` and `Version` headers of the distribution's core metadata."""
    text = dist.read_text("METADATA") or dist.read_text("PKG-INFO") or ""
    name = version = None
    for line in text.splitlines():
        if not line:
            break  # the headers end at the first empty line; the description follows
        key, colon, value = line.partition(":")
        key = key.strip().lower()
        if colon and key == "name" and name is None:
            name = value.strip()
        elif colon and key == "version" and version is None:
            version = value.strip()
    return name, version


def _top_level(dist: metadata.Distribution) -> set[str]:
    """The top-level names a distribution installs: `top_level.txt` when it has one, else
    inferred from its file list, the way this Python's `packages_distributions()` infers them
    (except that a listed file is not checked to exist: Python 3.12+ stats each one)."""
    import csv

    declared = (dist.read_text("top_level.txt") or "").split()
    if declared:
        return set(declared)
    record = dist.read_text("RECORD")
    if record is not None:
        paths = [row[0] for row in csv.reader(record.splitlines()) if row]
    else:
        paths = [str(f) for f in dist.files or ()]
    return {name for name in map(_inferred_name, paths) if name is not None}


def _inferred_name(path: str) -> str | None:
    import inspect

    parts = [p for p in path.split("/") if p and p != "."]
    if path.startswith("/"):
        parts.insert(0, "/")
    if not parts:
        return None
    if sys.version_info < (3, 12):  # only `.py` files counted
        if not parts[-1].endswith(".py") or parts[-1] == ".py":
            return None
        return parts[0] if len(parts) > 1 else parts[0][: -len(".py")]
    if len(parts) > 1:
        name = parts[0]
    else:
        name = inspect.getmodulename(parts[0])
        if name is None and sys.version_info >= (3, 13):
            name = parts[0]
    return name if name is not None and "." not in name else None


def load(path: Path, state: str) -> Distributions:
    """The distributions of the environment whose state is `state`: cached, or scanned now."""
    try:
        data = json.loads(path.read_bytes())
        if data["schema"] == SCHEMA and data["state"] == state:
            modules = {str(k): tuple(str(d) for d in v) for k, v in data["modules"].items()}
            return Distributions(modules, {str(k): str(v) for k, v in data["versions"].items()})
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    found = scan()
    data = {
        "schema": SCHEMA,
        "state": state,
        "modules": {k: list(v) for k, v in found.modules.items()},
        "versions": dict(found.versions),
    }
    with contextlib.suppress(OSError):  # the cache only saves time
        atomic_write(path, json.dumps(data, sort_keys=True).encode())
    return found
