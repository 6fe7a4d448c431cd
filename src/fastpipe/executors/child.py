"""The entry point of a stage process started by the `process` executor.

`python -m fastpipe.executors.child RESULT_FD PARENT_PID [LABEL]` reads a pickled
(fn, args, kwargs) from stdin, calls it, and writes the pickled result to RESULT_FD. LABEL is
not read: it marks the process, so that the dask executor can find and stop its run's stages.
"""

from __future__ import annotations

import os
import pickle
import sys

from fastpipe.executors.processes import die_with_parent


def main(argv: list[str]) -> None:
    result_fd, parent = int(argv[0]), int(argv[1])
    die_with_parent(parent)
    fn, args, kwargs = pickle.loads(sys.stdin.buffer.read())
    result = fn(*args, **kwargs)
    with os.fdopen(result_fd, "wb") as out:
        pickle.dump(result, out, protocol=pickle.HIGHEST_PROTOCOL)


if __name__ == "__main__":
    main(sys.argv[1:])
