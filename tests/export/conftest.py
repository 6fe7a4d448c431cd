"""A throwaway project on disk for the DVC bridge's unit tests (no dvc needed)."""

from __future__ import annotations

import os
import sys
import textwrap
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest

MakeProject = Callable[[Mapping[str, str]], Path]

PIPELINE = '''\
"""Stages with params set in params.yaml and not, a directory out, metrics, plots, persist."""

from pathlib import Path

import helpers

from fastpipe import stage


@stage(deps=["data/raw.txt"], outs=["data/clean.txt"])
def clean(threshold: int = 3, scale: float = 1.0) -> None:
    numbers = [n * scale for n in helpers.read_numbers("data/raw.txt") if n >= threshold]
    helpers.write_lines("data/clean.txt", numbers)


@stage(
    deps=["data/clean.txt"],
    outs=["model", "model.txt"],
    metrics=["metrics.json"],
    plots=["plots/loss.csv"],
)
def train(lr: float = 0.1, epochs: int = 2) -> None:
    numbers = helpers.read_numbers("data/clean.txt")
    helpers.write_lines("model/weights.txt", [lr * epochs * n for n in numbers])
    Path("model.txt").write_text(f"{lr}\\n")
    Path("metrics.json").write_text(f'{{"n": {len(numbers)}}}\\n')
    helpers.write_lines("plots/loss.csv", ["step,loss", "1,0.5"])


@stage(outs=["notes.txt"], persist=True)
def notes() -> None:
    with open("notes.txt", "a") as f:
        f.write("run\\n")
'''

HELPERS = '''\
"""Project code the stages call."""

from pathlib import Path


def read_numbers(path: str) -> list[float]:
    return [float(line) for line in Path(path).read_text().split()]


def write_lines(path: str, items: list[object]) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("".join(f"{item}\\n" for item in items))
'''

PARAMS = """\
# The user's own params file: export must never rewrite it.
train:
  lr: 0.5
clean:
    threshold: 2
"""

FILES = {
    "pipeline.py": PIPELINE,
    "helpers.py": HELPERS,
    "params.yaml": PARAMS,
    "data/raw.txt": "1\n2\n3\n4\n",
}


@pytest.fixture
def make_project(tmp_path: Path) -> Iterator[MakeProject]:
    """A factory: a project holding exactly the given files; its modules forgotten after."""
    root = tmp_path / "project"

    def make(files: Mapping[str, str]) -> Path:
        for relpath, text in files.items():
            path = root / relpath
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return root

    yield make
    prefix = str(root) + os.sep
    for name, module in list(sys.modules.items()):
        if (getattr(module, "__file__", None) or "").startswith(prefix):
            del sys.modules[name]


@pytest.fixture
def project(make_project: MakeProject) -> Path:
    """The standard bridge project on disk, never run."""
    return make_project(FILES)
