"""dvc_export/: the committed dvc.yaml of every example must be what `fastpipe export` writes.

Each example is copied to a temporary directory and exported at its root, exactly as a user
would; the files written must equal `dvc_export/<example>/` byte for byte, so a change to the
exporter shows up in review as a diff of those files. After an intended change, refresh them:

    FASTPIPE_REFRESH_DVC_EXPORT=1 .venv/bin/pytest tests/export/test_dvc_export_dir.py
"""

from __future__ import annotations

import difflib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastpipe.api as api
from fastpipe.discovery import PIPELINE_FILE, has_fastpipe_table
from fastpipe.export.dvcyaml import DEFAULTS_FILE, DVC_YAML

REPO = Path(__file__).resolve().parents[2]
EXPORTED = REPO / "dvc_export"
EXAMPLES = sorted(
    p
    for p in (REPO / "examples").iterdir()
    if (p / PIPELINE_FILE).is_file() or has_fastpipe_table(p)
)
REFRESH_ENV = "FASTPIPE_REFRESH_DVC_EXPORT"
_NOT_COPIED = (".fastpipe", "__pycache__", ".dvc", "dvc.lock", DVC_YAML, DEFAULTS_FILE)


@pytest.fixture
def fresh_modules(tmp_path: Path) -> Iterator[None]:
    """Forget the example's modules (imported from the copy) after the test."""
    yield
    prefix = str(tmp_path) + os.sep
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(prefix):
            del sys.modules[name]


def _export(example: Path, tmp_path: Path) -> dict[str, bytes]:
    copy = tmp_path / example.name
    shutil.copytree(example, copy, ignore=shutil.ignore_patterns(*_NOT_COPIED))
    result = api.export(root=copy)
    return {relpath: (copy / relpath).read_bytes() for relpath in result.written}


def _refresh(target: Path, generated: dict[str, bytes]) -> None:
    if target.exists():
        shutil.rmtree(target)
    for relpath, data in generated.items():
        (target / relpath).parent.mkdir(parents=True, exist_ok=True)
        (target / relpath).write_bytes(data)


@pytest.mark.usefixtures("fresh_modules")
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_committed_export_is_what_export_writes(example: Path, tmp_path: Path) -> None:
    generated = _export(example, tmp_path)
    target = EXPORTED / example.name
    if os.environ.get(REFRESH_ENV) == "1":
        _refresh(target, generated)
    committed = {
        p.relative_to(target).as_posix(): p.read_bytes() for p in target.rglob("*") if p.is_file()
    }

    if committed != generated:
        diff = "".join(
            line
            for name in sorted(set(committed) | set(generated))
            for line in difflib.unified_diff(
                committed.get(name, b"").decode().splitlines(keepends=True),
                generated.get(name, b"").decode().splitlines(keepends=True),
                f"dvc_export/{example.name}/{name} (committed)",
                f"{name} (fastpipe export now)",
            )
        )
        pytest.fail(
            f"dvc_export/{example.name}/ is not what `fastpipe export` writes now; if the change "
            f"is intended, run {REFRESH_ENV}=1 .venv/bin/pytest {Path(__file__).relative_to(REPO)}"
            f" and commit the result:\n{diff}"
        )


def test_every_export_has_its_example() -> None:
    orphans = {p.name for p in EXPORTED.iterdir() if p.is_dir()} - {e.name for e in EXAMPLES}

    assert not orphans, f"dvc_export/ has exports of examples that no longer exist: {orphans}"
