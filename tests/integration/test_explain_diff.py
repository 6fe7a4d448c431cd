"""`explain STAGE --diff`: a unified diff of each changed function's normalized source."""

from __future__ import annotations

import json
import shutil

from tests.integration.conftest import MakeProject

PIPELINE = """\
from pathlib import Path

from fastpipe import stage


def helper(x):
    return x + 1


class Scale:
    factor = 2


@stage(outs=["out.txt"])
def make() -> None:
    Path("out.txt").write_text(str(helper(1) * Scale.factor))
"""


def test_diff_of_changed_helper_and_class(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE})
    assert project.run("run").code == 0
    project.edit("pipeline.py", "    return x + 1\n", "    # a comment\n    return   x + 2\n")
    project.edit("pipeline.py", "    factor = 2\n", "    factor = 3\n")

    result = project.run("explain", "make", "--diff")

    assert result.code == 0, result
    out = result.out
    assert "--- pipeline.helper (last run)\n+++ pipeline.helper (now)\n" in out, out
    assert "-    return x + 1\n+    return x + 2\n" in out, out
    assert "--- pipeline.Scale (last run)" in out and "+    factor = 3\n" in out, out
    assert "comment" not in out  # normalized source: comments and layout never show
    assert "pipeline.make" not in out  # unchanged items are not diffed

    data = json.loads(project.run("explain", "make", "--diff", "--json").out)
    assert [d["item"] for d in data["diffs"]] == ["pipeline.Scale", "pipeline.helper"]
    assert all(d["problem"] is None for d in data["diffs"])


def test_docstrings_never_show_in_a_diff(make_project: MakeProject) -> None:
    documented = PIPELINE.replace(
        "def helper(x):\n",
        'def helper(x):\n    """Add one."""\n\n    def inner():\n'
        '        """Inner doc."""\n        return 0\n\n',
    )
    project = make_project({"pipeline.py": documented})
    assert project.run("run").code == 0
    project.edit("pipeline.py", '"""Add one."""', '"""Add one, edited."""')
    project.edit("pipeline.py", '"""Inner doc."""', '"""Inner doc, edited."""')
    project.edit("pipeline.py", "    return x + 1\n", "    return x + 2\n")

    result = project.run("explain", "make", "--diff")

    assert result.code == 0, result
    assert "-    return x + 1\n+    return x + 2\n" in result.out, result.out
    assert "doc" not in result.out.lower(), result.out  # not hashed, so never shown


def test_old_source_gone_is_said_and_the_item_named(make_project: MakeProject) -> None:
    project = make_project({"pipeline.py": PIPELINE})
    assert project.run("run").code == 0
    assert any(project.path(".fastpipe/cache/sources").rglob("*"))
    shutil.rmtree(project.path(".fastpipe/cache/sources"))
    project.edit("pipeline.py", "    return x + 1\n", "    return x + 2\n")

    result = project.run("explain", "make", "--diff")

    assert result.code == 0, result
    assert "pipeline.helper: its old source is gone" in result.out, result.out
    assert "pipeline.helper  changed" in result.out
