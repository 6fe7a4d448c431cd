"""Installed distributions a stage's code reaches, and their versions.

The walker records the library objects a stage reaches by name (`sklearn.ensemble.X`); the
top-level module of each is mapped to the distribution that installs it (scikit-learn) with
`importlib.metadata.packages_distributions()`, once per command. That scan reads the metadata
of every installed distribution, so its result is kept in `.fastpipe/cache/packages.json`
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

import xxhash

from fastpipe.atomicfile import atomic_write

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
    """Read the installed distributions' metadata (the slow part: tens of milliseconds)."""
    from importlib import metadata

    modules = {m: tuple(sorted(set(d))) for m, d in metadata.packages_distributions().items()}
    versions: dict[str, str] = {}
    for dist in metadata.distributions():  # in sys.path order: the first found is imported
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(name, dist.version)
    return Distributions(modules, versions)


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
