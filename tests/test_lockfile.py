"""Tests for fastpipe.lockfile: lock entries <-> YAML, schemas, migrations, atomic writes."""

from __future__ import annotations

import datetime
import math
import os
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fastpipe import lockfile, yamltext
from fastpipe.errors import LockSchemaError
from fastpipe.hashing import FileHash
from fastpipe.lockfile import (
    SCHEMA,
    LockEntry,
    LockRead,
    dump_lock,
    from_lock_dict,
    parse_lock,
    read_lock,
    to_lock_dict,
    write_lock,
)

H1 = "0123456789abcdef0123456789abcdef"
H2 = "fedcba9876543210fedcba9876543210"

ENTRY = LockEntry(
    stage="train",
    code={"pipeline.train": H1, "helpers.load": H2},
    params={"lr": 0.01, "epochs": 10, "layers": [64, 32], "opt": {"name": "adam", "beta": None}},
    deps={"data/clean.csv": FileHash(H1, 1234)},
    outs={"model.pkl": FileHash(H2, 99), "metrics.json": FileHash(H1, 12)},
    packages={"numpy": "2.1.0", "scikit-learn": "1.6.1"},
)

GOLDEN = f"""\
code:
  helpers.load: {H2}
  pipeline.train: {H1}
deps:
  data/clean.csv:
    hash: {H1}
    size: 1234
outs:
  metrics.json:
    hash: {H1}
    size: 12
  model.pkl:
    hash: {H2}
    size: 99
packages:
  numpy: 2.1.0
  scikit-learn: 1.6.1
params:
  epochs: 10
  layers:
  - 64
  - 32
  lr: 0.01
  opt:
    beta: null
    name: adam
schema: 2
stage: train
"""

# strategies

_text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text
_params = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=10,
)
_hashes = st.builds(
    FileHash,
    st.text("0123456789abcdef", min_size=32, max_size=32),
    st.integers(min_value=0, max_value=2**63),
)
_paths = st.lists(_text.filter(bool), min_size=1, max_size=3).map("/".join)
_entries = st.builds(
    LockEntry,
    stage=_text,
    code=st.dictionaries(_text, _text, max_size=4),
    params=st.dictionaries(_text, _params, max_size=4),
    deps=st.dictionaries(_paths, _hashes, max_size=4),
    outs=st.dictionaries(_paths, _hashes, max_size=4),
    packages=st.none() | st.dictionaries(_text, _text, max_size=3),
)


def reversed_entry(entry: LockEntry) -> LockEntry:
    """The same entry with every dict built in reverse insertion order."""

    def rev(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: rev(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [rev(v) for v in value]
        return value

    return LockEntry(
        stage=entry.stage,
        code=rev(dict(entry.code)),
        params=rev(dict(entry.params)),
        deps=rev(dict(entry.deps)),
        outs=rev(dict(entry.outs)),
        packages=None if entry.packages is None else rev(dict(entry.packages)),
    )


def lock_text(**changes: Any) -> str:
    """The YAML of ENTRY's lock dict with top-level keys replaced (or removed, for ...)."""
    data = to_lock_dict(ENTRY)
    for key, value in changes.items():
        if value is ...:
            del data[key]
        else:
            data[key] = value
    return yaml.safe_dump(data)


# round trip and determinism


@settings(max_examples=300, deadline=None)
@given(_entries)
def test_round_trip(entry: LockEntry) -> None:
    text = dump_lock(entry)
    assert parse_lock(text) == entry
    assert yaml.load(text, Loader=yaml.SafeLoader) == to_lock_dict(entry)
    assert yaml.safe_load(text) == to_lock_dict(entry)


@settings(max_examples=100, deadline=None)
@given(_entries)
def test_insertion_order_does_not_change_bytes(entry: LockEntry) -> None:
    assert dump_lock(reversed_entry(entry)) == dump_lock(entry)


def test_golden_text_is_sorted_block_style() -> None:
    assert dump_lock(ENTRY) == GOLDEN
    assert dump_lock(reversed_entry(ENTRY)) == GOLDEN


def test_no_timestamps_same_bytes_every_time(tmp_path: Path) -> None:
    write_lock(tmp_path / "a.lock", ENTRY)
    write_lock(tmp_path / "b.lock", ENTRY)
    assert (tmp_path / "a.lock").read_bytes() == (tmp_path / "b.lock").read_bytes()
    assert str(datetime.date.today().year) not in (tmp_path / "a.lock").read_text()


@pytest.mark.parametrize(
    "value",
    [1, 1.0, True, False, "1", "1.0", "true", "null", "~", "yes", "", None, 0.1, 1e-5, 1e300,
     -0.0, 2**70, "2024-01-01", "a: b", "- x", "#c", "\x85", "\u2028", "😀", "tab\there",
     "multi\nline\n", " lead", [], {}, [1, [2.5, {"k": [None]}]], {"n": {"m": "v"}}],
)  # fmt: skip
def test_param_values_round_trip_with_types(value: Any) -> None:
    entry = LockEntry("s", {}, {"p": value}, {}, {})
    back = parse_lock(dump_lock(entry)).params["p"]
    assert back == value
    assert type(back) is type(value)


def test_infinities_and_nan_round_trip() -> None:
    entry = LockEntry("s", {}, {"inf": math.inf, "ninf": -math.inf, "nan": math.nan}, {}, {})
    params = parse_lock(dump_lock(entry)).params
    assert params["inf"] == math.inf and params["ninf"] == -math.inf
    assert math.isnan(params["nan"])


def test_long_keys_and_values_do_not_wrap() -> None:
    path = "very/" * 40 + "long.csv"
    value = "word " * 100
    entry = LockEntry("s", {}, {"p": value}, {path: FileHash(H1, 1)}, {})
    text = dump_lock(entry)
    assert value.strip() in text
    assert parse_lock(text) == entry


def test_shared_objects_are_written_without_anchors() -> None:
    shared = [1, 2]
    entry = LockEntry("s", {}, {"a": shared, "b": shared}, {}, {})
    text = dump_lock(entry)
    assert "&" not in text and "*" not in text
    assert parse_lock(text) == entry


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"p": (1, 2)}, "params['p']: a tuple"),
        ({"p": {1: "x"}}, "params['p'] keys must be strings"),
        ({"p": [datetime.date(2024, 1, 1)]}, "params['p'][0]: a date"),
        ({"p": {1, 2}}, "a set"),
        ({3: 1}, "params keys must be strings"),
    ],
)
def test_unrepresentable_params_are_rejected(params: dict[Any, Any], fragment: str) -> None:
    with pytest.raises(ValueError, match="params") as info:
        dump_lock(LockEntry("s", {}, params, {}, {}))
    assert fragment in str(info.value)


# files


def test_write_then_read(tmp_path: Path) -> None:
    path = tmp_path / ".fastpipe" / "stages" / "train.lock"
    write_lock(path, ENTRY)
    assert path.read_text(encoding="utf-8") == GOLDEN
    assert read_lock(path) == LockRead(ENTRY, None)


def test_missing_lock_reads_as_nothing(tmp_path: Path) -> None:
    assert read_lock(tmp_path / "nope.lock") == LockRead(None, None)


def test_failed_write_keeps_old_lock(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "train.lock"
    write_lock(path, ENTRY)

    def crash(src: object, dst: object) -> None:
        raise OSError("disk gone")

    monkeypatch.setattr(os, "replace", crash)
    newer = LockEntry("train", {}, {"lr": 1.0}, {}, {})
    with pytest.raises(OSError, match="disk gone"):
        write_lock(path, newer)
    monkeypatch.undo()
    assert path.read_text(encoding="utf-8") == GOLDEN
    assert [p.name for p in tmp_path.iterdir()] == ["train.lock"]


# malformed locks


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("stage: a\ncode: {}\nparams: x: y\n", "lock unreadable: line 3: mapping values are not "),
        ("stage: [unclosed\n", "lock unreadable: line 2: "),
        ("", "lock unreadable: expected a mapping at the top level, got null"),
        ("- 1\n", "lock unreadable: expected a mapping at the top level, got a list"),
        ("stage: \x00\n", "lock unreadable: unacceptable character #x0000: control characters"),
        (lock_text(stage=...), "lock unreadable: missing key 'stage'"),
        (lock_text(schema=...), "lock unreadable: missing key 'schema'"),
        (lock_text(deps=...), "lock unreadable: missing key 'deps'"),
        (lock_text(extra=1), "lock unreadable: unexpected key 'extra'"),
        (lock_text(schema="1"), "schema must be an integer, got a string"),
        (lock_text(schema=True), "schema must be an integer, got a boolean"),
        (lock_text(stage=3), "stage must be a string, got an integer"),
        (lock_text(code=[]), "code must be a mapping, got a list"),
        (lock_text(code={"f": 1}), "code['f'] must be a string, got an integer"),
        (lock_text(code={1: "h"}), "code keys must be strings, got an integer 1"),
        (lock_text(params=[1]), "params must be a mapping, got a list"),
        (lock_text(outs={"m": "h"}), "outs['m'] must be a mapping, got a string"),
        (lock_text(outs={"m": {"hash": "h"}}), "outs['m'] must have exactly the keys"),
        (lock_text(deps={"d": {"hash": 1, "size": 2}}), "deps['d'].hash must be a string"),
        (lock_text(deps={"d": {"hash": "h", "size": -1}}), "deps['d'].size must be a non-neg"),
        (lock_text(deps={"d": {"hash": "h", "size": 1.5}}), "size must be a non-negative"),
        (lock_text(params={"d": datetime.date(2024, 1, 1)}), "params['d']: a date is not a "),
    ],
)
def test_malformed_lock_reads_with_problem(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "s.lock"
    path.write_text(text, encoding="utf-8")
    read = read_lock(path)
    assert read.entry is None
    assert read.problem is not None
    assert read.problem.startswith("lock unreadable: ")
    assert problem in read.problem


def test_undecodable_or_unopenable_lock_reads_with_problem(tmp_path: Path) -> None:
    (tmp_path / "bin.lock").write_bytes(b"stage: \xff\xfe\n")
    (tmp_path / "dir.lock").mkdir()
    for name in ("bin.lock", "dir.lock"):
        read = read_lock(tmp_path / name)
        assert read.entry is None
        assert read.problem is not None and read.problem.startswith("lock unreadable: ")


def test_deep_nesting_is_malformed_not_a_crash() -> None:
    # libyaml crashes the process on this; the pure-Python loader must be the one used
    with pytest.raises(ValueError, match="nested too deeply"):
        parse_lock("[" * 50_000 + "]" * 50_000)


def test_parse_lock_raises_value_error_with_line() -> None:
    with pytest.raises(ValueError, match=r"^line 1: "):
        parse_lock("a: b: c")


# schema versions


def test_newer_schema_asks_for_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "s.lock"
    path.write_text(lock_text(schema=SCHEMA + 1))
    with pytest.raises(LockSchemaError) as info:
        read_lock(path)
    message = str(info.value)
    assert "upgrade fastpipe" in message
    assert f"schema {SCHEMA + 1}" in message and f"schema {SCHEMA}" in message
    assert str(path) in message


def test_migration_applied_for_older_schema(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def rename_fingerprint(data: dict[str, Any]) -> dict[str, Any]:
        data["code"] = data.pop("fingerprint")
        return data

    monkeypatch.setattr(lockfile, "SCHEMA", SCHEMA + 1)
    monkeypatch.setattr(lockfile, "MIGRATIONS", {SCHEMA: rename_fingerprint})
    old = to_lock_dict(ENTRY) | {"schema": SCHEMA}
    old["fingerprint"] = old.pop("code")
    path = tmp_path / "s.lock"
    path.write_text(yaml.safe_dump(old))
    assert read_lock(path) == LockRead(ENTRY, None)
    assert to_lock_dict(ENTRY)["schema"] == SCHEMA + 1


def test_migrations_run_in_order_from_a_parameter() -> None:
    seen: list[int] = []

    def step(version: int) -> lockfile.Migration:
        def migrate(data: dict[str, Any]) -> dict[str, Any]:
            assert data["schema"] == version
            seen.append(version)
            return data

        return migrate

    old = to_lock_dict(ENTRY) | {"schema": SCHEMA - 2}
    migrations = {SCHEMA - 2: step(SCHEMA - 2), SCHEMA - 1: step(SCHEMA - 1)}
    assert from_lock_dict(old, migrations=migrations) == ENTRY
    assert seen == [SCHEMA - 2, SCHEMA - 1]


def test_migration_of_malformed_old_lock_is_unreadable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def needs_fingerprint(data: dict[str, Any]) -> dict[str, Any]:
        data["code"] = data.pop("fingerprint")
        return data

    monkeypatch.setattr(lockfile, "SCHEMA", SCHEMA + 1)
    monkeypatch.setattr(lockfile, "MIGRATIONS", {SCHEMA: needs_fingerprint})
    path = tmp_path / "s.lock"
    path.write_text(lock_text(schema=SCHEMA))
    read = read_lock(path)
    assert read.entry is None
    assert (
        read.problem == f"lock unreadable: cannot migrate schema {SCHEMA}: KeyError('fingerprint')"
    )


def test_schema_without_migration_is_unreadable(tmp_path: Path) -> None:
    path = tmp_path / "s.lock"
    path.write_text(lock_text(schema=0))
    read = read_lock(path)
    assert read.entry is None
    assert read.problem == f"lock unreadable: schema 0 is too old to migrate to schema {SCHEMA}"


def test_schema_1_lock_migrates_without_packages(tmp_path: Path) -> None:
    """A lock written before package tracking reads with packages unknown (None), not empty."""
    path = tmp_path / "s.lock"
    path.write_text(lock_text(schema=1, packages=...))
    read = read_lock(path)
    assert read.problem is None
    assert read.entry == LockEntry(
        ENTRY.stage, ENTRY.code, ENTRY.params, ENTRY.deps, ENTRY.outs, packages=None
    )


def test_untracked_packages_are_not_written() -> None:
    entry = LockEntry(ENTRY.stage, ENTRY.code, ENTRY.params, ENTRY.deps, ENTRY.outs)
    assert "packages" not in to_lock_dict(entry)
    assert to_lock_dict(ENTRY)["packages"] == {"numpy": "2.1.0", "scikit-learn": "1.6.1"}


def test_package_version_must_be_a_string(tmp_path: Path) -> None:
    path = tmp_path / "s.lock"
    path.write_text(lock_text(packages={"numpy": 2}))
    assert (
        read_lock(path).problem
        == "lock unreadable: packages['numpy'] must be a string, got an integer"
    )


def test_migrations_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        lockfile.MIGRATIONS[0] = lambda d: d  # type: ignore[index]


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=1),
        st.recursive(
            st.none()
            | st.booleans()
            | st.integers()
            | st.floats(allow_nan=False)
            | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126)),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(alphabet="abcxyz_", min_size=1), inner, max_size=3)
            ),
            max_leaves=8,
        ),
        max_size=6,
    )
)
def test_libyaml_and_python_emitters_agree_on_printable_ascii(data: dict[str, Any]) -> None:
    """Lock bytes must not depend on whether PyYAML has libyaml: the fast emitter is used only
    where both write the same bytes."""
    fast = yamltext.dump(data, sort_keys=True)
    slow = yaml.dump(
        data, Dumper=yamltext._Dumper, allow_unicode=True, sort_keys=True,
        default_flow_style=False, width=yamltext.WIDTH,
    )  # fmt: skip
    assert fast == slow


def test_accepted_record_round_trips_and_is_validated(tmp_path: Path) -> None:
    accepted = {"at": "2026-01-02T03:04:05+00:00", "because": "rename", "previous": {"a.f": H1}}
    entry = LockEntry(ENTRY.stage, ENTRY.code, ENTRY.params, ENTRY.deps, ENTRY.outs, None, accepted)
    assert parse_lock(dump_lock(entry)) == entry
    path = tmp_path / "s.lock"
    path.write_text(lock_text(accepted={"at": "now", "because": 3, "previous": {}}))
    assert (
        read_lock(path).problem
        == "lock unreadable: accepted.because must be a string, got an integer"
    )
    path.write_text(lock_text(accepted={"at": "now"}))
    assert "exactly the keys 'at', 'because' and 'previous'" in str(read_lock(path).problem)
