"""The snapshot fast path: used when provably safe, and every way it could be fooled.

A project is loaded fully once (which saves the snapshot); the pipeline module counts its
imports in a file, so a test can tell whether a later command imported it (slow path) or
trusted the snapshot (fast path). Every fooling attempt must end in the slow path with the
same answer a full load gives.
"""

from __future__ import annotations

import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastpipe.api as api
from fastpipe import lockcache, snapshot
from fastpipe.lockfile import LockRead
from fastpipe.results import Outcome

PIPELINE = """
from pathlib import Path
from fastpipe import stage
import helpers

with open(Path(__file__).parent / "imports.log", "a") as log:  # a write, not a read
    log.write("x")

{extra}

@stage(deps=["data/in.txt"], outs=["data/mid.txt"])
def first(factor: int = 2) -> None:
    Path("data/mid.txt").write_text(helpers.scale(Path("data/in.txt").read_text(), factor))

@stage(deps=["data/mid.txt"], outs=["data/out.txt"])
def second() -> None:
    Path("data/out.txt").write_text(Path("data/mid.txt").read_text().upper())
"""

HELPERS = """
def scale(text, factor):
    return text * factor
"""


class Proj:
    def __init__(self, root: Path) -> None:
        self.root = root

    def write(self, rel: str, text: str, *, age: float = 30.0) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
        backdate(path, age)

    def imports(self) -> int:
        log = self.root / "imports.log"
        return len(log.read_text()) if log.exists() else 0

    def status(self) -> dict[str, tuple[str, ...]]:
        report = api.status(root=self.root, listener=lambda e: None)
        return {s.name: tuple(r.kind.value for r in s.reasons) for s in report.stages}

    def fast(self) -> bool:
        """Run status; True if it did not import the pipeline."""
        before = self.imports()
        self.status()
        return self.imports() == before


def backdate(path: Path, seconds: float) -> None:
    """Files older than the racy window, as if written well before the command ran."""
    when = time.time() - seconds
    os.utime(path, (when, when))


@pytest.fixture
def proj(tmp_path: Path) -> Iterator[Proj]:
    p = Proj(tmp_path)
    p.write("pipeline.py", PIPELINE.format(extra=""))
    p.write("helpers.py", HELPERS)
    p.write("data/in.txt", "ab")
    assert api.run(root=tmp_path, executor="inline", listener=lambda e: None).ok
    for path in (tmp_path / "data").iterdir():
        backdate(path, 30)
    yield p
    for name in ("pipeline", "helpers", "extra_helpers", "lazy"):
        sys.modules.pop(name, None)


def settle(p: Proj) -> None:
    """One full load that saves the snapshot; then the next status must be fast."""
    p.status()
    assert p.fast(), "an unchanged project should not import its pipeline again"


def test_unchanged_project_takes_the_fast_path_with_the_same_answer(proj: Proj) -> None:
    settle(proj)
    assert proj.status() == {"first": (), "second": ()}


def test_no_op_run_takes_the_fast_path(proj: Proj) -> None:
    settle(proj)
    before = proj.imports()
    result = api.run(root=proj.root, listener=lambda e: None)
    assert [s.outcome for s in result.stages] == [Outcome.FRESH, Outcome.FRESH]
    assert proj.imports() == before


def test_data_changes_are_seen_on_the_fast_path(proj: Proj) -> None:
    settle(proj)
    proj.write("data/in.txt", "abc")
    assert proj.fast()
    assert proj.status() == {"first": ("deps",), "second": ("upstream",)}


def test_output_and_lock_changes_are_seen_on_the_fast_path(proj: Proj) -> None:
    settle(proj)
    (proj.root / "data" / "out.txt").unlink()
    (proj.root / ".fastpipe" / "stages" / "first.lock").unlink()
    assert proj.fast()
    assert proj.status() == {"first": ("never_run",), "second": ("outs", "upstream")}


def test_the_locks_a_run_wrote_are_not_parsed_again(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run saved a snapshot and cached the locks it wrote: the first status is all fast."""
    parsed: list[Path] = []
    real = lockcache.lock_from_bytes

    def spy(path: Path, data: bytes) -> LockRead:
        parsed.append(path)
        return real(path, data)

    monkeypatch.setattr(lockcache, "lock_from_bytes", spy)
    assert proj.fast()
    assert proj.status() == {"first": (), "second": ()}
    assert parsed == []


def test_a_lock_rewritten_in_the_same_instant_is_seen(proj: Proj) -> None:
    """Same size, same mtime, same inode, other params: the fast path still reads it."""
    settle(proj)
    lock = proj.root / ".fastpipe" / "stages" / "first.lock"
    before = os.stat(lock)
    text = lock.read_bytes()
    assert b"factor: 2" in text
    with open(lock, "r+b") as f:
        f.write(text.replace(b"factor: 2", b"factor: 3"))
    os.utime(lock, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert proj.fast()
    assert proj.status() == {"first": ("params",), "second": ("upstream",)}


@pytest.mark.parametrize(
    ("path", "text", "expected"),
    [
        ("helpers.py", HELPERS.replace("text * factor", "text * factor * 2"), ("code",)),
        ("pipeline.py", PIPELINE.format(extra="").replace("upper()", "lower()"), ()),
        ("params.yaml", "first:\n  factor: 3\n", ("params",)),
    ],
    ids=["helper", "pipeline", "params"],
)
def test_source_and_params_edits_force_a_full_load(
    proj: Proj, path: str, text: str, expected: tuple[str, ...]
) -> None:
    settle(proj)
    proj.write(path, text)
    assert not proj.fast()
    found = proj.status()
    assert found["first"] == expected
    assert proj.fast()  # and the new snapshot is trusted again


def test_pyproject_change_forces_a_full_load(proj: Proj) -> None:
    settle(proj)
    proj.write("pyproject.toml", "[tool.fastpipe]\njobs = 3\n")
    assert not proj.fast()


def test_a_new_module_that_changes_an_import_forces_a_full_load(proj: Proj) -> None:
    extra = "try:\n    import extra_helpers\nexcept ImportError:\n    extra_helpers = None\n"
    proj.write("pipeline.py", PIPELINE.format(extra=extra))
    settle(proj)
    proj.write("extra_helpers.py", "X = 1\n")
    assert not proj.fast()


def test_a_file_read_at_import_is_tracked(proj: Proj) -> None:
    proj.write("config.txt", "2")
    extra = "FACTOR = int(open('config.txt').read())"
    proj.write(
        "pipeline.py",
        PIPELINE.format(extra=extra).replace("factor: int = 2", "factor: int = FACTOR"),
    )
    settle(proj)
    proj.write("config.txt", "5")
    assert not proj.fast()
    assert proj.status()["first"] == ("params",)


def test_a_directory_listed_at_import_is_tracked(proj: Proj) -> None:
    proj.write("configs/a.yaml", "a")
    extra = "import glob\nCONFIGS = sorted(glob.glob('configs/*.yaml'))"
    proj.write("pipeline.py", PIPELINE.format(extra=extra))
    settle(proj)
    proj.write("configs/b.yaml", "b")
    assert not proj.fast()


@pytest.mark.parametrize(
    "extra",
    [
        "import os\nMODE = os.environ.get('HOME', '')",
        "import os\nMODE = os.getenv('HOME')",
        "import datetime\nTODAY = str(datetime.date.today())",
        "import time\nSTARTED = time.time()",
        "import random\nSEED = random.random()",
        "import os\nHERE = os.getcwd()",
        "import subprocess\nsubprocess.run(['true'])",
    ],
    ids=["environ", "getenv", "date", "clock", "random", "cwd", "subprocess"],
)
def test_ambient_reads_at_import_disable_the_fast_path(proj: Proj, extra: str) -> None:
    proj.write("pipeline.py", PIPELINE.format(extra=extra))
    proj.status()
    assert not proj.fast()
    assert not proj.fast()
    assert not (proj.root / ".fastpipe" / "cache" / "snapshot.json").exists()


def test_a_module_imported_only_by_fingerprinting_is_watched_too(proj: Proj) -> None:
    proj.write("lazy.py", "import os\nHOME = os.environ.get('HOME')\ndef f():\n    return 1\n")
    body = PIPELINE.format(extra="").replace(
        "def second() -> None:\n", "def second() -> None:\n    import lazy\n    lazy.f()\n"
    )
    proj.write("pipeline.py", body)
    proj.status()
    assert not proj.fast()


def test_an_edit_right_before_the_load_is_not_trusted(proj: Proj) -> None:
    snapshot_file = proj.root / ".fastpipe" / "cache" / "snapshot.json"
    snapshot_file.unlink()
    proj.write("helpers.py", HELPERS, age=0)  # within the racy window
    proj.status()
    assert not snapshot_file.exists()
    assert not proj.fast()


def test_escape_hatch_files_are_tracked(proj: Proj) -> None:
    proj.write("query.sql", "select 1")
    body = PIPELINE.format(extra="").replace(
        '@stage(deps=["data/mid.txt"]', '@stage(fingerprint=["query.sql"], deps=["data/mid.txt"]'
    )
    proj.write("pipeline.py", body)
    settle(proj)
    proj.write("query.sql", "select 2")
    assert not proj.fast()
    assert proj.status()["second"] == ("code",)


def test_a_snapshot_from_another_environment_is_not_trusted(
    proj: Proj, monkeypatch: pytest.MonkeyPatch
) -> None:
    settle(proj)
    monkeypatch.setattr(snapshot, "environment_key", lambda root: "another fastpipe")
    assert not proj.fast()


def test_a_corrupt_snapshot_is_ignored(proj: Proj) -> None:
    settle(proj)
    (proj.root / ".fastpipe" / "cache" / "snapshot.json").write_text("{not json")
    assert not proj.fast()
    assert proj.status() == {"first": (), "second": ()}


def test_overridden_params_never_save_a_snapshot(proj: Proj) -> None:
    settle(proj)
    api.run(root=proj.root, params={"first.factor": 3}, executor="inline", listener=lambda e: None)
    assert not (proj.root / ".fastpipe" / "cache" / "snapshot.json").exists()
    assert proj.status()["first"] == ("params",)  # params.yaml says 2; the lock says 3


def test_a_new_data_directory_keeps_the_fast_path(proj: Proj) -> None:
    settle(proj)
    (proj.root / "reports").mkdir()
    (proj.root / "notes.txt").write_text("not code")
    assert proj.fast()


def test_a_new_package_named_like_a_failed_import_forces_a_full_load(proj: Proj) -> None:
    extra = "try:\n    import plugins\nexcept ImportError:\n    plugins = None\n"
    proj.write("pipeline.py", PIPELINE.format(extra=extra))
    settle(proj)
    (proj.root / "plugins").mkdir()  # a namespace package now: `import plugins` succeeds
    assert not proj.fast()
