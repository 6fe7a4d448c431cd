"""Tests for fastpipe.stage: the @stage decorator and the frozen StageSpec it attaches."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import pickle
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import fastpipe
import fastpipe.stage as stage_module
from fastpipe.errors import FastpipeError, StageDefinitionError
from fastpipe.stage import (
    SPEC_ATTRIBUTE,
    Out,
    ParamSpec,
    Plot,
    StageSpec,
    normalize_path,
    spec_of,
    stage,
)


def must_spec(obj: object) -> StageSpec:
    spec = spec_of(obj)
    assert spec is not None, f"{obj!r} carries no StageSpec"
    return spec


def define(**kwargs: Any) -> StageSpec:
    """The spec of a fresh function `fn(x: int = 1)` decorated with @stage(**kwargs)."""

    def fn(x: int = 1) -> int:
        return x

    return must_spec(stage(**kwargs)(fn))


def import_file(path: Path, name: str) -> ModuleType:
    """Import `path` as module `name` without registering it in sys.modules."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- the decorator returns the function itself --------------------------------------------


def test_decorator_returns_the_same_function_still_callable_with_its_defaults() -> None:
    def train(lr: float = 0.01, epochs: int = 10) -> tuple[float, int]:
        return lr, epochs

    decorated = stage(outs=["model.pkl"])(train)

    assert decorated is train
    assert decorated() == (0.01, 10)
    assert decorated(lr=0.5) == (0.5, 10)
    assert train.__name__ == "train"


def test_public_api_exports_stage() -> None:
    assert fastpipe.stage is stage
    assert fastpipe.StageSpec is StageSpec


def test_spec_is_attached_under_the_documented_attribute() -> None:
    def clean() -> None: ...

    stage()(clean)

    assert getattr(clean, SPEC_ATTRIBUTE) is spec_of(clean)
    assert isinstance(spec_of(clean), StageSpec)


def test_spec_of_plain_objects_is_none() -> None:
    def plain() -> None: ...

    assert spec_of(plain) is None
    assert spec_of(42) is None
    assert spec_of(None) is None


def test_spec_of_ignores_a_non_spec_value_under_the_attribute() -> None:
    def fake() -> None: ...

    setattr(fake, SPEC_ATTRIBUTE, {"name": "fake"})

    assert spec_of(fake) is None


def test_spec_of_an_object_whose_getattr_raises_is_none() -> None:
    class Exotic:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError(f"no {name} here")

    assert spec_of(Exotic()) is None


def test_spec_is_frozen() -> None:
    spec = define(outs=["a"])

    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.name = "other"  # pyright: ignore[reportAttributeAccessIssue]
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.params[0].default = 2  # pyright: ignore[reportAttributeAccessIssue]


def test_spec_compares_hashes_and_pickles() -> None:
    first = define(deps=["a"], outs=["b"], resources={"mem": 2})
    second = define(deps=["a"], outs=["b"], resources={"mem": 2})

    assert first == second
    assert hash(first) == hash(second)
    assert pickle.loads(pickle.dumps(first)) == first
    assert define(deps=["a"]) != define(deps=["c"])


# --- every keyword argument is stored -------------------------------------------------------


def test_defaults_of_a_bare_stage() -> None:
    def prepare() -> None: ...

    spec = must_spec(stage()(prepare))

    assert spec == StageSpec(name="prepare", module=__name__, qualname=prepare.__qualname__)
    assert spec.deps == spec.outs == spec.metrics == spec.plots == ()
    assert spec.persist is False
    assert spec.gpus == 0
    assert spec.resources == ()
    assert spec.timeout is None
    assert spec.retries == 0
    assert spec.params == ()
    assert spec.fingerprint == ()


def test_every_keyword_argument_is_stored() -> None:
    def helper() -> None: ...

    def train(lr: float = 0.01) -> None: ...

    stage(
        deps=["data/clean.csv", "src/"],
        outs=["model.pkl"],
        metrics=["metrics.json"],
        plots=["plots/loss.csv"],
        name="fit",
        persist=True,
        gpus=2,
        resources={"mem": 4, "disk": 1.5},
        timeout=30,
        retries=3,
        fingerprint=[helper, "./conf//a.yaml", 7],
    )(train)
    spec = must_spec(train)

    assert spec.name == "fit"
    assert spec.module == __name__
    assert spec.qualname == train.__qualname__
    assert spec.deps == ("data/clean.csv", "src")
    assert spec.outs == ("model.pkl",)
    assert spec.metrics == ("metrics.json",)
    assert spec.plots == ("plots/loss.csv",)
    assert spec.persist is True
    assert spec.gpus == 2
    assert spec.resources == (("disk", 1.5), ("mem", 4.0))
    assert spec.timeout == 30.0
    assert isinstance(spec.timeout, float)
    assert spec.retries == 3
    assert spec.fingerprint == (helper, "conf/a.yaml", 7)
    assert spec.params == (ParamSpec("lr", 0.01, float),)


def test_name_defaults_to_the_function_name() -> None:
    def evaluate_model() -> None: ...

    assert must_spec(stage()(evaluate_model)).name == "evaluate_model"


@pytest.mark.parametrize("name", ["train@small", "a.b", "x-1", "_private", "Z9"])
def test_names_with_allowed_characters(name: str) -> None:
    assert define(name=name).name == name


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("./data//x.csv", "data/x.csv"),
        ("data/raw/", "data/raw"),
        ("data/./sub/../x.csv", "data/x.csv"),
        ("data\\win\\x.csv", "data/win/x.csv"),
        ("model.pkl", "model.pkl"),
    ],
)
def test_paths_are_normalized_to_posix(raw: str, normalized: str) -> None:
    assert normalize_path(raw) == normalized
    spec = define(deps=[raw], outs=[raw], metrics=[raw], plots=[raw])
    assert spec.deps == spec.outs == spec.metrics == spec.plots == (normalized,)


def test_path_lists_accept_any_iterable_and_keep_order() -> None:
    spec = define(deps=(p for p in ["b", "a"]), outs=("z", "y"))

    assert spec.deps == ("b", "a")
    assert spec.outs == ("z", "y")


def test_outputs_are_outs_then_metrics_then_plots() -> None:
    spec = define(outs=["o1", "o2"], metrics=["m.json"], plots=["p.csv"], deps=["d"])

    assert spec.outputs == ("o1", "o2", "m.json", "p.csv")


def test_resources_are_a_sorted_tuple_of_floats() -> None:
    spec = define(resources={"zeta": 1, "alpha": 0.5, "mid": 0})

    assert spec.resources == (("alpha", 0.5), ("mid", 0.0), ("zeta", 1.0))
    assert all(isinstance(amount, float) for _, amount in spec.resources)


def test_fingerprint_strings_are_normalized_and_other_values_kept() -> None:
    import json

    spec = define(fingerprint=("./src//model/", json, len))

    assert spec.fingerprint == ("src/model", json, len)


def test_fingerprint_does_not_take_part_in_equality() -> None:
    assert define(fingerprint=["a"]) == define(fingerprint=["b"])


# --- params come from the signature ---------------------------------------------------------


def test_params_in_signature_order_with_defaults_and_annotations() -> None:
    def train(epochs: int = 10, lr: float = 0.01, tag=None, *, layers: list[int] = [1]) -> None:  # noqa: B006
        ...

    spec = must_spec(stage()(train))

    assert [p.name for p in spec.params] == ["epochs", "lr", "tag", "layers"]
    assert spec.params[0] == ParamSpec("epochs", 10, int)
    assert spec.params[1] == ParamSpec("lr", 0.01, float)
    assert spec.params[2] == ParamSpec("tag", None, inspect.Parameter.empty)
    assert spec.params[3].default == [1]
    assert spec.params[3].annotation == list[int]
    assert spec.param_defaults == {"epochs": 10, "lr": 0.01, "tag": None, "layers": [1]}


def test_string_annotations_are_evaluated_to_real_types(tmp_path: Path) -> None:
    source = """\
        from __future__ import annotations

        from fastpipe import stage


        class Config:
            pass


        @stage(outs=["out.txt"])
        def train(lr: float = 0.01, epochs: int = 3, tags: list[str] | None = None) -> None:
            pass


        @stage()
        def configured(cfg: Config | None = None, name: str = "x") -> None:
            pass
        """
    path = tmp_path / "future_annotations_stages.py"
    path.write_text(textwrap.dedent(source))

    module = import_file(path, "future_annotations_stages")
    spec = must_spec(module.train)

    assert spec.module == "future_annotations_stages"
    assert [p.annotation for p in spec.params] == [float, int, list[str] | None]
    assert must_spec(module.configured).params[0].annotation == (module.Config | None)
    assert must_spec(module.configured).params[1].annotation is str


def test_unresolvable_string_annotations_stay_strings(tmp_path: Path) -> None:
    source = """\
        from __future__ import annotations

        from fastpipe import stage


        @stage()
        def train(model: NotDefinedAnywhere = None, lr: float = 0.1) -> None:
            pass
        """
    path = tmp_path / "unresolvable_annotations.py"
    path.write_text(textwrap.dedent(source))

    spec = must_spec(import_file(path, "unresolvable_annotations").train)

    assert spec.params[0] == ParamSpec("model", None, "NotDefinedAnywhere")
    assert spec.params[1].default == 0.1


# --- definition errors ----------------------------------------------------------------------


def raises_definition_error(decorate: Callable[[], object], *fragments: str) -> str:
    """Run `decorate`, expect a StageDefinitionError whose message holds every fragment."""
    with pytest.raises(StageDefinitionError) as info:
        decorate()
    message = str(info.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert isinstance(info.value, FastpipeError)
    assert info.value.exit_code == 2
    return message


def test_param_without_default_is_an_error_naming_stage_and_param() -> None:
    def train(lr: float, epochs: int = 1) -> None: ...

    raises_definition_error(lambda: stage()(train), "stage 'train'", "'lr'", "no default")
    assert spec_of(train) is None


def test_var_positional_is_an_error() -> None:
    def train(*values: int) -> None: ...

    raises_definition_error(lambda: stage()(train), "stage 'train'", "*values")


def test_var_keyword_is_an_error() -> None:
    def train(lr: float = 0.1, **options: Any) -> None: ...

    raises_definition_error(lambda: stage(name="fit")(train), "stage 'fit'", "*options")


def test_positional_only_is_an_error() -> None:
    def train(lr: float = 0.1, /, epochs: int = 1) -> None: ...

    raises_definition_error(lambda: stage()(train), "stage 'train'", "'lr'", "positional-only")


def test_unreadable_signature_is_an_error() -> None:
    def broken() -> None: ...

    broken.__signature__ = "not a signature"  # pyright: ignore[reportFunctionMemberAccess]

    raises_definition_error(lambda: stage()(broken), "stage 'broken'", "signature")


def test_decorating_a_non_callable_is_an_error() -> None:
    raises_definition_error(lambda: stage()(42), "must decorate a function", "42")  # pyright: ignore[reportArgumentType]


@pytest.mark.parametrize("kind", ["deps", "outs", "metrics", "plots"])
def test_a_string_instead_of_a_list_is_an_error(kind: str) -> None:
    raises_definition_error(
        lambda: define(**{kind: "data/raw.csv"}), "stage 'fn'", kind, "list", "not a string"
    )


@pytest.mark.parametrize("kind", ["deps", "outs", "metrics", "plots"])
def test_a_non_iterable_path_list_is_an_error(kind: str) -> None:
    raises_definition_error(lambda: define(**{kind: 5}), "stage 'fn'", kind, "list of paths")


@pytest.mark.parametrize("bad", [3, None, Path("data/x.csv"), b"x", "", "   "])
def test_a_non_string_or_empty_path_is_an_error(bad: object) -> None:
    raises_definition_error(lambda: define(outs=["ok", bad]), "stage 'fn'", "outs", repr(bad))


def test_a_duplicated_path_is_an_error_naming_it() -> None:
    raises_definition_error(
        lambda: define(deps=["data/x.csv", "./data//x.csv"]), "stage 'fn'", "deps", "'data/x.csv'"
    )


@pytest.mark.parametrize("bad", ["has space", "a/b", "1starts_with_digit", "", "ü", "a:b", "..x"])
def test_bad_name_characters_are_an_error(bad: str) -> None:
    raises_definition_error(lambda: define(name=bad), f"stage '{bad}'", "invalid name")


def test_a_non_string_name_is_an_error() -> None:
    raises_definition_error(lambda: define(name=7), "invalid name")


@pytest.mark.parametrize("kind", ["gpus", "retries"])
@pytest.mark.parametrize("bad", [-1, True, False, 1.5, "2", None])
def test_bad_counts_are_errors(kind: str, bad: object) -> None:
    raises_definition_error(lambda: define(**{kind: bad}), "stage 'fn'", kind, repr(bad))


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_persist_must_be_a_bool(bad: object) -> None:
    raises_definition_error(lambda: define(persist=bad), "stage 'fn'", "persist", repr(bad))


@pytest.mark.parametrize("bad", [0, -1, 0.0, -0.5, True, "10"])
def test_timeout_must_be_positive_seconds(bad: object) -> None:
    raises_definition_error(lambda: define(timeout=bad), "stage 'fn'", "timeout", "> 0")


def test_timeout_accepts_int_and_float() -> None:
    assert define(timeout=1).timeout == 1.0
    assert define(timeout=0.25).timeout == 0.25


@pytest.mark.parametrize(
    ("resources", "fragment"),
    [
        ({"mem": -1}, "'mem'"),
        ({"mem": True}, "'mem'"),
        ({"mem": "4"}, "'mem'"),
        ({3: 1}, "3"),
        ({"": 1}, "''"),
    ],
)
def test_bad_resources_are_errors(resources: dict[Any, Any], fragment: str) -> None:
    raises_definition_error(lambda: define(resources=resources), "stage 'fn'", "resource", fragment)


def test_resources_must_be_a_mapping() -> None:
    raises_definition_error(lambda: define(resources=[("mem", 1)]), "stage 'fn'", "resources")


def test_gpus_in_resources_is_an_error_pointing_to_gpus() -> None:
    raises_definition_error(lambda: define(resources={"gpus": 1}), "stage 'fn'", "gpus=N")


def test_fingerprint_must_be_a_list() -> None:
    raises_definition_error(lambda: define(fingerprint="src/x.py"), "fingerprint", "string")
    raises_definition_error(lambda: define(fingerprint=3), "stage 'fn'", "fingerprint", "list")


# --- no global registry ---------------------------------------------------------------------


def module_containers() -> dict[str, str]:
    """repr of every mutable container held at module level by fastpipe.stage."""
    kinds = (list, dict, set, bytearray)
    return {
        name: repr(value)
        for name, value in vars(stage_module).items()
        if not name.startswith("__") and isinstance(value, kinds)
    }


def test_decorating_leaves_no_trace_in_the_stage_module() -> None:
    before = module_containers()
    globals_before = set(vars(stage_module))

    for index in range(5):

        def fn(x: int = index) -> int:
            return x

        stage(name=f"s{index}", outs=[f"o{index}"])(fn)

    assert module_containers() == before
    assert set(vars(stage_module)) == globals_before


def test_two_decorations_do_not_see_each_other() -> None:
    def first() -> None: ...

    def second() -> None: ...

    # One name twice is fine here: duplicates are only an error when a pipeline is collected.
    stage(name="same", outs=["a"])(first)
    stage(name="same", outs=["b"])(second)

    assert must_spec(first).outs == ("a",)
    assert must_spec(second).outs == ("b",)
    assert must_spec(first).qualname != must_spec(second).qualname


def test_one_decorator_applied_twice_gives_each_function_its_own_spec() -> None:
    decorate = stage(outs=["shared.txt"])

    def left(a: int = 1) -> None: ...

    def right(b: str = "x") -> None: ...

    decorate(left)
    decorate(right)

    assert must_spec(left).name == "left"
    assert must_spec(right).name == "right"
    assert must_spec(left).params == (ParamSpec("a", 1, int),)
    assert must_spec(right).params == (ParamSpec("b", "x", str),)


# ---------------------------------------------------------------- Out and Plot entries


def test_outs_are_cached_by_default_metrics_and_plots_are_not() -> None:
    spec = define(outs=["model.pkl"], metrics=["m.json"], plots=["loss.csv"])
    assert spec.cached == ("model.pkl",)
    assert spec.is_cached("model.pkl")
    assert not spec.is_cached("m.json")
    assert not spec.is_cached("loss.csv")


def test_out_entries_set_the_cache_flag_either_way() -> None:
    spec = define(
        outs=[Out("big/", cache=False), "model.pkl"],
        metrics=[Out("./m.json", cache=True)],
    )
    assert spec.outs == ("big", "model.pkl")
    assert spec.metrics == ("m.json",)
    assert spec.cached == ("model.pkl", "m.json")


def test_plot_entries_keep_their_options_and_plain_paths_get_defaults() -> None:
    spec = define(plots=[Plot("loss.csv", x="epoch", y=["loss", "acc"], title="Loss"), "p.png"])
    assert spec.plots == ("loss.csv", "p.png")
    assert spec.plot_specs == (
        Plot("loss.csv", "epoch", ("loss", "acc"), "Loss"),
        Plot("p.png"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"outs": [Plot("x.csv")]}, "belongs in plots"),
        ({"plots": [Plot("x.csv", y=3)]}, "y must be"),  # pyright: ignore[reportArgumentType]
        ({"plots": [Plot("x.csv", x=1)]}, "x must be a string"),  # pyright: ignore[reportArgumentType]
        ({"outs": [Out("x", cache="no")]}, "cache must be"),  # pyright: ignore[reportArgumentType]
        ({"outs": Out("x")}, "must be a list"),
    ],
)
def test_bad_out_and_plot_entries_are_errors(kwargs: dict[str, Any], message: str) -> None:
    raises_definition_error(lambda: define(**kwargs), "stage 'fn'", message)


def test_track_packages_defaults_on_and_can_be_turned_off() -> None:
    assert define().track_packages is True
    assert define(track_packages=False).track_packages is False


@pytest.mark.parametrize("bad", [0, "no", None])
def test_track_packages_must_be_a_bool(bad: object) -> None:
    raises_definition_error(
        lambda: define(track_packages=bad), "stage 'fn'", "track_packages", repr(bad)
    )
