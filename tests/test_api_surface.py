"""The public API: exactly the names in `fastpipe.__all__`, each resolving, and a light import."""

from __future__ import annotations

import inspect
import json
import pkgutil
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import fastpipe
from fastpipe import errors

PUBLIC = [
    "AcceptError",
    "CacheError",
    "DvcError",
    "ExecutorError",
    "ExportResult",
    "FastpipeError",
    "FastpipeWarning",
    "Freshness",
    "GraphError",
    "ImportReport",
    "InitResult",
    "LockSchemaError",
    "MetricsError",
    "Out",
    "Outcome",
    "ParamsError",
    "Plot",
    "ProjectBusyError",
    "ProjectError",
    "Reason",
    "ReasonKind",
    "RemoteError",
    "ResourceError",
    "RevisionError",
    "RunNotFoundError",
    "RunResult",
    "StageDefinitionError",
    "StageInfo",
    "StageResult",
    "StageRun",
    "StageSpec",
    "StageStatus",
    "StatusReport",
    "UnknownStageError",
    "UnsafeInputError",
    "ValidationReport",
    "checkout",
    "dag",
    "exec_stage",
    "explain",
    "export",
    "import_dvc",
    "init",
    "list_stages",
    "metrics",
    "metrics_diff",
    "open",
    "params",
    "params_diff",
    "run",
    "stage",
    "status",
    "validate_export",
]


def test_all_is_exactly_the_public_surface() -> None:
    assert sorted(fastpipe.__all__) == PUBLIC


@pytest.mark.parametrize("name", PUBLIC)
def test_every_public_name_resolves(name: str) -> None:
    value = getattr(fastpipe, name)
    assert not isinstance(value, type(fastpipe)), f"fastpipe.{name} is a module"
    assert getattr(value, "__name__", name) == name


def test_every_error_class_is_exported() -> None:
    defined = {
        name
        for name, value in vars(errors).items()
        if isinstance(value, type) and issubclass(value, (errors.FastpipeError, Warning))
    }
    assert len(defined) == 19
    assert defined <= set(fastpipe.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'statuz'"):
        _ = fastpipe.statuz  # pyright: ignore[reportAttributeAccessIssue]


def test_export_stays_the_function_after_the_export_package_is_imported() -> None:
    from fastpipe.export import dvcyaml

    assert dvcyaml.__name__ == "fastpipe.export.dvcyaml"
    assert callable(fastpipe.export) and fastpipe.export.__module__ == "fastpipe.api"


def test_import_fastpipe_loads_no_heavy_module() -> None:
    code = (
        "import json, sys, fastpipe\n"
        "print(json.dumps(sorted(sys.modules)))\n"
        "fastpipe.stage, fastpipe.FastpipeError, fastpipe.Outcome\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    first, after_light_names = (set(json.loads(line)) for line in proc.stdout.splitlines())
    for loaded in (first, after_light_names):
        heavy = {"networkx", "yaml", "typer", "fastpipe.runner", "fastpipe.api", "fastpipe.params"}
        assert not heavy & loaded
    assert "fastpipe" in first
    assert "fastpipe.stage" not in first  # the decorator too is loaded on first use
    assert {"fastpipe.stage", "fastpipe.errors", "fastpipe.results"} <= after_light_names


def test_the_functions_take_root() -> None:
    for name in ("run", "status", "explain", "list_stages", "dag", "init", "export"):
        params = inspect.signature(getattr(fastpipe, name)).parameters
        assert params["root"].kind is inspect.Parameter.KEYWORD_ONLY, name
        assert "cwd" not in params, name


PIPELINE = """\
from pathlib import Path

from fastpipe import stage


@stage(outs=["a.txt"])
def a(n: int = 1) -> None:
    Path("a.txt").write_text(f"{n}\\n")


@stage(deps=["a.txt"], outs=["b.txt"])
def b() -> None:
    raise RuntimeError("b is broken")
"""


@pytest.fixture(autouse=True)
def _forget_pipeline() -> Iterator[None]:
    """The inline executor imports pipeline.py here: leave no module behind for other tests."""
    yield
    sys.modules.pop("pipeline", None)


def test_params_are_python_values_checked_as_set_is(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE)

    result = fastpipe.run("a", root=tmp_path, params={"a.n": 7}, executor="inline")

    assert result.ok and (tmp_path / "a.txt").read_text() == "7\n"
    with pytest.raises(fastpipe.ParamsError, match="expected int"):
        fastpipe.run(root=tmp_path, params={"a.n": "seven"})
    with pytest.raises(fastpipe.ParamsError, match=r"STAGE\.PARAM"):
        fastpipe.run(root=tmp_path, params={"n": 7})
    with pytest.raises(fastpipe.ParamsError, match="has no param 'm'"):
        fastpipe.exec_stage("a", root=tmp_path, params={"a.m": 1})


def test_a_failing_stage_is_a_result_and_a_mistake_an_error(tmp_path: Path) -> None:
    (tmp_path / "pipeline.py").write_text(PIPELINE)

    result = fastpipe.run(root=str(tmp_path), executor="inline")

    assert not result.ok
    assert result.names(fastpipe.Outcome.FAILED) == ["b"]
    [failed] = [s for s in result.stages if s.name == "b"]
    assert failed.error is not None and "b is broken" in failed.error
    with pytest.raises(fastpipe.UnknownStageError, match="did you mean 'a'"):
        fastpipe.status(["aa"], root=tmp_path)
    with pytest.raises(fastpipe.ProjectError):
        fastpipe.status(root=tmp_path / "nowhere")


def test_no_code_imports_a_submodule_that_a_public_name_hides() -> None:
    """`from fastpipe import export` gives the function `export`, not the subpackage.

    A public name that is also a submodule's (`export`; `params` if it becomes public) must be
    imported as `from fastpipe.export import dvcyaml` / `from fastpipe.params import ...`.
    """
    package = Path(fastpipe.__file__).parent
    submodules = {info.name for info in pkgutil.iter_modules([str(package)])}
    hidden = submodules & set(fastpipe.__all__) - {"stage"}  # `from fastpipe import stage`: @stage
    assert "export" in hidden
    pattern = re.compile(r"^\s*from fastpipe import ([\w, ()]+)", re.M)
    offenders = []
    for path in [*package.rglob("*.py"), *(package.parents[1] / "tests").rglob("*.py")]:
        for match in pattern.finditer(path.read_text()):
            imported = {n.strip(" ()").split(" as ")[0] for n in match.group(1).split(",")}
            offenders += [f"{path.name}: {name}" for name in imported & hidden]
    assert not offenders, offenders
