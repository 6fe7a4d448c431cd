"""The comparing commands: `metrics`, `params` and `plots` (show, diff), `history`, `report`.

Registered on the main app by cli.py. A bad file among good ones does not hide the good ones:
they are printed, each bad one is a `fastpipe: error:` line on stderr, and the exit is 2.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from fastpipe.errors import EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from fastpipe.compare import Diff, Values


def _sub_app(help_text: str) -> typer.Typer:
    return typer.Typer(
        help=help_text, no_args_is_help=True, add_completion=False, rich_markup_mode=None
    )


metrics_app = _sub_app("Show metrics, or compare them between git revisions and the workspace.")
params_app = _sub_app("Show stage params, or compare them between revisions and the workspace.")

Stages = Annotated[
    list[str] | None, typer.Argument(metavar="[STAGE]...", help="Stages to show (default: all).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
MdFlag = Annotated[bool, typer.Option("--md", help="Print a Markdown table (for PR comments).")]
ARev = Annotated[
    str, typer.Argument(metavar="[A_REV]", help="The old side: a git revision (default: HEAD).")
]
BRev = Annotated[
    str | None,
    typer.Argument(metavar="[B_REV]", help="The new side: a git revision (default: workspace)."),
]
AllFlag = Annotated[bool, typer.Option("--all", help="Show unchanged values too.")]
Precision = Annotated[
    int,
    typer.Option(
        "--precision", min=0, metavar="DIGITS", help="Digits the numeric change is rounded to."
    ),
]


def _directory(ctx: typer.Context) -> Path:
    """The -C directory given to the main app (its callback stores it as ctx.obj)."""
    return Path(getattr(ctx.find_root().obj, "directory", "."))


def _finish(errors: Sequence[str]) -> int:
    for error in errors:
        print(f"fastpipe: error: {error}", file=sys.stderr)
    return EXIT_USAGE if errors else EXIT_OK


def _print_values(values: Values, as_json: bool, markdown: bool, kind: str) -> int:
    from fastpipe import comparetext

    if as_json:
        print(json.dumps(comparetext.values_json(values), indent=2, sort_keys=True))
    elif kind == "metrics":
        print(comparetext.metrics_show(values, markdown=markdown))
    else:
        print(comparetext.params_show(values, markdown=markdown))
    return _finish(values.errors)


def _print_diff(diff: Diff, as_json: bool, markdown: bool, kind: str) -> int:
    from fastpipe import comparetext

    if as_json:
        print(json.dumps(comparetext.diff_to_json(diff), indent=2, sort_keys=True))
    elif kind == "metrics":
        print(comparetext.metrics_diff(diff, markdown=markdown))
    else:
        print(comparetext.params_diff(diff, markdown=markdown))
    return _finish(diff.errors)


def _rev(value: str | None) -> str | None:
    """`workspace` on the command line names the workspace side."""
    from fastpipe.compare import WORKSPACE

    return None if value in (None, WORKSPACE) else value


@metrics_app.command("show")
def metrics_show(
    ctx: typer.Context, stages: Stages = None, as_json: JsonFlag = False, md: MdFlag = False
) -> int:
    """Show the metrics files of STAGEs (default: all) in the workspace, as dotted keys."""
    from fastpipe import api

    values = api.metrics(root=_directory(ctx), stages=stages or ())
    return _print_values(values, as_json, md, "metrics")


@metrics_app.command("diff")
def metrics_diff(
    ctx: typer.Context,
    a_rev: ARev = "HEAD",
    b_rev: BRev = None,
    as_json: JsonFlag = False,
    md: MdFlag = False,
    all_: AllFlag = False,
    precision: Precision = 5,
) -> int:
    """Compare metrics between A_REV (default: HEAD) and B_REV (default: the workspace)."""
    from fastpipe import api

    found = api.metrics_diff(
        _rev(a_rev), _rev(b_rev), root=_directory(ctx), precision=precision, all=all_
    )
    return _print_diff(found, as_json, md, "metrics")


@params_app.command("show")
def params_show(
    ctx: typer.Context, stages: Stages = None, as_json: JsonFlag = False, md: MdFlag = False
) -> int:
    """Show the params of STAGEs (default: all) as the next run would resolve them."""
    from fastpipe import api

    values = api.params(root=_directory(ctx), stages=stages or ())
    return _print_values(values, as_json, md, "params")


@params_app.command("diff")
def params_diff(
    ctx: typer.Context,
    a_rev: ARev = "HEAD",
    b_rev: BRev = None,
    as_json: JsonFlag = False,
    md: MdFlag = False,
    all_: AllFlag = False,
    precision: Precision = 5,
) -> int:
    """Compare params between A_REV's locks (default: HEAD) and B_REV (default: workspace)."""
    from fastpipe import api

    found = api.params_diff(
        _rev(a_rev), _rev(b_rev), root=_directory(ctx), precision=precision, all=all_
    )
    return _print_diff(found, as_json, md, "params")


def history(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("-n", min=1, metavar="N", help="Show the N latest runs.")
    ] = 20,
    as_json: JsonFlag = False,
) -> None:
    """List the recorded runs, newest first (.fastpipe/runs/, the last 100 kept)."""
    from fastpipe import api, comparetext, runhistory

    records = api.history(root=_directory(ctx), limit=limit)
    if as_json:
        print(json.dumps({"runs": [runhistory.to_dict(r) for r in records]}, indent=1))
    else:
        print(comparetext.history_table(records))


def report(
    ctx: typer.Context,
    run_id: Annotated[
        str | None, typer.Argument(metavar="[RUN_ID]", help="The run (default: the latest).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", metavar="PATH", help="Default: fastpipe-report.html."),
    ] = None,
) -> None:
    """Write a self-contained HTML report of a run: summary, timeline, stages."""
    from fastpipe import api

    print(api.report(run_id, root=_directory(ctx), output=output))


plots_app = _sub_app("Draw plots on one self-contained HTML page, or overlay revisions.")
OutDir = Annotated[
    Path | None,
    typer.Option("-o", "--output", metavar="DIR", help="Where index.html goes (fastpipe-plots/)."),
]


@plots_app.command("show")
def plots_show(ctx: typer.Context, stages: Stages = None, output: OutDir = None) -> int:
    """Draw the plots of STAGEs (default: all) in the workspace."""
    from fastpipe import api

    found = api.plots(root=_directory(ctx), stages=stages or (), output=output)
    print(found.path)
    return _finish(found.errors)


@plots_app.command("diff")
def plots_diff(
    ctx: typer.Context,
    revs: Annotated[
        list[str] | None,
        typer.Argument(metavar="[REV]...", help="Revisions to overlay (default: HEAD)."),
    ] = None,
    output: OutDir = None,
) -> int:
    """Overlay each plot at REVs and in the workspace (two or more REVs: only those)."""
    from fastpipe import api

    chosen = [r for r in revs or ["HEAD"] if _rev(r) is not None]
    workspace = len(revs or ()) < 2 or any(_rev(r) is None for r in revs or ())
    found = api.plots(chosen, root=_directory(ctx), workspace=workspace, output=output)
    print(found.path)
    return _finish(found.errors)
