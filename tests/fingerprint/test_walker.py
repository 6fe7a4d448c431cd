"""What a stage's code fingerprint covers: each SPEC 4 rule, as an edit that must (not) count."""

from __future__ import annotations

import pytest

from fastpipe.fingerprint import Manifest
from tests.fingerprint.conftest import Project

STAGE = "pipeline:stage_fn"


def changed_keys(before: Manifest, after: Manifest) -> set[str]:
    keys = set(before.items) | set(after.items)
    return {k for k in keys if before.items.get(k) != after.items.get(k)}


def edit_and_compare(
    project: Project, relpath: str, old: str, new: str, target: str = STAGE
) -> set[str]:
    before = project.manifest(target)
    project.edit(relpath, old, new)
    after = project.manifest(target)
    return changed_keys(before, after)


# ------------------------------------------------------------------ the stage itself


def test_stage_body_edit_changes_its_entry(project: Project) -> None:
    project.write("pipeline.py", "def stage_fn():\n    return 1 + 1\n")
    assert edit_and_compare(project, "pipeline.py", "1 + 1", "1 + 2") == {"pipeline.stage_fn"}


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("    x = 1\n", "    # a comment\n    x = 1  # trailing\n"),
        ("    x = 1\n", "\n\n    x = 1\n\n"),
        ("    x = 1\n", "    x = (\n        1\n    )\n"),
        ('    """Doc."""\n', '    """A different docstring."""\n'),
        ('    """Doc."""\n', ""),
    ],
    ids=["comment", "blank-lines", "formatting", "docstring-edit", "docstring-removed"],
)
def test_cosmetic_edits_change_nothing(project: Project, old: str, new: str) -> None:
    project.write("pipeline.py", 'def stage_fn():\n    """Doc."""\n    x = 1\n    return x\n')
    assert edit_and_compare(project, "pipeline.py", old, new) == set()


def test_stage_defaults_are_params_not_code(project: Project) -> None:
    project.write("pipeline.py", "def stage_fn(lr: float = 0.1):\n    return lr\n")
    assert edit_and_compare(project, "pipeline.py", "0.1", "0.2") == set()


def test_stage_annotation_edit_is_a_change(project: Project) -> None:
    project.write("pipeline.py", "def stage_fn(n: int = 1) -> int:\n    return n\n")
    assert edit_and_compare(project, "pipeline.py", "-> int", "-> float") == {"pipeline.stage_fn"}


def test_stage_decorator_arguments_are_not_code(project: Project) -> None:
    project.write(
        "pipeline.py",
        """\
        from fastpipe import stage

        @stage(outs=["a.txt"], retries=0)
        def stage_fn():
            return 1
        """,
    )
    assert edit_and_compare(project, "pipeline.py", "retries=0", "retries=3") == set()


def test_nested_function_and_lambda_edits_count(project: Project) -> None:
    project.write(
        "pipeline.py",
        """\
        def stage_fn():
            def inner(x):
                return x * 2
            f = lambda y: y + 1
            return inner(f(1))
        """,
    )
    assert edit_and_compare(project, "pipeline.py", "x * 2", "x * 3") == {"pipeline.stage_fn"}
    assert edit_and_compare(project, "pipeline.py", "y + 1", "y - 1") == {"pipeline.stage_fn"}


@pytest.mark.parametrize(
    "body",
    [
        "    def inner():\n        return helper()\n    return inner()\n",
        "    f = lambda: helper()\n    return f()\n",
        "    return [helper() for _ in range(2)]\n",
        "    return list(helper() for _ in range(2))\n",
    ],
    ids=["nested-def", "lambda", "list-comprehension", "generator"],
)
def test_globals_read_in_nested_scopes_are_followed(project: Project, body: str) -> None:
    project.write("pipeline.py", f"def helper():\n    return 1\n\ndef stage_fn():\n{body}")
    keys = edit_and_compare(project, "pipeline.py", "return 1", "return 2")
    assert keys == {"pipeline.helper"}


def test_local_of_the_same_name_is_not_a_global_read(project: Project) -> None:
    project.write(
        "pipeline.py",
        """\
        def helper():
            return 1

        def stage_fn(helper: int = 3):
            return helper + 1
        """,
    )
    manifest = project.manifest()
    assert "pipeline.helper" not in manifest.items
    assert edit_and_compare(project, "pipeline.py", "return 1", "return 2") == set()


# ------------------------------------------------------------------ helpers and modules


def test_helper_in_the_pipeline_module(project: Project) -> None:
    project.write(
        "pipeline.py", "def helper():\n    return 1\n\ndef stage_fn():\n    return helper()\n"
    )
    assert edit_and_compare(project, "pipeline.py", "return 1", "return 2") == {"pipeline.helper"}


@pytest.mark.parametrize(
    ("imports", "call"),
    [
        ("from helpers import load", "load()"),
        ("import helpers", "helpers.load()"),
        ("import helpers as h", "h.load()"),
        ("from helpers import load as ld", "ld()"),
    ],
)
def test_helper_in_another_module(project: Project, imports: str, call: str) -> None:
    project.write("helpers.py", "def load():\n    return 1\n")
    project.write("pipeline.py", f"{imports}\n\ndef stage_fn():\n    return {call}\n")
    assert edit_and_compare(project, "helpers.py", "return 1", "return 2") == {"helpers.load"}


def test_submodule_imported_with_an_alias(project: Project) -> None:
    project.write("pkg/__init__.py", "")
    project.write("pkg/sub.py", "def f():\n    return 1\n")
    project.write("pipeline.py", "import pkg.sub as s\n\ndef stage_fn():\n    return s.f()\n")
    assert edit_and_compare(project, "pkg/sub.py", "return 1", "return 2") == {"pkg.sub.f"}


def test_dotted_package_access(project: Project) -> None:
    project.write("pkg/__init__.py", "")
    project.write("pkg/sub.py", "def f():\n    return 1\n")
    project.write("pipeline.py", "import pkg.sub\n\ndef stage_fn():\n    return pkg.sub.f()\n")
    assert edit_and_compare(project, "pkg/sub.py", "return 1", "return 2") == {"pkg.sub.f"}


def test_import_inside_the_function_body(project: Project) -> None:
    project.write("helpers.py", "def load():\n    return 1\n")
    project.write(
        "pipeline.py",
        "def stage_fn():\n    import helpers\n    from helpers import load as ld\n"
        "    return helpers.load() + ld()\n",
    )
    assert edit_and_compare(project, "helpers.py", "return 1", "return 2") == {"helpers.load"}


def test_relative_import_inside_a_package_function(project: Project) -> None:
    project.write("pkg/__init__.py", "")
    project.write("pkg/a.py", "def f():\n    return 1\n")
    project.write("pkg/b.py", "def g():\n    from .a import f\n    return f()\n")
    project.write("pipeline.py", "from pkg.b import g\n\ndef stage_fn():\n    return g()\n")
    assert edit_and_compare(project, "pkg/a.py", "return 1", "return 2") == {"pkg.a.f"}


def test_transitive_chain(project: Project) -> None:
    project.write("c.py", "def deep():\n    return 1\n")
    project.write("b.py", "import c\n\ndef mid():\n    return c.deep()\n")
    project.write("pipeline.py", "from b import mid\n\ndef stage_fn():\n    return mid()\n")
    manifest = project.manifest()
    assert {"pipeline.stage_fn", "b.mid", "c.deep"} <= set(manifest.items)
    assert edit_and_compare(project, "c.py", "return 1", "return 2") == {"c.deep"}


def test_mutual_recursion_terminates(project: Project) -> None:
    project.write(
        "pipeline.py",
        """\
        def even(n):
            return True if n == 0 else odd(n - 1)

        def odd(n):
            return False if n == 0 else even(n - 1)

        def stage_fn():
            return even(4)
        """,
    )
    assert {"pipeline.even", "pipeline.odd"} <= set(project.manifest().items)
    assert edit_and_compare(project, "pipeline.py", "False if", "bool(0) if") == {"pipeline.odd"}


def test_unreached_code_does_not_count(project: Project) -> None:
    project.write(
        "helpers.py",
        "UNUSED = 1\n\ndef load():\n    return 1\n\ndef other():\n    return UNUSED\n",
    )
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.load()\n")
    assert edit_and_compare(project, "helpers.py", "UNUSED = 1", "UNUSED = 2") == set()
    assert edit_and_compare(project, "helpers.py", "return UNUSED", "return 0") == set()


def test_swapping_two_bindings_is_a_change(project: Project) -> None:
    project.write("helpers.py", "def a():\n    return 'a'\n\ndef b():\n    return 'b'\n")
    project.write(
        "pipeline.py",
        "from helpers import a as first, b as second\n\n"
        "def stage_fn():\n    return first() + second()\n",
    )
    keys = edit_and_compare(
        project, "pipeline.py", "a as first, b as second", "b as first, a as second"
    )
    assert keys == {"pipeline.stage_fn"}


# ------------------------------------------------------------------ constants


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("1", "2"),
        ("1", "1.0"),
        ("1", "True"),
        ("'a'", "'b'"),
        ("(1, 2)", "(2, 1)"),
        ("frozenset({1, 2})", "frozenset({1, 3})"),
        ("[1, 2]", "[1, 2, 3]"),
        ("{'a': 1, 'b': 2}", "{'b': 2, 'a': 1}"),
        ("{'a': [1, 2]}", "{'a': [1, 3]}"),
        ("{1, 2}", "{1, 3}"),
        ("None", "0"),
    ],
)
def test_module_constant_values_count(project: Project, old: str, new: str) -> None:
    project.write("helpers.py", f"VALUE = {old}\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.VALUE\n")
    assert edit_and_compare(project, "helpers.py", f"VALUE = {old}", f"VALUE = {new}") == {
        "helpers.VALUE"
    }


@pytest.mark.parametrize(
    ("old", "new"),
    [("2", "1 + 1"), ("(1, 2)", "tuple([1, 2])"), ("{2, 1}", "{1, 2}"), ("'ab'", "'a' + 'b'")],
)
def test_respelling_a_constant_with_the_same_value_changes_nothing(
    project: Project, old: str, new: str
) -> None:
    project.write("helpers.py", f"VALUE = {old}\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.VALUE\n")
    assert edit_and_compare(project, "helpers.py", f"VALUE = {old}", f"VALUE = {new}") == set()


def test_constant_imported_by_name(project: Project) -> None:
    project.write("config.py", "THRESHOLD = 0.5\n")
    project.write(
        "pipeline.py", "from config import THRESHOLD\n\ndef stage_fn():\n    return THRESHOLD\n"
    )
    keys = edit_and_compare(project, "config.py", "0.5", "0.7")
    assert keys == {"pipeline.THRESHOLD"}


def test_constant_read_by_a_helper(project: Project) -> None:
    project.write("helpers.py", "SCALE = 2\n\ndef scale(x):\n    return x * SCALE\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.scale(1)\n")
    assert edit_and_compare(project, "helpers.py", "SCALE = 2", "SCALE = 3") == {"helpers.SCALE"}


def test_helper_default_argument_value(project: Project) -> None:
    project.write("helpers.py", "def scale(x, factor=2):\n    return x * factor\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.scale(1)\n")
    assert edit_and_compare(project, "helpers.py", "factor=2", "factor=3") == {"helpers.scale"}


def test_dispatch_dict_and_function_list_entries_are_followed(project: Project) -> None:
    project.write(
        "pipeline.py",
        """\
        def a():
            return 1

        def b():
            return 2

        DISPATCH = {"a": a}
        STEPS = [b]

        def stage_fn():
            return DISPATCH["a"]() + STEPS[0]()
        """,
    )
    assert edit_and_compare(project, "pipeline.py", "return 1", "return 10") == {"pipeline.a"}
    assert edit_and_compare(project, "pipeline.py", "return 2", "return 20") == {"pipeline.b"}
    keys = edit_and_compare(project, "pipeline.py", '{"a": a}', '{"a": b}')
    assert keys == {"pipeline.DISPATCH", "pipeline.a"}


# ------------------------------------------------------------------ classes and instances


CLASS_MODULE = """\
import functools

def tag(cls):
    return cls

SCALE = 2

def helper_of_method(x):
    return x + 1

class Base:
    def base_method(self):
        return 1

@tag
class Model(Base):
    \"\"\"A model.\"\"\"

    rate = 0.1

    def fit(self, x):
        return helper_of_method(x) * SCALE

    @property
    def size(self):
        return 3
"""


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("helper_of_method(x) * SCALE", "helper_of_method(x) + SCALE", {"models.Model.fit"}),
        ("rate = 0.1", "rate = 0.2", {"models.Model"}),
        ("return 3", "return 4", {"models.Model.size"}),
        ("return x + 1", "return x + 2", {"models.helper_of_method"}),
        ("SCALE = 2", "SCALE = 5", {"models.SCALE"}),
        ("return 1", "return 5", {"models.Base.base_method"}),
        ("@tag\n", "", {"models.Model", "models.tag"}),
        ("    return cls\n", "    cls.extra = 1\n    return cls\n", {"models.tag", "models.Model"}),
        ('"""A model."""', '"""Another docstring."""', set()),
    ],
)
def test_classes_count_whole(project: Project, old: str, new: str, expected: set[str]) -> None:
    project.write("models.py", CLASS_MODULE)
    project.write(
        "pipeline.py", "import models\n\ndef stage_fn():\n    return models.Model().fit(1)\n"
    )
    assert edit_and_compare(project, "models.py", old, new) == expected


def test_method_attached_after_the_class_definition(project: Project) -> None:
    project.write(
        "models.py",
        "class Model:\n    pass\n\ndef extra(self):\n    return 1\n\nModel.extra = extra\n",
    )
    project.write(
        "pipeline.py", "import models\n\ndef stage_fn():\n    return models.Model().extra()\n"
    )
    assert edit_and_compare(project, "models.py", "return 1", "return 2") == {"models.extra"}


@pytest.mark.parametrize(
    ("old", "new"),
    [("lr=0.1", "lr=0.2"), ("layers=(1, 2)", "layers=(1, 3)")],
)
def test_dataclass_instance_in_a_global(project: Project, old: str, new: str) -> None:
    project.write(
        "config.py",
        """\
        from dataclasses import dataclass

        @dataclass(frozen=True)
        class Config:
            lr: float
            layers: tuple

        CONFIG = Config(lr=0.1, layers=(1, 2))
        """,
    )
    project.write("pipeline.py", "import config\n\ndef stage_fn():\n    return config.CONFIG.lr\n")
    assert edit_and_compare(project, "config.py", old, new) == {"config.CONFIG"}


def test_plain_instance_attributes_in_a_global(project: Project) -> None:
    project.write(
        "config.py",
        "class Settings:\n    def __init__(self, n):\n        self.n = n\n\n"
        "SETTINGS = Settings(3)\n",
    )
    project.write(
        "pipeline.py", "from config import SETTINGS\n\ndef stage_fn():\n    return SETTINGS.n\n"
    )
    assert edit_and_compare(project, "config.py", "Settings(3)", "Settings(4)") == {
        "pipeline.SETTINGS"
    }


def test_callable_instance(project: Project) -> None:
    project.write(
        "helpers.py",
        "class Scaler:\n    def __call__(self, x):\n        return x * 2\n\nscale = Scaler()\n",
    )
    project.write(
        "pipeline.py", "from helpers import scale\n\ndef stage_fn():\n    return scale(1)\n"
    )
    assert edit_and_compare(project, "helpers.py", "x * 2", "x * 3") == {"helpers.Scaler.__call__"}


# ------------------------------------------------------------------ wrappers


def test_functools_partial(project: Project) -> None:
    project.write(
        "helpers.py",
        "import functools\n\ndef scale(x, k):\n    return x * k\n\n"
        "double = functools.partial(scale, k=2)\n",
    )
    project.write(
        "pipeline.py", "from helpers import double\n\ndef stage_fn():\n    return double(1)\n"
    )
    assert edit_and_compare(project, "helpers.py", "x * k", "x + k") == {"helpers.scale"}
    assert edit_and_compare(project, "helpers.py", "k=2", "k=3") == {"pipeline.double"}


WRAPS_MODULE = """\
import functools

def logged(func):
    @functools.wraps(func)
    def wrapper(*args):
        return func(*args) + 0
    return wrapper

@logged
def load():
    return 1

@logged
def save():
    return 2
"""


def test_wraps_decorator_counts_both_the_wrapper_and_the_wrapped(project: Project) -> None:
    project.write("helpers.py", WRAPS_MODULE)
    project.write(
        "pipeline.py",
        "from helpers import load, save\n\ndef stage_fn():\n    return load() + save()\n",
    )
    manifest = project.manifest()
    assert {"helpers.load", "helpers.save", "helpers.logged.<locals>.wrapper"} <= set(
        manifest.items
    )
    assert edit_and_compare(project, "helpers.py", "return 1", "return 5") == {"helpers.load"}
    keys = edit_and_compare(project, "helpers.py", "func(*args) + 0", "func(*args) + 1")
    assert keys == {"helpers.logged", "helpers.logged.<locals>.wrapper"}


def test_decorator_logic_counts(project: Project) -> None:
    project.write("helpers.py", WRAPS_MODULE)
    project.write("pipeline.py", "from helpers import load\n\ndef stage_fn():\n    return load()\n")
    keys = edit_and_compare(project, "helpers.py", "    return wrapper\n", "    return func\n")
    assert "helpers.logged" in keys


@pytest.mark.parametrize("decorator", ["functools.lru_cache(maxsize=None)", "functools.cache"])
def test_cache_wrappers(project: Project, decorator: str) -> None:
    project.write(
        "helpers.py",
        f"import functools\n\n@{decorator}\ndef fib(n):\n"
        "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",
    )
    project.write("pipeline.py", "from helpers import fib\n\ndef stage_fn():\n    return fib(5)\n")
    assert edit_and_compare(project, "helpers.py", "n if n < 2", "n if n < 3") == {"helpers.fib"}


def test_closure_instances_from_one_factory_are_told_apart(project: Project) -> None:
    project.write(
        "helpers.py",
        "def make(n):\n    def add(x):\n        return x + n\n    return add\n\n"
        "add1 = make(1)\nadd2 = make(2)\n",
    )
    project.write(
        "pipeline.py",
        "from helpers import add1, add2\n\ndef stage_fn():\n    return add1(0) + add2(0)\n",
    )
    before = project.manifest()
    project.edit("helpers.py", "add2 = make(2)", "add2 = make(3)")
    after = project.manifest()
    assert before.items != after.items


def test_self_referencing_closure_terminates(project: Project) -> None:
    project.write(
        "helpers.py",
        "def make():\n    def rec(n):\n        return 0 if n == 0 else rec(n - 1)\n"
        "    return rec\n\n"
        "rec = make()\n",
    )
    project.write("pipeline.py", "from helpers import rec\n\ndef stage_fn():\n    return rec(3)\n")
    assert "helpers.make.<locals>.rec" in project.manifest().items


# ------------------------------------------------------------------ libraries


def test_library_callables_are_recorded_by_qualified_name(project: Project) -> None:
    project.write("pipeline.py", "import math\n\ndef stage_fn():\n    return math.floor(1.5)\n")
    manifest = project.manifest()
    assert "math.floor" in manifest.items
    assert not any(k.startswith("math.") and k != "math.floor" for k in manifest.items)


def test_rebinding_a_library_name_is_a_change(project: Project) -> None:
    project.write(
        "pipeline.py", "from math import floor as rnd\n\ndef stage_fn():\n    return rnd(1.5)\n"
    )
    keys = edit_and_compare(project, "pipeline.py", "floor as rnd", "ceil as rnd")
    assert keys == {"pipeline.stage_fn", "math.floor", "math.ceil"}


def test_swapping_numpy_mean_for_median(project: Project) -> None:
    np = pytest.importorskip("numpy")
    del np
    project.write(
        "pipeline.py", "import numpy as np\n\ndef stage_fn():\n    return np.mean([1, 2])\n"
    )
    keys = edit_and_compare(project, "pipeline.py", "np.mean", "np.median")
    assert {"pipeline.stage_fn", "numpy.mean", "numpy.median"} <= keys


def test_library_source_is_not_hashed(project: Project) -> None:
    project.write("pipeline.py", "import json\n\ndef stage_fn():\n    return json.dumps(1)\n")
    manifest = project.manifest()
    assert set(manifest.items) == {"pipeline.stage_fn", "json.dumps"}
    assert manifest.files == ("pipeline.py",)


def test_virtualenv_inside_the_project_is_library_code(project: Project) -> None:
    project.write(".venv/pyvenv.cfg", "home = /usr\n")
    project.write(".venv/lib/vendored.py", "def f():\n    return 1\n")
    project.write(
        "pipeline.py",
        "import sys, os\n"
        "sys.path.insert(0, os.path.join(os.path.dirname(__file__), '.venv', 'lib'))\n"
        "import vendored\n\ndef stage_fn():\n    return vendored.f()\n",
    )
    manifest = project.manifest()
    assert "vendored.f" in manifest.items
    assert manifest.files == ("pipeline.py",)
    assert edit_and_compare(project, ".venv/lib/vendored.py", "return 1", "return 2") == set()


# ------------------------------------------------------------------ what cannot be followed


@pytest.mark.parametrize(
    ("body", "construct"),
    [
        ("return getattr(helpers, name)()", "getattr() with a computed attribute name"),
        ("return eval('1 + 1')", "eval()"),
        ("exec('x = 1')", "exec()"),
        ("import importlib\n    return importlib.import_module(name)", "importlib.import_module()"),
        ("return __import__(name)", "__import__() (line 5): the module it imports is not followed"),
        ("CACHE.append(1)", "mutates the global 'CACHE'"),
    ],
)
def test_unsafe_constructs_warn(project: Project, body: str, construct: str) -> None:
    project.write("helpers.py", "def f():\n    return 1\n")
    project.write(
        "pipeline.py",
        f"import helpers\nCACHE = []\n\ndef stage_fn(name: str = 'f'):\n    {body}\n",
    )
    warnings = project.manifest().warnings
    assert any(construct in w and w.startswith("pipeline.stage_fn") for w in warnings), warnings


def test_constant_getattr_does_not_warn(project: Project) -> None:
    project.write("pipeline.py", "import math\n\ndef stage_fn():\n    return getattr(math, 'pi')\n")
    assert project.manifest().warnings == ()


def test_opaque_global_value_warns(project: Project) -> None:
    project.write(
        "pipeline.py",
        "import threading\nLOCK = threading.Lock()\n\ndef stage_fn():\n    return LOCK\n",
    )
    warnings = project.manifest().warnings
    assert any("pipeline.LOCK" in w and "cannot fingerprint" in w for w in warnings), warnings


def test_escape_hatch_adds_code_and_files(project: Project) -> None:
    project.write("plugins.py", "def plugin():\n    return 1\n")
    project.write("query.sql", "select 1\n")
    project.write("pipeline.py", "def stage_fn():\n    return 1\n")
    plugins = project.load("plugins:plugin")
    before = project.manifest(extra=(plugins, "query.sql"))
    assert "plugins.plugin" in before.items
    assert "file:query.sql" in before.items
    assert "query.sql" in before.files
    project.write("query.sql", "select 2\n")
    plugins = project.load("plugins:plugin")
    after = project.manifest(extra=(plugins, "query.sql"))
    assert changed_keys(before, after) == {"file:query.sql"}


def test_missing_escape_hatch_file_warns(project: Project) -> None:
    project.write("pipeline.py", "def stage_fn():\n    return 1\n")
    manifest = project.manifest(extra=("nope.sql",))
    assert any("nope.sql" in w for w in manifest.warnings)


# ------------------------------------------------------------------ shape of the manifest


def test_manifest_lists_project_files(project: Project) -> None:
    project.write("helpers.py", "def load():\n    return 1\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.load()\n")
    assert project.manifest().files == ("helpers.py", "pipeline.py")


def test_manifest_is_sorted_and_stable(project: Project) -> None:
    project.write("helpers.py", "B = 1\nA = 2\n\ndef load():\n    return A + B\n")
    project.write("pipeline.py", "import helpers\n\ndef stage_fn():\n    return helpers.load()\n")
    first = project.manifest()
    second = project.manifest()
    assert list(first.items) == sorted(first.items)
    assert first == second


@pytest.mark.parametrize(
    "source",
    [
        "import numpy as np\n\ndef stage_fn():\n    return np.exp(1.0) + np.sort([2, 1])[0]\n",
        "from numpy import exp, log\n\ndef stage_fn():\n    return exp(log(2.0))\n",
    ],
)
def test_library_callables_of_any_type_are_names_not_values(project: Project, source: str) -> None:
    pytest.importorskip("numpy")
    project.write("pipeline.py", source)
    manifest = project.manifest()
    assert manifest.warnings == ()
    assert "numpy.exp" in manifest.items


def test_ufunc_swap_is_a_change(project: Project) -> None:
    pytest.importorskip("numpy")
    project.write(
        "pipeline.py", "from numpy import exp as f\n\ndef stage_fn():\n    return f(1.0)\n"
    )
    assert "pipeline.stage_fn" in edit_and_compare(project, "pipeline.py", "exp as f", "log as f")


def test_callable_built_by_the_project_from_a_library_is_a_value(project: Project) -> None:
    pytest.importorskip("numpy")
    project.write(
        "pipeline.py",
        "import numpy as np\n\ndef f(x):\n    return x\n\nvec = np.vectorize(f)\n\n"
        "def stage_fn():\n    return vec([1])\n",
    )
    warnings = project.manifest().warnings
    assert any("pipeline.vec" in w and "numpy.vectorize" in w for w in warnings), warnings


@pytest.mark.parametrize(
    "expression", ["os.environ['HOME']", "os.environ.get('HOME')", "os.getenv('HOME')"]
)
def test_reading_environment_variables_warns(project: Project, expression: str) -> None:
    project.write("pipeline.py", f"import os\n\ndef stage_fn():\n    return {expression}\n")
    warnings = project.manifest().warnings
    assert any("environment variables" in w for w in warnings), warnings


def test_files_include_the_module_of_a_constant_read(project: Project) -> None:
    project.write("config.py", "THRESHOLD = 0.5\n")
    project.write("pipeline.py", "import config\n\ndef stage_fn():\n    return config.THRESHOLD\n")
    assert project.manifest().files == ("config.py", "pipeline.py")
