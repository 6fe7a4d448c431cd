"""What the dask executor runs on a Dask worker (imported there, by reference).

`run_on_worker` is the Dask task of one stage: it starts the stage in a process of its own
under this worker, through the `process` executor (so its timeout kill, crash results and
output relay apply as they do locally), and hands each line the stage echoes to the Dask
event topic `OUTPUT_TOPIC`, which the client running `fastpipe run` subscribes to. The stage
processes carry the run's label on their command line, so `stop_stages` can find and end them
when the run is interrupted: Dask itself cannot stop a task that is running.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path

from fastpipe.executors.process import ProcessExecutor
from fastpipe.executors.processes import kill_groups
from fastpipe.worker import StageResult, StageTask, process_tree

OUTPUT_TOPIC = "fastpipe-output"  # one topic for every run: the scheduler keeps a bounded log


def run_on_worker(payload: bytes, label: str) -> StageResult:
    """The Dask task: run the stage in a process of its own under this worker; its result."""
    import distributed

    worker = distributed.get_worker()
    task: StageTask = pickle.loads(payload)
    if not os.path.isdir(task.root):
        error = (
            f"stage '{task.name}': the project root {task.root} does not exist on Dask worker "
            f"{worker.address}; workers must share the project's filesystem"
        )
        return StageResult(task.name, False, error=error)

    def relay(line: str) -> None:  # called from a thread: log_event hands it to the event loop
        worker.log_event(OUTPUT_TOPIC, [label, line])

    with ProcessExecutor(relay, label=label) as pool:
        return pool.submit(task).result()


def stop_stages(label: str) -> int:
    """On a worker (Client.run): end the stage processes of the run `label`; how many."""
    me = os.getpid()
    pids = [pid for pid in process_tree() if pid != me and _has_argument(pid, label)]
    kill_groups(pids)
    return len(pids)


def _has_argument(pid: int, argument: str) -> bool:
    try:
        return argument.encode() in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
