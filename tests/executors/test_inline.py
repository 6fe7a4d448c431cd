"""Tests for fastpipe.executors.inline: the in-process executor and the Executor protocol."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from fastpipe.executors.base import Executor
from fastpipe.executors.inline import InlineExecutor


def add(a: int, b: int = 0) -> int:
    return a + b


def fail(message: str) -> int:
    raise ValueError(message)


def test_submit_returns_a_done_future_with_the_result() -> None:
    calls: list[int] = []

    def record(x: int) -> int:
        calls.append(x)
        return x * 2

    future = InlineExecutor().submit(record, 21)
    assert calls == [21]  # ran at submit time, in this thread
    assert future.done()
    assert not future.cancelled()
    assert future.exception() is None
    assert future.result(timeout=0) == 42


def test_submit_passes_args_and_kwargs() -> None:
    assert InlineExecutor().submit(add, 1, b=2).result(timeout=0) == 3


def test_exception_is_set_on_the_future() -> None:
    future = InlineExecutor().submit(fail, "boom")
    assert future.done()
    error = future.exception(timeout=0)
    assert isinstance(error, ValueError)
    assert str(error) == "boom"
    with pytest.raises(ValueError, match="boom"):
        future.result(timeout=0)


def test_keyboard_interrupt_is_not_swallowed() -> None:
    def interrupt() -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        InlineExecutor().submit(interrupt)


def test_context_manager_returns_itself_and_keeps_working() -> None:
    executor = InlineExecutor()
    with executor as entered:
        assert entered is executor
        assert entered.submit(add, 2, 3).result() == 5
    executor.shutdown(wait=True, cancel_futures=True)  # nothing to stop, and no error
    assert executor.submit(add, 1).result() == 1


def test_satisfies_the_executor_protocol() -> None:
    assert isinstance(InlineExecutor(), Executor)
    with ThreadPoolExecutor(1) as pool:
        assert isinstance(pool, Executor)  # any concurrent.futures executor plugs in
    assert not isinstance(object(), Executor)


def test_usable_where_an_executor_is_expected() -> None:
    def run_twice(executor: Executor) -> list[int]:
        with executor:
            return [executor.submit(add, i, 1).result() for i in range(2)]

    assert run_twice(InlineExecutor()) == [1, 2]
