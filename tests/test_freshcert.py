"""The no-op certificate: written only for a trustworthy all-fresh answer, and refused after
any change the fast path itself would have seen.

The certificate is written in-process through api.status (with the trust window shortened,
where a test says so, because ctime cannot be set back) and read through freshcert.answer in
the same process, whose interpreter facts match. The end-to-end test drives the real entry
point in fresh interpreters and waits out the real window.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastpipe.api as api
from fastpipe import freshcert, projectlock
from fastpipe.entry import _certified_run  # pyright: ignore[reportPrivateUsage]
from fastpipe.errors import EXIT_OK
from tests.integration.project import Result, python_code

PIPELINE = """
from pathlib import Path
from fastpipe import stage
import helpers

@stage(deps=["data/in.txt", "data/dir"], outs=["data/mid.txt"])
def first(factor: int = 2) -> None:
    extra = "".join(p.read_text() for p in sorted(Path("data/dir").iterdir()))
    Path("data/mid.txt").write_text(helpers.scale(Path("data/in.txt").read_text(), factor) + extra)

@stage(deps=["data/mid.txt"], outs=["data/out"])
def second() -> None:
    Path("data/out").mkdir(exist_ok=True)
    (Path("data/out") / "upper.txt").write_text(Path("data/mid.txt").read_text().upper())
"""
HELPERS = """
def scale(text, factor):
    return text * factor
"""


def backdate(path: Path, seconds: float = 30.0) -> None:
    when = time.time() - seconds
    os.utime(path, (when, when))


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    backdate(path)
    return path


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A run project whose status has been checked twice: the second wrote a certificate
    (trust window 0: every file here was just written, and ctime cannot be backdated)."""
    monkeypatch.setattr(freshcert, "TRUST_AFTER_NS", 0)
    write(tmp_path, "pipeline.py", PIPELINE)
    write(tmp_path, "helpers.py", HELPERS)
    write(tmp_path, "data/in.txt", "ab")
    write(tmp_path, "data/dir/one.txt", "1")
    assert api.run(root=tmp_path, executor="inline", listener=lambda e: None).ok
    api.status(root=tmp_path, listener=lambda e: None)  # full load: saves the snapshot
    api.status(root=tmp_path, listener=lambda e: None)  # fast path: writes the certificate
    yield tmp_path
    for name in ("pipeline", "helpers", "newmod"):
        sys.modules.pop(name, None)


def certified(root: Path, command: str = "status") -> str | None:
    found = freshcert.answer(root, command)
    return None if found is None else found["text"]


def test_an_all_fresh_answer_is_certified_with_what_status_prints(root: Path) -> None:
    assert certified(root) == "first   fresh\nsecond  fresh"
    data = json.loads(certified(root, "status_json") or "")
    assert [(s["name"], s["status"], s["action"]) for s in data["stages"]] == [
        ("first", "fresh", "none"),
        ("second", "fresh", "none"),
    ]
    assert certified(root, "run") == "0 ran, 2 fresh"


def test_it_is_found_from_a_subdirectory_but_not_past_another_project(root: Path) -> None:
    assert certified(root / "data" / "dir") == "first   fresh\nsecond  fresh"
    write(root, "data/pipeline.py", "")  # find_root would stop here: another project
    assert certified(root / "data" / "dir") is None
    assert certified(root) is not None  # the outer one is untouched


@pytest.mark.parametrize(
    "change",
    [
        "dep_same_size",
        "dep_in_dir_added",
        "dep_in_dir_edited",
        "out_removed",
        "out_in_dir_edited",
        "lock_edited",
        "unfinished_lock_appears",
        "helper_edited",
        "params_file_created",
        "module_created",
        "pyproject_created",
        "snapshot_rewritten",
        "mtime_restored",
    ],
)
def test_any_change_the_fast_path_would_see_voids_it(root: Path, change: str) -> None:
    state = root / ".fastpipe"
    match change:
        case "dep_same_size":
            (root / "data/in.txt").write_text("xy")
        case "dep_in_dir_added":
            (root / "data/dir/two.txt").write_text("2")
        case "dep_in_dir_edited":
            (root / "data/dir/one.txt").write_text("9")
        case "out_removed":
            (root / "data/mid.txt").unlink()
        case "out_in_dir_edited":
            (root / "data/out/upper.txt").write_text("tampered")
        case "lock_edited":
            lock = state / "stages" / "first.lock"
            lock.write_text(lock.read_text() + "\n")
        case "unfinished_lock_appears":
            path = state / "cache" / "unfinished" / "second.lock"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("")
        case "helper_edited":
            (root / "helpers.py").write_text(HELPERS.replace("factor", "factor + 1", 1))
        case "params_file_created":
            (root / "params.yaml").write_text("first:\n  factor: 3\n")
        case "module_created":
            (root / "newmod.py").write_text("")
        case "pyproject_created":
            (root / "pyproject.toml").write_text("[tool.fastpipe]\njobs = 1\n")
        case "snapshot_rewritten":
            snap = state / "cache" / "snapshot.json"
            snap.write_bytes(snap.read_bytes())
        case "mtime_restored":  # content changed, mtime put back as `cp -p` or rsync -t do
            path = root / "data/in.txt"
            before = path.stat()
            path.write_text("zz")
            os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert certified(root) is None
    assert certified(root, "run") is None


def test_another_interpreter_path_voids_it(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(root / "data"))
    assert certified(root) is None


def test_a_certificate_is_not_written_for_files_changed_within_the_trust_window(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(freshcert, "TRUST_AFTER_NS", 3_600 * 1_000_000_000)
    api.status(root=root, listener=lambda e: None)  # every file here is younger than an hour
    assert certified(root) is None
    assert not (root / ".fastpipe" / "cache" / freshcert.NAME).exists()


def test_no_certificate_for_a_stale_answer_or_a_selection(root: Path) -> None:
    cert = root / ".fastpipe" / "cache" / freshcert.NAME
    cert.unlink()
    api.status("second", root=root, listener=lambda e: None)
    assert not cert.exists(), "a selection is not every stage"
    write(root, "data/in.txt", "abc")
    api.status(root=root, listener=lambda e: None)  # fast path, first is stale
    assert not cert.exists()


def test_no_certificate_when_the_answer_came_with_warnings(root: Path) -> None:
    """Stage code warnings are printed on every status: a recorded answer would drop them."""
    cert = root / ".fastpipe" / "cache" / freshcert.NAME
    write(
        root,
        "pipeline.py",
        PIPELINE + "\nimport threading\nLOCK = threading.Lock()\n\n@stage(outs=['r.txt'])\n"
        "def locked() -> None:\n    with LOCK:\n        Path('r.txt').write_text('r')\n",
    )
    assert api.run(root=root, executor="inline", listener=lambda e: None).ok
    warnings: list[object] = []
    api.status(root=root, listener=lambda e: None)
    cert.unlink(missing_ok=True)
    api.status(root=root, listener=warnings.append)
    assert warnings, "an opaque global warns on each status"
    assert not cert.exists()


def test_a_certified_run_is_recorded_in_the_history(root: Path) -> None:
    before = len(api.history(root=root))
    assert _certified_run(root) == EXIT_OK
    runs = api.history(root=root)
    assert len(runs) == before + 1
    assert [(s.name, s.outcome) for s in runs[0].stages] == [
        ("first", "fresh"),
        ("second", "fresh"),
    ]


def test_a_certified_run_leaves_a_busy_project_to_the_usual_path(root: Path) -> None:
    lock = root / ".fastpipe" / "run.lock"
    with projectlock.hold(lock, wait=False, on_wait=lambda _: None):
        assert _certified_run(root) is None


def test_the_real_command_answers_from_the_certificate_without_loading_fastpath(
    tmp_path: Path,
) -> None:
    """Fresh interpreters, the real trust window: run, wait it out, status (writes it), then
    status and run are answered without importing the snapshot machinery (nor, for the run's
    history record, staleness or secrets), and an edit is seen."""
    write(tmp_path, "pipeline.py", PIPELINE)
    write(tmp_path, "helpers.py", HELPERS)
    write(tmp_path, "data/in.txt", "ab")
    write(tmp_path, "data/dir/one.txt", "1")
    probe = (
        "import atexit, sys\n"
        "heavy = ('fastpipe.staleness', 'secrets')\n"
        "atexit.register(lambda: print('LOADED' if 'fastpipe.fastpath' in sys.modules"
        " else 'CERTIFIED' + ' +heavy' * any(m in sys.modules for m in heavy), file=sys.stderr))\n"
        "from fastpipe.entry import main\n"
        "main(sys.argv[1:])\n"
    )

    def fastpipe(*args: str) -> Result:
        return python_code(probe, *args, cwd=tmp_path)

    assert fastpipe("run", "-q").code == 0
    assert fastpipe("status").err.strip() == "LOADED"  # full load, snapshot saved
    time.sleep(freshcert.TRUST_AFTER_NS / 1e9 + 0.2)
    assert fastpipe("status").err.strip() == "LOADED"  # fast path, certificate written
    done = fastpipe("status")
    assert (done.code, done.out, done.err.strip()) == (
        0,
        "first   fresh\nsecond  fresh\n",
        "CERTIFIED",
    )
    done = fastpipe("status", "--check")
    assert (done.code, done.err.strip()) == (0, "CERTIFIED")
    done = fastpipe("run")
    assert (done.out, done.err.strip()) == ("0 ran, 2 fresh\n", "CERTIFIED")
    done = fastpipe("run", "-j", "2")  # as the benchmark harness runs it
    assert (done.out, done.err.strip()) == ("0 ran, 2 fresh\n", "CERTIFIED")
    (tmp_path / "data" / "in.txt").write_text("xy")
    done = fastpipe("status", "--check")
    assert done.code == 1
    assert done.err.strip() == "LOADED"
    assert "first   stale" in done.out
