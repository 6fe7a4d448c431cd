"""docs/api.md cannot rot: its Python examples run, in order, in a copy of the quickstart."""

from __future__ import annotations

import re
import shutil
import sys
import warnings
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "api.md"
QUICKSTART = REPO / "examples" / "quickstart"
# ```python blocks run; ```python norun blocks (they need DVC's own runs) are only compiled.
BLOCK = re.compile(r"^```python( norun)?\n(.*?)^```$", re.M | re.S)


def _blocks() -> list[tuple[bool, str]]:
    return [(not norun, code) for norun, code in BLOCK.findall(DOC.read_text())]


def test_every_public_function_has_an_example() -> None:
    import fastpipe

    code = "\n".join(text for _, text in _blocks())
    functions = [name for name in fastpipe.__all__ if name[0].islower() and name != "stage"]
    missing = [name for name in functions if f"fastpipe.{name}(" not in code]
    assert not missing, f"docs/api.md has no example of {missing}"


def test_the_examples_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, project, ignore=shutil.ignore_patterns(".fastpipe", "__pycache__"))
    monkeypatch.chdir(project)
    monkeypatch.syspath_prepend(str(project))
    namespace: dict[str, object] = {"__name__": "api_md"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # the quickstart has nothing to warn about
            for number, (run, code) in enumerate(_blocks(), start=1):
                compiled = compile(code, f"docs/api.md block {number}", "exec")
                if run:
                    exec(compiled, namespace)
    finally:
        for name in ("pipeline", "helpers"):
            sys.modules.pop(name, None)
