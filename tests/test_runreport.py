"""Tests for fastpipe.runreport: the critical path, the summary numbers, the page's parts."""

from __future__ import annotations

import re

from fastpipe import runreport
from fastpipe.runhistory import RunRecord, StageEntry

# a -> b -> d and a -> c -> d, with c the slow branch; e fresh; f ran alone on slot 1.
EDGES = (("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"))


def stage(
    name: str, start: float | None, end: float | None, slot: int | None, outcome: str = "ran"
) -> StageEntry:
    duration = None if start is None or end is None else end - start
    return StageEntry(name, outcome, ("code",), "code: f changed", start, end, duration, slot)


def make_record(*extra: StageEntry) -> RunRecord:
    stages = (
        stage("a", 0.0, 1.0, 0),
        stage("b", 1.0, 2.0, 0),
        stage("c", 1.0, 4.0, 1),
        stage("d", 4.0, 5.0, 0),
        stage("e", None, None, None, "fresh"),
        *extra,
    )
    return RunRecord(
        "20261206-100000-abcd", "fastpipe run -j 2", 10.0, 15.0, 2, "warm", stages, EDGES
    )


def test_the_critical_path_follows_the_upstream_that_ended_last() -> None:
    assert runreport.critical_path(make_record()) == ["a", "c", "d"]
    assert runreport.critical_path(make_record(stage("z", 0.0, 9.0, 1))) == ["z"]
    empty = RunRecord("r", "c", 0.0, 0.0, 1, "none", (stage("e", None, None, None, "fresh"),))
    assert runreport.critical_path(empty) == []


def test_summed_stage_time_and_speedup() -> None:
    record = make_record()
    assert runreport.summed_stage_time(record) == 6.0
    assert runreport.speedup(record) == 6.0 / 5.0


def test_the_page_has_a_bar_per_dispatched_stage_and_marks_the_critical_path() -> None:
    html = runreport.render(make_record())
    bars = re.findall(
        r'<g class="bar" data-stage="(\w+)" data-outcome="(\w+)" '
        r'data-critical="(\w+)">',
        html,
    )
    assert bars == [
        ("a", "ran", "true"),
        ("b", "ran", "false"),
        ("c", "ran", "true"),
        ("d", "ran", "true"),
    ]
    assert html.count("<tr class='stage'") == 5  # the fresh stage is in the table too
    assert "slot 1</text>" in html
    assert "<title>c: ran, 3.00 s\nwhy: code: f changed\non the critical path</title>" in html
    assert "1.20×" in html
    assert "<script" not in html and "http://" not in html.replace(
        'xmlns="http://www.w3.org/2000/svg"', ""
    )


def test_an_outcome_without_a_colour_gets_the_fallback() -> None:
    html = runreport.render(make_record(stage("n", 5.0, 6.0, 1, outcome="teleported")))
    assert runreport.colour("teleported") == runreport.OTHER_COLOUR
    assert 'data-outcome="teleported"' in html
    assert runreport.OTHER_COLOUR in html
    assert runreport.colour("restored") != runreport.OTHER_COLOUR
