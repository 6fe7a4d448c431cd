"""Tests for fastpipe.scheduler: the ready-queue loop over any StageExecutor.

A `Stages` double is the executor the scheduler sees: it checks that the scheduler submits
the decided task, then runs a scripted body instead, so each stage can fail, raise or block on
an event. Stage bodies run inline (the inline executor with the body as its runner) or on a
thread pool, so timing is whatever that does.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Self

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpipe.executors.base import Capabilities
from fastpipe.executors.inline import InlineExecutor
from fastpipe.results import Outcome
from fastpipe.scheduler import Plan, run_plan
from fastpipe.worker import StageResult, StageTask

Inner = InlineExecutor | ThreadPoolExecutor  # where a double's stage bodies run

WAIT_S = 5.0  # generous bound on waiting for another thread; never reached when all is well


class Stages:
    """The scheduler's callbacks and an executor wrapper, recording what happened when."""

    def __init__(
        self,
        inner: Inner,
        plan: Plan,
        *,
        fail: Sequence[str] = (),
        fresh: Sequence[str] = (),
        raises: Sequence[str] = (),
        flaky: Mapping[str, int] | None = None,
        bodies: Mapping[str, Callable[[], None]] | None = None,
        concurrent: bool | None = None,
    ) -> None:
        self.inner = inner
        inline = isinstance(inner, InlineExecutor)
        self.capabilities = Capabilities(
            isolated=not inline, concurrent=not inline if concurrent is None else concurrent
        )
        self.fail, self.fresh, self.raises = set(fail), set(fresh), set(raises)
        self.bodies = dict(bodies or {})
        self.flaky = dict(flaky or {})  # name -> how many first attempts fail
        self.attempts: dict[str, int] = {}
        self.predecessors: dict[str, set[str]] = {name: set() for name in plan.order}
        for name, succs in plan.successors.items():
            for succ in succs:
                self.predecessors.setdefault(succ, set()).add(name)
        self.log: list[tuple[str, str]] = []  # ("decide" | "finish-ok" | "finish-fail", name)
        self.dispatched: list[str] = []
        self.completed: set[str] = set()
        self.finished: list[StageResult] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    # -- scheduler callbacks (called in the scheduler's thread) --

    def decide(self, name: str) -> StageTask | None:
        missing = self.predecessors[name] - self.completed
        assert not missing, f"decide({name}) before upstream {missing} completed"
        self.log.append(("decide", name))
        if name in self.fresh:
            self.completed.add(name)
            return None
        return StageTask(name, "pipeline", name, "/nonexistent", params={"p": 1})

    def finish(self, result: StageResult) -> StageResult:
        self.finished.append(result)
        self.log.append(("finish-ok" if result.ok else "finish-fail", result.name))
        if result.ok:
            self.completed.add(result.name)
        return result

    # -- the executor the scheduler sees --

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        assert isinstance(task, StageTask)
        self.dispatched.append(task.name)
        if isinstance(self.inner, InlineExecutor):
            return InlineExecutor(self._body).submit(task)
        return self.inner.submit(self._body, task)

    def warm_up(self, modules: Sequence[str], stages: Mapping[str, Any] | None = None, /) -> None:
        pass

    def reload(self, modules: Sequence[str], /) -> None:
        pass

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait, cancel_futures=cancel_futures)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()

    def _body(self, task: StageTask) -> StageResult:
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            if task.name in self.bodies:
                self.bodies[task.name]()
            if task.name in self.raises:
                raise RuntimeError(f"executor broke on {task.name}")
        finally:
            with self.lock:
                self.running -= 1
        with self.lock:
            attempt = self.attempts[task.name] = self.attempts.get(task.name, 0) + 1
        ok = task.name not in self.fail and attempt > self.flaky.get(task.name, 0)
        error = None if ok else f"{task.name} failed on attempt {attempt}"
        return StageResult(task.name, ok, error=error)


def make_plan(edges: Sequence[tuple[str, str]], order: Sequence[str], **priority: float) -> Plan:
    successors: dict[str, list[str]] = {name: [] for name in order}
    for a, b in edges:
        successors[a].append(b)
    return Plan(order=list(order), successors=successors, priority=priority)


def thread_pool(workers: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(workers)


@pytest.fixture(params=["inline", "threads"])
def inner(request: pytest.FixtureRequest) -> Iterator[Inner]:
    executor = InlineExecutor() if request.param == "inline" else thread_pool(8)
    with executor:
        yield executor


@pytest.fixture
def threads() -> Iterator[Inner]:
    with thread_pool(8) as pool:
        yield pool


def run(stages: Stages, plan: Plan, *, jobs: int = 4, keep_going: bool = False) -> dict[str, Any]:
    return run_plan(plan, stages, stages.decide, stages.finish, jobs=jobs, keep_going=keep_going)


# A diamond with a tail and an independent branch: a -> b, a -> c, b -> d, c -> d, d -> e; x -> y.
DIAMOND = [("a", "b"), ("a", "c"), ("b", "d"), ("c", "d"), ("d", "e"), ("x", "y")]
DIAMOND_ORDER = ["a", "x", "b", "c", "y", "d", "e"]


def test_everything_runs_in_dependency_order(inner: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(inner, plan)
    outcomes = run(stages, plan)
    assert outcomes == dict.fromkeys(DIAMOND_ORDER, Outcome.RAN)
    position = {name: i for i, name in enumerate(stages.dispatched)}
    assert sorted(position) == sorted(DIAMOND_ORDER)
    for a, b in DIAMOND:
        assert position[a] < position[b]
    assert sorted(r.name for r in stages.finished) == sorted(DIAMOND_ORDER)


def test_fresh_stage_is_not_submitted_and_successors_proceed(inner: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(inner, plan, fresh=["a", "d"])
    outcomes = run(stages, plan)
    assert outcomes["a"] is Outcome.FRESH
    assert outcomes["d"] is Outcome.FRESH
    assert {n: o for n, o in outcomes.items() if n not in ("a", "d")} == dict.fromkeys(
        ["b", "c", "e", "x", "y"], Outcome.RAN
    )
    assert "a" not in stages.dispatched
    assert "d" not in stages.dispatched
    assert {r.name for r in stages.finished} == {"b", "c", "e", "x", "y"}


def test_failure_blocks_descendants_and_stops_the_run(inner: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(inner, plan, fail=["b"])
    outcomes = run(stages, plan, jobs=1)
    assert outcomes["b"] is Outcome.FAILED
    assert outcomes["d"] is Outcome.NOT_RUN
    assert outcomes["e"] is Outcome.NOT_RUN
    assert ("decide", "d") not in stages.log
    assert ("decide", "e") not in stages.log
    # Nothing is dispatched after b's failure came back, not even the independent branch.
    after = stages.log[stages.log.index(("finish-fail", "b")) + 1 :]
    assert not [entry for entry in after if entry[0] == "decide"]
    # One job: a, x, then b (by plan order among the ready); c and y were still waiting.
    assert stages.dispatched == ["a", "x", "b"]
    assert outcomes == {
        "a": Outcome.RAN,
        "x": Outcome.RAN,
        "b": Outcome.FAILED,
        "c": Outcome.NOT_RUN,
        "y": Outcome.NOT_RUN,
        "d": Outcome.NOT_RUN,
        "e": Outcome.NOT_RUN,
    }


def test_keep_going_runs_everything_not_below_the_failure(inner: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(inner, plan, fail=["b"])
    outcomes = run(stages, plan, jobs=1, keep_going=True)
    assert outcomes == {
        "a": Outcome.RAN,
        "x": Outcome.RAN,
        "b": Outcome.FAILED,
        "c": Outcome.RAN,
        "y": Outcome.RAN,
        "d": Outcome.NOT_RUN,
        "e": Outcome.NOT_RUN,
    }
    assert {name for kind, name in stages.log if kind == "decide"} == {"a", "x", "b", "c", "y"}


def test_stop_after_failure_lets_running_stages_finish(threads: Inner) -> None:
    """a fails while b is running: b still finishes and counts; c and d never start."""
    plan = make_plan([], ["a", "b", "c", "d"])
    b_started = threading.Event()
    a_failure_seen = threading.Event()

    def body_a() -> None:
        assert b_started.wait(WAIT_S)

    def body_b() -> None:
        b_started.set()
        assert a_failure_seen.wait(WAIT_S)  # set by finish(a), in the scheduler's thread

    stages = Stages(threads, plan, fail=["a"], bodies={"a": body_a, "b": body_b})
    original_finish = stages.finish

    def finish(result: StageResult) -> StageResult:
        result = original_finish(result)
        if result.name == "a":
            a_failure_seen.set()
        return result

    outcomes = run_plan(plan, stages, stages.decide, finish, jobs=2)
    assert outcomes == {
        "a": Outcome.FAILED,
        "b": Outcome.RAN,
        "c": Outcome.NOT_RUN,
        "d": Outcome.NOT_RUN,
    }
    assert stages.dispatched == ["a", "b"]
    assert [r.name for r in stages.finished] == ["a", "b"]


def test_keep_going_with_threads_runs_other_branches(threads: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(threads, plan, fail=["a"])
    outcomes = run(stages, plan, jobs=3, keep_going=True)
    assert outcomes == {
        "a": Outcome.FAILED,
        "x": Outcome.RAN,
        "b": Outcome.NOT_RUN,
        "c": Outcome.NOT_RUN,
        "y": Outcome.RAN,
        "d": Outcome.NOT_RUN,
        "e": Outcome.NOT_RUN,
    }


def test_inline_stops_after_failure_with_several_jobs() -> None:
    plan = make_plan([], ["a", "b", "c"])
    stages = Stages(InlineExecutor(), plan, fail=["a"])
    outcomes = run(stages, plan, jobs=4)
    assert outcomes == {"a": Outcome.FAILED, "b": Outcome.NOT_RUN, "c": Outcome.NOT_RUN}
    assert stages.dispatched == ["a"]


def test_retry_until_success(inner: Inner) -> None:
    plan = make_plan([("a", "b")], ["a", "b"])
    plan = Plan(plan.order, plan.successors, retries={"a": 2})
    stages = Stages(inner, plan, flaky={"a": 2})
    retried: list[tuple[str | None, int, int]] = []
    outcomes = run_plan(
        plan,
        stages,
        stages.decide,
        stages.finish,
        jobs=2,
        on_retry=lambda result, attempt, attempts: retried.append(
            (result.error, attempt, attempts)
        ),
    )
    assert outcomes == {"a": Outcome.RAN, "b": Outcome.RAN}
    assert retried == [("a failed on attempt 1", 2, 3), ("a failed on attempt 2", 3, 3)]
    assert stages.attempts == {"a": 3, "b": 1}
    assert stages.log.count(("decide", "a")) == 1  # a retry is not decided again
    assert [(r.name, r.ok) for r in stages.finished] == [("a", True), ("b", True)]


def test_retries_exhausted_is_a_failure(inner: Inner) -> None:
    plan = make_plan([("a", "b")], ["a", "b"])
    plan = Plan(plan.order, plan.successors, retries={"a": 1})
    stages = Stages(inner, plan, flaky={"a": 5})
    outcomes = run(stages, plan)
    assert outcomes == {"a": Outcome.FAILED, "b": Outcome.NOT_RUN}
    assert stages.attempts == {"a": 2}
    (result,) = stages.finished  # finish sees only the last attempt
    assert result.error == "a failed on attempt 2"


def test_no_retry_once_the_run_is_stopping(threads: Inner) -> None:
    """a fails for good while b's first attempt runs: b is not tried again."""
    plan = Plan(["a", "b"], {}, retries={"b": 3})
    a_failure_seen = threading.Event()
    b_started = threading.Event()

    def body_a() -> None:
        assert b_started.wait(WAIT_S)  # both are running before a fails

    def body_b() -> None:
        b_started.set()
        assert a_failure_seen.wait(WAIT_S)

    bodies = {"a": body_a, "b": body_b}
    stages = Stages(threads, plan, fail=["a"], flaky={"b": 1}, bodies=bodies)
    original_finish = stages.finish

    def finish(result: StageResult) -> StageResult:
        result = original_finish(result)
        a_failure_seen.set()
        return result

    outcomes = run_plan(plan, stages, stages.decide, finish, jobs=2)
    assert outcomes == {"a": Outcome.FAILED, "b": Outcome.FAILED}
    assert stages.attempts == {"a": 1, "b": 1}


def test_finish_can_turn_success_into_failure(inner: Inner) -> None:
    plan = make_plan(DIAMOND, DIAMOND_ORDER)
    stages = Stages(inner, plan)
    seen: list[StageResult] = []

    def finish(result: StageResult) -> StageResult:
        seen.append(result)
        if result.name == "c":
            return StageResult("c", False, error="lock could not be written")
        return stages.finish(result)

    outcomes = run_plan(plan, stages, stages.decide, finish, jobs=1, keep_going=True)
    assert outcomes["c"] is Outcome.FAILED
    assert outcomes["d"] is Outcome.NOT_RUN
    assert outcomes["e"] is Outcome.NOT_RUN
    assert outcomes["b"] is Outcome.RAN
    assert outcomes["y"] is Outcome.RAN
    assert next(r for r in seen if r.name == "c").ok  # finish saw the real result first


def test_executor_error_is_an_internal_failure(inner: Inner) -> None:
    plan = make_plan([("a", "b")], ["a", "b"])
    stages = Stages(inner, plan, raises=["a"])
    outcomes = run(stages, plan)
    assert outcomes == {"a": Outcome.FAILED, "b": Outcome.NOT_RUN}
    (result,) = stages.finished
    assert result.name == "a"
    assert not result.ok
    assert result.error == ("internal error running 'a': RuntimeError('executor broke on a')")


def test_jobs_limits_how_many_run_at_once(threads: Inner) -> None:
    names = [f"s{i}" for i in range(6)]
    plan = make_plan([], names)
    meet = threading.Barrier(2, timeout=WAIT_S)  # two at a time must be running, or it breaks

    def body() -> None:
        meet.wait()

    stages = Stages(threads, plan, bodies=dict.fromkeys(names, body))
    outcomes = run(stages, plan, jobs=2)
    assert outcomes == dict.fromkeys(names, Outcome.RAN)
    assert stages.max_running == 2


def test_one_job_runs_one_at_a_time(threads: Inner) -> None:
    names = [f"s{i}" for i in range(5)]
    plan = make_plan([], names)
    stages = Stages(threads, plan)
    assert run(stages, plan, jobs=1) == dict.fromkeys(names, Outcome.RAN)
    assert stages.max_running == 1
    assert stages.dispatched == names


def test_an_executor_that_is_not_concurrent_gets_one_stage_at_a_time(threads: Inner) -> None:
    names = [f"s{i}" for i in range(5)]
    plan = make_plan([], names)
    stages = Stages(threads, plan, concurrent=False)
    assert run(stages, plan, jobs=4) == dict.fromkeys(names, Outcome.RAN)
    assert stages.max_running == 1


def test_priority_orders_ready_stages_higher_first() -> None:
    plan = make_plan([("low", "after")], ["low", "mid", "high", "none", "after"])
    plan = Plan(plan.order, plan.successors, {"high": 5, "mid": 1, "low": 0.5, "after": 10})
    stages = Stages(InlineExecutor(), plan)
    run(stages, plan, jobs=1)
    # `after` has the highest priority but is not ready until `low` finished.
    assert stages.dispatched == ["high", "mid", "low", "after", "none"]


def test_equal_priority_keeps_plan_order() -> None:
    plan = make_plan([], ["c", "a", "b"])
    stages = Stages(InlineExecutor(), plan)
    run(stages, plan, jobs=1)
    assert stages.dispatched == ["c", "a", "b"]


def test_capacity_defers_stages_until_resources_free(threads: Inner) -> None:
    plan = make_plan([], ["g1", "g2", "g3", "cpu"])
    gpu_stages = {"g1", "g2", "g3"}
    in_use: set[str] = set()  # what the capacity callback's owner believes holds the GPU
    gpus_running = [0, 0]  # now, most at once (as the stage bodies see it)
    asked: list[str] = []
    release = threading.Event()

    def capacity(name: str) -> bool:
        asked.append(name)
        return name not in gpu_stages or not in_use

    stages = Stages(threads, plan)

    def decide(name: str) -> StageTask | None:
        if name in gpu_stages:
            in_use.add(name)
        return stages.decide(name)

    def finish(result: StageResult) -> StageResult:
        in_use.discard(result.name)
        return stages.finish(result)

    def gpu_body() -> None:
        with stages.lock:
            gpus_running[0] += 1
            gpus_running[1] = max(gpus_running)
        release.wait(WAIT_S)
        with stages.lock:
            gpus_running[0] -= 1

    def cpu_body() -> None:
        release.set()  # the cpu stage runs beside g1 although g2 was ahead of it

    stages.bodies = {"g1": gpu_body, "g2": gpu_body, "g3": gpu_body, "cpu": cpu_body}
    outcomes = run_plan(plan, stages, decide, finish, jobs=4, capacity=capacity)
    assert outcomes == dict.fromkeys(["g1", "g2", "g3", "cpu"], Outcome.RAN)
    assert stages.dispatched[:2] == ["g1", "cpu"]
    assert [n for n in stages.dispatched if n in gpu_stages] == ["g1", "g2", "g3"]
    assert gpus_running == [0, 1]
    assert asked.count("g2") >= 2  # asked again after a completion


def test_no_capacity_with_nothing_running_is_an_error(inner: Inner) -> None:
    plan = make_plan([], ["a", "b"])
    stages = Stages(inner, plan)
    with pytest.raises(RuntimeError, match=r"no capacity for \['a', 'b'\] with none running"):
        run_plan(plan, stages, stages.decide, stages.finish, jobs=2, capacity=lambda _n: False)


def test_deferred_stage_is_not_run_after_a_failure(threads: Inner) -> None:
    plan = make_plan([], ["a", "b"])
    stages = Stages(threads, plan, fail=["a"])
    outcomes = run_plan(
        plan, stages, stages.decide, stages.finish, jobs=2, capacity=lambda n: n != "b"
    )
    assert outcomes == {"a": Outcome.FAILED, "b": Outcome.NOT_RUN}


def test_empty_plan() -> None:
    plan = Plan(order=[], successors={})
    stages = Stages(InlineExecutor(), plan)
    assert run(stages, plan) == {}


def test_outcomes_only_name_planned_stages() -> None:
    plan = Plan(order=["a", "b"], successors={"a": ["b", "outside"], "b": ["outside2"]})
    stages = Stages(InlineExecutor(), plan, fail=["a"])
    outcomes = run(stages, plan)
    assert set(outcomes) == {"a", "b"}


def test_real_worker_runs_through_the_scheduler(tmp_path: Any) -> None:
    """Without the double: the inline executor runs run_stage on a cloudpickled function."""
    import cloudpickle

    def make(text: str = "") -> None:
        with open("out.txt", "w") as f:
            f.write(text)

    plan = make_plan([], ["make"])

    def decide(name: str) -> StageTask:
        return StageTask(
            name,
            "nowhere",
            "make",
            str(tmp_path),
            params={"text": "hello"},
            outputs=("out.txt",),
            pickled=cloudpickle.dumps(make),
            echo=False,
        )

    results: list[StageResult] = []

    def finish(result: StageResult) -> StageResult:
        results.append(result)
        return result

    with InlineExecutor() as pool:
        outcomes = run_plan(plan, pool, decide, finish, jobs=2)
    assert outcomes == {"make": Outcome.RAN}
    assert (tmp_path / "out.txt").read_text() == "hello"
    assert results[0].ok
    assert set(results[0].outputs) == {"out.txt"}


# --- property: random DAGs with random failures ------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> tuple[Plan, set[str], set[str]]:
    """A plan over a random DAG (edges only from earlier to later stages), failures, fresh."""
    count = draw(st.integers(1, 9))
    names = [f"s{i}" for i in range(count)]
    edges = [
        (names[i], names[j])
        for i in range(count)
        for j in range(i + 1, count)
        if draw(st.booleans())
    ]
    # Any topological order of the same graph is a valid plan order.
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(names)
    graph.add_edges_from(edges)
    keys = {n: draw(st.integers(0, 3)) for n in names}
    order = list(nx.lexicographical_topological_sort(graph, key=keys.__getitem__))
    failing = set(draw(st.lists(st.sampled_from(names), max_size=3)))
    fresh = set(draw(st.lists(st.sampled_from(names), max_size=3))) - failing
    priority = {n: float(draw(st.integers(0, 2))) for n in names if draw(st.booleans())}
    return make_plan(edges, order, **priority), failing, fresh


@settings(max_examples=150, deadline=None)
@given(
    case=dags(),
    kind=st.sampled_from(["inline", "threads"]),
    jobs=st.integers(1, 3),
    keep_going=st.booleans(),
)
def test_random_dags(
    case: tuple[Plan, set[str], set[str]],
    kind: str,
    jobs: int,
    keep_going: bool,
) -> None:
    plan, failing, fresh = case
    with InlineExecutor() if kind == "inline" else thread_pool(3) as pool:
        stages = Stages(pool, plan, fail=sorted(failing), fresh=sorted(fresh))
        outcomes = run(stages, plan, jobs=jobs, keep_going=keep_going)

    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(plan.order)
    graph.add_edges_from((a, b) for a, succs in plan.successors.items() for b in succs)
    assert set(outcomes) == set(plan.order)
    failed = {n for n, o in outcomes.items() if o is Outcome.FAILED}
    stopped = bool(failed) and not keep_going
    assert failed <= failing
    decided = [name for kind_, name in stages.log if kind_ == "decide"]
    assert len(decided) == len(set(decided))  # each stage decided at most once
    for name, outcome in outcomes.items():
        ancestors = nx.ancestors(graph, name)
        if outcome is Outcome.NOT_RUN:
            assert ancestors & failed or stopped
            assert name not in decided
        elif outcome is Outcome.RAN:
            assert all(outcomes[a] in (Outcome.RAN, Outcome.FRESH) for a in ancestors)
            assert name not in failing and name not in fresh
        elif outcome is Outcome.FRESH:
            assert name in fresh
        if ancestors & failed:
            assert outcome is Outcome.NOT_RUN
            assert name not in decided
    if keep_going:  # everything not below a failure was decided
        assert {n for n in plan.order if not nx.ancestors(graph, n) & failed} == set(decided)
    else:  # nothing was decided after the first failure came back
        first = next((i for i, (k, _) in enumerate(stages.log) if k == "finish-fail"), None)
        if first is not None:
            assert all(k != "decide" for k, _ in stages.log[first:])
    # Dispatch order is topological: decide() itself asserts every upstream had completed.
    position = {name: i for i, name in enumerate(decided)}
    for a, b in graph.edges:
        if b in position:
            assert a in position
            assert position[a] < position[b]


def test_each_stage_takes_the_lowest_free_worker_slot(threads: Inner) -> None:
    plan = make_plan([("y", "z")], ["x", "y", "z"])
    z_ran = threading.Event()

    def x_body() -> None:
        assert z_ran.wait(WAIT_S), "z never ran while x held slot 0"

    stages = Stages(threads, plan, bodies={"x": x_body, "z": z_ran.set})
    slots: dict[str, int] = {}
    outcomes = run_plan(
        plan, stages, stages.decide, stages.finish, jobs=2, on_slot=slots.__setitem__
    )
    assert outcomes == dict.fromkeys("xyz", Outcome.RAN)
    assert slots == {"x": 0, "y": 1, "z": 1}  # z reuses y's slot while x still holds 0


def test_one_job_is_always_slot_zero_and_fresh_stages_take_none() -> None:
    plan = make_plan([("a", "b"), ("b", "c")], ["a", "b", "c"])
    stages = Stages(InlineExecutor(), plan, fresh=["b"])
    slots: dict[str, int] = {}
    run_plan(plan, stages, stages.decide, stages.finish, jobs=1, on_slot=slots.__setitem__)
    assert slots == {"a": 0, "c": 0}
