"""The ready-queue loop: dispatch stages whose upstream is done, wake successors on completion.

Event-driven: submit while capacity allows, then block in `wait(FIRST_COMPLETED)`. Whether a
stage needs to run is asked (`decide`) only when it is about to be dispatched, after its
upstream finished, so a stage whose inputs came out byte-identical is skipped (early cutoff).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from fastpipe.executors.base import StageExecutor
from fastpipe.results import Outcome
from fastpipe.worker import StageResult, StageTask


@dataclass(frozen=True)
class Plan:
    """The selected stages: an order to follow and who waits for whom."""

    order: Sequence[str]  # topological
    successors: Mapping[str, Sequence[str]]
    priority: Mapping[str, float] = field(default_factory=dict[str, float])  # higher first
    retries: Mapping[str, int] = field(default_factory=dict[str, int])  # extra attempts


Decide = Callable[[str], StageTask | None]
Finish = Callable[[StageResult], StageResult]
OnRetry = Callable[[StageResult, int, int], None]  # failed result, next attempt, attempts
OnSlot = Callable[[str, int], None]  # stage, the worker slot (0..jobs-1) it was submitted to


def run_plan(
    plan: Plan,
    executor: StageExecutor,
    decide: Decide,
    finish: Finish,
    *,
    jobs: int,
    keep_going: bool = False,
    capacity: Callable[[str], bool] = lambda _name: True,
    on_retry: OnRetry = lambda _result, _attempt, _attempts: None,
    on_slot: OnSlot = lambda _name, _slot: None,
) -> dict[str, Outcome]:
    """Run `plan` on `executor`; `decide` returns None for a fresh stage.

    At most `jobs` stages run at once, and one where the executor is not `concurrent`.
    `capacity(name)` says whether resources allow starting `name` now; it is asked again
    after every completion. A failed stage is submitted again while `plan.retries` allows
    (`on_retry` is told); `finish` then sees its last result and may turn it into a failure.
    Each submitted stage takes the lowest free worker slot (`on_slot` is told), kept until
    it completes (retries included): the run history draws one row per slot.
    """
    if not executor.capabilities.concurrent:
        jobs = 1  # more "at a time" would only dispatch past a failure before it is seen
    waiting = {name: 0 for name in plan.order}
    for name in plan.order:
        for succ in plan.successors.get(name, ()):
            if succ in waiting:
                waiting[succ] += 1
    rank = {name: i for i, name in enumerate(plan.order)}
    ready: list[tuple[float, int, str]] = []
    outcomes: dict[str, Outcome] = {}
    running: dict[Future[StageResult], str] = {}
    tasks: dict[str, StageTask] = {}
    attempts: dict[str, int] = {}
    free_slots = list(range(jobs))  # a heap: the lowest free slot first
    slots: dict[str, int] = {}

    def make_ready(name: str) -> None:
        heapq.heappush(ready, (-plan.priority.get(name, 0.0), rank[name], name))

    def complete(name: str, outcome: Outcome) -> None:
        outcomes[name] = outcome
        for succ in plan.successors.get(name, ()):
            if succ not in waiting:
                continue
            if outcome is Outcome.FAILED:
                _block(succ, plan, outcomes)
            waiting[succ] -= 1
            if waiting[succ] == 0 and succ not in outcomes:
                make_ready(succ)

    for name in plan.order:
        if waiting[name] == 0:
            make_ready(name)
    stopping = False
    while ready or running:
        deferred: list[tuple[float, int, str]] = []
        while ready and len(running) < jobs and not stopping:
            item = heapq.heappop(ready)
            name = item[2]
            if not capacity(name):
                deferred.append(item)
                continue
            task = decide(name)
            if task is None:
                complete(name, Outcome.FRESH)
            else:
                tasks[name], attempts[name] = task, 1
                slots[name] = heapq.heappop(free_slots) if free_slots else len(slots)
                on_slot(name, slots[name])
                future = executor.submit(task)
                running[future] = name
                if future.done():  # an executor that runs at submit time (inline): look now
                    break
        for item in deferred:
            heapq.heappush(ready, item)
        if not running:
            if deferred and not stopping:
                raise RuntimeError(f"no capacity for {[i[2] for i in deferred]} with none running")
            break
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for future in done:
            name = running.pop(future)
            result = _result_of(future, name)
            allowed = 1 + plan.retries.get(name, 0)
            if not result.ok and attempts[name] < allowed and not stopping:
                attempts[name] += 1
                on_retry(result, attempts[name], allowed)
                running[executor.submit(tasks[name])] = name
                continue
            heapq.heappush(free_slots, slots.pop(name))
            result = finish(result)
            complete(name, Outcome.RAN if result.ok else Outcome.FAILED)
            if not result.ok and not keep_going:
                stopping = True
    for name in plan.order:
        outcomes.setdefault(name, Outcome.NOT_RUN)
    return outcomes


def _block(name: str, plan: Plan, outcomes: dict[str, Outcome]) -> None:
    """Mark `name` and everything below it (within the plan) as not run."""
    planned = set(plan.order)
    stack = [name]
    while stack:
        current = stack.pop()
        if current in planned and outcomes.get(current) is None:
            outcomes[current] = Outcome.NOT_RUN
            stack.extend(plan.successors.get(current, ()))


def _result_of(future: Future[StageResult], name: str) -> StageResult:
    try:
        return future.result()
    except Exception as exc:  # the executor broke, not the stage: say so
        return StageResult(name, False, error=f"internal error running '{name}': {exc!r}")
