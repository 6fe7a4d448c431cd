"""Tests for fastpipe.worker: run one stage by name, capture its output, hash its outputs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from fastpipe import worker
from fastpipe.hashing import FileHash, hash_file
from fastpipe.worker import StageResult, StageTask, is_importable, run_stage

STAGE_MODULE = """
import os
import subprocess
import sys
import threading

EVENTS = {name: threading.Event() for name in ("a_running", "a_go", "b_running", "b_go")}


def write(path="out.txt", text="hi"):
    with open(path, "w") as f:
        f.write(text)


def append(path="out.txt"):
    with open(path, "a") as f:
        f.write("new")


def fill_dir():
    os.makedirs("outdir", exist_ok=True)
    with open("outdir/fresh.txt", "w") as f:
        f.write("fresh")


def where():
    with open("where.txt", "w") as f:
        f.write(os.getcwd())


def nothing():
    pass


def explode():
    helper_that_raises(42)


def helper_that_raises(n):
    raise ValueError(f"kaboom {n}")


def exit0():
    sys.exit(0)


def exit_none():
    sys.exit()


def exit3():
    sys.exit(3)


def noisy():
    print("from print")
    sys.stderr.write("from stderr\\n")
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, b"from fd1\\n")
    os.write(2, b"from fd2\\n")
    subprocess.run(["echo", "from child"], check=True)
    sys.stdout.write("no newline at the end")


def read_env():
    with open("env.txt", "w") as f:
        f.write(os.environ.get("FP_EXISTING", "-") + " " + os.environ.get("FP_NEW", "-"))


def hold_a():
    EVENTS["a_running"].set()
    EVENTS["a_go"].wait(5)


def hold_b():
    EVENTS["b_running"].set()
    EVENTS["b_go"].wait(5)


class Holder:
    @staticmethod
    def method(text="nested"):
        with open("out.txt", "w") as f:
            f.write(text)
"""


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """run_stage puts the project root on sys.path (for worker processes); undo that here."""
    monkeypatch.setattr(sys, "path", [*sys.path])


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The name of a fresh stage module, importable from a directory beside the project."""
    name = f"fp_stages_{uuid.uuid4().hex}"
    code_dir = tmp_path / "code"
    code_dir.mkdir()
    (code_dir / f"{name}.py").write_text(STAGE_MODULE)
    monkeypatch.syspath_prepend(str(code_dir))
    yield name
    sys.modules.pop(name, None)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    return project


def task(module: str, qualname: str, root: Path, **kwargs: Any) -> StageTask:
    kwargs.setdefault("echo", False)
    return StageTask(qualname.rsplit(".", 1)[-1], module, qualname, str(root), **kwargs)


# --- calling the stage -------------------------------------------------------------------------


def test_runs_imported_function_with_params(module: str, root: Path) -> None:
    result = run_stage(task(module, "write", root, params={"text": "hello"}, outputs=("out.txt",)))
    assert result.ok, result.error
    assert result.error is None
    assert (root / "out.txt").read_text() == "hello"
    assert result.name == "write"
    assert result.duration > 0


def test_runs_method_by_dotted_qualname(module: str, root: Path) -> None:
    result = run_stage(task(module, "Holder.method", root, outputs=("out.txt",)))
    assert result.ok, result.error
    assert (root / "out.txt").read_text() == "nested"


def test_cwd_is_project_root_during_call_and_restored(module: str, root: Path) -> None:
    before = os.getcwd()
    assert before != str(root)
    assert run_stage(task(module, "where", root)).ok
    assert (root / "where.txt").read_text() == str(root)
    assert os.getcwd() == before


def test_cwd_restored_after_failure(module: str, root: Path) -> None:
    before = os.getcwd()
    assert not run_stage(task(module, "explode", root)).ok
    assert os.getcwd() == before


def test_outputs_removed_before_call(module: str, root: Path) -> None:
    (root / "out.txt").write_text("old")
    (root / "outdir").mkdir()
    (root / "outdir" / "stale.txt").write_text("stale")
    assert run_stage(task(module, "append", root, outputs=("out.txt",))).ok
    assert (root / "out.txt").read_text() == "new"
    assert run_stage(task(module, "fill_dir", root, outputs=("outdir",))).ok
    assert sorted(p.name for p in (root / "outdir").iterdir()) == ["fresh.txt"]


def test_symlinked_output_is_unlinked_not_followed(module: str, root: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / "keep.txt").write_text("keep")
    (root / "outdir").symlink_to(target)
    assert run_stage(task(module, "fill_dir", root, outputs=("outdir",))).ok
    assert not (root / "outdir").is_symlink()
    assert (target / "keep.txt").read_text() == "keep"


def test_persist_keeps_outputs(module: str, root: Path) -> None:
    (root / "out.txt").write_text("old")
    assert run_stage(task(module, "append", root, outputs=("out.txt",), persist=True)).ok
    assert (root / "out.txt").read_text() == "oldnew"


def test_parent_directories_created(module: str, root: Path) -> None:
    out = "deep/er/out.txt"
    result = run_stage(task(module, "write", root, params={"path": out}, outputs=(out,)))
    assert result.ok, result.error
    assert (root / out).read_text() == "hi"


def test_missing_output_fails(module: str, root: Path) -> None:
    result = run_stage(task(module, "nothing", root, outputs=("a.txt", "b/c.txt")))
    assert not result.ok
    assert result.error == "stage 'nothing' did not produce a.txt, b/c.txt"
    assert result.outputs == {}


def test_dangling_symlink_output_fails(module: str, root: Path, tmp_path: Path) -> None:
    def make_dangling() -> None:
        os.symlink(tmp_path / "nowhere", "out.txt")

    result = run_stage(
        StageTask(
            "s",
            "x",
            "y",
            str(root),
            outputs=("out.txt",),
            pickled=cloudpickle.dumps(make_dangling),
            echo=False,
        )
    )
    assert not result.ok
    assert result.error == "stage 's' did not produce out.txt"


# --- failures ----------------------------------------------------------------------------------


def test_exception_gives_users_traceback_without_worker_frames(module: str, root: Path) -> None:
    result = run_stage(task(module, "explode", root))
    assert not result.ok
    error = result.error or ""
    assert error.startswith("Traceback (most recent call last):")
    assert error.endswith("ValueError: kaboom 42")
    assert "in explode" in error
    assert "in helper_that_raises" in error
    assert f"{module}.py" in error
    assert "worker.py" not in error
    assert f"{os.sep}fastpipe{os.sep}" not in error


def test_unimportable_module_fails_with_the_import_error(root: Path) -> None:
    result = run_stage(task("fp_no_such_module_anywhere", "f", root))
    assert not result.ok
    error = result.error or ""
    assert error.startswith("cannot load stage 'f':\n")
    assert "ModuleNotFoundError: No module named 'fp_no_such_module_anywhere'" in error
    assert "worker.py" not in error


def test_missing_function_fails_to_load(module: str, root: Path) -> None:
    result = run_stage(task(module, "gone", root))
    assert not result.ok
    assert "cannot load stage 'gone'" in (result.error or "")
    assert "AttributeError" in (result.error or "")


@pytest.mark.parametrize("qualname", ["exit0", "exit_none"])
def test_sys_exit_zero_is_success(module: str, root: Path, qualname: str) -> None:
    result = run_stage(task(module, qualname, root))
    assert result.ok, result.error


def test_sys_exit_nonzero_fails(module: str, root: Path) -> None:
    result = run_stage(task(module, "exit3", root))
    assert not result.ok
    assert result.error == "stage 'exit3' called sys.exit(3)"


def test_keyboard_interrupt_propagates(root: Path) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    before = os.getcwd()
    with pytest.raises(KeyboardInterrupt):
        run_stage(StageTask("s", "x", "y", str(root), pickled=cloudpickle.dumps(interrupted)))
    assert os.getcwd() == before


# --- output capture ----------------------------------------------------------------------------

NOISY_LINES = ["from print", "from stderr", "from fd1", "from fd2", "from child"]


def test_all_output_lands_in_log_and_prefixed_on_stderr(
    module: str, root: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "noisy.log"
    result = run_stage(task(module, "noisy", root, log_path=str(log), echo=True))
    assert result.ok, result.error
    logged = log.read_text()
    for line in NOISY_LINES:
        assert f"{line}\n" in logged
    assert logged.endswith("no newline at the end")
    out, err = capfd.readouterr()
    assert out == ""  # fd 1 went to the log, and the echo goes to stderr only
    err_lines = err.splitlines()
    for line in NOISY_LINES:
        assert f"[noisy] {line}" in err_lines
    assert "[noisy] no newline at the end" in err_lines
    assert all(line.startswith("[noisy] ") for line in err_lines)
    print("after")  # sys.stdout is back
    assert capfd.readouterr().out == "after\n"


def test_no_echo_keeps_stderr_quiet(
    module: str, root: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "noisy.log"
    assert run_stage(task(module, "noisy", root, log_path=str(log), echo=False)).ok
    assert capfd.readouterr() == ("", "")
    assert "from child\n" in log.read_text()


def test_failure_output_is_logged(
    module: str, root: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    def chatty_failure() -> None:
        print("about to fail")
        raise RuntimeError("nope")

    log = tmp_path / "s.log"
    result = run_stage(
        StageTask(
            "s", "x", "y", str(root), log_path=str(log), pickled=cloudpickle.dumps(chatty_failure)
        )
    )
    assert not result.ok
    assert "RuntimeError: nope" in (result.error or "")
    log_text = log.read_text()
    assert log_text.startswith("about to fail\n")
    assert "RuntimeError: nope" in log_text  # the failure follows the output in the log
    assert capfd.readouterr().err == "[s] about to fail\n"


def test_env_visible_during_call_and_restored(
    module: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FP_EXISTING", "before")
    monkeypatch.delenv("FP_NEW", raising=False)
    env = {"FP_EXISTING": "during", "FP_NEW": "added"}
    assert run_stage(task(module, "read_env", root, env=env)).ok
    assert (root / "env.txt").read_text() == "during added"
    assert os.environ["FP_EXISTING"] == "before"
    assert "FP_NEW" not in os.environ


# --- cloudpickled functions and is_importable --------------------------------------------------


def test_pickled_local_function_runs(root: Path) -> None:
    def local_stage(text: str = "") -> None:
        Path("local.txt").write_text(text * 2)

    assert not is_importable(local_stage, local_stage.__module__, local_stage.__qualname__)
    result = run_stage(
        StageTask(
            "local",
            "module_that_does_not_exist",
            "local_stage",
            str(root),
            params={"text": "ab"},
            outputs=("local.txt",),
            pickled=cloudpickle.dumps(local_stage),
            echo=False,
        )
    )
    assert result.ok, result.error
    assert (root / "local.txt").read_text() == "abab"


def test_is_importable(module: str) -> None:
    import importlib

    mod = importlib.import_module(module)
    assert is_importable(mod.write, module, "write")
    assert is_importable(mod.Holder.method, module, "Holder.method")
    assert not is_importable(mod.write, module, "append")
    assert not is_importable(mod.write, module, "no.such.name")
    assert not is_importable(mod.write, "fp_module_never_imported", "write")
    assert not is_importable(lambda: None, module, "<lambda>")


# --- output hashes -----------------------------------------------------------------------------


def test_outputs_hashed_with_stat_entries(module: str, root: Path) -> None:
    result = run_stage(task(module, "write", root, params={"text": "hello"}, outputs=("out.txt",)))
    assert result.ok, result.error
    assert result.outputs == {"out.txt": FileHash(hash_file(root / "out.txt"), 5)}
    entry = result.stat_entries["out.txt"]
    st = (root / "out.txt").stat()
    assert (entry.size, entry.mtime_ns, entry.inode) == (5, st.st_mtime_ns, st.st_ino)
    assert entry.hash == result.outputs["out.txt"].hash


def test_directory_output_hashed_per_file(module: str, root: Path) -> None:
    result = run_stage(task(module, "fill_dir", root, outputs=("outdir",)))
    assert result.ok, result.error
    assert result.outputs["outdir"].size == len("fresh")
    assert set(result.stat_entries) == {"outdir/fresh.txt"}


# --- known bugs --------------------------------------------------------------------------------


def test_output_hashing_error_is_a_failed_result(root: Path) -> None:
    def loop() -> None:
        os.makedirs("outdir")
        os.symlink(".", "outdir/loop")

    task_ = StageTask(
        "s", "x", "y", str(root), outputs=("outdir",), pickled=cloudpickle.dumps(loop)
    )
    result = run_stage(task_)
    assert not result.ok
    assert "outdir" in (result.error or "")


def test_unopenable_log_is_a_failed_result(module: str, root: Path, tmp_path: Path) -> None:
    result = run_stage(task(module, "nothing", root, log_path=str(tmp_path / "no" / "s.log")))
    assert isinstance(result, StageResult)


def test_lingering_child_output_goes_nowhere_else(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(worker, "_PUMP_GRACE_S", 0.05)

    def lingering() -> None:
        child = subprocess.Popen(["sh", "-c", "sleep 0.3; echo late"])
        Path("child.pid").write_text(str(child.pid))

    log = tmp_path / "s.log"
    result = run_stage(
        StageTask("s", "x", "y", str(root), log_path=str(log), pickled=cloudpickle.dumps(lingering))
    )
    assert result.ok, result.error  # the stage does not wait for its lingering child
    victims = [open(tmp_path / f"victim{i}.txt", "w") for i in range(8)]  # noqa: SIM115
    try:
        os.waitpid(int((root / "child.pid").read_text()), 0)
        for thread in threading.enumerate():
            if thread.name.endswith("(_pump)"):
                thread.join(5)
    finally:
        for victim in victims:
            victim.close()
    assert log.read_text() == "late\n"
    assert [(tmp_path / f"victim{i}.txt").read_text() for i in range(8)] == [""] * 8


def test_format_user_error_drops_only_leading_worker_frames() -> None:
    def user_code() -> None:
        raise KeyError("k")

    with pytest.raises(KeyError) as info:
        user_code()
    text = worker.format_user_error(info.value)
    assert "in user_code" in text
    assert text.endswith("KeyError: 'k'")


# --- storing outputs in the cache --------------------------------------------------------------


def test_cached_outputs_are_stored_by_the_stage_process(module: str, root: Path) -> None:
    cache = root / "cache"
    t = task(
        module, "fill_dir", root, outputs=("outdir",), cache_dir=str(cache), cached=("outdir",)
    )
    result = run_stage(t)
    assert result.ok, result.error
    from fastpipe.objects import ObjectKind, ObjectStore

    store = ObjectStore(cache)
    assert store.kind(result.outputs["outdir"].hash) is ObjectKind.TREE
    assert store.kind(hash_file(root / "outdir" / "fresh.txt")) is ObjectKind.FILE


def test_uncached_outputs_are_not_stored(module: str, root: Path) -> None:
    cache = root / "cache"
    result = run_stage(task(module, "write", root, outputs=("out.txt",), cache_dir=str(cache)))
    assert result.ok, result.error
    assert not cache.exists()


def test_unusable_cache_dir_fails_the_stage_and_keeps_the_output(module: str, root: Path) -> None:
    (root / "blocker").write_text("a file where the cache directory should be")
    cache = root / "blocker" / "cache"  # cannot be created, as for a read-only cache (even as root)
    t = task(module, "write", root, outputs=("out.txt",), cache_dir=str(cache), cached=("out.txt",))
    result = run_stage(t)
    assert not result.ok
    assert result.error is not None and "cannot store its output out.txt" in result.error
    assert "\n" not in result.error
    assert (root / "out.txt").read_text() == "hi"


def test_full_disk_while_storing_fails_the_stage_cleanly(
    module: str, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    from fastpipe import links

    def full(*_args: object) -> str:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(links, "copy_fd", full)
    cache = root / "cache"
    t = task(module, "write", root, outputs=("out.txt",), cache_dir=str(cache), cached=("out.txt",))
    result = run_stage(t)
    assert not result.ok
    assert result.error is not None and "No space left on device" in result.error
    assert (root / "out.txt").read_text() == "hi"
    leftovers = [p for p in cache.rglob("*") if p.is_file()]
    assert leftovers == []  # no torn object, no temp file


# --- what a stage process imports --------------------------------------------------------------

FRESH_RUN = """
import importlib, os, sys
from fastpipe.worker import STAGE_MODULES, StageTask, run_stage
for name in STAGE_MODULES:
    importlib.import_module(name)
sys.path.insert(0, os.getcwd())
import stagefn
before = set(sys.modules)
task = StageTask(
    name="s", module="stagefn", qualname="s", root=os.getcwd(), outputs=("out.txt",),
    log_path=os.path.join(os.getcwd(), "s.log"), cache_dir=os.path.join(os.getcwd(), "cache"),
    cached=("out.txt",),
)
assert run_stage(task).ok
print(sorted(set(sys.modules) - before))
"""


def test_a_stage_imports_nothing_beyond_the_stage_modules(tmp_path: Path) -> None:
    """A server that forks stage processes imports STAGE_MODULES once, ahead: then running a
    stage (output captured, cached output stored, peak RSS read) loads no module of its own."""
    (tmp_path / "stagefn.py").write_text(
        "from pathlib import Path\n\ndef s():\n    Path('out.txt').write_text('x')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", FRESH_RUN], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
