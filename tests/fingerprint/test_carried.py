"""What one Fingerprinter carries to the next (run --watch): only files whose text is unchanged
are spared a parse, and the manifests are the ones a fresh Fingerprinter computes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from fastpipe.fingerprint import Fingerprinter, Manifest
from fastpipe.fingerprint.sourceindex import Carried
from fastpipe.hashing import StatCache, hash_path
from tests.fingerprint.conftest import Project

PIPELINE = """\
import helpers
from helpers import scale

exec("GENERATED = 1")

def stage_fn():
    return helpers.base() + scale(2)


def other():
    return 0
"""

HELPERS = """\
def base():
    return 1


def scale(x):
    return x * 10
"""


def _fingerprint(
    project: Project, carried: Mapping[str, Carried] | None
) -> tuple[Manifest, dict[str, Carried]]:
    func = project.load("pipeline:stage_fn")
    assert callable(func)
    cache = StatCache.empty()

    def hash_file(relpath: str) -> str | None:
        found = hash_path(project.root, relpath, cache)
        return found.hash if found else None

    fingerprinter = Fingerprinter(project.root, hash_file, carried=carried)
    return fingerprinter.manifest(func), fingerprinter.carry()


def _same_size_and_mtime_edit(path: Path, old: str, new: str) -> None:
    assert len(old) == len(new)
    before = path.stat()
    path.write_text(path.read_text().replace(old, new))
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert path.stat().st_size == before.st_size


def test_carried_files_give_the_manifest_a_fresh_fingerprinter_gives(project: Project) -> None:
    project.write("pipeline.py", PIPELINE)
    project.write("helpers.py", HELPERS)
    fresh, carried = _fingerprint(project, None)
    assert {Path(f).name for f in carried} >= {"pipeline.py", "helpers.py"}
    again, _ = _fingerprint(project, carried)
    assert again == fresh
    assert any("exec()" in w for w in again.warnings)  # the module-level scan, carried


def test_an_edit_keeping_size_and_mtime_is_not_hidden_by_what_was_carried(
    project: Project,
) -> None:
    project.write("pipeline.py", PIPELINE)
    project.write("helpers.py", HELPERS)
    before, carried = _fingerprint(project, None)
    _same_size_and_mtime_edit(project.root / "helpers.py", "x * 10", "x * 11")
    after, carried = _fingerprint(project, carried)
    assert after.items["helpers.scale"] != before.items["helpers.scale"]
    assert after.items["helpers.base"] == before.items["helpers.base"]
    assert after == _fingerprint(project, None)[0]

    _same_size_and_mtime_edit(project.root / "pipeline.py", "() + scale(2)", "() - scale(2)")
    edited, _ = _fingerprint(project, carried)
    assert edited.items["pipeline.stage_fn"] != after.items["pipeline.stage_fn"]
    assert edited == _fingerprint(project, None)[0]


def test_a_module_level_exec_removed_is_no_longer_reported(project: Project) -> None:
    project.write("pipeline.py", PIPELINE)
    project.write("helpers.py", HELPERS)
    before, carried = _fingerprint(project, None)
    assert any("exec()" in w for w in before.warnings)
    project.edit("pipeline.py", 'exec("GENERATED = 1")', "GENERATED = 1")
    after, _ = _fingerprint(project, carried)
    assert not any("exec()" in w for w in after.warnings)
    assert after == _fingerprint(project, None)[0]
