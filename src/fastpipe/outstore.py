"""A finished stage's output into the object cache (run in the stage's own process).

With `hardlink` or `symlink` the workspace file then becomes a link to the read-only object,
so an edit in place cannot corrupt the cache.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastpipe.hashing import TreeFile
from fastpipe.links import LinkMode
from fastpipe.objects import ObjectStore
from fastpipe.restore import place_file


def store_output(
    cache_dir: str,
    link: str,
    root: Path,
    out: str,
    digest: str,
    tree: tuple[object, tuple[TreeFile, ...]] | None,
) -> None:
    """Store the out at `out` (its hash `digest`; a directory's files in `tree`)."""
    store = ObjectStore(Path(cache_dir), LinkMode(link))
    path = root / out
    if tree is None:
        store.store_file(path, digest)
        _link_back(store, path, digest, executable=False)
        return
    files = tree[1]
    store.store_tree(path, files, digest)
    for f in files:
        _link_back(store, path / f.rel, f.hash, executable=f.executable)


def _link_back(store: ObjectStore, path: Path, digest: str, *, executable: bool) -> None:
    if not store.link.shares_object:
        return
    if os.path.samefile(path, store.path(digest)) and store.link is LinkMode.HARDLINK:
        return  # the workspace file became the object when it was stored
    place_file(store, digest, path, executable)
