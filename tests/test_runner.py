"""Runs through the API: GPUs and resources, retries, timeouts, ordering, every executor."""

from __future__ import annotations

import json
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import fastpipe.api as api
from fastpipe.devices import Device, StaticDevices
from fastpipe.errors import ResourceError
from fastpipe.events import Event, StageRetrying, StageStarted
from fastpipe.results import Outcome

SPANS = """
import os, time
from pathlib import Path

def span(name, seconds=0.3):
    start = time.time()
    time.sleep(seconds)
    Path("spans").mkdir(exist_ok=True)
    gpu = os.environ.get("CUDA_VISIBLE_DEVICES", "-")
    Path(f"spans/{name}").write_text(f"{start} {time.time()} {gpu}")
    Path(f"out/{name}.txt").parent.mkdir(exist_ok=True)
    Path(f"out/{name}.txt").write_text(name)
"""


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    (tmp_path / "spanlib.py").write_text(textwrap.dedent(SPANS))
    yield tmp_path
    for name in ("pipeline", "spanlib"):
        sys.modules.pop(name, None)


def write_pipeline(root: Path, body: str) -> None:
    header = "from fastpipe import stage\nfrom spanlib import span\n\n"
    (root / "pipeline.py").write_text(header + textwrap.dedent(body))


def spans(root: Path) -> dict[str, tuple[float, float, str]]:
    found = {}
    for path in (root / "spans").iterdir():
        start, end, gpu = path.read_text().split()
        found[path.name] = (float(start), float(end), gpu)
    return found


def overlapping(a: tuple[float, float, str], b: tuple[float, float, str]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


GPU_STAGES = "".join(
    f"""
@stage(outs=["out/g{i}.txt"], gpus=1)
def g{i}() -> None:
    span("g{i}")
"""
    for i in range(4)
)


def test_gpu_stages_run_on_distinct_devices_within_capacity(project: Path) -> None:
    write_pipeline(project, GPU_STAGES)
    devices = StaticDevices((Device(0), Device(1)))
    result = api.run(root=project, jobs=4, executor="warm", devices=devices)
    assert result.ok
    found = spans(project)
    assert {gpu for _, _, gpu in found.values()} <= {"0", "1"}
    for a, (start, _, _) in found.items():  # what was running when each stage started
        running = [b for b, (s, e, _) in found.items() if b != a and s <= start < e]
        assert len(running) <= 1, f"{a} started while {running} ran, with only 2 GPUs"
        assert all(found[b][2] != found[a][2] for b in running), "two stages shared a GPU"


def test_not_enough_gpus_is_refused_before_anything_runs(project: Path) -> None:
    write_pipeline(
        project,
        """
        @stage(outs=["out/cpu.txt"])
        def cpu() -> None:
            span("cpu")

        @stage(outs=["out/big.txt"], gpus=2)
        def big() -> None:
            span("big")
        """,
    )
    with pytest.raises(ResourceError, match="stage 'big' needs 2 GPUs but this machine has 1"):
        api.run(root=project, devices=StaticDevices((Device(0),)))
    assert not (project / "out").exists()


def test_custom_resources_limit_concurrency(project: Path) -> None:
    write_pipeline(
        project,
        "".join(
            f"""
@stage(outs=["out/r{i}.txt"], resources={{"db": 1}})
def r{i}() -> None:
    span("r{i}", 0.2)
"""
            for i in range(3)
        ),
    )
    assert api.run(root=project, jobs=3, executor="process", resources={"db": 1}).ok
    found = list(spans(project).values())
    assert not any(overlapping(a, b) for i, a in enumerate(found) for b in found[i + 1 :])


def test_a_flaky_stage_is_retried(project: Path) -> None:
    write_pipeline(
        project,
        """
        from pathlib import Path

        @stage(outs=["out/flaky.txt"], retries=2)
        def flaky() -> None:
            tries = Path("tries")
            count = int(tries.read_text()) + 1 if tries.exists() else 1
            tries.write_text(str(count))
            if count < 3:
                raise RuntimeError(f"attempt {count} failed")
            span("flaky", 0)
        """,
    )
    events: list[Event] = []
    result = api.run(root=project, executor="process", listener=events.append)
    assert result.ok
    retries = [e for e in events if isinstance(e, StageRetrying)]
    assert [(e.attempt, e.attempts) for e in retries] == [(2, 3), (3, 3)]
    assert retries[0].error is not None and "attempt 1 failed" in retries[0].error
    assert (project / "tries").read_text() == "3"


def test_timeout_fails_the_stage(project: Path) -> None:
    write_pipeline(
        project,
        """
        @stage(outs=["out/slow.txt"], timeout=0.5)
        def slow() -> None:
            span("slow", 30)
        """,
    )
    result = api.run(root=project, executor="warm")
    (stage,) = result.stages
    assert stage.outcome is Outcome.FAILED
    assert stage.error is not None and "timed out after 0.5s" in stage.error
    assert not (project / ".fastpipe" / "stages" / "slow.lock").exists()


def test_longest_remaining_path_starts_first(project: Path) -> None:
    write_pipeline(
        project,
        """
        @stage(outs=["out/a_short.txt"])
        def a_short() -> None:
            span("a_short", 0)

        @stage(outs=["out/b_long.txt"])
        def b_long() -> None:
            span("b_long", 0)

        @stage(deps=["out/b_long.txt"], outs=["out/c_after_long.txt"])
        def c_after_long() -> None:
            span("c_after_long", 0)
        """,
    )
    record = {"a_short": 0.1, "b_long": 500.0, "c_after_long": 500.0}
    cache = project / ".fastpipe" / "cache"
    cache.mkdir(parents=True)
    stages = {k: {"duration": v, "peak_gpu_memory": None} for k, v in record.items()}
    (cache / "runs.json").write_text(json.dumps({"version": 1, "stages": stages}))
    events: list[Event] = []
    assert api.run(root=project, jobs=1, executor="process", listener=events.append).ok
    started = [e.name for e in events if isinstance(e, StageStarted)]
    assert started[0] == "b_long"
    runs = json.loads((cache / "runs.json").read_text())["stages"]
    assert set(runs) == {"a_short", "b_long", "c_after_long"}
    assert runs["b_long"]["duration"] < 500.0  # replaced by what this run measured


@st.composite
def dags(draw: st.DrawFn) -> list[list[int]]:
    """For each stage i, the stages < i it depends on."""
    count = draw(st.integers(2, 7))
    return [
        sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else [] for i in range(count)
    ]


def dag_pipeline(deps: list[list[int]]) -> str:
    body = "import hashlib, time\nfrom pathlib import Path\n"
    for i, ups in enumerate(deps):
        paths = [f"out/s{u}.txt" for u in ups]
        body += f"""
@stage(deps={paths!r}, outs=["out/s{i}.txt"])
def s{i}() -> None:
    digest = hashlib.sha256(b"s{i}")
    for path in {paths!r}:
        digest.update(Path(path).read_bytes())
    span("s{i}", 0.01)
    Path("out/s{i}.txt").write_text(digest.hexdigest())
"""
    return body


@settings(
    max_examples=4,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(deps=dags(), jobs=st.sampled_from([1, 2, 4]))
def test_every_executor_and_jobs_value_gives_the_same_outputs_in_order(
    tmp_path_factory: pytest.TempPathFactory, deps: list[list[int]], jobs: int
) -> None:
    outputs = {}
    for executor in ("inline", "process", "warm"):
        root = tmp_path_factory.mktemp(executor)
        (root / "spanlib.py").write_text(textwrap.dedent(SPANS))
        write_pipeline(root, dag_pipeline(deps))
        try:
            assert api.run(root=root, jobs=jobs, executor=executor).ok
        finally:
            for name in ("pipeline", "spanlib"):
                sys.modules.pop(name, None)
        found = spans(root)
        for i, ups in enumerate(deps):
            for u in ups:
                assert found[f"s{u}"][1] <= found[f"s{i}"][0], f"s{i} started before s{u} ended"
        outputs[executor] = {p.name: p.read_bytes() for p in (root / "out").glob("s*.txt")}
    assert outputs["inline"] == outputs["process"] == outputs["warm"]


def test_sources_for_diffs_are_written_once_at_the_end_of_the_run(project: Path) -> None:
    """No stage's finish waits for a filesystem sync of its source (explain --diff's store):
    the second stage runs before any is written, and after the run both are there."""
    write_pipeline(
        project,
        """
        from pathlib import Path

        @stage(outs=["out/a.txt"])
        def a() -> None:
            Path("out").mkdir(exist_ok=True)
            Path("out/a.txt").write_text("a")

        @stage(deps=["out/a.txt"], outs=["out/b.txt"])
        def b() -> None:
            stored = Path(".fastpipe/cache/sources")
            Path("out/b.txt").write_text(str(sorted(stored.rglob("*")) if stored.exists() else []))
        """,
    )
    assert api.run(root=project, jobs=1, executor="warm").ok
    assert (project / "out/b.txt").read_text() == "[]"
    stored = [
        p.read_text() for p in (project / ".fastpipe/cache/sources").rglob("*") if p.is_file()
    ]
    assert any("def a()" in text for text in stored) and any("def b()" in text for text in stored)
