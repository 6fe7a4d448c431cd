"""push and pull to a local directory remote: fastpipe vs `dvc push` / `dvc pull`, one run.

Two data sets, each measured once per tool in the same run on the same disk:
- many small files: one directory out of N files (default 10,000 x 1 KiB), also copied with
  `cp -r` there and back: what creating the files costs on this disk at that minute;
- one large file (default 1 GiB), also copied with `cp` there and back as the baseline.

fastpipe: a project whose stage produced the data, its outs stored in the cache (the cache's
layout, as the output cache stores them), `fastpipe push` to a fresh directory remote, then
`fastpipe pull` after deleting the cache's objects and the data. DVC: `dvc add` of the same
data, `dvc push` to a fresh directory remote, then `dvc pull` after deleting its cache and the
data. `cp`: the file copied there, its two local copies deleted, copied back. Each pull so
follows the deletion of as much data: on this VM's disk, writing into just-freed space is
several times faster than into fresh space (a fresh clone's pull of 1 GiB took 12.3 s, the
same pull after a 2 GiB deletion 2.1 s), and only DVC's protocol had the deletion before.

The large file is also pulled with the workspace file hard-linked to its cache object
(fastpipe `cache_link = "hardlink"`, DVC `cache.type hardlink`): one copy of the bytes instead
of two (cache and workspace).

Both tools run in tools.environment() (PYTHONDONTWRITEBYTECODE dropped: a user's Python caches
bytecode), after one untimed start of each, so neither pays for compiling its modules. Every
case runs `--rounds` times, the tools and `cp` taking turns within each round (fastpipe and DVC
swap who goes first every round); the table shows the median and the range, and DVC / fastpipe
as the median of each round's ratio (this VM's disk speed changes several-fold from minute to
minute, so a ratio is only fair within one round).

    python benchmarks/remote.py [--files 10000] [--file-kib 1] [--big-mib 1024] [--rounds 3]
                                [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from statistics import median

import tools

SMALL_PIPELINE = """
from fastpipe import stage

@stage(outs=["data"])
def make() -> None:
    raise SystemExit("the benchmark writes the data itself")
"""
BIG_PIPELINE = """
from fastpipe import stage

@stage(outs=["big.bin"])
def make() -> None:
    raise SystemExit("the benchmark writes the data itself")
"""
PYPROJECT = '[tool.fastpipe.remotes.bench]\nurl = "{remote}"\n'
HARDLINK = '[tool.fastpipe]\ncache_link = "hardlink"\n\n'


def timed(command: Sequence[str], cwd: Path) -> float:
    """Run a command, fail loudly if it fails, return its wall time in seconds.

    Dirty pages are flushed before (untimed) and after (timed) each command: otherwise one
    tool's writes are flushed during the next tool's turn, which decided who looked faster.
    """
    os.sync()
    started = time.perf_counter()
    done = subprocess.run(
        command, cwd=cwd, capture_output=True, text=True, check=False, env=tools.environment()
    )
    os.sync()
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
    return elapsed


def write_small_files(folder: Path, count: int, size: int) -> None:
    folder.mkdir(parents=True)
    seed = os.urandom(size)
    for i in range(count):
        (folder / f"part-{i:05d}.bin").write_bytes(i.to_bytes(8, "little") + seed[8:])


def write_big_file(path: Path, mib: int) -> None:
    block = os.urandom(1 << 20)
    with path.open("wb") as f:
        for i in range(mib):
            f.write(i.to_bytes(8, "little") + block[8:])


def _store(cache: Path, digest: str, source: Path | None, data: bytes | None = None) -> None:
    target = cache / "files" / "xxh3" / digest[:2] / digest[2:]
    target.parent.mkdir(parents=True, exist_ok=True)
    if source is not None:
        shutil.copyfile(source, target)
    else:
        target.write_bytes(data or b"")
    os.chmod(target, 0o444)


def lock_and_cache(root: Path, out: str) -> None:
    """Write the stage's lock (as `fastpipe run` would) and store its out in the cache."""
    from fastpipe.hashing import StatCache, hash_file, hash_path
    from fastpipe.lockfile import LockEntry, write_lock

    found = hash_path(root, out, StatCache.empty())
    assert found is not None
    cache = root / ".fastpipe" / "cache"
    path = root / out
    if path.is_dir():
        rows = []
        for file in sorted(path.rglob("*")):
            digest = hash_file(file)
            _store(cache, digest, file)
            rows.append([file.relative_to(path).as_posix(), digest, file.stat().st_size, False])
        _store(cache, found.hash, None, json.dumps({"schema": 1, "files": rows}).encode())
    else:
        _store(cache, found.hash, path)
    entry = LockEntry("make", {}, {}, {}, {out: found})
    write_lock(root / ".fastpipe" / "stages" / "make.lock", entry)


def fastpipe_case(
    work: Path, pipeline: str, out: str, make: object, *, hardlink: bool = False
) -> dict[str, float]:
    """push then pull (into a fresh copy) with fastpipe; seconds for each."""
    project, remote = work / "fp-project", work / "fp-remote"
    project.mkdir()
    (project / "pipeline.py").write_text(pipeline)
    config = (HARDLINK if hardlink else "") + PYPROJECT.format(remote=remote)
    (project / "pyproject.toml").write_text(config)
    make(project / out)  # type: ignore[operator]
    lock_and_cache(project, out)
    fastpipe = [sys.executable, "-m", "fastpipe"]
    push = timed([*fastpipe, "push"], project)
    from fastpipe.hashing import StatCache, hash_path

    pushed = hash_path(project, out, StatCache.empty())
    # As for DVC below: the cache's objects and the data deleted, then pulled back in place.
    _remove(project / ".fastpipe" / "cache" / "files", project / out)
    pull = timed([*fastpipe, "pull"], project)
    if hash_path(project, out, StatCache.empty()) != pushed:
        raise SystemExit(f"the pulled {out} differs from the pushed one")
    _remove(project, remote)
    return {"push": push, "pull": pull}


def dvc_case(
    work: Path, out: str, make: object, *, hardlink: bool = False
) -> dict[str, float] | None:
    dvc = shutil.which("dvc", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if dvc is None:
        return None
    project, remote = work / "dvc-project", work / "dvc-remote"
    project.mkdir()
    make(project / out)  # type: ignore[operator]
    timed([dvc, "init", "--no-scm", "-q"], project)
    timed([dvc, "config", "core.analytics", "false"], project)
    timed([dvc, "remote", "add", "-d", "bench", str(remote)], project)
    if hardlink:
        timed([dvc, "config", "cache.type", "hardlink"], project)
    timed([dvc, "add", "-q", out], project)
    push = timed([dvc, "push", "-q"], project)
    _rmtree(project / ".dvc" / "cache")
    _rmtree(project / out)
    pull = timed([dvc, "pull", "-q"], project)
    _remove(project, remote)
    return {"push": push, "pull": pull}


def warm_up(*, with_dvc: bool) -> None:
    """Start each tool once, untimed, importing what push and pull import: their bytecode is
    cached then, as on a user's machine after the first command."""
    code = "import fastpipe.cli_remote, fastpipe.sync, fastpipe.checkout, fastpipe.localremote"
    commands = [[sys.executable, "-c", code]]
    dvc = shutil.which("dvc", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    if with_dvc and dvc is not None:
        commands.append([dvc, "version"])
    for command in commands:
        subprocess.run(command, capture_output=True, check=False, env=tools.environment())


def copy_case(work: Path, make: object, *, tree: bool = False) -> dict[str, float]:
    """`cp` there and back (`cp -r` of a folder with `tree`: what creating one file per object
    costs on this disk at that minute; a push creates one per object, a pull two). Like the
    tools' projects, the data is written and then copied once (their cache) before the timed
    steps: the disk has absorbed the same writes for all three (on this VM, 1 GiB more written
    beforehand made the next 1 GiB copy several times slower).
    """
    suffix = "" if tree else ".bin"
    made, source = work / f"copy-data{suffix}", work / f"copy-cache{suffix}"
    there, back = work / f"copy-remote{suffix}", work / f"copy-back{suffix}"
    make(made)  # type: ignore[operator]
    (shutil.copytree if tree else shutil.copyfile)(made, source)
    cp = ["cp", "-r"] if tree else ["cp"]
    push = timed([*cp, str(source), str(there)], work)
    _remove(made, source)  # as the tools' pull follows deleting their data and cache
    pull = timed([*cp, str(there), str(back)], work)
    _remove(there, back)
    return {"push": push, "pull": pull}


def _rmtree(path: Path) -> None:
    if path.is_dir():
        for folder, _, files in os.walk(path):
            os.chmod(folder, 0o755)
            for name in files:
                os.chmod(os.path.join(folder, name), 0o644)
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def _remove(*paths: Path) -> None:
    for path in paths:
        _rmtree(path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--file-kib", type=int, default=1)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--no-dvc", action="store_true", help="fastpipe and cp only")
    parser.add_argument("--rounds", type=int, default=3, help="times each case runs (median)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    def small(path: Path) -> None:
        write_small_files(path, args.files, args.file_kib * 1024)

    def big(path: Path) -> None:
        write_big_file(path, args.big_mib)

    warm_up(with_dvc=not args.no_dvc)
    rounds: list[Results] = []
    with tempfile.TemporaryDirectory(prefix="fastpipe-remote-bench-", dir=Path.cwd()) as tmp:
        work = Path(tmp)
        for i in range(args.rounds):
            print(f"round {i + 1}/{args.rounds}", file=sys.stderr, flush=True)
            found: Results = {}
            # The tools take turns going first: the disk's state drifts within a round.
            first = "fastpipe" if i % 2 == 0 else "dvc"
            found["small"] = _case(
                first,
                lambda: fastpipe_case(work, SMALL_PIPELINE, "data", small),
                None if args.no_dvc else lambda: dvc_case(work, "data", small),
                lambda: copy_case(work, small, tree=True),
            )
            found["big"] = _case(
                first,
                lambda: fastpipe_case(work, BIG_PIPELINE, "big.bin", big),
                None if args.no_dvc else lambda: dvc_case(work, "big.bin", big),
                lambda: copy_case(work, big),
            )
            found["big-hardlink"] = _case(
                first,
                lambda: fastpipe_case(work, BIG_PIPELINE, "big.bin", big, hardlink=True),
                None if args.no_dvc else lambda: dvc_case(work, "big.bin", big, hardlink=True),
                lambda: copy_case(work, big),
            )
            rounds.append(found)
    print(table(rounds, args))
    if args.json:
        args.json.write_text(json.dumps({"args": vars(args) | {"json": None}, "rounds": rounds}))
    return 0


Results = dict[str, dict[str, dict[str, float] | None]]  # case -> tool -> direction -> seconds
Case = Callable[[], "dict[str, float] | None"]


def _case(
    first: str, fastpipe: Case, dvc: Case | None, cp: Case
) -> dict[str, dict[str, float] | None]:
    """One case of a round: both tools (`first` going first), then `cp`."""
    found: dict[str, dict[str, float] | None] = {"dvc": None}
    for tool in ("fastpipe", "dvc") if first == "fastpipe" else ("dvc", "fastpipe"):
        run = fastpipe if tool == "fastpipe" else dvc
        if run is not None:
            found[tool] = run()
    found["cp"] = cp()
    return found


def _seconds(rounds: list[Results], case: str, tool: str, direction: str) -> list[float] | None:
    found = [r[case][tool] for r in rounds if r[case].get(tool) is not None]
    return [f[direction] for f in found if f is not None] or None


def table(rounds: list[Results], args: argparse.Namespace) -> str:
    """A markdown table: median seconds (and range) per tool and direction; DVC / fastpipe
    as the median of each round's ratio; fastpipe / cp of the medians."""
    names = {
        "small": f"{args.files:,} files x {args.file_kib} KiB",
        "big": f"1 file of {args.big_mib:,} MiB",
        "big-hardlink": f"1 file of {args.big_mib:,} MiB, hard-linked",
    }
    lines = [f"{len(rounds)} round(s): median (min-max)", ""]
    lines.append("| data | direction | fastpipe | dvc | cp | dvc / fastpipe | fastpipe / cp |")
    lines.append("|---|---|---|---|---|---|---|")
    for case, name in names.items():
        for direction in ("push", "pull"):
            fp, dvc, cp = (_seconds(rounds, case, t, direction) for t in ("fastpipe", "dvc", "cp"))
            assert fp is not None
            cells = [_cell(fp), _cell(dvc), _cell(cp)]
            cells.append(_ratio(rounds, case, direction) if dvc else "-")
            cells.append(f"{median(fp) / median(cp):.2f}x" if cp else "-")
            lines.append(f"| {name} | {direction} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ratio(rounds: list[Results], case: str, direction: str) -> str:
    """DVC / fastpipe within each round (the same minute of the disk): median (min-max)."""
    ratios = []
    for r in rounds:
        fp, dvc = r[case].get("fastpipe"), r[case].get("dvc")
        if fp is not None and dvc is not None:
            ratios.append(dvc[direction] / fp[direction])
    if len(ratios) == 1:
        return f"{ratios[0]:.1f}x"
    return f"{median(ratios):.1f}x ({min(ratios):.1f}-{max(ratios):.1f})"


def _cell(values: list[float] | None) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


if __name__ == "__main__":
    sys.exit(main())
