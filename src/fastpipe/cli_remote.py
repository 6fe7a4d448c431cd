"""`fastpipe push / fetch / pull` and `install-hooks`: sharing data through a remote.

Registered on the main app by one import at the end of cli.py. Progress goes to stderr (one
updating line on a terminal, plain lines elsewhere); the summary, or `--json`, to stdout.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fastpipe.cli import JsonFlag, Stages, _globals, app
from fastpipe.errors import EXIT_FAILED, EXIT_OK, RemoteError

if TYPE_CHECKING:
    from fastpipe.discovery import Project
    from fastpipe.sync import Cached, SyncResult
    from fastpipe.transfer import Listener, TransferProgress, TransferResult

RemoteName = Annotated[
    str | None,
    typer.Option(
        "--remote",
        "-r",
        metavar="NAME",
        help="The remote (default: $FASTPIPE_REMOTE, then default_remote in [tool.fastpipe], "
        "then the only one configured).",
    ),
]
Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        metavar="N",
        help="Objects moved at once (default: 8; 1 for a local directory).",
    ),
]


class _Progress:
    """Transfer progress on stderr: a single updating line on a terminal, else plain lines."""

    def __init__(self, verb: str, *, live: bool) -> None:
        self._verb = verb
        self._live = live
        self._shown = False
        self._announced = False

    def __call__(self, progress: TransferProgress) -> None:
        if progress.total == 0:
            return
        if self._live:
            line = f"{self._verb}: {progress.done}/{count(progress.total, 'object')}, "
            line += human_bytes(progress.bytes)
            print(f"\r\x1b[K{line}", end="", file=sys.stderr, flush=True)
            self._shown = True
        elif progress.done == 0 and not self._announced:  # once: a pull moves several batches
            print(f"{self._verb}: {count(progress.total, 'object')}", file=sys.stderr, flush=True)
            self._announced = True

    def close(self) -> None:
        if self._shown:
            print(file=sys.stderr, flush=True)


def count(n: int, noun: str) -> str:
    """count(1, "object") -> '1 object'; count(2, "object") -> '2 objects'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def human_bytes(size: int) -> str:
    """1536 -> '1.5 KiB'."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def _load(directory: Path, stages: list[str]) -> tuple[Project, Cached]:
    """The project and which of its stages' outs are cached (from the pipeline's specs).

    Each named stage must be defined (or at least have a lock) and must have run once.
    """
    from fastpipe import discovery
    from fastpipe.errors import FastpipeError, UnknownStageError

    project = discovery.load_project(directory)
    specs = discovery.load_pipeline(project).specs
    for name in stages:
        has_lock = project.layout.lock_path(name).is_file()
        if name not in specs and not has_lock:
            raise UnknownStageError(name, specs)
        if not has_lock:
            raise FastpipeError(f"stage '{name}' has never run: it has no outs to share yet")

    def cached(stage: str, path: str) -> bool:
        spec = specs.get(stage)
        return spec is None or spec.is_cached(path)  # a stage no longer defined: all its outs

    return project, cached


def _sync(
    ctx: typer.Context,
    verb: str,
    stages: list[str] | None,
    remote_name: str | None,
    jobs: int | None,
    as_json: bool,
) -> int:
    from fastpipe import sync

    g = _globals(ctx)
    project, cached = _load(g.directory, stages or [])
    remote = sync.open_selected(project, remote_name)
    progress = _Progress(verb, live=sys.stderr.isatty() and not as_json)
    listener: Listener = progress
    action = {"push": sync.push, "fetch": sync.fetch, "pull": sync.pull}[verb]
    try:
        result = action(
            project,
            stages or (),
            remote,
            cached=cached,
            jobs=jobs,
            listener=listener,
        )
    finally:
        progress.close()
    labels, uncached = _labels(project, stages or [], cached)
    return _report(verb, remote.name, result, labels, uncached, as_json=as_json)


def _labels(
    project: Project, stages: list[str], cached: Cached
) -> tuple[dict[str, str], frozenset[str]]:
    """Object key -> "path of stage 'NAME'", to name what a missing object is; and the keys of
    outs no cache holds (metrics, plots, `cache=False`), which no remote can have either."""
    from fastpipe import objectkeys, sync

    hashes = sync.out_hashes(sync.selected_locks(project.root, stages), None)
    labels = {
        objectkeys.file_key(h): f"{path} of stage '{stage}'" for (stage, path), h in hashes.items()
    }
    uncached = frozenset(
        objectkeys.file_key(h) for (stage, path), h in hashes.items() if not cached(stage, path)
    )
    return labels, uncached


def _report(
    verb: str,
    name: str,
    result: SyncResult,
    labels: dict[str, str],
    uncached: frozenset[str] = frozenset(),
    *,
    as_json: bool,
) -> int:
    moved = result.transfer
    if as_json:
        data = {"command": verb, "remote_name": name, **moved.to_json()}
        if result.restored is not None:
            data["checkout"] = {
                "written": list(result.restored.written),
                "unchanged": list(result.restored.unchanged),
                "missing": list(result.restored.missing),
                "kept": list(result.restored.kept),
            }
        print(json.dumps(data))
    else:
        print(summary(verb, name, moved))
        if result.restored is not None:
            restored = result.restored
            written, unchanged = len(restored.written), len(restored.unchanged)
            line = f"checkout: {count(written, 'out')} restored, {unchanged} already in place"
            print(line + (f", {len(restored.kept)} kept (modified)" if restored.kept else ""))
    for path in result.restored.kept if result.restored is not None else ():
        print(
            f"fastpipe: warning: kept {path}: modified and not in the cache "
            "(`fastpipe checkout --force` replaces it)",
            file=sys.stderr,
        )
    for listed in moved.ignored[:1]:
        print(
            f"fastpipe: warning: remote '{name}' lists names that are not objects "
            f"({len(moved.ignored)} in all, e.g. '{listed}'); ignored",
            file=sys.stderr,
        )
    if moved.rejected:
        first, total = moved.rejected[0], len(moved.rejected)
        raise RemoteError(
            f"remote '{name}' ({moved.remote}): object '{first}' does not match its hash"
            + (f" ({total} objects in all)" if total > 1 else "")
            + "; rejected, never used: delete it from the remote and push it again"
        )
    missing = moved.missing
    if result.restored is not None:
        missing = tuple(dict.fromkeys((*missing, *result.restored.missing)))
    where = "in the local cache (run its stage again)" if verb == "push" else f"on remote '{name}'"
    for key in [k for k in missing if k in uncached]:  # never cached: git carries these
        print(
            f"fastpipe: warning: {labels[key]} is missing and not cached (a metrics or plots "
            "file, or cache=False), so no remote has it: commit it to git, or run its stage",
            file=sys.stderr,
        )
    elsewhere = [k for k in missing if k not in uncached]
    for key in elsewhere[:10]:
        label = labels.get(key)
        shown = f"{label} ({key})" if label else key
        print(f"fastpipe: warning: not {where}: {shown}", file=sys.stderr)
    if len(elsewhere) > 10:
        print(f"fastpipe: warning: ... {len(elsewhere)} objects in all", file=sys.stderr)
    kept = result.restored.kept if result.restored is not None else ()
    return EXIT_FAILED if missing or kept else EXIT_OK


def summary(verb: str, name: str, moved: TransferResult) -> str:
    """One line: what moved, and what was already there."""
    if verb == "push":
        up = moved.uploaded
        line = f"pushed {count(up.objects, 'object')} ({human_bytes(up.bytes)}) to '{name}'"
        line += f" ({moved.remote})"
        return line + f"; {moved.present} already there"
    down = moved.downloaded
    moved_text = f"{count(down.objects, 'object')} ({human_bytes(down.bytes)})"
    return f"fetched {moved_text} from '{name}' ({moved.remote})"


@app.command()
def push(
    ctx: typer.Context,
    stages: Stages = None,
    remote: RemoteName = None,
    jobs: Jobs = None,
    as_json: JsonFlag = False,
) -> int:
    """Upload the cached outs of STAGEs (default: all) and run-cache entries the remote lacks."""
    return _sync(ctx, "push", stages, remote, jobs, as_json)


@app.command()
def fetch(
    ctx: typer.Context,
    stages: Stages = None,
    remote: RemoteName = None,
    jobs: Jobs = None,
    as_json: JsonFlag = False,
) -> int:
    """Download the cached outs of STAGEs (default: all) into the cache, each one verified."""
    return _sync(ctx, "fetch", stages, remote, jobs, as_json)


@app.command()
def pull(
    ctx: typer.Context,
    stages: Stages = None,
    remote: RemoteName = None,
    jobs: Jobs = None,
    as_json: JsonFlag = False,
) -> int:
    """fetch, then restore the outs of STAGEs (default: all) in the workspace."""
    return _sync(ctx, "pull", stages, remote, jobs, as_json)


@app.command("install-hooks")
def install_hooks(
    ctx: typer.Context,
    pre_commit: Annotated[
        bool,
        typer.Option("--pre-commit", help="Also refuse commits while `status --check` fails."),
    ] = False,
    pre_push: Annotated[
        bool, typer.Option("--pre-push", help="Also run `fastpipe push` before `git push`.")
    ] = False,
    uninstall: Annotated[
        bool, typer.Option("--uninstall", help="Remove fastpipe's block from every hook.")
    ] = False,
) -> None:
    """Write git hooks: post-checkout runs `fastpipe checkout` after a branch checkout."""
    from fastpipe import discovery, hooks

    root = discovery.find_root(_globals(ctx).directory)
    if uninstall:
        changes = hooks.uninstall(root)
    else:
        wanted = [hooks.Hook.POST_CHECKOUT]
        wanted += [hooks.Hook.PRE_COMMIT] if pre_commit else []
        wanted += [hooks.Hook.PRE_PUSH] if pre_push else []
        changes = hooks.install(root, tuple(wanted))
    for change in changes:
        if change.advice is not None:
            print(f"fastpipe: warning: {change.advice}", file=sys.stderr)
        else:
            print(f"{change.hook.value}: {change.action.value} ({change.path})")
    if not changes:
        print("no fastpipe hooks to remove")
