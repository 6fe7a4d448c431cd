"""The data commands of the CLI: checkout, get, gc (registered on the app by cli.py).

Thin like the rest of the CLI: parse, call fastpipe.api, print; `fastpipe.cli.main` maps
errors to exit codes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fastpipe.errors import EXIT_FAILED, EXIT_OK

if TYPE_CHECKING:
    from fastpipe.cli import Globals


def _globals(ctx: typer.Context) -> Globals:
    from fastpipe.cli import Globals

    found = ctx.find_object(Globals)
    assert found is not None, "the app callback sets Globals"
    return found


def _warn(event: object) -> None:
    from fastpipe.render import event_line

    line = event_line(event)  # pyright: ignore[reportArgumentType]
    if line is not None:
        print(line, file=sys.stderr, flush=True)


def checkout(
    ctx: typer.Context,
    stages: Annotated[
        list[str] | None,
        typer.Argument(metavar="[STAGE]...", help="Stages whose outs to check out (default: all)."),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", "-f", help="Replace modified files even if the cache lacks them."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> int:
    """Make the workspace outs match the locks, from the cache."""
    from fastpipe import api
    from fastpipe.render import checkout_report

    report = api.checkout(stages or (), root=_globals(ctx).directory, force=force, listener=_warn)
    if as_json:
        print(json.dumps(report.to_json()))
    else:
        print(checkout_report(report))
    return EXIT_OK if report.ok else EXIT_FAILED


def get(
    ctx: typer.Context,
    path: Annotated[
        str, typer.Argument(metavar="PATH", help="The path, relative to the project root.")
    ],
    rev: Annotated[
        str,
        typer.Option("--rev", metavar="REV", help="The git revision: branch, tag, SHA, HEAD~2..."),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "-o", "--out", metavar="OUT", help="Where to write it (default: its name, here)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", "-f", help="Overwrite OUT.")] = False,
) -> int:
    """Write PATH as it was at git revision REV (locks read from git, content from the cache)."""
    from fastpipe import api

    g = _globals(ctx)
    cwd = g.directory
    target = _default_out(cwd, path) if out is None else out if out.is_absolute() else cwd / out
    result = api.get(path, rev, out=target, force=force, root=cwd)
    print(f"wrote {result.target} ({result.path} at {result.rev}, from {result.source})")
    return EXIT_OK


def _default_out(cwd: Path, path: str) -> Path:
    return cwd / Path(path.rstrip("/")).name


def gc(
    ctx: typer.Context,
    workspace: Annotated[
        bool, typer.Option("--workspace", "-w", help="Keep what the workspace's locks name.")
    ] = False,
    all_commits: Annotated[
        bool,
        typer.Option(
            "--all-commits", "-A", help="Also keep what any branch's or tag's commits name."
        ),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Say what would be removed; remove nothing.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> int:
    """Delete cache objects and run-cache entries no lock refers to (a scope is required)."""
    from fastpipe import api
    from fastpipe.render import gc_report

    report = api.gc(
        workspace=workspace,
        all_commits=all_commits,
        dry_run=dry_run,
        root=_globals(ctx).directory,
        listener=_warn,
    )
    print(json.dumps(report.to_json()) if as_json else gc_report(report))
    return EXIT_OK


def register(app: typer.Typer) -> None:
    """Add the data commands to `app`."""
    app.command()(checkout)
    app.command()(get)
    app.command()(gc)
