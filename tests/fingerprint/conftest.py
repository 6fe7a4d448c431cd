"""A throwaway project on disk whose modules are imported fresh for every fingerprint."""

from __future__ import annotations

import importlib
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastpipe.fingerprint import Fingerprinter, Manifest
from fastpipe.hashing import StatCache, hash_path


class Project:
    """Write modules, then fingerprint a function as a fresh import would see it."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, relpath: str, text: str) -> None:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))

    def edit(self, relpath: str, old: str, new: str) -> None:
        path = self.root / relpath
        text = path.read_text()
        assert old in text, f"{old!r} not in {relpath}"
        path.write_text(text.replace(old, new))

    def purge(self) -> None:
        """Forget this project's modules, and any module another test left under one of its
        module names (a `pipeline` from another directory would shadow ours)."""
        root = str(self.root)
        own = {p.stem for p in self.root.glob("*.py")} | {
            p.name for p in self.root.iterdir() if (p / "__init__.py").is_file()
        }
        for name, module in list(sys.modules.items()):
            file = getattr(module, "__file__", None) or ""
            if file.startswith(root + os.sep) or name.partition(".")[0] in own:
                del sys.modules[name]
        importlib.invalidate_caches()

    def load(self, target: str) -> object:
        self.purge()
        module_name, _, attr = target.partition(":")
        module = importlib.import_module(module_name)
        return getattr(module, attr)

    def manifest(
        self, target: str = "pipeline:stage_fn", extra: tuple[object, ...] = ()
    ) -> Manifest:
        func = self.load(target)
        assert callable(func)
        cache = StatCache.empty()

        def hash_file(relpath: str) -> str | None:
            found = hash_path(self.root, relpath, cache)
            return found.hash if found else None

        return Fingerprinter(self.root, hash_file).manifest(func, extra)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Project]:
    root = tmp_path / "proj"
    root.mkdir()
    sys.path.insert(0, str(root))
    proj = Project(root)
    try:
        yield proj
    finally:
        proj.purge()
        sys.path.remove(str(root))
