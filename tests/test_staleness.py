"""Tests for fastpipe.staleness: lock + what is observed now -> fresh, or stale with reasons."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpipe.hashing import FileHash
from fastpipe.lockfile import LockEntry, LockRead
from fastpipe.staleness import (
    Freshness,
    Observed,
    Reason,
    ReasonKind,
    StageStatus,
    compare,
    upstream_reason,
)

H1 = "1" * 32
H2 = "2" * 32
H3 = "3" * 32

CODE = {"pipeline.train": H1, "helpers.load": H2}
PARAMS: dict[str, Any] = {"lr": 0.01, "epochs": 10, "opt": {"name": "adam", "betas": [0.9, 0.99]}}
DEPS = {"data/clean.csv": FileHash(H1, 10)}
OUTS = {"model.pkl": FileHash(H2, 20), "metrics.json": FileHash(H3, 5)}


def lock(
    code: Mapping[str, str] = CODE,
    params: Mapping[str, Any] = PARAMS,
    deps: Mapping[str, FileHash] = DEPS,
    outs: Mapping[str, FileHash] = OUTS,
) -> LockRead:
    return LockRead(LockEntry("train", code, params, deps, outs), None)


def observed(
    code: Mapping[str, str] = CODE,
    params: Mapping[str, Any] = PARAMS,
    deps: Mapping[str, FileHash | None] = DEPS,
    outs: Mapping[str, FileHash | None] = OUTS,
) -> Observed:
    return Observed(code, params, deps, outs)


def only(reasons: tuple[Reason, ...], kind: ReasonKind) -> Reason:
    assert [r.kind for r in reasons] == [kind]
    return reasons[0]


# --- never run ---------------------------------------------------------------------------------


def test_no_lock_is_never_run() -> None:
    reasons = compare(LockRead(None, None), observed())
    assert reasons == (Reason(ReasonKind.NEVER_RUN, (), "never run"),)


def test_unreadable_lock_is_never_run_with_its_problem() -> None:
    problem = "lock unreadable: line 3: mapping values are not allowed here"
    reasons = compare(LockRead(None, problem), observed())
    assert reasons == (Reason(ReasonKind.NEVER_RUN, (), problem),)


def test_fresh_when_everything_matches() -> None:
    assert compare(lock(), observed()) == ()


def test_fresh_with_equal_values_in_new_objects() -> None:
    now = observed(
        code=dict(CODE),
        params=json.loads(json.dumps(PARAMS)),
        deps={p: FileHash(h.hash, h.size) for p, h in DEPS.items()},
        outs={p: FileHash(h.hash, h.size) for p, h in OUTS.items()},
    )
    assert compare(lock(), now) == ()


# --- code --------------------------------------------------------------------------------------


def test_code_changed_added_and_removed() -> None:
    now = {"pipeline.train": H3, "helpers.save": H1}  # load removed, save added, train changed
    reason = only(compare(lock(), observed(code=now)), ReasonKind.CODE)
    assert reason.items == ("helpers.load", "helpers.save", "pipeline.train")
    assert reason.detail == ("helpers.load removed, helpers.save added, pipeline.train changed")
    assert reason.changes == {
        "helpers.load": "removed",
        "helpers.save": "added",
        "pipeline.train": "changed",
    }
    assert reason.old == {"helpers.load": H2, "helpers.save": None, "pipeline.train": H1}
    assert reason.new == {"helpers.load": None, "helpers.save": H1, "pipeline.train": H3}


def test_code_reason_names_only_differing_items() -> None:
    reason = only(compare(lock(), observed(code={**CODE, "pipeline.train": H3})), ReasonKind.CODE)
    assert reason.items == ("pipeline.train",)
    assert reason.detail == "pipeline.train changed"
    assert reason.old == {"pipeline.train": H1}
    assert reason.new == {"pipeline.train": H3}


# --- params ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (1, 1.0),
        (1, True),
        (1.0, True),
        (0, False),
        (0, None),
        ("1", 1),
        ("", None),
        ([1, 2], [2, 1]),
        ([1, 2], [1, 2, 2]),
        ({"a": 1}, {"a": 1.0}),
        ({"a": {"b": [1, {"c": True}]}}, {"a": {"b": [1, {"c": 1}]}}),
        ({"a": 1}, {"a": 1, "b": None}),
        (0.1, 0.1000001),
    ],
)
def test_params_changed_is_type_aware(before: Any, after: Any) -> None:
    reason = only(
        compare(lock(params={"x": before}), observed(params={"x": after})), ReasonKind.PARAMS
    )
    assert reason.items == ("x",)
    assert reason.old == {"x": before}
    assert reason.new == {"x": after}
    old_text = json.dumps(before, sort_keys=True)
    new_text = json.dumps(after, sort_keys=True)
    assert reason.detail == f"x {old_text} -> {new_text}"
    assert reason.changes == {"x": f"{old_text} -> {new_text}"}


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": {"d": 2, "c": 3}},
        [1, 2.5, "x", None, True],
        float("inf"),
        float("nan"),
    ],
)
def test_params_equal_values_are_fresh(value: Any) -> None:
    reordered = json.loads(json.dumps(value, sort_keys=True))  # dict keys in another order
    assert compare(lock(params={"x": value}), observed(params={"x": reordered})) == ()


def test_params_dict_key_order_does_not_matter() -> None:
    before = {"opt": {"name": "adam", "lr": 0.1}, "epochs": 3}
    after = {"epochs": 3, "opt": {"lr": 0.1, "name": "adam"}}
    assert compare(lock(params=before), observed(params=after)) == ()


def test_params_added_and_removed() -> None:
    reason = only(
        compare(lock(params={"a": 1, "b": 2}), observed(params={"b": 2, "c": "x"})),
        ReasonKind.PARAMS,
    )
    assert reason.items == ("a", "c")
    assert reason.detail == 'a 1 -> (unset), c (unset) -> "x"'
    assert reason.old == {"a": 1}
    assert reason.new == {"c": "x"}
    assert reason.changes == {"a": "1 -> (unset)", "c": '(unset) -> "x"'}


# --- deps and outs -----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [ReasonKind.DEPS, ReasonKind.OUTS])
def test_paths_changed_missing_newly_and_no_longer_declared(kind: ReasonKind) -> None:
    before = {"a": FileHash(H1, 1), "b": FileHash(H1, 1), "c": FileHash(H1, 1)}
    after = {"a": FileHash(H2, 1), "b": None, "d": FileHash(H1, 1), "e": None}
    if kind is ReasonKind.DEPS:
        reasons = compare(lock(deps=before), observed(deps=after))
    else:
        reasons = compare(lock(outs=before), observed(outs=after))
    reason = only(reasons, kind)
    assert reason.items == ("a", "b", "c", "d", "e")
    assert reason.changes == {
        "a": "changed",
        "b": "missing",
        "c": "no longer declared",
        "d": "newly declared",
        "e": "missing",
    }
    assert reason.detail == "a changed, b missing, c no longer declared and 2 more"
    assert reason.old == {}
    assert reason.new == {}


def test_dep_with_same_hash_is_fresh() -> None:
    assert compare(lock(), observed(deps={"data/clean.csv": FileHash(H1, 10)})) == ()


def test_missing_out_is_stale() -> None:
    reason = only(compare(lock(), observed(outs={**OUTS, "model.pkl": None})), ReasonKind.OUTS)
    assert reason.items == ("model.pkl",)
    assert reason.detail == "model.pkl missing"


# --- several kinds, summaries, upstream --------------------------------------------------------


def test_reasons_come_in_kind_order() -> None:
    now = observed(
        code={"pipeline.train": H3},
        params={"lr": 0.02},
        deps={"data/clean.csv": None},
        outs={},
    )
    kinds = [r.kind for r in compare(lock(), now)]
    assert kinds == [ReasonKind.CODE, ReasonKind.PARAMS, ReasonKind.DEPS, ReasonKind.OUTS]


def test_detail_names_three_items_then_counts_the_rest() -> None:
    old = {f"m.f{i}": H1 for i in range(5)}
    reason = only(compare(lock(code=old), observed(code=dict.fromkeys(old, H2))), ReasonKind.CODE)
    assert reason.detail == "m.f0 changed, m.f1 changed, m.f2 changed and 2 more"
    assert len(reason.items) == 5


def test_detail_with_exactly_three_items_has_no_more() -> None:
    old = {f"m.f{i}": H1 for i in range(3)}
    reason = only(compare(lock(code=old), observed(code={})), ReasonKind.CODE)
    assert reason.detail == "m.f0 removed, m.f1 removed, m.f2 removed"


def test_upstream_reason_sorts_names_and_describes_each() -> None:
    reason = upstream_reason(["train", "clean"])
    assert reason is not None
    assert reason.kind is ReasonKind.UPSTREAM
    assert reason.items == ("clean", "train")
    assert reason.detail == "upstream clean will run, upstream train will run"
    assert reason.changes == {"clean": "will run", "train": "will run"}


def test_upstream_reason_truncates_and_is_none_without_stages() -> None:
    assert upstream_reason([]) is None
    reason = upstream_reason(iter(["d", "c", "b", "a"]))
    assert reason is not None
    assert reason.detail == (
        "upstream a will run, upstream b will run, upstream c will run and 1 more"
    )


# --- JSON --------------------------------------------------------------------------------------


def test_to_json_shape_without_full() -> None:
    now = observed(code={**CODE, "pipeline.train": H3}, params={**PARAMS, "lr": 0.1})
    status = StageStatus("train", compare(lock(), now))
    assert status.status is Freshness.STALE
    assert status.stale
    data = status.to_json()
    assert data == {
        "name": "train",
        "status": "stale",
        "reasons": [
            {"kind": "code", "items": ["pipeline.train"], "detail": "pipeline.train changed"},
            {"kind": "params", "items": ["lr"], "detail": "lr 0.01 -> 0.1"},
        ],
        "action": "run",
    }
    assert json.loads(json.dumps(data)) == data


def test_to_json_full_adds_old_and_new_for_code_and_params_only() -> None:
    now = observed(
        code={**CODE, "pipeline.train": H3},
        params={**PARAMS, "lr": 0.1},
        deps={"data/clean.csv": FileHash(H3, 10)},
    )
    reasons = [r.to_json(full=True) for r in compare(lock(), now)]
    assert reasons == [
        {
            "kind": "code",
            "items": ["pipeline.train"],
            "detail": "pipeline.train changed",
            "old": {"pipeline.train": H1},
            "new": {"pipeline.train": H3},
        },
        {
            "kind": "params",
            "items": ["lr"],
            "detail": "lr 0.01 -> 0.1",
            "old": {"lr": 0.01},
            "new": {"lr": 0.1},
        },
        {"kind": "deps", "items": ["data/clean.csv"], "detail": "data/clean.csv changed"},
    ]


def test_fresh_status_json() -> None:
    status = StageStatus("clean", ())
    assert status.status is Freshness.FRESH
    assert not status.stale
    assert status.to_json(full=True) == {"name": "clean", "status": "fresh", "reasons": []}
    assert status.to_json()["action"] == "none"


def test_never_run_and_upstream_json() -> None:
    upstream = upstream_reason(["clean"])
    assert upstream is not None
    status = StageStatus("train", (*compare(LockRead(None, None), observed()), upstream))
    assert status.to_json(full=True)["reasons"] == [
        {"kind": "never_run", "items": [], "detail": "never run"},
        {"kind": "upstream", "items": ["clean"], "detail": "upstream clean will run"},
    ]


# --- property: reasons are exactly the differences ---------------------------------------------

_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.sampled_from([0.0, -0.0, 1.0, 0.5, float("inf"), float("nan")])
    | st.sampled_from(["", "a", "1", "true"])
)
_values = st.recursive(
    _scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3)
    ),
    max_leaves=6,
)
_hashes = st.sampled_from([H1, H2, H3])
_file_hashes = _hashes.map(lambda h: FileHash(h, int(h[0])))


def _same(a: Any, b: Any) -> bool:
    """Exact, type-aware equality of YAML values (an independent oracle for _canonical)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float):
        return repr(a) == repr(b)  # nan equals nan; -0.0 and 0.0 differ
    return a == b


def _differs(old: Mapping[str, Any], new: Mapping[str, Any], key: str, *, paths: bool) -> bool:
    if key not in old or key not in new:
        return True
    if paths:
        return new[key] is None or old[key].hash != new[key].hash
    return not _same(old[key], new[key])


def _differing(old: Mapping[str, Any], new: Mapping[str, Any], *, paths: bool) -> set[str]:
    return {key for key in set(old) | set(new) if _differs(old, new, key, paths=paths)}


@st.composite
def lock_and_now(draw: st.DrawFn) -> tuple[LockEntry, Observed]:
    code_keys = st.sampled_from(["m.a", "m.b", "m.c", "n.a"])
    param_keys = st.sampled_from(["lr", "epochs", "opt", "x"])
    path_keys = st.sampled_from(["a.csv", "d/b", "d/c", "e"])
    old_params = draw(st.dictionaries(param_keys, _values, max_size=4))
    # Often keep the same params, sometimes rebuilt or changed, so both branches are exercised.
    new_params = draw(
        st.just(old_params)
        | st.just(json.loads(json.dumps(old_params)))
        | st.dictionaries(param_keys, _values, max_size=4)
    )
    old_code = draw(st.dictionaries(code_keys, _hashes, max_size=4))
    new_code = draw(st.just(old_code) | st.dictionaries(code_keys, _hashes, max_size=4))
    old_deps = draw(st.dictionaries(path_keys, _file_hashes, max_size=4))
    new_deps = draw(
        st.just(dict[str, FileHash | None](old_deps))
        | st.dictionaries(path_keys, st.none() | _file_hashes, max_size=4)
    )
    old_outs = draw(st.dictionaries(path_keys, _file_hashes, max_size=4))
    new_outs = draw(
        st.just(dict[str, FileHash | None](old_outs))
        | st.dictionaries(path_keys, st.none() | _file_hashes, max_size=4)
    )
    entry = LockEntry("s", old_code, old_params, old_deps, old_outs)
    return entry, Observed(new_code, new_params, new_deps, new_outs)


@settings(max_examples=300, deadline=None)
@given(lock_and_now())
def test_reasons_are_exactly_the_differences(pair: tuple[LockEntry, Observed]) -> None:
    entry, now = pair
    expected = {
        ReasonKind.CODE: _differing(entry.code, now.code, paths=False),
        ReasonKind.PARAMS: _differing(entry.params, now.params, paths=False),
        ReasonKind.DEPS: _differing(entry.deps, now.deps, paths=True),
        ReasonKind.OUTS: _differing(entry.outs, now.outs, paths=True),
    }
    reasons = compare(LockRead(entry, None), now)
    assert (reasons == ()) == all(not items for items in expected.values())
    kinds = [r.kind for r in reasons]
    assert kinds == [k for k, items in expected.items() if items]  # in order, each once
    for reason in reasons:
        assert reason.items == tuple(sorted(expected[reason.kind]))
        assert len(set(reason.items)) == len(reason.items)
        assert set(reason.changes) == set(reason.items)


# --- installed packages ------------------------------------------------------------------------


def _packages_lock(packages: Mapping[str, str] | None) -> LockRead:
    return LockRead(LockEntry("train", CODE, PARAMS, DEPS, OUTS, packages=packages), None)


def _packages_now(packages: Mapping[str, str] | None) -> Observed:
    return Observed(CODE, PARAMS, DEPS, OUTS, packages=packages)


def test_package_upgrade_is_a_code_reason_naming_the_package() -> None:
    old = {"pandas": "2.2.1", "numpy": "2.1.0"}
    new = {"pandas": "2.3.0", "numpy": "2.1.0"}
    reason = only(compare(_packages_lock(old), _packages_now(new)), ReasonKind.CODE)
    assert reason.items == ("package pandas",)
    assert reason.detail == "package pandas 2.2.1 -> 2.3.0"
    assert reason.old == {"package pandas": "2.2.1"}
    assert reason.new == {"package pandas": "2.3.0"}


def test_package_newly_reached_or_no_longer_reached() -> None:
    reason = only(compare(_packages_lock({"a": "1"}), _packages_now({"b": "2"})), ReasonKind.CODE)
    assert reason.items == ("package a", "package b")
    assert reason.detail == "package a 1 -> (none), package b (none) -> 2"


@pytest.mark.parametrize(
    ("recorded", "now"), [(None, {"pandas": "2.3.0"}), ({"pandas": "2.2.1"}, None), (None, None)]
)
def test_packages_unknown_on_either_side_are_no_change(
    recorded: Mapping[str, str] | None, now: Mapping[str, str] | None
) -> None:
    assert compare(_packages_lock(recorded), _packages_now(now)) == ()
