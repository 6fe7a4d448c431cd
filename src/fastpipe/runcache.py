"""The run cache: what a stage produced for a given code, params and deps, by a key.

`<cache>/runs/<2 hex>/<30 hex>`, JSON {schema, stage, outs: {path: {hash, size}}}, named by
the run key: the hash of the code manifest, the resolved params, the dep hashes and the out
paths with their cache flags. Entries are read as untrusted input (paths and hashes checked).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import xxhash

from fastpipe import safepath
from fastpipe.atomicfile import atomic_write
from fastpipe.hashing import FileHash

SCHEMA = 1


def run_key(
    code: Mapping[str, str],
    params: Mapping[str, Any],
    deps: Mapping[str, FileHash],
    outs: Sequence[tuple[str, bool]],
) -> str:
    """The run key of a stage about to run with these inputs and outputs."""
    doc = {
        "code": dict(sorted(code.items())),
        "params": params,
        "deps": {p: h.hash for p, h in sorted(deps.items())},
        "outs": sorted([p, c] for p, c in outs),
    }
    text = json.dumps(doc, sort_keys=True, separators=(",", ":"), default=repr)
    return xxhash.xxh3_128(text.encode()).hexdigest()


@dataclass(frozen=True)
class RunCache:
    """The run-cache entries below `root` (`<cache>/runs`)."""

    root: Path

    def path(self, key: str) -> Path:
        safepath.check_hash(key, "run-cache key")
        return self.root / key[:2] / key[2:]

    def get(self, key: str, stage: str) -> dict[str, FileHash] | None:
        """The outs recorded for `key` by stage `stage`; None if unknown or unusable."""
        try:
            doc = json.loads(self.path(key).read_bytes())
        except (OSError, ValueError):
            return None
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA or doc.get("stage") != stage:
            return None
        outs = doc.get("outs")
        if not isinstance(outs, dict):
            return None
        found: dict[str, FileHash] = {}
        for path, value in outs.items():
            where = f"run-cache entry {key}"
            safepath.check_relpath(path, where)
            if not isinstance(value, dict) or not isinstance(value.get("size"), int):
                return None
            found[path] = FileHash(safepath.check_hash(value.get("hash"), where), value["size"])
        return found

    def put(self, key: str, stage: str, outs: Mapping[str, FileHash]) -> None:
        """Record what stage `stage` produced under `key` (a later run may replace it)."""
        atomic_write(*self.entry(key, stage, outs))

    def entry(self, key: str, stage: str, outs: Mapping[str, FileHash]) -> tuple[Path, bytes]:
        """The path and bytes of an entry (for atomicfile.atomic_write_many)."""
        doc = {
            "schema": SCHEMA,
            "stage": stage,
            "outs": {p: {"hash": h.hash, "size": h.size} for p, h in sorted(outs.items())},
        }
        return self.path(key), json.dumps(doc, sort_keys=True).encode()

    def entries(self) -> Iterator[tuple[str, Path]]:
        """(key, path) of every entry, and ('', path) for temp files."""
        if not self.root.is_dir():
            return
        for shard in os.scandir(self.root):
            if shard.is_dir(follow_symlinks=False):
                for entry in os.scandir(shard.path):
                    key = shard.name + entry.name
                    yield (key if safepath.is_hash(key) else ""), Path(entry.path)

    def outs_of(self, path: Path) -> list[str]:
        """The out hashes an entry file names (for gc); [] if unreadable."""
        try:
            doc = json.loads(path.read_bytes())
            return [v["hash"] for v in doc["outs"].values() if safepath.is_hash(v["hash"])]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return []
