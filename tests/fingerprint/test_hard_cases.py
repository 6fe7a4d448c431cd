"""Code whose source is not a file, project code that fails to import, checkout-specific values
and library bound methods: each fingerprinted so that no edit goes unseen, and no needless noise.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.fingerprint.conftest import Project
from tests.fingerprint.test_walker import edit_and_compare

EVAL_LAMBDA = """\
F = eval("lambda x: x + 1")


def stage_fn():
    return F(1)
"""

EXEC_DEF = """\
SRC = "def g(x):\\n    return x * 2\\n"
ns = {}
exec(SRC, ns)
G = ns["g"]


def stage_fn():
    return G(3)
"""


def test_a_function_made_by_eval_is_hashed_by_its_code(project: Project) -> None:
    project.write("pipeline.py", EVAL_LAMBDA)

    changed = edit_and_compare(project, "pipeline.py", "x + 1", "x + 2")

    assert changed, "editing the evaluated string must change the manifest"
    assert any(key.startswith("pipeline.") for key in changed), changed


def test_a_function_made_by_eval_is_reported(project: Project) -> None:
    project.write("pipeline.py", EVAL_LAMBDA)

    warnings = project.manifest().warnings

    assert any("eval" in w and "<string>" in w for w in warnings), warnings
    assert any("module-level eval()" in w and "pipeline" in w for w in warnings), warnings


def test_a_function_made_by_exec_is_hashed_by_its_code_and_reported(project: Project) -> None:
    project.write("pipeline.py", EXEC_DEF)

    warnings = project.manifest().warnings
    changed = edit_and_compare(project, "pipeline.py", "x * 2", "x * 3")

    assert changed
    assert any("module-level exec()" in w for w in warnings), warnings
    assert any("<string>" in w for w in warnings), warnings


def test_a_cosmetic_rerun_of_eval_code_changes_nothing(project: Project) -> None:
    project.write("pipeline.py", EVAL_LAMBDA)

    assert (
        edit_and_compare(project, "pipeline.py", "def stage_fn():", "def stage_fn():  # hi")
        == set()
    )


def test_eval_code_hashes_the_same_under_any_hash_seed(project: Project) -> None:
    project.write(
        "pipeline.py",
        "F = eval(\"lambda x: x in {'a', 'b', 'c'} and (lambda: 1.5)()\")\n\n"
        "def stage_fn():\n    return F('a')\n",
    )
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(project.root)!r})
        import pipeline
        from fastpipe.fingerprint import Fingerprinter
        print(json.dumps(Fingerprinter({str(project.root)!r}).manifest(pipeline.stage_fn).items))
        """
    )
    found = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={"PYTHONHASHSEED": seed, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout
        for seed in ("0", "1", "2", "3")
    }
    assert len(found) == 1, found


# ------------------------------------------------------------------ project code that fails


FAILING_IMPORT = """\
def stage_fn():
    import gpumod

    return gpumod.compute(1)
"""
GPUMOD = """\
import not_installed_gpu_library


def compute(x):
    return x + 1
"""


def test_a_project_module_that_fails_to_import_is_fingerprinted_from_its_file(
    project: Project,
) -> None:
    project.write("pipeline.py", FAILING_IMPORT)
    project.write("gpumod.py", GPUMOD)

    manifest = project.manifest()
    changed = edit_and_compare(project, "gpumod.py", "x + 1", "x + 2")

    assert "module gpumod" in manifest.items, manifest.items
    assert "gpumod" not in manifest.libraries, manifest.libraries
    assert changed == {"module gpumod"}
    assert any(
        "project module 'gpumod' could not be imported while fingerprinting" in w
        and "ModuleNotFoundError" in w
        and "fingerprinted from its source file" in w
        for w in manifest.warnings
    ), manifest.warnings


def test_a_failing_from_import_of_project_code_is_fingerprinted_too(project: Project) -> None:
    project.write(
        "pipeline.py",
        FAILING_IMPORT.replace("import gpumod", "from gpumod import compute").replace(
            "gpumod.compute", "compute"
        ),
    )
    project.write("gpumod.py", GPUMOD)

    assert edit_and_compare(project, "gpumod.py", "x + 1", "x + 2") == {"module gpumod"}


def test_a_missing_library_is_still_a_library(project: Project) -> None:
    project.write("pipeline.py", "def stage_fn():\n    import not_installed_lib\n")

    manifest = project.manifest()

    assert manifest.warnings == ()
    assert not any("not_installed_lib" in key for key in manifest.items), manifest.items


# ------------------------------------------------------------------ per-checkout values

HERE = """\
import os
from pathlib import Path

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = Path(__file__).resolve().parent / "data"


def stage_fn():
    return HERE, DATA, __file__
"""


def test_paths_under_the_root_do_not_depend_on_the_checkout(
    project: Project, tmp_path: Path
) -> None:
    project.write("pipeline.py", HERE)
    here = project.manifest()
    other = Project(tmp_path / "elsewhere" / "proj")
    other.root.mkdir(parents=True)
    other.write("pipeline.py", HERE)
    sys.path.insert(0, str(other.root))
    try:
        project.purge()
        there = other.manifest()
    finally:
        other.purge()
        sys.path.remove(str(other.root))

    assert here.items == there.items
    assert here.warnings == there.warnings == ()


def test_a_path_under_the_root_still_counts(project: Project) -> None:
    project.write(
        "pipeline.py",
        'import os\nP = os.path.join(os.path.dirname(__file__), "a")\n\n'
        "def stage_fn():\n    return P\n",
    )

    assert edit_and_compare(project, "pipeline.py", '"a")', '"b")') == {"pipeline.P"}


# ------------------------------------------------------------------ library bound methods


def test_a_bound_method_of_a_library_object_is_a_library_callable(project: Project) -> None:
    project.write(
        "pipeline.py",
        "import random\nfrom random import shuffle\n\n"
        "def stage_fn(seed=0):\n    random.seed(seed)\n    shuffle([1, 2])\n",
    )

    manifest = project.manifest()

    assert manifest.warnings == ()
    assert {"random.seed", "random.Random.shuffle"} <= set(manifest.libraries), manifest.libraries


def test_rebinding_a_library_bound_method_is_a_change(project: Project) -> None:
    project.write("pipeline.py", "import random\nF = random.seed\n\ndef stage_fn():\n    F(0)\n")

    assert edit_and_compare(project, "pipeline.py", "random.seed", "random.shuffle")


# ------------------------------------------------------------------ no noise a user cannot act on


def test_namedtuples_are_fingerprinted_without_warnings(project: Project) -> None:
    project.write(
        "pipeline.py",
        "import collections\nfrom typing import NamedTuple\n\n"
        'Point = collections.namedtuple("Point", "x y", defaults=[0])\n\n\n'
        "class Pair(NamedTuple):\n    a: int\n    b: int = 2\n\n\n"
        "def stage_fn():\n    return Point(1).y + Pair(1).b\n",
    )

    assert project.manifest().warnings == ()
    assert edit_and_compare(project, "pipeline.py", '"x y"', '"x z"') == {"pipeline.Point"}
    assert edit_and_compare(project, "pipeline.py", "defaults=[0]", "defaults=[1]") == {
        "pipeline.Point"
    }
    assert edit_and_compare(project, "pipeline.py", "b: int = 2", "b: int = 3") == {"pipeline.Pair"}


def test_operator_getters_are_values(project: Project) -> None:
    project.write(
        "pipeline.py",
        'import operator\n\nGET = operator.itemgetter(0)\nATTR = operator.attrgetter("real")\n\n'
        "def stage_fn():\n    return GET([1]) + ATTR(2)\n",
    )

    assert project.manifest().warnings == ()
    assert edit_and_compare(project, "pipeline.py", "itemgetter(0)", "itemgetter(1)") == {
        "pipeline.GET"
    }


def test_the_command_line_of_the_process_is_not_part_of_the_fingerprint(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write("pipeline.py", "import sys\n\ndef stage_fn():\n    print(sys.argv, sys.path)\n")
    monkeypatch.setattr(sys, "argv", ["fastpipe", "run"])
    as_run = project.manifest()
    monkeypatch.setattr(sys, "argv", ["fastpipe", "status", "--json"])
    as_status = project.manifest()

    assert as_run.items == as_status.items
    assert as_run.warnings == ()


def test_code_tokens_cover_nested_code_sets_and_tuples() -> None:
    from fastpipe.fingerprint.unsourced import code_token

    def token(src: str) -> tuple[object, ...]:
        return code_token(compile(src, "<string>", "eval"))

    base = "lambda x: x in {'a', 'b', 'c'} and x not in ('d', ('e', 1.5)) and (lambda: 1)()"
    assert token(base) == token(base)
    assert token(base) != token(base.replace("'c'", "'z'"))
    assert token(base) != token(base.replace("1.5", "2.5"))
    assert token(base) != token(base.replace("lambda: 1", "lambda: 2"))
