"""The `fastpipe` command: parse with typer, call fastpipe.api, render, map errors to exits.

Three tiers: reusable option declarations, one small function per command, and `main`, the
one place where errors become exit codes. The api module is imported inside the commands so
that `fastpipe --help` does not pay for the graph and hashing libraries.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from typer._click import exceptions as click_exceptions

from fastpipe.entry import Globals, fail, guarded, run_command, status_command
from fastpipe.entry import printer as _printer
from fastpipe.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from fastpipe.stage import StageSpec
    from fastpipe.watch import Cycle

app = typer.Typer(
    name="fastpipe",
    help="Run Python pipelines incrementally: only stages whose code, params or data changed.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


# ---------------------------------------------------------------------------- options

Stages = Annotated[
    list[str] | None, typer.Argument(metavar="[STAGE]...", help="Stages to act on (default: all).")
]
JsonFlag = Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout.")]
Downstream = Annotated[
    bool,
    typer.Option("--downstream", help="Select the stages and everything below them, not above."),
]


@app.callback()
def _global_options(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("-C", "--directory", help="Run as if started in DIR.", metavar="DIR")
    ] = Path("."),
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say more; show tracebacks of fastpipe errors.")
    ] = False,
) -> None:
    ctx.obj = Globals(directory, verbose)


def _globals(ctx: typer.Context) -> Globals:
    found = ctx.find_object(Globals)
    assert found is not None, "the app callback sets Globals"
    return found


# ---------------------------------------------------------------------------- commands


@app.command()
def init(ctx: typer.Context) -> None:
    """Create .fastpipe/ (and a sample pipeline.py if there is no project yet)."""
    from fastpipe import api

    result = api.init(root=_globals(ctx).directory)
    if result.created:
        print(f"initialized fastpipe in {result.root}: created {', '.join(result.created)}")
    else:
        print(f"fastpipe already initialized in {result.root}")


@app.command()
def run(
    ctx: typer.Context,
    stages: Stages = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Run the selected stages even if fresh.")
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Print what would run, and why; run nothing.")
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", "-j", min=1, metavar="N", help="Stages run at once (default: CPUs)."
        ),
    ] = None,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            metavar="NAME",
            help="Where stages run: warm (default), process, inline, interpreter, dask.",
        ),
    ] = None,
    dask_address: Annotated[
        str | None,
        typer.Option(
            "--dask-address",
            metavar="ADDRESS",
            help="Run stages on the Dask scheduler at ADDRESS, e.g. tcp://host:8786 "
            "(implies --executor dask).",
        ),
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option("--keep-going", "-k", help="After a failure, run what does not depend on it."),
    ] = False,
    strict_io: Annotated[
        bool,
        typer.Option("--strict-io", help="Fail a stage that opens files it did not declare."),
    ] = False,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="STAGE.PARAM=VALUE", help="Override a param (repeatable)."),
    ] = None,
    downstream: Downstream = False,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Fail instead of waiting for another run.")
    ] = False,
    resources: Annotated[
        list[str] | None,
        typer.Option(
            "--resources", metavar="NAME=N", help="Capacity of a custom resource (repeatable)."
        ),
    ] = None,
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Plain progress lines, no live display.")
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Progress and result as JSON lines on stdout.")
    ] = False,
    watch: Annotated[
        bool,
        typer.Option(
            "--watch", "-w", help="After the run, rerun what each edit makes stale (Ctrl-C stops)."
        ),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option("--report", metavar="PATH", help="Then write the run's HTML report to PATH."),
    ] = None,
    no_run_cache: Annotated[
        bool,
        typer.Option("--no-run-cache", help="Run stale stages even if the run cache knows them."),
    ] = False,
) -> int:
    """Run the stale stages among STAGEs (default: all) and their upstream stages."""
    g = _globals(ctx)
    if watch:
        if force or dry_run or set_ or as_json:
            raise typer.BadParameter(
                "cannot be combined with --force, --dry-run, --set or --json", param_hint="--watch"
            )
        return _run_watch(g, stages or (), jobs, executor, dask_address, keep_going, downstream)
    return run_command(
        g,
        stages or (),
        quiet=quiet,
        as_json=as_json,
        dry_run=dry_run,
        report=report,
        force=force,
        jobs=jobs,
        executor=executor,
        keep_going=keep_going,
        params=_set_params(set_ or ()),
        downstream=downstream,
        wait=not no_wait,
        resources=_resources(resources or ()),
        dask_address=dask_address,
        no_run_cache=no_run_cache,
        strict_io=strict_io,
    )


def _set_params(items: Sequence[str]) -> dict[str, object]:
    """`--set STAGE.PARAM=VALUE` (VALUE is YAML) -> the API's `params` mapping."""
    from fastpipe.params import parse_override

    parsed = [parse_override(item) for item in items]
    return {f"{o.stage}.{o.param}": o.value for o in parsed}


def _resources(items: Sequence[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    for item in items:
        name, sep, amount = item.partition("=")
        try:
            value = float(amount)
        except ValueError:
            value = -1.0
        if not sep or not name or not value >= 0:
            raise typer.BadParameter(
                f"expected NAME=N with N >= 0, not '{item}'", param_hint="--resources"
            )
        found[name] = value
    return found


@app.command()
def status(
    ctx: typer.Context,
    stages: Stages = None,
    as_json: JsonFlag = False,
    check: Annotated[
        bool, typer.Option("--check", help="Exit 1 if any selected stage is stale.")
    ] = False,
    downstream: Downstream = False,
) -> int:
    """Show whether each stage is fresh or stale, and why."""
    return status_command(
        _globals(ctx), stages or (), as_json=as_json, check=check, downstream=downstream
    )


@app.command()
def explain(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(metavar="STAGE", help="The stage to explain.")],
    as_json: JsonFlag = False,
    diff: Annotated[
        bool, typer.Option("--diff", help="Show a source diff of each changed function/class.")
    ] = False,
) -> None:
    """Explain in detail why STAGE is stale: every changed code item, param and path."""
    from fastpipe import api, render

    g = _globals(ctx)
    if diff:
        found, diffs = api.explain_diff(stage, root=g.directory, listener=_printer(g.verbose))
        if as_json:
            data = found.to_json(full=True) | {"diffs": [d.to_json() for d in diffs]}
            print(json.dumps(data))
        else:
            print(render.explanation(found))
            for item in diffs:
                print(item.diff.rstrip("\n") if item.diff else f"{item.item}: {item.problem}")
        return
    found = api.explain(stage, root=g.directory, listener=_printer(g.verbose))
    print(json.dumps(found.to_json(full=True)) if as_json else render.explanation(found))


@app.command("list")
def list_(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """List the stages with their deps, outputs and params."""
    from fastpipe import api, render

    stages = api.list_stages(root=_globals(ctx).directory)
    if as_json:
        print(json.dumps({"stages": [_stage_json(s.spec, s.params) for s in stages]}))
    else:
        print(render.stage_list([(s.spec, s.params) for s in stages]))


def _stage_json(spec: StageSpec, params: Mapping[str, object]) -> dict[str, object]:
    return {
        "name": spec.name,
        "deps": list(spec.deps),
        "outs": list(spec.outs),
        "metrics": list(spec.metrics),
        "plots": list(spec.plots),
        "params": dict(params),
    }


@app.command()
def dag(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", help="ascii, mermaid or dot.", metavar="FORMAT")
    ] = "ascii",
) -> None:
    """Print the stage graph."""
    from fastpipe import api

    print(api.dag(root=_globals(ctx).directory, format=fmt))


# ---------------------------------------------------------------------------- the DVC bridge


@app.command()
def export(
    ctx: typer.Context,
    stages: Stages = None,
    output: Annotated[
        str | None,  # not Path, which would drop the trailing '/' of a directory to create
        typer.Option(
            "--output", "-o", metavar="PATH", help="Where to write dvc.yaml (default: the root)."
        ),
    ] = None,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate", help="Then run fastpipe and DVC on copies and compare every output."
        ),
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite a dvc.yaml that fastpipe did not write.")
    ] = False,
) -> int:
    """Write dvc.yaml: the pipeline as DVC stages that run `fastpipe exec STAGE`."""
    from fastpipe import api
    from fastpipe.export import report

    g = _globals(ctx)
    listener = _printer(g.verbose)
    if not validate:
        result = api.export(
            stages or (), root=g.directory, output=output, force=force, listener=listener
        )
        print(report.exported(result))
        return EXIT_OK
    checked = api.validate_export(
        stages or (),
        root=g.directory,
        output=output,
        force=force,
        listener=listener,
        progress=lambda line: print(f"validate: {line}", file=sys.stderr, flush=True),
    )
    for failed in (r for r in checked.runs if not r.ok):
        print(f"fastpipe: `{failed.command}` failed:\n{failed.output.rstrip()}", file=sys.stderr)
    print(report.validation_table(checked))
    return EXIT_OK if checked.ok else EXIT_FAILED


@app.command("exec")
def exec_(
    ctx: typer.Context,
    stage: Annotated[str, typer.Argument(metavar="STAGE", help="The stage to run.")],
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="STAGE.PARAM=VALUE", help="Override a param (repeatable)."),
    ] = None,
) -> int:
    """Run one stage here with its resolved params: no staleness check, no lock written."""
    from fastpipe import api
    from fastpipe.events import StageFinished
    from fastpipe.render import event_line

    g = _globals(ctx)
    result = api.exec_stage(
        stage, root=g.directory, params=_set_params(set_ or ()), listener=_printer(g.verbose)
    )
    finished = StageFinished(result.name, result.ok, result.duration, result.error)
    print(event_line(finished, verbose=g.verbose), file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED


@app.command("import-dvc")
def import_dvc(
    ctx: typer.Context,
    dvc_file: Annotated[
        Path | None,
        typer.Option(
            "--dvc-file",
            metavar="PATH",
            help="The DVC pipeline (default: dvc.yaml at the root; dvc.lock beside it).",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", "-n", help="Show what would be adopted; write nothing.")
    ] = False,
) -> None:
    """Adopt the stages DVC already computed by writing their locks (see docs/dvc.md)."""
    from fastpipe import api
    from fastpipe.export import report

    g = _globals(ctx)
    found = api.import_dvc(
        root=g.directory, dvc_file=dvc_file, dry_run=dry_run, listener=_printer(g.verbose)
    )
    print(report.import_plan(found, dry_run=dry_run))


# ---- watch (`run --watch`)


def _run_watch(
    g: Globals,
    stages: Sequence[str],
    jobs: int | None,
    executor: str | None,
    dask_address: str | None,
    keep_going: bool,
    downstream: bool,
) -> int:
    """`run --watch`: plain progress lines, one summary line per cycle, until Ctrl-C."""
    from fastpipe import api
    from fastpipe.progress import make_progress

    progress = make_progress("plain", verbose=g.verbose)
    try:
        api.watch(
            stages,
            root=g.directory,
            jobs=jobs,
            executor=executor,
            keep_going=keep_going,
            downstream=downstream,
            listener=progress,
            on_cycle=_print_cycle,
            dask_address=dask_address,
        )
    finally:
        progress.close()
    return EXIT_OK


def _print_cycle(cycle: Cycle) -> None:
    """A broken edit's error on stderr (as any command prints it), then the cycle's line."""
    from fastpipe import render

    if cycle.error is not None:
        if cycle.error.details:
            print(cycle.error.details.rstrip(), file=sys.stderr)
        print(f"fastpipe: error: {cycle.error}", file=sys.stderr, flush=True)
    print(render.watch_cycle(cycle), flush=True)


# ---------------------------------------------------------------------------- comparing runs
# metrics, params, plots, history and report: their bodies live in cli_compare.py.

from fastpipe import cli_compare  # noqa: E402 - registered here, after the app exists

app.add_typer(cli_compare.metrics_app, name="metrics")
app.add_typer(cli_compare.params_app, name="params")
app.add_typer(cli_compare.plots_app, name="plots")
app.command("history")(cli_compare.history)
app.command("report")(cli_compare.report)
# ---- data: checkout, get, gc (their bodies live in cli_data.py)
from fastpipe import cli_data  # noqa: E402

cli_data.register(app)

# ---------------------------------------------------------------------------- remotes and hooks

from fastpipe import cli_remote  # noqa: E402, F401  (push, fetch, pull, install-hooks register on app)

# ---- change detection: accept


@app.command()
def accept(
    ctx: typer.Context,
    stages: Annotated[list[str], typer.Argument(metavar="STAGE...", help="The stages to accept.")],
    because: Annotated[
        str,
        typer.Option(
            "--because", metavar="TEXT", help="Why their results still hold (kept in the lock)."
        ),
    ],
    force: Annotated[
        bool, typer.Option("--force", help="Accept even though deps or outputs changed.")
    ] = False,
) -> None:
    """Record STAGES' current code and params as their truth without running them."""
    from fastpipe import api, render

    g = _globals(ctx)
    done = api.accept(stages, because=because, root=g.directory, force=force)
    print(render.accepted(done))


# ---- change detection: verify


@app.command()
def verify(
    ctx: typer.Context,
    stages: Annotated[
        list[str] | None,
        typer.Argument(metavar="[STAGE]...", help="The stages to verify (default: all)."),
    ] = None,
) -> int:
    """Re-run fresh stages in a temporary copy; report those whose outputs differ."""
    from fastpipe import api

    g = _globals(ctx)
    found = api.verify(stages or (), root=g.directory, listener=_printer(g.verbose))
    for item in found:
        if item.skipped:
            print(f"skipped {item.name}: {item.skipped.splitlines()[0]}")
        elif item.differs:
            paths = ", ".join(item.differs)
            print(f"{item.name} is nondeterministic: {paths} came out different on a re-run")
        else:
            print(f"{item.name} verified: its outputs came out identical")
    return EXIT_FAILED if any(item.differs for item in found) else EXIT_OK


# ---------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Parse with typer and run (fastpipe.entry.main sends here what it does not parse)."""
    sys.exit(_run(argv))


def _run(argv: Sequence[str] | None) -> int:
    command = typer.main.get_command(app)
    args = list(argv) if argv is not None else sys.argv[1:]
    verbose = "--verbose" in args or "-v" in args
    if verbose:  # accepted anywhere, as `dvc repro -v` users type it
        args = ["--verbose", *(a for a in args if a not in ("--verbose", "-v"))]

    def invoke() -> int:
        try:
            code = command.main(args=args, prog_name="fastpipe", standalone_mode=False)
        except click_exceptions.NoArgsIsHelpError as exc:
            print(exc.ctx.get_help() if exc.ctx else exc.format_message())
            return EXIT_OK
        except click_exceptions.UsageError as exc:
            return fail(exc.format_message(), EXIT_USAGE)
        except typer.Abort:
            return EXIT_INTERRUPTED
        return code if isinstance(code, int) else EXIT_OK

    return guarded(invoke, verbose=verbose)
