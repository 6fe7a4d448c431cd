"""What `explain --diff` shows of a definition is re-made from its source lines, the same text
its syntax tree gave, and fingerprinting keeps no syntax trees alive."""

from __future__ import annotations

import ast
import gc
import sys

import pytest

from fastpipe.fingerprint import Fingerprinter, sourceindex
from fastpipe.fingerprint.readable import Readable, Shape
from tests.fingerprint.conftest import Project

# Docstrings, comments, decorators, methods, closures, lambdas (one and two to a line, one
# spanning lines, one after non-ASCII text), text at column 0 inside an indented def, and a
# form feed and a line separator that str.splitlines would count as line breaks.
PIPELINE = '''
import functools
from fastpipe import stage

RATE = 0.5


def deco(f):
    return f


@functools.lru_cache(maxsize=None)
def helper(x, *, scale=2, offset=0):
    """Doc."""
    # a comment
    text = """
line at column 0
"""
    return x * scale + offset + len(text)


class Model:
    """Model doc."""

    rate = RATE
    label = "é → ü"

    def fit(self, x):
        """Fit doc."""

        def inner(y):
            return y + 1

        s = \'\'\'
column zero
\'\'\'
        return inner(x) + len(s)


sq = lambda v: v * v; tag = "ñé"; cube = (lambda w:
    w ** 3)
pair = [lambda a: a + 1, lambda a: a + 2]

\f
def after_feed(z):
    s = "\u2028"
    return z


@deco
@stage(outs=["out.txt"])
def stage_fn(n: int = 3, *, k=4) -> None:
    """Stage doc."""
    m = Model()
    total = helper(n, offset=1) + m.fit(n) + sq(n) + cube(n) + pair[0](n) + pair[1](n)
    total += after_feed(k)
    open("out.txt", "w").write(str(total))
'''


@pytest.fixture(params=["whole", "chunked"])
def chunking(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "chunked":  # the file is parsed one top-level block at a time
        monkeypatch.setattr(sourceindex, "CHUNKED_BYTES", -1)
    return str(request.param)


EXPECTED = {
    "pipeline.stage_fn": (
        "@deco\n"  # the @stage(...) decorator and the defaults (params) are not its code
        "def stage_fn(n: int, *, k) -> None:\n"
        "    m = Model()\n"
        "    total = helper(n, offset=1) + m.fit(n) + sq(n) + cube(n) + pair[0](n) + pair[1](n)\n"
        "    total += after_feed(k)\n"
        "    open('out.txt', 'w').write(str(total))"
    ),
    "pipeline.helper": (
        "@functools.lru_cache(maxsize=None)\n"
        "def helper(x, *, scale=2, offset=0):\n"
        "    text = '\\nline at column 0\\n'\n"
        "    return x * scale + offset + len(text)"
    ),
    "pipeline.deco": "def deco(f):\n    return f",
    "pipeline.after_feed": "def after_feed(z):\n    s = '\\u2028'\n    return z",
    "pipeline.Model": "class Model:\n    rate = RATE\n    label = 'é → ü'",
    "pipeline.Model.fit": (
        "def fit(self, x):\n\n"
        "    def inner(y):\n"
        "        return y + 1\n"
        "    s = '\\ncolumn zero\\n'\n"
        "    return inner(x) + len(s)"
    ),
}
LAMBDAS = ["lambda a: a + 1", "lambda a: a + 2", "lambda v: v * v", "lambda w: w ** 3"]


def test_each_definition_shows_as_its_normalized_source(project: Project, chunking: str) -> None:
    project.write("pipeline.py", PIPELINE)
    manifest = project.manifest()
    shown = {item: manifest.source(item) for item in manifest.definitions}
    lambdas = sorted(str(text) for item, text in shown.items() if "<lambda>#" in item)
    assert lambdas == LAMBDAS  # each lambda under its own item name
    assert {k: v for k, v in shown.items() if "<lambda>" not in k} == EXPECTED
    assert manifest.source("pipeline.RATE") is None  # a value, not a definition


def test_what_cannot_be_parsed_again_shows_nothing() -> None:
    assert Readable("def broken(:\n", Shape.FUNCTION).text() is None
    assert Readable("x = 1\n", Shape.FUNCTION).text() is None  # not a def
    assert Readable("def f():\n    pass\n", Shape.CLASS_SHELL).text() is None
    assert Readable("    def m(self):\n        return 1\n", Shape.FUNCTION).text() == (
        "def m(self):\n    return 1"
    )


def test_fingerprinting_keeps_no_syntax_trees(project: Project) -> None:
    """A 10,000-stage run fingerprints every stage before the first starts: each def's tree
    kept to show it later was most of that run's memory."""
    defs = "".join(
        f"\n@stage(outs=['out{i}.txt'])\ndef s{i}(n: int = {i}) -> None:\n"
        f"    open('out{i}.txt', 'w').write(str(helper(n) + {i}))\n"
        for i in range(40)
    )
    project.write(
        "pipeline.py", f"from fastpipe import stage\n\ndef helper(x):\n    return x\n{defs}"
    )
    project.load("pipeline:s0")
    namespace = vars(sys.modules["pipeline"])
    gc.collect()
    before = _trees_alive()  # what other tests or modules keep is not this run's
    fingerprinter = Fingerprinter(project.root)
    manifests = [fingerprinter.manifest(namespace[f"s{i}"]) for i in range(40)]
    gc.collect()
    trees = _trees_alive() - before
    assert trees < 40, f"{trees} syntax tree nodes alive after fingerprinting 40 stages"
    assert manifests[7].source("pipeline.s7") == (
        "def s7(n: int) -> None:\n    open('out7.txt', 'w').write(str(helper(n) + 7))"
    )


def _trees_alive() -> int:
    return sum(isinstance(o, ast.AST) for o in gc.get_objects())
