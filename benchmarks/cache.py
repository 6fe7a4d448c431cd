"""The output cache's costs, side by side with what they replace (docs/performance.md).

1. Storing a 1 GiB out: `cp` of the file vs fastpipe's store (ObjectStore.store_file: temp
   file, copy_file_range or reflink, fsync, link into place) and store + hash (what a stage
   pays in all, as its out is hashed for the lock anyway).
2. Restoring a directory out of 10,000 small files: `fastpipe checkout` vs `dvc checkout` of
   the same data (`dvc add`), both as commands, after deleting the directory.

    .venv/bin/python benchmarks/cache.py [--reps 3] [--size-mib 1024] [--files 10000]

Wall times, median of the repetitions; the page cache is warm for both sides of each row.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

FASTPIPE = str(Path(sys.executable).with_name("fastpipe"))
DVC = str(Path(sys.executable).with_name("dvc"))

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["data"])
def make(files: int = {files}) -> None:
    for i in range(files):
        part = Path(f"data/part-{{i % 100:03d}}")
        part.mkdir(parents=True, exist_ok=True)
        (part / f"row-{{i:05d}}.txt").write_text(f"row {{i}}\\n" * (1 + i % 7))
"""


def timed(fn: Callable[[], object], reps: int, before: Callable[[], object]) -> list[float]:
    found: list[float] = []
    for _ in range(reps):
        before()
        start = time.perf_counter()
        fn()
        found.append(time.perf_counter() - start)
    return found


def run(*args: str, cwd: Path) -> None:
    subprocess.run(args, cwd=cwd, check=True, capture_output=True)


def store_rows(work: Path, size_mib: int, reps: int) -> list[tuple[str, list[float]]]:
    from fastpipe.hashing import hash_file
    from fastpipe.objects import ObjectStore

    big = work / "big.bin"
    with open(big, "wb") as f:
        for _ in range(size_mib):
            f.write(os.urandom(1 << 20))
    digest = hash_file(big)
    cache = work / "cache"

    def clear() -> None:
        shutil.rmtree(cache, ignore_errors=True)
        Path(work / "copy.bin").unlink(missing_ok=True)
        os.sync()

    def store() -> None:
        ObjectStore(cache).store_file(big, digest)

    def hash_and_store() -> None:
        ObjectStore(cache).store_file(big, hash_file(big))

    def cp() -> None:
        run("cp", str(big), str(work / "copy.bin"), cwd=work)

    def cp_sync() -> None:
        cp()
        run("sync", "-f", str(work / "copy.bin"), cwd=work)

    rows = [
        (f"`cp` {size_mib} MiB", timed(cp, reps, clear)),
        (f"`cp` + `sync -f` {size_mib} MiB", timed(cp_sync, reps, clear)),
        (f"fastpipe store {size_mib} MiB (fsync included)", timed(store, reps, clear)),
        (f"fastpipe hash + store {size_mib} MiB", timed(hash_and_store, reps, clear)),
    ]
    clear()
    big.unlink()
    return rows


def restore_rows(work: Path, files: int, reps: int) -> list[tuple[str, list[float]]]:
    fp = work / "fp"
    fp.mkdir()
    (fp / "pipeline.py").write_text(PIPELINE.format(files=files))
    run(FASTPIPE, "run", cwd=fp)
    dvc = work / "dvc"
    dvc.mkdir()
    shutil.copytree(fp / "data", dvc / "data")
    run("git", "init", "-q", cwd=dvc)
    run(DVC, "init", "-q", cwd=dvc)
    run(DVC, "config", "core.analytics", "false", cwd=dvc)
    run(DVC, "add", "-q", "data", cwd=dvc)

    fp_times: list[float] = []
    dvc_times: list[float] = []
    for _ in range(reps):  # interleaved, so that load from elsewhere hits both alike
        fp_times += timed(lambda: run(FASTPIPE, "checkout", cwd=fp), 1, _remover(fp))
        dvc_times += timed(lambda: run(DVC, "checkout", "-q", cwd=dvc), 1, _remover(dvc))
    return [
        (f"`fastpipe checkout`, {files} files", fp_times),
        (f"`dvc checkout`, {files} files", dvc_times),
    ]


def _remover(root: Path) -> Callable[[], None]:
    def remove() -> None:
        shutil.rmtree(root / "data", ignore_errors=True)
        os.sync()

    return remove


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--skip-store", action="store_true")
    parser.add_argument("--skip-restore", action="store_true")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="fastpipe-cache-bench-"))
    try:
        rows: list[tuple[str, list[float]]] = []
        if not args.skip_store:
            rows += store_rows(work, args.size_mib, args.reps)
        if not args.skip_restore:
            rows += restore_rows(work, args.files, args.reps)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"load average at the end: {os.getloadavg()[0]:.1f} (2-core machine, shared)")
    print("| step | median | min | max |\n| --- | --- | --- | --- |")
    for name, times in rows:
        print(
            f"| {name} | {statistics.median(times):.3f} s | {min(times):.3f} s "
            f"| {max(times):.3f} s |"
        )


if __name__ == "__main__":
    main()
