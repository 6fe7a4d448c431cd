"""Normalized source of the functions and classes a lock recorded, by manifest hash.

`explain STAGE --diff` shows what changed in each function or class since the last run: the
old text comes from this local, content-addressed store under `.fastpipe/cache/sources/`
(not committed), filled when locks are written; the new text from the current manifest. The
texts are `ast.unparse` of the normalized definitions, so comments and layout never show.

A run stores each definition as written (fingerprint/readable.py's encoding: a versioned
header, then its lines) and the text is made when a diff is asked for: rendering every stage a
run records cost ~1 ms a stage. A file without that header (written before) is the text.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from fastpipe.atomicfile import atomic_write_many
from fastpipe.layout import Layout

if TYPE_CHECKING:
    from fastpipe.fingerprint.readable import Readable

Definitions = Callable[[str], "Readable | None"]  # item -> its definition (None: not one)


def _path(layout: Layout, digest: str) -> Path | None:
    if not digest.isalnum():  # a lock is user-editable: never a path outside the store
        return None
    return layout.cache / "sources" / digest[:2] / digest


def store(layout: Layout, items: Mapping[str, str], definition_of: Definitions) -> None:
    """Keep the definition of each `{item: manifest hash}` not yet stored."""
    write(pending(layout, items, definition_of))


def pending(
    layout: Layout,
    items: Mapping[str, str],
    definition_of: Definitions,
    seen: set[str] | None = None,
) -> list[tuple[Path, bytes]]:
    """The files `store` would write: (path, bytes) of each item whose definition is not
    stored. A run collects them stage by stage and writes them all at its end (`write`);
    `seen` (the run's) holds the hashes already looked at, each looked at once."""
    files: list[tuple[Path, bytes]] = []
    for item, digest in items.items():
        if seen is not None:
            if digest in seen:
                continue
            seen.add(digest)
        path = _path(layout, digest)
        if path is None or path.exists():
            continue
        found = definition_of(item)
        if found is not None:
            files.append((path, found.encode()))
    return files


def write(files: Iterable[tuple[Path, bytes]]) -> None:
    """Write `pending` files, each path once, with one flush of the filesystem."""
    unique = dict(files)
    if unique:
        try:
            atomic_write_many(list(unique.items()))
        except OSError:
            return  # the store only feeds diffs


def load(layout: Layout, digest: str) -> str | None:
    """The stored source for a manifest hash, or None when it is not (or no longer) stored."""
    from fastpipe.fingerprint.readable import HEADER, Readable

    path = _path(layout, digest)
    try:
        data = path.read_bytes() if path is not None else None
    except OSError:
        return None
    if data is None:
        return None
    if data.startswith(HEADER.partition(" ")[0].encode() + b" "):  # any version of ours
        found = Readable.decode(data)
        return found.text() if found is not None else None
    try:
        return data.decode("utf-8")  # stored as text, before definitions were
    except UnicodeDecodeError:
        return None


@dataclass(frozen=True)
class SourceDiff:
    """One changed code item: a unified diff, or why none can be shown."""

    item: str
    diff: str | None
    problem: str | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"item": self.item, "diff": self.diff, "problem": self.problem}


def diff_item(
    layout: Layout, item: str, old_hash: str | None, new_hash: str | None, new: str | None
) -> SourceDiff:
    """The diff of `item` from the source stored for `old_hash` to `new` (its source now)."""
    old = load(layout, old_hash) if old_hash is not None else ""
    if new is None and new_hash is not None:
        return SourceDiff(item, None, "no source to show (not a function or class)")
    if old is None:
        return SourceDiff(
            item,
            None,
            "its old source is gone from .fastpipe/cache/sources (it is kept from the runs "
            "of this checkout); no diff to show",
        )
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        (new or "").splitlines(keepends=True),
        fromfile=f"{item} (last run)",
        tofile=f"{item} (now)",
    )
    return SourceDiff(item, "".join(_terminated(lines)))


def _terminated(lines: Iterable[str]) -> Iterable[str]:
    for line in lines:
        yield line if line.endswith("\n") else line + "\n"


def diffs(
    layout: Layout,
    changes: Mapping[str, str],
    old: Mapping[str, object],
    new: Mapping[str, object],
    source_of: Callable[[str], str | None],
) -> tuple[SourceDiff, ...]:
    """A SourceDiff for each changed, added or removed code item (packages are not code)."""
    found: list[SourceDiff] = []
    for item in changes:
        if item.startswith("package "):
            continue
        old_hash, new_hash = old.get(item), new.get(item)
        found.append(
            diff_item(
                layout,
                item,
                old_hash if isinstance(old_hash, str) else None,
                new_hash if isinstance(new_hash, str) else None,
                source_of(item) if new_hash is not None else None,
            )
        )
    return tuple(found)
