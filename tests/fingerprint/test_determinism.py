"""The same source gives the same manifest in any process, hash seed and Python version."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

# Exercises version-sensitive corners: set ordering under hash randomization, f-strings with
# format specs, match statements, lambdas in comprehensions (inlined from 3.12), dataclasses
# (3.13 adds generated methods), enums, async defs, walrus, closures and wrappers.
SAMPLE = """
import dataclasses
import enum
import functools
import math

NAMES = {"alpha", "beta", "gamma", "delta"}
FROZEN = frozenset({"x", "y", "z"})
TABLE = {"a": (1, 2.0, True, None), "b": [b"raw", 3j]}
SCALERS = [lambda x, k=k: x * k for k in range(3)]


class Color(enum.Enum):
    RED = 1
    BLUE = 2


@dataclasses.dataclass(frozen=True)
class Config:
    lr: float = 0.1
    tags: tuple = ("a", "b")


CONFIG = Config()


def logged(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)
    return wrapper


@logged
def describe(value: float, *, width: int = 8) -> str:
    match value:
        case 0:
            label = "zero"
        case float() | int() if (n := math.floor(value)) > 1:
            label = f"{n:>{width}}|{value!r:^10}"
        case _:
            label = "other"
    return label


async def fetch(x):
    return [y async for y in x]


@functools.lru_cache(maxsize=32)
def cached(n):
    return sorted(NAMES)[n % 4] + "".join(sorted(FROZEN))


def stage_fn(scale: float = 1.0):
    total = sum(f(2) for f in SCALERS)
    return describe(total * CONFIG.lr) + cached(1) + Color.RED.name + str(TABLE) + str(fetch)
"""

SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    root = Path(sys.argv[1])
    sys.path.insert(0, str(root))
    import pipeline
    from fastpipe.fingerprint import Fingerprinter
    m = Fingerprinter(root).manifest(pipeline.stage_fn)
    out = {"items": dict(m.items), "files": list(m.files), "warnings": list(m.warnings)}
    print(json.dumps(out))
    """
)


def manifest_in_subprocess(python: str, root: Path, seed: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run(
        [python, "-c", SCRIPT, str(root)], capture_output=True, text=True, env=env, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    (tmp_path / "pipeline.py").write_text(SAMPLE)
    return tmp_path


def test_same_manifest_across_processes_and_hash_seeds(sample: Path) -> None:
    results = [manifest_in_subprocess(sys.executable, sample, seed) for seed in ("0", "1", "12345")]
    assert results[0] == results[1] == results[2]
    items = results[0]["items"]
    assert isinstance(items, dict)
    assert {"pipeline.stage_fn", "pipeline.describe", "pipeline.NAMES", "pipeline.Config"} <= set(
        items
    )
    assert results[0]["warnings"] == []


def other_python() -> str | None:
    """A Python 3.13 with fastpipe's dependencies: $FASTPIPE_CROSS_PYTHON or .venv-3.13."""
    candidates = [os.environ.get("FASTPIPE_CROSS_PYTHON", ""), str(REPO / ".venv-3.13/bin/python")]
    return next((c for c in candidates if c and Path(c).exists()), None)


def test_same_manifest_on_another_python_version(sample: Path) -> None:
    python = other_python()
    if python is None:
        pytest.skip("no Python 3.13 environment (set FASTPIPE_CROSS_PYTHON or make .venv-3.13)")
    version = subprocess.run(
        [python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True, text=True
    ).stdout.strip()
    if version == str(sys.version_info[:2]):
        pytest.skip(f"the other interpreter is the same version {version}")
    here = manifest_in_subprocess(sys.executable, sample, "0")
    there = manifest_in_subprocess(python, sample, "0")
    assert here == there
