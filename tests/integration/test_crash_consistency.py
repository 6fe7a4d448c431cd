"""SIGKILL `fastpipe run` at random moments of a 50-stage parallel run (SPEC 5, 8).

After every kill: every lock parses, no lock vouches for an output that does not match it, and
no stage process is left running. After the trials, one more run completes and every output
is byte-identical to a clean run's.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastpipe.hashing import StatCache, hash_path
from fastpipe.lockfile import read_lock

STAGES = 50
TRIALS = 20
SEED = 20261123


def pipeline_source(seed: int) -> str:
    """A seeded random layered DAG; each stage hashes its inputs into its output, slowly."""
    rng = random.Random(seed)
    lines = [
        "import hashlib, time",
        "from pathlib import Path",
        "from fastpipe import stage",
        "",
        "def combine(name, deps, pause):",
        "    digest = hashlib.sha256(name.encode())",
        "    for dep in deps:",
        "        digest.update(Path(dep).read_bytes())",
        "    time.sleep(pause)",
        "    out = Path(f'out/{name}.txt')",
        "    with out.open('w') as f:",  # written in pieces, so a kill can leave it torn
        "        for i in range(4):",
        "            f.write(digest.hexdigest() + '\\n')",
        "            f.flush()",
        "",
    ]
    for i in range(STAGES):
        deps = sorted(rng.sample(range(i), k=min(i, rng.randint(0, 3)))) if i else []
        dep_paths = [f"out/s{d:02d}.txt" for d in deps]
        pause = rng.choice([0.0, 0.01, 0.03, 0.06])
        lines += [
            f"@stage(deps={dep_paths!r}, outs=['out/s{i:02d}.txt'])",
            f"def s{i:02d}() -> None:",
            f"    combine('s{i:02d}', {dep_paths!r}, {pause})",
            "",
        ]
    return "\n".join(lines)


def fastpipe(root: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "fastpipe", "run", "--quiet", *args],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def outputs(root: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / "out").glob("*.txt"))}


def stage_processes(root: Path) -> list[int]:
    """Processes (other than us) whose working directory is the project root."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") == str(root):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def assert_locks_consistent(root: Path) -> int:
    cache = StatCache.empty()
    checked = 0
    for lock_path in sorted((root / ".fastpipe" / "stages").glob("*.lock")):
        read = read_lock(lock_path)
        assert read.problem is None, f"{lock_path.name}: {read.problem}"
        assert read.entry is not None
        for out, expected in read.entry.outs.items():
            actual = hash_path(root, out, cache)
            assert actual is not None and actual.hash == expected.hash, (
                f"{lock_path.name} vouches for {out}, which does not match it"
            )
        checked += 1
    return checked


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs /proc to find leftover processes")
def test_sigkill_at_random_moments_leaves_a_consistent_project(tmp_path: Path) -> None:
    source = pipeline_source(SEED)
    clean = tmp_path / "clean"
    crashed = tmp_path / "crashed"
    for root in (clean, crashed):
        root.mkdir()
        (root / "pipeline.py").write_text(source)
    started = time.monotonic()
    done = fastpipe(clean, "-j", "4")
    assert done.wait(120) == 0, done.stderr.read().decode() if done.stderr else ""
    # Kills spread over the whole length of a run on this machine (start-up included), so
    # that some land after stages finished whatever the machine's speed or load.
    span = max(1.5, time.monotonic() - started)
    reference = outputs(clean)
    assert len(reference) == STAGES

    rng = random.Random(SEED)
    locks_seen = 0
    for _ in range(TRIALS):
        run = fastpipe(crashed, "-j", "4")
        time.sleep(rng.uniform(0.05, span))
        run.send_signal(signal.SIGKILL)
        run.wait()
        deadline = time.monotonic() + 5
        while stage_processes(crashed) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stage_processes(crashed) == [], "a stage process outlived its fastpipe run"
        locks_seen += assert_locks_consistent(crashed)

    final = fastpipe(crashed, "-j", "4")
    assert final.wait(120) == 0, final.stderr.read().decode() if final.stderr else ""
    assert outputs(crashed) == reference
    assert assert_locks_consistent(crashed) == STAGES
    assert locks_seen > 0, "no kill landed after any stage finished: the trials tested nothing"
    shutil.rmtree(tmp_path / "crashed" / ".fastpipe", ignore_errors=True)
