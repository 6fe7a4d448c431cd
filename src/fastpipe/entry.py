"""The `fastpipe` executable: `status` and `run` parsed here, every other command by typer.

A no-op `fastpipe run` or `fastpipe status` answers from the snapshot in a few tens of
milliseconds, and importing typer and the full command table would cost more than that again.
So this module recognises exactly the common forms of those two commands by hand and calls the
same command bodies that cli.py's typer commands call. Anything else on the command line (an
option it does not list below, `--help`, `--opt=value`, `--`, another command) goes to typer
unchanged, so help, usage errors and every other command are typer's. Both paths turn errors
into exit codes through `guarded`.

    fastpipe [-C DIR] [-v] status [--json] [--check] [--downstream] [STAGE...]
    fastpipe [-C DIR] [-v] run [-q] [--json] [--downstream] [-j N] [STAGE...]
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from fastpipe.errors import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, FastpipeError

if TYPE_CHECKING:
    from fastpipe.events import Event, Listener

VERBOSE = ("--verbose", "-v")
JOBS = ("--jobs", "-j")  # run's one option with a value
_FLAGS = {  # the options each quick command takes: flag -> the keyword it sets
    "status": {"--json": "as_json", "--check": "check", "--downstream": "downstream"},
    "run": {"-q": "quiet", "--quiet": "quiet", "--json": "as_json", "--downstream": "downstream"},
}


@dataclass(frozen=True)
class Globals:
    """Options given before the command: where the project is, how much to say."""

    directory: Path
    verbose: bool


@dataclass(frozen=True)
class Quick:
    """A command line this module runs itself: the command, its stages and its flags."""

    globals: Globals
    command: str  # "status" or "run"
    stages: tuple[str, ...]
    flags: frozenset[str] = field(default_factory=frozenset[str])  # keywords set, e.g. "as_json"
    jobs: int | None = None  # run -j N

    def options(self) -> dict[str, Any]:
        """Every keyword the command's body takes: True where its flag was given, and `jobs`."""
        found: dict[str, Any] = {k: k in self.flags for k in _FLAGS[self.command].values()}
        if self.command == "run":
            found["jobs"] = self.jobs
        return found


def main(argv: Sequence[str] | None = None) -> NoReturn:
    """Run the CLI; exit with the codes docs/guide.md lists, errors as one `fastpipe: error:`."""
    args = list(argv) if argv is not None else sys.argv[1:]
    quick = parse(args)
    if quick is None:
        from fastpipe.cli import main as full

        full(args)
    certified = _certified(quick)
    if certified is not None:
        sys.exit(certified)
    sys.exit(guarded(lambda: _call(quick), verbose=quick.globals.verbose))


def parse(args: Sequence[str]) -> Quick | None:
    """The quick command `args` spell, or None when typer must parse them."""
    verbose = any(a in VERBOSE for a in args)  # accepted anywhere, as `dvc repro -v` users type
    rest = [a for a in args if a not in VERBOSE]
    directory = Path(".")
    while rest and rest[0] in ("-C", "--directory"):
        if len(rest) < 2 or not rest[1] or rest[1].startswith("-"):
            return None
        directory = Path(rest[1])
        rest = rest[2:]
    if not rest or rest[0] not in _FLAGS:
        return None
    command, words = rest[0], rest[1:]
    known = _FLAGS[command]
    stages: list[str] = []
    flags: set[str] = set()
    jobs: int | None = None
    words = iter(words)
    for word in words:
        if word in known:
            flags.add(known[word])
        elif command == "run" and word in JOBS:
            value = next(words, "")
            if not (value.isascii() and value.isdigit() and int(value) >= 1):
                return None  # typer says what is wrong with it
            jobs = int(value)
        elif word and not word.startswith("-"):
            stages.append(word)
        else:
            return None
    return Quick(Globals(directory, verbose), command, tuple(stages), frozenset(flags), jobs)


def _certified(quick: Quick) -> int | None:
    """A no-op `status` or `run` of every stage answered from freshcert's record (unchanged
    files, same interpreter), or None: then the command runs as usual."""
    options = quick.options()
    if quick.stages or quick.globals.verbose or options["downstream"]:
        return None
    from fastpipe import freshcert

    if quick.command == "status":
        found = freshcert.answer(
            quick.globals.directory, "status_json" if options["as_json"] else "status"
        )
        if found is None:
            return None
        print(found["text"])
        return EXIT_OK
    if options["as_json"]:
        return None
    return _certified_run(quick.globals.directory)


def _certified_run(directory: Path) -> int | None:
    """As api.run finds nothing to do: under the run lock (busy: the usual path waits for it),
    and the run goes into the history."""
    import time

    from fastpipe import freshcert, projectlock
    from fastpipe.errors import ProjectBusyError
    from fastpipe.layout import Layout

    started = time.time()
    root = freshcert.certified_root(directory)
    if root is None:
        return None
    layout = Layout(Path(root))
    try:
        with projectlock.hold(layout.run_lock, wait=False, on_wait=lambda _: None):
            found = freshcert.answer(Path(root), "run")  # checked now that no run can start
            if found is None:
                return None
            from fastpipe import runhistory

            runhistory.record_fresh(layout.state, found["stages"], started)
    except ProjectBusyError:
        return None
    print(found["text"])
    return EXIT_OK


def _call(quick: Quick) -> int:
    if quick.command == "status":
        return status_command(quick.globals, quick.stages, **quick.options())
    return run_command(quick.globals, quick.stages, **quick.options())


def guarded(call: Callable[[], int], *, verbose: bool) -> int:
    """`call()`'s exit code, a fastpipe error or Ctrl-C turned into a message and a code."""
    try:
        code = call()
    except FastpipeError as exc:
        if exc.details:
            print(exc.details.rstrip(), file=sys.stderr)
        if verbose:
            import traceback

            traceback.print_exc()
        return fail(str(exc), exc.exit_code)
    except KeyboardInterrupt:
        print("fastpipe: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    if code == EXIT_INTERRUPTED:
        print("fastpipe: interrupted", file=sys.stderr)
    return code


def fail(message: str, code: int) -> int:
    print(f"fastpipe: error: {message}", file=sys.stderr)
    return code


def printer(verbose: bool) -> Listener:
    """A listener printing each event's line (if it has one) on stderr."""
    from fastpipe.render import event_line

    def listener(event: Event) -> None:
        line = event_line(event, verbose=verbose)
        if line is not None:
            print(line, file=sys.stderr, flush=True)

    return listener


# ---------------------------------------------------------------------------- command bodies
# Shared by the quick path above and cli.py's typer commands.


def status_command(
    g: Globals, stages: Sequence[str], *, as_json: bool, check: bool, downstream: bool
) -> int:
    """`fastpipe status`: the table (or JSON) on stdout; exit 1 under --check if any is stale."""
    from fastpipe import api, render

    report = api.status(
        stages or (), root=g.directory, downstream=downstream, listener=printer(g.verbose)
    )
    if as_json:
        print(json.dumps({"stages": [s.to_json() for s in report.stages]}))
    else:
        print(render.status_table(report.stages))
    return EXIT_FAILED if check and report.stale else EXIT_OK


def run_command(
    g: Globals,
    stages: Sequence[str],
    *,
    quiet: bool,
    as_json: bool,
    dry_run: bool = False,
    report: Path | None = None,
    **options: Any,
) -> int:
    """`fastpipe run` (not --watch): progress on stderr, the summary or JSON result on stdout;
    `options` are api.run's keywords beyond the stages, root and listener."""
    from fastpipe import api, render
    from fastpipe.progress import make_progress

    mode = "json" if as_json else "plain" if quiet else "auto"
    progress = make_progress(mode, verbose=g.verbose)
    try:
        result = api.run(
            stages or (), root=g.directory, dry_run=dry_run, listener=progress, **options
        )
    finally:
        progress.close()
    if as_json:
        stages_json = [
            {
                "name": s.name,
                "outcome": s.outcome.value,
                **({"detail": s.detail} if s.detail else {}),
            }
            for s in result.stages
        ]
        print(json.dumps({"event": "result", "ok": result.ok, "stages": stages_json}))
    else:
        print(render.dry_run(result) if dry_run else render.run_summary(result))
    if report is not None and not dry_run:
        written = api.report(result.run_id or None, root=g.directory, output=report)
        print(f"report: {written}", file=sys.stderr)
    return EXIT_OK if result.ok else EXIT_FAILED
