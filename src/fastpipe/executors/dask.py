"""The `dask` executor: stages run on the workers of a Dask distributed cluster.

Only stage bodies leave `fastpipe run`: deciding, ordering and writing locks stay here, and
Dask only chooses where each stage runs. A stage owns its process (working directory,
environment, file descriptors 1 and 2), so it never runs in a worker thread: the Dask task
starts it in a process of its own under its worker, exactly as the `process` executor does,
and that executor's timeout and crash handling apply there. The stage writes
`.fastpipe/logs/<stage>.log` itself, on the filesystem the workers share with this machine; the
lines it echoes come back as Dask events (before its result) and reach `on_output`. Results
are StageResults: names, hashes and text.

Without an address, a LocalCluster on 127.0.0.1 runs the stages, placed by fastpipe as
locally. With one, the cluster places them: `gpus` and `resources` become Dask task resources
(`GPU` and the resource names), checked against what the workers advertise before anything
runs. `distributed` is imported only when the executor is created (and, on the workers, by
dask_worker.py, the side of this executor that runs there).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pickle
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Self

from fastpipe.errors import ExecutorError, ResourceError
from fastpipe.executors.base import Capabilities
from fastpipe.executors.dask_worker import OUTPUT_TOPIC, run_on_worker, stop_stages
from fastpipe.stage import StageSpec
from fastpipe.worker import StageResult, StageTask

if TYPE_CHECKING:
    from fastpipe.executors import ExecutorSettings

INSTALL_HINT = "pip install 'fastpipe[dask]'"
CONNECT_TIMEOUT_S = 10.0  # an unreachable scheduler is an error within 30 s (docs/distributed.md)
WORKERS_TIMEOUT_S = 10.0  # how long a scheduler without workers gets to find one
CLOSE_TIMEOUT_S = 5.0


def create(settings: ExecutorSettings) -> DaskExecutor:
    """A DaskExecutor as `settings` describe (ExecutorError: extra missing, no scheduler)."""
    return DaskExecutor(
        settings.dask_address,
        jobs=settings.jobs,
        root=settings.root,
        on_output=settings.on_output,
    )


def stage_resources(spec: StageSpec) -> dict[str, float]:
    """The Dask task resources of a stage: `GPU` for its gpus, its own resources by name."""
    found = dict(spec.resources)
    if spec.gpus:
        found["GPU"] = float(spec.gpus)
    return found


class DaskExecutor:
    """A StageExecutor over a Dask client: one Dask task per stage.

    With an address, the cluster places stages (`local_placement` is False): `warm_up` is
    told the stages a run will submit, refuses needs no worker offers, and each stage's Dask
    task then carries its resources.
    """

    def __init__(
        self,
        address: str | None,
        *,
        jobs: int,
        root: str,
        on_output: Callable[[str], None],
    ) -> None:
        distributed = _import_distributed()
        self._label = f"fastpipe-run={uuid.uuid4().hex}"  # marks this run's stage processes
        self._address = address
        self._capabilities = Capabilities(
            isolated=True, concurrent=True, local_placement=address is None, remote=True
        )
        self._needs: dict[str, dict[str, float]] = {}
        self._on_output = on_output
        self._lock = threading.Lock()
        self._pending: dict[str, tuple[Any, Future[StageResult], StageTask]] = {}
        self._count = itertools.count()
        self._closed = False
        self._cluster: Any = None
        if address is None:
            self._cluster = _local_cluster(distributed, jobs)
            self._client: Any = distributed.Client(self._cluster, set_as_default=False)
        else:
            self._client = _connect(distributed, address)
            try:
                _check_cluster(self._client, address, root)
            except BaseException:
                self._client.close(timeout=CLOSE_TIMEOUT_S)
                raise
        self._client.subscribe_topic(OUTPUT_TOPIC, self._relay)

    @property
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def warm_up(
        self, modules: Sequence[str], stages: Mapping[str, StageSpec] | None = None, /
    ) -> None:
        """With an address: refuse, before anything runs, stages no worker can take."""
        if self._address is None or not stages:
            return
        needs = {name: stage_resources(spec) for name, spec in stages.items()}
        needs = {name: need for name, need in needs.items() if need}
        _check_needs(self._client, self._address, needs)
        self._needs.update(needs)

    def submit(self, task: StageTask, /) -> Future[StageResult]:
        name = task.name
        # Pickled here, so that Dask ships bytes and never looks inside the StageTask.
        payload = pickle.dumps(task, protocol=pickle.HIGHEST_PROTOCOL)
        key = f"fastpipe-{name}-{next(self._count)}-{self._label[-8:]}"
        future: Future[StageResult] = Future()
        future.set_running_or_notify_cancel()
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot submit to a dask executor after shutdown")
            remote = self._client.submit(
                run_on_worker,
                payload,
                self._label,
                key=key,
                pure=False,
                resources=dict(self._needs.get(name, {})) or None,
            )
            self._pending[key] = (remote, future, task)
        remote.add_done_callback(self._settle)
        return future

    def _relay(self, event: tuple[float, Any]) -> None:
        message = event[1]  # [label, line]; other runs may share the cluster, and the topic
        if isinstance(message, list | tuple) and len(message) == 2 and message[0] == self._label:
            self._on_output(str(message[1]))

    def _settle(self, remote: Any) -> None:
        """Runs in Dask's callback thread once a task has finished, failed or been cancelled."""
        with self._lock:
            entry = self._pending.pop(remote.key, None)
        if entry is None:  # shutdown settled it already
            return
        _, future, task = entry
        try:
            if remote.status == "finished":
                future.set_result(remote.result())
                return
            exc = remote.exception() if remote.status == "error" else None
        except BaseException as error:  # the result did not arrive: never leave it pending
            exc = error
        future.set_result(_failure(task, exc))

    def reload(self, modules: Sequence[str], /) -> None:
        """Every stage starts a fresh process on its worker: it imports the edited code."""

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            pending = list(self._pending.values())
            if cancel_futures:
                self._pending.clear()
        if cancel_futures and pending:
            with contextlib.suppress(Exception):  # a scheduler gone away has nothing to stop
                self._stop([remote for remote, _, _ in pending])
            for _, future, task in pending:
                error = f"stage '{task.name}' was stopped before it finished"
                future.set_result(StageResult(task.name, False, error=error))
        elif wait:
            for _, future, _ in pending:
                future.exception()
        self._client.close(timeout=CLOSE_TIMEOUT_S)
        if self._cluster is not None:
            self._cluster.close(timeout=CLOSE_TIMEOUT_S)

    def _stop(self, remotes: list[Any]) -> None:
        """Cancel the tasks, then end the stage processes they started (Dask cannot)."""
        self._client.cancel(remotes, force=True)
        self._client.run(stop_stages, self._label, on_error="ignore")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self.shutdown(wait=True, cancel_futures=exc_type is not None)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ExecutorError(
            f"the dask executor needs the dask extra: {INSTALL_HINT} ({exc})"
        ) from None
    return distributed


def _local_cluster(distributed: Any, jobs: int) -> Any:
    # One worker inside this process, with a thread per job: a thread only waits on the stage
    # process it started, so worker processes would add start-up time and no isolation, and
    # Ctrl-C reaches no cluster process. The scheduler's HTTP routes (health, metrics) cannot
    # be turned off; they listen on a free loopback port, and the dashboard stays off.
    return distributed.LocalCluster(
        n_workers=1,
        threads_per_worker=jobs,
        processes=False,
        protocol="tcp://",
        host="127.0.0.1",
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
        memory_limit=0,  # the worker holds no data; the stage processes use the memory
    )


def _connect(distributed: Any, address: str) -> Any:
    try:
        return distributed.Client(address, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ExecutorError(
            f"cannot reach the Dask scheduler at {address} ({exc}); start one with "
            "`dask scheduler`, or fix --dask-address / [tool.fastpipe] dask_address / "
            "FASTPIPE_DASK_ADDRESS"
        ) from None


def _check_cluster(client: Any, address: str, root: str) -> None:
    """Refuse a cluster with no workers, or whose workers cannot see the project root."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
    except TimeoutError:
        raise ExecutorError(
            f"the Dask scheduler at {address} has no workers; start some with "
            f"`dask worker {address}`"
        ) from None
    seen = client.run(os.path.isdir, root, on_error="return")
    blind = sorted(worker for worker, ok in seen.items() if ok is not True)
    if blind:
        raise ExecutorError(
            f"Dask workers {', '.join(blind)} cannot see the project root {root}: workers must "
            "share the project's filesystem, at the same path (docs/distributed.md)"
        )


def _check_needs(client: Any, address: str, needs: Mapping[str, Mapping[str, float]]) -> None:
    """Refuse, before anything runs, stages that could only wait forever for a worker."""
    workers = client.scheduler_info(n_workers=-1)["workers"]
    offers = [dict(info.get("resources") or {}) for info in workers.values()]
    for name, need in sorted(needs.items()):
        if not any(all(offer.get(r, 0) >= a for r, a in need.items()) for offer in offers):
            wanted = " ".join(f"{r}={a:g}" for r, a in sorted(need.items()))
            raise ResourceError(
                f"stage '{name}' needs {wanted} but no worker of the Dask cluster at {address} "
                f'offers it; start workers with `dask worker --resources "{wanted}"`'
            )


def _failure(task: StageTask, exc: BaseException | None) -> StageResult:
    """The result of a stage whose Dask task failed (a worker died) or was cancelled."""
    if exc is None:
        error = f"stage '{task.name}': its Dask task was cancelled (scheduler gone?)"
    elif type(exc).__name__ == "KilledWorker":
        error = f"stage '{task.name}': the Dask workers running it died: {exc}"
    else:
        error = f"stage '{task.name}' could not run on the Dask cluster: {exc!r}"
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").startswith("fastpipe"):
            error += "; install fastpipe in the workers' environment"
    return StageResult(task.name, False, error=error)
