"""Does multiprocessing's forkserver apply the parent's sys.path to its server process?

Why it mattered: the warm executor needs a server that imported the pipeline (from the project
root) before forking stage processes. If the stdlib forkserver ignored the parent's sys.path,
the project root would not be importable in the server and every worker would silently
re-import everything. Result (recorded in README.md): on 3.11 the `sys_path` that
`ensure_running` passes to `forkserver.main` is accepted and never applied, so fastpipe runs its
own server (executors/warm_server.py) that sets sys.path and reports failed preloads.
"""

from __future__ import annotations

import inspect
import multiprocessing.forkserver as forkserver
import sys


def main() -> None:
    source = inspect.getsource(forkserver.main)
    uses_sys_path = "sys.path" in source.split('"""')[-1]
    print(f"Python {sys.version.split()[0]}")
    print(f"forkserver.main takes a sys_path argument: {'sys_path' in source}")
    print(f"forkserver.main applies it to sys.path:   {uses_sys_path}")


if __name__ == "__main__":
    main()
