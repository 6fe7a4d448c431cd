"""The snapshot fast path: used when provably safe, and every way it could be fooled.

A project is loaded fully once (which saves the snapshot); the pipeline module counts its
imports in a file, so a test can tell whether a later command imported it (slow path) or
trusted the snapshot (fast path). Every fooling attempt must end in the slow path with the
same answer a full load gives.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastpipe.api as api
from fastpipe import lockcache, snapshot
from fastpipe.events import FastPathOff
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

    def saved(self) -> bool:
        """Whether a snapshot (not a refusal) is saved."""
        return snapshot.load(self.root / ".fastpipe" / "cache" / "snapshot.json") is not None

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
    for name in ("pipeline", "helpers", "extra_helpers", "lazy", "plugins"):
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
    assert not proj.saved()


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
    assert not proj.saved()
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
    assert not proj.saved()
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


# ---- libraries: what a library's import asks for does not count; project code's still does


@pytest.fixture
def lib(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lib]:
    found = Lib(tmp_path_factory.mktemp("site"))  # outside every project: library code
    monkeypatch.syspath_prepend(str(found.root))
    yield found
    for name in found.names:
        sys.modules.pop(name, None)


class Lib:
    """Library modules on sys.path, outside the project (a stand-in for site-packages)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.names: list[str] = []

    def write(self, name: str, text: str) -> None:
        (self.root / f"{name}.py").write_text(textwrap.dedent(text))
        self.names.append(name)
        importlib.invalidate_caches()


def with_extra(extra: str) -> str:
    return PIPELINE.format(extra=textwrap.dedent(extra))


def test_a_file_a_library_reads_at_import_does_not_count(proj: Proj, lib: Lib) -> None:
    """psutil reads /proc/stat when imported: content that changes all the time."""
    volatile = lib.root / "stat"
    volatile.write_text("cpu 1")
    lib.write("fakepsutil", f"TICKS = open({str(volatile)!r}).read()\n")
    proj.write("pipeline.py", with_extra("import fakepsutil"))
    settle(proj)
    volatile.write_text("cpu 2")
    assert proj.fast()


@pytest.mark.parametrize(
    "body",
    [
        "import os\nHOME = os.environ.get('HOME')\nX = os.getenv('PATH')",
        "import time\nSTARTED = time.time()",
        "import datetime\nTODAY = datetime.date.today()",
        "import random\nR = random.random()",
        "import os\nHERE = os.getcwd()",
        "import os\nNAMES = os.listdir(os.path.dirname(__file__))",
        "from pathlib import Path\nDATA = (Path(__file__).parent / 'fakedata.txt').read_text()",
    ],
    ids=["environ", "clock", "date", "random", "cwd", "listing", "package-data"],
)
def test_what_a_library_asks_for_at_import_does_not_count(proj: Proj, lib: Lib, body: str) -> None:
    (lib.root / "fakedata.txt").write_text("data")
    lib.write("fakelib", body + "\ndef double(x):\n    return 2 * x\n")
    proj.write("pipeline.py", with_extra("import fakelib"))
    settle(proj)
    (lib.root / "fakedata.txt").write_text("other data")
    assert proj.fast()


def test_a_library_importing_another_inside_a_project_call_does_not_count(
    proj: Proj, lib: Lib
) -> None:
    """Project code calls a library function that imports a library lazily, which reads
    the environment as it is imported: that is the lazy library's import, not the project's."""
    lib.write("fakelazy", "import os\nMODE = os.environ.get('HOME')\n")
    lib.write("fakeapi", "def setup():\n    import fakelazy\n    return fakelazy.MODE\n")
    proj.write("pipeline.py", with_extra("import fakeapi\nMODE = fakeapi.setup()"))
    settle(proj)


def test_a_file_read_through_a_library_call_at_import_is_tracked(proj: Proj, lib: Lib) -> None:
    lib.write("fakeio", "def load(path):\n    with open(path) as f:\n        return f.read()\n")
    proj.write("config.txt", "2")
    extra = "import fakeio\nFACTOR = int(fakeio.load('config.txt'))"
    proj.write("pipeline.py", with_extra(extra).replace("factor: int = 2", "factor: int = FACTOR"))
    settle(proj)
    proj.write("config.txt", "5")
    assert not proj.fast()
    assert proj.status()["first"] == ("params",)


def test_json_load_of_a_file_at_import_is_tracked(proj: Proj) -> None:
    proj.write("config.json", '{"factor": 2}')
    extra = "import json\nFACTOR = json.load(open('config.json'))['factor']"
    proj.write("pipeline.py", with_extra(extra).replace("factor: int = 2", "factor: int = FACTOR"))
    settle(proj)
    proj.write("config.json", '{"factor": 4}')
    assert not proj.fast()
    assert proj.status()["first"] == ("params",)


def test_pandas_read_csv_at_import_is_tracked(proj: Proj) -> None:
    pytest.importorskip("pandas", reason="pandas is in the dev extra")
    proj.write("factors.csv", "factor\n2\n")
    extra = "import pandas\nFACTOR = int(pandas.read_csv('factors.csv')['factor'][0])"
    proj.write("pipeline.py", with_extra(extra).replace("factor: int = 2", "factor: int = FACTOR"))
    settle(proj)
    proj.write("factors.csv", "factor\n3\n")
    assert not proj.fast()
    assert proj.status()["first"] == ("params",)


def test_a_file_in_the_project_read_by_a_library_import_is_tracked(proj: Proj, lib: Lib) -> None:
    """A library that reads a project file when imported (a config in the working
    directory) makes the import depend on it: under the root, every read counts."""
    proj.write("lib.cfg", "a")
    lib.write("fakecfg", "import os\nCFG = open(os.path.join(os.getcwd(), 'lib.cfg')).read()\n")
    proj.write("pipeline.py", with_extra("import fakecfg"))
    settle(proj)
    proj.write("lib.cfg", "b")
    assert not proj.fast()


@pytest.mark.parametrize(
    "extra",
    [
        "import fakeenv\nMODE = fakeenv.mode()",
        "import fakeenv\nSTARTED = fakeenv.started()",
    ],
    ids=["environ", "clock"],
)
def test_ambient_reads_through_a_library_call_at_import_count(
    proj: Proj, lib: Lib, extra: str
) -> None:
    lib.write(
        "fakeenv",
        """
        import os, time
        def mode():
            return os.environ.get("HOME")
        def started():
            return time.time()
        """,
    )
    proj.write("pipeline.py", with_extra(extra))
    proj.status()
    assert not proj.saved()
    assert not proj.fast()


@pytest.mark.parametrize(
    "how",
    ["import projplugin", "import importlib\nimportlib.import_module('projplugin')"],
    ids=["import", "import_module"],
)
def test_a_project_module_a_library_imports_is_watched(proj: Proj, lib: Lib, how: str) -> None:
    """The watch switches its profile hook off for a library's import: it must come back on
    for the project module that import brings in."""
    proj.write("projplugin.py", "import os\nMODE = os.environ.get('HOME')\n")
    lib.names.append("projplugin")
    lib.write("fakeloader", how + "\n")
    proj.write("pipeline.py", with_extra("import fakeloader"))
    proj.status()
    assert not proj.saved()


def test_project_code_a_library_runs_by_path_at_import_is_not_trusted(proj: Proj, lib: Lib) -> None:
    """runpy bypasses the import system the watch follows: the run is not trusted."""
    proj.write("projscript.py", "import os\nMODE = os.environ.get('HOME')\n")
    lib.write(
        "fakerunner",
        "import os, runpy\nrunpy.run_path(os.path.join(os.getcwd(), 'projscript.py'))\n",
    )
    proj.write("pipeline.py", with_extra("import fakerunner"))
    proj.status()
    assert not proj.saved()


def test_importing_scikit_learn_keeps_the_fast_path(tmp_path: Path) -> None:
    """The issue's reproduction, in fresh processes as the CLI runs: scikit-learn imports
    joblib and psutil, which reads /proc/stat when imported."""
    pytest.importorskip("sklearn", reason="scikit-learn is in the dev extra")
    p = Proj(tmp_path)
    p.write("pipeline.py", PIPELINE.format(extra="import sklearn"))
    p.write("helpers.py", HELPERS)
    p.write("data/in.txt", "ab")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "fastpipe", *args]
        return subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)

    assert cli("run", "--executor", "inline").returncode == 0
    before = p.imports()
    done = cli("-v", "status")
    assert done.returncode == 0, done.stderr
    assert p.imports() == before, done.stderr
    assert "fast path off" not in done.stderr


# ---- why the fast path is off (`fastpipe -v`)


def causes(p: Proj) -> list[str]:
    """The FastPathOff causes a status reports (a full load follows them)."""
    found: list[str] = []

    def listener(event: object) -> None:
        if isinstance(event, FastPathOff):
            found.extend(event.causes)

    api.status(root=p.root, listener=listener)
    return found


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_fast_path_says_why_it_is_off(proj: Proj) -> None:
    (proj.root / ".fastpipe" / "cache" / "snapshot.json").unlink()
    assert causes(proj) == ["no snapshot yet"]
    assert causes(proj) == []  # trusted: nothing said
    proj.write("helpers.py", HELPERS.replace("text * factor", "factor * text"))
    assert causes(proj) == ["helpers.py changed"]


def test_a_changed_file_read_at_import_is_named_with_the_line_that_read_it(proj: Proj) -> None:
    proj.write("config.txt", "2")
    text = PIPELINE.format(extra="FACTOR = int(open('config.txt').read())")
    proj.write("pipeline.py", text)
    settle(proj)
    proj.write("config.txt", "5")
    line = line_of(text, "open('config.txt')")
    assert causes(proj) == [f"pipeline.py:{line} read config.txt, which changed"]


def test_an_ambient_read_is_named_with_the_line_that_asked(proj: Proj, lib: Lib) -> None:
    lib.write("fakeenv2", "import os\ndef mode():\n    return os.environ.get('HOME')\n")
    proj.write("helpers.py", HELPERS + "\nimport fakeenv2\nMODE = fakeenv2.mode()\n")
    proj.status()
    line = line_of(HELPERS + "\nimport fakeenv2\nMODE = fakeenv2.mode()\n", "MODE =")
    assert causes(proj) == [f"last load: os.environ read at helpers.py:{line}"]


@pytest.mark.parametrize("verb", ["status", "run"])
def test_verbose_cli_prints_one_line_per_cause(proj: Proj, verb: str) -> None:
    """`run` too: its fast path held the cause with the view's other events, and dropped all
    of them when it fell back to a full load (which reports the warnings, but not the cause)."""
    settle(proj)
    proj.write("helpers.py", HELPERS.replace("text * factor", "factor * text"))
    proj.write("params.yaml", "first:\n  factor: 3\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-m", "fastpipe", verb]
    quiet = subprocess.run(command, cwd=proj.root, env=env, capture_output=True, text=True)
    assert quiet.returncode == 0, quiet.stderr
    assert "fast path off" not in quiet.stderr
    proj.write("helpers.py", HELPERS)  # changed again: the snapshot the quiet run saved is stale
    command.insert(3, "-v")
    loud = subprocess.run(command, cwd=proj.root, env=env, capture_output=True, text=True)
    assert loud.returncode == 0, loud.stderr
    assert [line for line in loud.stderr.splitlines() if "fast path off" in line] == [
        "fast path off: helpers.py changed"
    ]
