"""The comparing functions are reachable from `fastpipe` without importing it eagerly."""

from __future__ import annotations

import subprocess
import sys

import fastpipe
from fastpipe import api


def test_compare_functions_are_the_api_ones() -> None:
    assert fastpipe.metrics is api.metrics
    assert fastpipe.params is api.params
    assert fastpipe.Plot.__name__ == "Plot"
    assert set(fastpipe.__all__) >= {"metrics", "metrics_diff", "params", "params_diff"}


def test_import_fastpipe_does_not_import_the_api() -> None:
    code = "import sys, fastpipe; print('fastpipe.api' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "False"
