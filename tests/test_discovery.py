"""Tests for fastpipe.discovery: project root, config, pipeline import and stage collection."""

from __future__ import annotations

import sys
import textwrap
import types
from collections.abc import Iterator
from pathlib import Path

import pytest

from fastpipe.discovery import (
    Pipeline,
    Project,
    ProjectConfig,
    Stage,
    collect_stages,
    find_root,
    import_pipeline,
    load_pipeline,
    load_project,
    read_config,
)
from fastpipe.errors import ProjectError, StageDefinitionError
from fastpipe.layout import Layout
from fastpipe.stage import spec_of, stage

STAGES = """\
from fastpipe import stage


@stage(outs=["a.txt"])
def first(n: int = 1) -> int:
    return n


@stage(deps=["a.txt"], outs=["b.txt"])
def second() -> str:
    return "second"
"""


def write(root: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path -> dedented text) under `root`; return `root`."""
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root


def pyproject(table: str) -> dict[str, str]:
    return {"pyproject.toml": f"[project]\nname = 'x'\n\n[tool.fastpipe]\n{textwrap.dedent(table)}"}


def load(root: Path) -> Pipeline:
    return load_pipeline(load_project(root))


def _under(module: types.ModuleType, root: str) -> bool:
    file = getattr(module, "__file__", None) or ""
    paths = list(getattr(module, "__path__", []) or [])
    return any(str(p).startswith(root) for p in [file, *paths] if p)


@pytest.fixture(autouse=True)
def isolated_imports(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Undo what importing test projects does to sys.path and sys.modules."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = dict(sys.modules)
    yield
    root = str(tmp_path)
    for name, module in list(sys.modules.items()):
        if name not in before and _under(module, root):
            del sys.modules[name]
    for name, module in before.items():
        sys.modules.setdefault(name, module)


# --- find_root ------------------------------------------------------------------------------


def test_find_root_in_the_directory_holding_pipeline_py(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": ""})

    assert find_root(tmp_path) == tmp_path.resolve()


def test_find_root_walks_up_to_the_nearest_ancestor(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": "", "src/deep/er/keep.txt": ""})

    assert find_root(tmp_path / "src" / "deep" / "er") == tmp_path.resolve()


def test_find_root_accepts_a_relative_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"pipeline.py": "", "sub/keep.txt": ""})
    monkeypatch.chdir(tmp_path / "sub")

    assert find_root(Path()) == tmp_path.resolve()


def test_find_root_via_pyproject_with_a_fastpipe_table(tmp_path: Path) -> None:
    write(tmp_path, {**pyproject("jobs = 2\n"), "code/keep.txt": ""})

    assert find_root(tmp_path / "code") == tmp_path.resolve()


def test_find_root_via_an_empty_fastpipe_table(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.fastpipe]\n", "code/keep.txt": ""})

    assert find_root(tmp_path / "code") == tmp_path.resolve()


@pytest.mark.parametrize(
    "text",
    [
        "[tool.fastpipe.resources]\nmem = 4\n",
        "tool.fastpipe.jobs = 2\n",
        "[tool]\nfastpipe = { jobs = 2 }\n",
    ],
)
def test_find_root_via_other_spellings_of_the_table(tmp_path: Path, text: str) -> None:
    write(tmp_path, {"pyproject.toml": text, "code/keep.txt": ""})

    assert find_root(tmp_path / "code") == tmp_path.resolve()


def test_find_root_skips_a_pyproject_without_the_table(tmp_path: Path) -> None:
    outer = write(tmp_path, {"pipeline.py": ""})
    write(
        tmp_path / "lib",
        {
            "pyproject.toml": "[project]\nname = 'lib'\n\n[tool.ruff]\nline-length = 100\n",
            "pkg/keep.txt": "",
        },
    )

    assert find_root(tmp_path / "lib" / "pkg") == outer.resolve()


def test_find_root_skips_a_pyproject_mentioning_fastpipe_elsewhere(tmp_path: Path) -> None:
    outer = write(tmp_path, {"pipeline.py": ""})
    write(tmp_path / "lib", {"pyproject.toml": "[project]\ndependencies = ['fastpipe']\n"})

    assert find_root(tmp_path / "lib") == outer.resolve()


def test_a_nested_project_wins_over_an_outer_one(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": ""})
    inner = write(tmp_path / "inner", {**pyproject("jobs = 1\n"), "sub/keep.txt": ""})

    assert find_root(inner / "sub") == inner.resolve()
    write(tmp_path / "other", {"pipeline.py": "", "deep/keep.txt": ""})
    assert find_root(tmp_path / "other" / "deep") == (tmp_path / "other").resolve()


def test_find_root_without_a_project_is_an_error_suggesting_init(tmp_path: Path) -> None:
    start = tmp_path / "empty"
    start.mkdir()
    if any((d / "pipeline.py").is_file() for d in start.resolve().parents):
        pytest.skip("a pipeline.py above the temporary directory")

    with pytest.raises(ProjectError, match="fastpipe init") as info:
        find_root(start)
    assert str(start.resolve()) in str(info.value)


def test_find_root_from_a_file_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": ""})

    with pytest.raises(ProjectError, match="not a directory") as info:
        find_root(tmp_path / "pipeline.py")
    assert "pipeline.py" in str(info.value)


def test_find_root_with_a_malformed_fastpipe_pyproject_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.fastpipe]\njobs = = 2\n"})

    with pytest.raises(ProjectError, match=r"pyproject\.toml: cannot read it"):
        find_root(tmp_path)


def test_find_root_skips_a_pyproject_that_is_not_utf8(tmp_path: Path) -> None:
    outer = write(tmp_path, {"pipeline.py": ""})
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "pyproject.toml").write_bytes(b"[project]\nname = 'caf\xe9'\n")

    assert find_root(tmp_path / "lib") == outer.resolve()


def test_find_root_skips_an_unreadable_pyproject(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outer = write(tmp_path, {"pipeline.py": ""})
    inner = write(tmp_path / "lib", pyproject("jobs = 1\n"))

    def unreadable(self: Path, *args: object, **kwargs: object) -> str:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "read_text", unreadable)

    assert find_root(inner) == outer.resolve()


# --- read_config ----------------------------------------------------------------------------


def test_read_config_without_pyproject_gives_defaults(tmp_path: Path) -> None:
    config = read_config(tmp_path)

    assert config == ProjectConfig()
    assert config.pipeline == "pipeline"
    assert config.preload == ()
    assert config.executor is None
    assert config.jobs is None
    assert config.resources == ()
    assert config.dask_address is None


def test_read_config_without_the_table_gives_defaults(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[project]\nname = 'x'\n"})

    assert read_config(tmp_path) == ProjectConfig()


def test_read_config_parses_every_key(tmp_path: Path) -> None:
    write(
        tmp_path,
        pyproject(
            """\
            pipeline = "pkg.flows"
            preload = ["numpy", "pandas"]
            executor = "process"
            jobs = 4
            dask_address = "tcp://10.0.0.1:8786"

            [tool.fastpipe.resources]
            mem = 64
            licenses = 1.5
            """
        ),
    )

    config = read_config(tmp_path)

    assert config == ProjectConfig(
        pipeline="pkg.flows",
        preload=("numpy", "pandas"),
        executor="process",
        jobs=4,
        resources=(("licenses", 1.5), ("mem", 64.0)),
        dask_address="tcp://10.0.0.1:8786",
    )


def test_read_config_unknown_key_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, pyproject("pipline = 'flows'\n"))

    with pytest.raises(ProjectError, match="unknown") as info:
        read_config(tmp_path)
    assert "'pipline'" in str(info.value)
    assert "pipeline" in str(info.value).split("'pipline'")[1]


@pytest.mark.parametrize(
    ("line", "key"),
    [
        ("pipeline = 3", "pipeline"),
        ("preload = 'numpy'", "preload"),
        ("executor = ['warm']", "executor"),
        ("jobs = '4'", "jobs"),
        ("jobs = 2.5", "jobs"),
        ("jobs = true", "jobs"),
        ("resources = 3", "resources"),
        ("dask_address = 8786", "dask_address"),
    ],
)
def test_read_config_wrong_type_is_an_error_naming_the_key(
    tmp_path: Path, line: str, key: str
) -> None:
    write(tmp_path, pyproject(line + "\n"))

    with pytest.raises(ProjectError, match=f"\\[tool.fastpipe\\] {key} must be"):
        read_config(tmp_path)


def test_read_config_preload_must_hold_strings(tmp_path: Path) -> None:
    write(tmp_path, pyproject("preload = ['numpy', 3]\n"))

    with pytest.raises(ProjectError, match="preload must be a list of strings"):
        read_config(tmp_path)


@pytest.mark.parametrize("jobs", [0, -2])
def test_read_config_jobs_below_one_is_an_error(tmp_path: Path, jobs: int) -> None:
    write(tmp_path, pyproject(f"jobs = {jobs}\n"))

    with pytest.raises(ProjectError, match=f"jobs must be >= 1, not {jobs}"):
        read_config(tmp_path)


@pytest.mark.parametrize("amount", ["-1", "true", "'4'", "{ a = 1 }"])
def test_read_config_bad_resource_amount_is_an_error_naming_it(tmp_path: Path, amount: str) -> None:
    write(tmp_path, pyproject(f"resources = {{ mem = {amount} }}\n"))

    with pytest.raises(ProjectError, match=r"resources\.mem must be a number >= 0"):
        read_config(tmp_path)


def test_read_config_malformed_toml_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.fastpipe\njobs = 2\n"})

    with pytest.raises(ProjectError, match=r"pyproject\.toml: cannot read it"):
        read_config(tmp_path)


def test_read_config_pyproject_not_utf8_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"[tool.fastpipe]\nexecutor = 'caf\xe9'\n")

    with pytest.raises(ProjectError, match=r"pyproject\.toml: cannot read it"):
        read_config(tmp_path)


def test_read_config_fastpipe_must_be_a_table(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool]\nfastpipe = 3\n"})

    with pytest.raises(ProjectError, match=r"\[tool.fastpipe\] must be a table"):
        read_config(tmp_path)


def test_load_project_gives_root_config_and_layout(tmp_path: Path) -> None:
    write(tmp_path, {**pyproject("jobs = 3\n"), "sub/keep.txt": ""})

    project = load_project(tmp_path / "sub")

    assert project == Project(tmp_path.resolve(), ProjectConfig(jobs=3))
    assert project.layout == Layout(tmp_path.resolve())
    assert project.layout.stages == tmp_path.resolve() / ".fastpipe" / "stages"


# --- load_pipeline: importing the pipeline module -------------------------------------------


def test_load_pipeline_imports_a_real_module_with_sibling_imports(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "helpers.py": "def double(x: int) -> int:\n    return 2 * x\n",
            "pipeline.py": """\
                import helpers
                from fastpipe import stage


                @stage(outs=["x.txt"])
                def make(n: int = 3) -> int:
                    return helpers.double(n)
                """,
        },
    )

    pipeline = load(tmp_path)

    assert pipeline.module.__name__ == "pipeline"
    assert sys.modules["pipeline"] is pipeline.module
    assert pipeline.module.__file__ == str(tmp_path.resolve() / "pipeline.py")
    assert str(tmp_path.resolve()) in sys.path
    assert sys.modules["helpers"].__file__ == str(tmp_path.resolve() / "helpers.py")
    assert list(pipeline.stages) == ["make"]
    stage_ = pipeline.stages["make"]
    assert stage_.name == "make"
    assert stage_.func() == 6
    assert stage_.spec.module == "pipeline"
    assert stage_.spec.qualname == "make"
    assert pipeline.specs == {"make": stage_.spec}
    assert pipeline.project.root == tmp_path.resolve()


def test_load_pipeline_from_a_configured_module_in_a_package(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            **pyproject("pipeline = 'pkg.flows'\n"),
            "pkg/__init__.py": "",
            "pkg/util.py": "VALUE = 41\n",
            "pkg/flows.py": """\
                from fastpipe import stage

                from pkg.util import VALUE


                @stage()
                def answer() -> int:
                    return VALUE + 1
                """,
        },
    )

    pipeline = load(tmp_path)

    assert pipeline.module.__name__ == "pkg.flows"
    assert pipeline.stages["answer"].func() == 42
    assert pipeline.stages["answer"].spec.module == "pkg.flows"


def test_stages_imported_from_another_module_are_collected(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "steps.py": STAGES,
            "pipeline.py": """\
                from fastpipe import stage
                from steps import first, second


                @stage(deps=["b.txt"])
                def third() -> None:
                    pass
                """,
        },
    )

    pipeline = load(tmp_path)

    assert list(pipeline.stages) == ["first", "second", "third"]
    assert pipeline.stages["first"].spec.module == "steps"
    assert pipeline.stages["first"].func() == 1


def test_stages_reached_only_through_a_module_attribute_are_not_collected(tmp_path: Path) -> None:
    write(tmp_path, {"steps.py": STAGES, "pipeline.py": "import steps\n"})

    assert load(tmp_path).stages == {}


def test_one_function_bound_under_two_names_is_one_stage(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": """\
                from fastpipe import stage


                @stage(outs=["o"])
                def build() -> None:
                    pass


                alias = build
                another = build
                """
        },
    )

    pipeline = load(tmp_path)

    assert list(pipeline.stages) == ["build"]
    assert pipeline.stages["build"].func is pipeline.module.build


def test_two_functions_with_one_stage_name_is_an_error_naming_both(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "steps.py": """\
                from fastpipe import stage


                @stage(name="train")
                def fit() -> None:
                    pass
                """,
            "pipeline.py": """\
                from fastpipe import stage
                from steps import fit


                @stage()
                def train() -> None:
                    pass
                """,
        },
    )

    with pytest.raises(StageDefinitionError, match="'train'") as info:
        load(tmp_path)
    message = str(info.value)
    assert "steps.fit" in message
    assert "pipeline.train" in message
    assert "@stage(name=...)" in message


def test_stages_are_sorted_by_name(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": """\
                from fastpipe import stage


                @stage()
                def zeta() -> None: ...


                @stage(name="alpha")
                def middle() -> None: ...


                @stage()
                def beta() -> None: ...
                """
        },
    )

    assert list(load(tmp_path).stages) == ["alpha", "beta", "zeta"]


def test_importing_twice_sees_edits_on_disk(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "helpers.py": "LABEL = 'old'\n",
            "pipeline.py": """\
                import helpers
                from fastpipe import stage


                @stage()
                def old_stage() -> str:
                    return helpers.LABEL
                """,
        },
    )
    first = load(tmp_path)
    assert first.stages["old_stage"].func() == "old"

    write(
        tmp_path,
        {
            "helpers.py": "LABEL = 'new, and longer than before'\n",
            "pipeline.py": """\
                import helpers
                from fastpipe import stage


                @stage()
                def new_stage() -> str:
                    return helpers.LABEL
                """,
        },
    )
    second = load(tmp_path)

    assert list(second.stages) == ["new_stage"]
    assert second.stages["new_stage"].func() == "new, and longer than before"
    assert second.module is not first.module
    assert first.stages["old_stage"].func() == "old"


def make_twin(root: Path, label: str) -> Path:
    """A project with its own pipeline.py and helpers.py, the stage named after `label`."""
    return write(
        root,
        {
            "helpers.py": f"LABEL = {label!r}\n",
            "pipeline.py": f"""\
                import helpers
                from fastpipe import stage


                @stage()
                def {label}() -> str:
                    return helpers.LABEL
                """,
        },
    )


def test_two_projects_in_one_process_do_not_shadow_each_other(tmp_path: Path) -> None:
    first = make_twin(tmp_path / "first", "one")
    second = make_twin(tmp_path / "second", "two")

    for root, label in [(first, "one"), (second, "two"), (first, "one"), (second, "two")]:
        pipeline = load(root)
        assert list(pipeline.stages) == [label], f"loading {root.name}"
        assert pipeline.stages[label].func() == label
        assert pipeline.module.__file__ == str(root.resolve() / "pipeline.py")
        assert sys.modules["helpers"].__file__ == str(root.resolve() / "helpers.py")


def test_a_pipeline_raising_at_import_is_a_project_error_with_traceback(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": """\
                def broken_setup():
                    raise ValueError("bad setting 42")


                broken_setup()
                """
        },
    )

    with pytest.raises(ProjectError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "'pipeline'" in message
    assert "ValueError: bad setting 42" in message
    details = info.value.details
    assert details is not None
    assert "Traceback" in details
    assert "broken_setup" in details
    assert str(tmp_path.resolve() / "pipeline.py") in details
    assert info.value.__cause__ is None


def test_sys_exit_at_import_is_a_project_error(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": "import sys\nsys.exit(3)\n"})

    with pytest.raises(ProjectError, match="SystemExit"):
        load(tmp_path)


def test_keyboard_interrupt_at_import_propagates(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": "raise KeyboardInterrupt\n"})

    with pytest.raises(KeyboardInterrupt):
        load(tmp_path)


def test_a_syntax_error_is_a_project_error_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": "x = 1\ndef broken(:\n    pass\n"})

    with pytest.raises(ProjectError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "'pipeline'" in message
    assert "SyntaxError" in message
    assert info.value.details is not None
    assert "pipeline.py" in info.value.details
    assert "line 2" in info.value.details


def test_an_error_in_a_sibling_module_is_a_project_error(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"helpers.py": "1 / 0\n", "pipeline.py": "import helpers\n"},
    )

    with pytest.raises(ProjectError, match="ZeroDivisionError") as info:
        load(tmp_path)
    assert info.value.details is not None
    assert "helpers.py" in info.value.details


def test_a_missing_configured_module_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, pyproject("pipeline = 'flows_that_do_not_exist'\n"))

    with pytest.raises(ProjectError, match="'flows_that_do_not_exist' not found") as info:
        load(tmp_path)
    assert str(tmp_path.resolve()) in str(info.value)


def test_a_missing_configured_submodule_is_an_error_naming_it(tmp_path: Path) -> None:
    write(tmp_path, {**pyproject("pipeline = 'pkg.nothing'\n"), "pkg/__init__.py": ""})

    with pytest.raises(ProjectError, match=r"'pkg\.nothing' not found"):
        load(tmp_path)


@pytest.mark.parametrize("missing", ["pipe", "not_installed_anywhere_xyz"])
def test_a_missing_import_inside_the_pipeline_is_reported_as_such(
    tmp_path: Path, missing: str
) -> None:
    write(tmp_path, {"pipeline.py": f"import {missing}\n"})

    with pytest.raises(ProjectError) as info:
        load(tmp_path)
    message = str(info.value)
    assert "importing the pipeline module 'pipeline' failed" in message
    assert f"ModuleNotFoundError: No module named '{missing}'" in message
    assert info.value.details is not None


def test_a_stage_definition_error_during_import_propagates_unwrapped(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "pipeline.py": """\
                from fastpipe import stage


                @stage(outs="model.pkl")
                def train(lr: float = 0.1) -> None:
                    pass
                """
        },
    )

    with pytest.raises(StageDefinitionError, match=r"stage 'train'.*outs") as info:
        load(tmp_path)
    assert not isinstance(info.value, ProjectError)


def test_import_pipeline_returns_the_module(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": STAGES})

    module = import_pipeline(load_project(tmp_path))

    assert isinstance(module, types.ModuleType)
    assert spec_of(module.first) is not None


def test_import_pipeline_does_not_duplicate_the_root_on_sys_path(tmp_path: Path) -> None:
    write(tmp_path, {"pipeline.py": ""})
    project = load_project(tmp_path)

    import_pipeline(project)
    import_pipeline(project)

    assert sys.path.count(str(tmp_path.resolve())) == 1
    assert sys.path[0] == str(tmp_path.resolve())


def test_import_pipeline_survives_an_unlistable_root(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, {"pipeline.py": STAGES})
    project = load_project(tmp_path)

    def unlistable(self: Path) -> Iterator[Path]:
        raise PermissionError(13, "Permission denied", str(self))

    monkeypatch.setattr(Path, "iterdir", unlistable)

    assert list(load_pipeline(project).stages) == ["first", "second"]


# --- collect_stages on a module value -------------------------------------------------------


def test_collect_stages_from_a_module_value() -> None:
    module = types.ModuleType("handmade")

    def build() -> None: ...

    def plain() -> None: ...

    stage(name="b")(build)
    module.build = build  # pyright: ignore[reportAttributeAccessIssue]
    module.plain = plain  # pyright: ignore[reportAttributeAccessIssue]
    module.number = 3  # pyright: ignore[reportAttributeAccessIssue]

    stages = collect_stages(module)

    assert stages == {"b": Stage(spec_of(build), build)}  # pyright: ignore[reportArgumentType]


def test_collect_stages_ignores_a_non_callable_carrying_a_spec() -> None:
    def build() -> None: ...

    stage()(build)
    module = types.ModuleType("handmade")
    module.holder = types.SimpleNamespace(__fastpipe_stage__=spec_of(build))  # pyright: ignore[reportAttributeAccessIssue]

    assert collect_stages(module) == {}


def test_read_config_track_packages(tmp_path: Path) -> None:
    assert read_config(tmp_path).track_packages is True
    write(tmp_path, pyproject("track_packages = false\n"))
    assert read_config(tmp_path).track_packages is False


@pytest.mark.parametrize("value", ["1", "'no'"])
def test_read_config_track_packages_must_be_a_boolean(tmp_path: Path, value: str) -> None:
    write(tmp_path, pyproject(f"track_packages = {value}\n"))
    with pytest.raises(ProjectError, match="track_packages must be bool"):
        read_config(tmp_path)
