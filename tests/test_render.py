"""Tests for fastpipe.render: the text `status`, `explain`, `run`, `list` and progress print."""

from __future__ import annotations

from typing import Any, cast

import pytest

from fastpipe import render
from fastpipe.events import (
    Event,
    RunStarted,
    StageFinished,
    StageOutput,
    StageRetrying,
    StagesBlocked,
    StageSkipped,
    StageStarted,
    Waiting,
    WarningIssued,
)
from fastpipe.hashing import FileHash
from fastpipe.lockfile import LockEntry, LockRead
from fastpipe.results import Outcome, RunResult, StageRun
from fastpipe.stage import ParamSpec, StageSpec
from fastpipe.staleness import Observed, Reason, ReasonKind, StageStatus, compare, upstream_reason

OLD_HASH = "aaaaaaaa11111111" * 2
NEW_HASH = "bbbbbbbb22222222" * 2


def _upstream(*names: str) -> Reason:
    reason = upstream_reason(names)
    assert reason is not None
    return reason


def _stale_train() -> StageStatus:
    """train with a reason of every compare kind, built the way `compare` builds them."""
    entry = LockEntry(
        "train",
        code={"pipeline.train": OLD_HASH, "helpers.old": OLD_HASH},
        params={"lr": 0.1, "gone": True},
        deps={"data/clean.csv": FileHash(OLD_HASH, 1), "data/extra.csv": FileHash(OLD_HASH, 1)},
        outs={"model.pkl": FileHash(OLD_HASH, 1)},
    )
    now = Observed(
        code={"pipeline.train": NEW_HASH, "helpers.new": NEW_HASH},
        params={"lr": 0.2, "layers": [64, 32]},
        deps={"data/clean.csv": FileHash(NEW_HASH, 1), "data/extra.csv": None},
        outs={"model.pkl": None, "metrics.json": FileHash(NEW_HASH, 1)},
    )
    return StageStatus("train", (*compare(LockRead(entry, None), now), _upstream("clean")))


NEVER = Reason(ReasonKind.NEVER_RUN, (), "never run")


# --- status ------------------------------------------------------------------------------------


def test_status_table_aligns_names_and_lists_reasons() -> None:
    statuses = [
        StageStatus("clean", (NEVER,)),
        StageStatus("evaluate", ()),
        StageStatus(
            "train", (Reason(ReasonKind.PARAMS, ("lr",), "lr 0.1 -> 0.2"), _upstream("clean"))
        ),
    ]
    assert render.status_table(statuses) == (
        "clean     stale  never_run: never run\n"
        "evaluate  fresh\n"
        "train     stale  params: lr 0.1 -> 0.2; upstream clean will run"
    )


def test_status_table_without_stages() -> None:
    assert render.status_table([]) == "no stages"


def test_reasons_line() -> None:
    reasons = [Reason(ReasonKind.CODE, ("m.f",), "m.f changed"), _upstream("a", "b")]
    assert render.reasons_line(reasons) == (
        "code: m.f changed; upstream a will run, upstream b will run"
    )
    assert render.reasons_line([]) == ""


# --- explain -----------------------------------------------------------------------------------


def test_explanation_of_a_fresh_stage() -> None:
    assert render.explanation(StageStatus("clean", ())) == (
        "clean is fresh: code, params, deps and outputs match its lock"
    )


def test_explanation_lists_every_item_by_kind() -> None:
    assert render.explanation(_stale_train()) == "\n".join(
        [
            "train is stale",
            "  code:",
            "    helpers.new     added",
            "    helpers.old     removed",
            "    pipeline.train  changed (aaaaaaaa -> bbbbbbbb)",
            "  params:",
            "    gone    true -> (unset)",
            "    layers  (unset) -> [64, 32]",
            "    lr      0.1 -> 0.2",
            "  deps:",
            "    data/clean.csv  changed",
            "    data/extra.csv  missing",
            "  outs:",
            "    metrics.json  newly declared",
            "    model.pkl     missing",
            "  upstream:",
            "    clean  will run",
        ]
    )


def test_explanation_of_a_never_run_stage_shows_the_detail() -> None:
    problem = Reason(ReasonKind.NEVER_RUN, (), "lock unreadable: bad YAML")
    assert render.explanation(StageStatus("clean", (problem,))) == (
        "clean is stale\n  never_run:\n    lock unreadable: bad YAML"
    )


def test_explanation_outs_no_longer_declared() -> None:
    reason = Reason(
        ReasonKind.OUTS,
        ("old.csv",),
        "old.csv no longer declared",
        changes={"old.csv": "no longer declared"},
    )
    assert render.explanation(StageStatus("s", (reason,))).splitlines()[-1] == (
        "    old.csv  no longer declared"
    )


# --- run ---------------------------------------------------------------------------------------


def _result(*runs: tuple[str, Outcome]) -> RunResult:
    return RunResult(tuple(StageRun(name, outcome) for name, outcome in runs))


def test_run_summary_counts_and_names_failures() -> None:
    result = _result(
        ("a", Outcome.RAN),
        ("b", Outcome.FRESH),
        ("c", Outcome.FAILED),
        ("d", Outcome.NOT_RUN),
        ("e", Outcome.NOT_RUN),
        ("f", Outcome.RAN),
    )
    assert render.run_summary(result) == "2 ran, 1 fresh, 1 failed: c, 2 not run: d, e"


def test_run_summary_when_all_went_well() -> None:
    assert render.run_summary(_result(("a", Outcome.FRESH))) == "0 ran, 1 fresh"
    assert render.run_summary(_result()) == "0 ran, 0 fresh"


def test_dry_run_lists_stages_that_would_run() -> None:
    result = RunResult(
        (
            StageRun("clean", Outcome.WOULD_RUN, (NEVER,)),
            StageRun("feat", Outcome.FRESH),
            StageRun("train", Outcome.WOULD_RUN, (_upstream("clean"),)),
            StageRun("eval", Outcome.WOULD_RUN),
        )
    )
    assert render.dry_run(result) == (
        "would run clean: never_run: never run\n"
        "would run train: upstream clean will run\n"
        "would run eval: forced"
    )


def test_dry_run_with_nothing_to_do() -> None:
    result = _result(("a", Outcome.FRESH))
    assert render.dry_run(result) == "nothing to run: every selected stage is fresh"


# --- list --------------------------------------------------------------------------------------


def test_stage_list_shows_paths_and_resolved_params() -> None:
    train = StageSpec(
        name="train",
        module="pipeline",
        qualname="train",
        deps=("data/clean.csv", "data/extra"),
        outs=("model.pkl",),
        metrics=("metrics.json",),
        plots=("loss.csv",),
        params=(ParamSpec("lr", 0.01), ParamSpec("opt", None)),
    )
    clean = StageSpec(name="clean", module="pipeline", qualname="clean", outs=("c.csv",))
    resolved: dict[str, Any] = {"lr": 0.5, "opt": {"name": "adam"}, "tags": ["a"], "on": True}
    assert render.stage_list([(train, resolved), (clean, {})]) == "\n".join(
        [
            "train",
            "  deps:    data/clean.csv, data/extra",
            "  outs:    model.pkl",
            "  metrics: metrics.json",
            "  plots:   loss.csv",
            '  params:  lr=0.5, opt={"name": "adam"}, tags=["a"], on=true',
            "clean",
            "  outs:    c.csv",
        ]
    )


def test_stage_list_without_stages() -> None:
    assert render.stage_list([]) == "no stages"


# --- progress lines ----------------------------------------------------------------------------


@pytest.mark.parametrize("verbose", [False, True])
@pytest.mark.parametrize(
    ("event", "line"),
    [
        (WarningIssued("stage 'a': eval() used"), "fastpipe: warning: stage 'a': eval() used"),
        (Waiting("another run is active; waiting"), "fastpipe: another run is active; waiting"),
        (StageStarted("a", (NEVER,)), "running a (never_run: never run)"),
        (StageStarted("a", (), forced=True), "running a (forced)"),
        (StageFinished("a", True, 1.234), "done a in 1.23s"),
        (
            StageFinished("a", False, 0.5, "Traceback:\n  boom\nValueError: x"),
            "failed a after 0.50s:\n  Traceback:\n    boom\n  ValueError: x",
        ),
        (StageFinished("a", False, 2.0), "failed a after 2.00s:\n"),
        (StageOutput(None, "worker says hi"), "worker says hi"),
        (StageOutput("a", "epoch 1 loss 0.5"), "[a] epoch 1 loss 0.5"),
        (
            StageRetrying("a", 2, 3, "Traceback:\n  boom\nValueError: x\n"),
            "retrying a (attempt 2 of 3) after: ValueError: x",
        ),
        (StageRetrying("a", 3, 3, None), "retrying a (attempt 3 of 3) after: failed"),
        (
            StagesBlocked(("c", "d"), "an upstream stage failed"),
            "not run (an upstream stage failed): c, d",
        ),
    ],
)
def test_event_line(event: Event, line: str, verbose: bool) -> None:
    assert render.event_line(event, verbose=verbose) == line


def test_skipped_stage_shown_only_when_verbose() -> None:
    assert render.event_line(StageSkipped("a")) is None
    assert render.event_line(StageSkipped("a"), verbose=False) is None
    assert render.event_line(StageSkipped("a"), verbose=True) == "fresh a"


def test_run_started_shown_only_when_verbose() -> None:
    event = RunStarted(("a", "b", "c"), "warm", 4)
    assert render.event_line(event) is None
    assert render.event_line(event, verbose=True) == (
        "3 stages selected; executor warm, 4 at a time"
    )


def test_unknown_event_shows_nothing() -> None:
    assert render.event_line(cast("Event", object()), verbose=True) is None
