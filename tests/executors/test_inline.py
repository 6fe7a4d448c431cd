"""Tests for fastpipe.executors.inline: the in-process executor and the StageExecutor contract."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from fastpipe.executors.base import StageExecutor
from fastpipe.executors.inline import InlineExecutor
from fastpipe.worker import StageResult, StageTask


def task(name: str) -> StageTask:
    return StageTask(name, "pipeline", name, "/nonexistent")


def test_submit_returns_a_done_future_with_the_result() -> None:
    calls: list[str] = []

    def record(task: StageTask) -> StageResult:
        calls.append(task.name)
        return StageResult(task.name, True)

    future = InlineExecutor(record).submit(task("a"))
    assert calls == ["a"]  # ran at submit time, in this thread
    assert future.done()
    assert not future.cancelled()
    assert future.result(timeout=0) == StageResult("a", True)


def test_a_broken_runner_fails_the_future() -> None:
    def broken(task: StageTask) -> StageResult:
        raise ValueError("boom")

    future = InlineExecutor(broken).submit(task("a"))
    assert future.done()
    with pytest.raises(ValueError, match="boom"):
        future.result(timeout=0)


def test_keyboard_interrupt_is_not_swallowed() -> None:
    def interrupt(task: StageTask) -> StageResult:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        InlineExecutor(interrupt).submit(task("a"))


def test_context_manager_returns_itself_and_keeps_working() -> None:
    executor = InlineExecutor(lambda t: StageResult(t.name, True))
    with executor as entered:
        assert entered is executor
        assert entered.submit(task("a")).result().ok
    executor.shutdown(wait=True, cancel_futures=True)  # nothing to stop, and no error
    executor.warm_up(["numpy"])  # means nothing in this process, and no error
    assert executor.submit(task("b")).result().name == "b"


def test_one_stage_at_a_time_and_no_isolation() -> None:
    capabilities = InlineExecutor().capabilities
    assert not capabilities.concurrent and not capabilities.isolated
    assert capabilities.local_placement and not capabilities.remote


def test_satisfies_the_stage_executor_protocol_and_a_thread_pool_does_not() -> None:
    assert isinstance(InlineExecutor(), StageExecutor)
    with ThreadPoolExecutor(1) as pool:
        assert not isinstance(pool, StageExecutor)  # a callable executor: no capabilities
