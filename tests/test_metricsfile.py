"""Tests for fastpipe.metricsfile: parsing, flattening and diffing metrics."""

from __future__ import annotations

import pytest

from fastpipe.errors import MetricsError
from fastpipe.metricsfile import diff, diff_json, flatten, parse, show_value


def test_flatten_nests_dotted_keys_and_lists_by_index() -> None:
    data = {"eval": {"auc": 0.9, "loss": [1, 2]}, "ok": True, "": {"x": 1}}
    assert flatten(data) == {
        "eval.auc": 0.9,
        "eval.loss.0": 1,
        "eval.loss.1": 2,
        "ok": True,
        "x": 1,
    }
    assert flatten(3) == {}


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("m.json", '{"a": {"b": 1.5}}'),
        ("m.yaml", "a:\n  b: 1.5\n"),
        ("m.yml", "a: {b: 1.5}\n"),
        ("m.toml", "[a]\nb = 1.5\n"),
    ],
)
def test_parse_json_yaml_toml(path: str, text: str) -> None:
    assert parse(path, text.encode()) == {"a.b": 1.5}


@pytest.mark.parametrize(
    ("path", "text", "kind"),
    [("m.json", "{oops", "JSON"), ("m.yaml", "a: [1", "YAML"), ("m.toml", "a = ", "TOML")],
)
def test_parse_names_the_file_and_format(path: str, text: str, kind: str) -> None:
    with pytest.raises(MetricsError) as err:
        parse(path, text.encode())
    message = str(err.value)
    assert message.startswith(f"metrics file '{path}' is not valid {kind}: ")
    assert "\n" not in message


def test_diff_rounds_numeric_changes_and_keeps_others_as_they_are() -> None:
    old = {"m.json": {"auc": 0.1, "name": "a", "n": 3, "same": 1}}
    new = {"m.json": {"auc": 0.3, "name": "b", "n": 5, "same": 1}}
    changes = diff(old, new, precision=3)
    assert [(c.key, c.old, c.new, c.diff) for c in changes] == [
        ("auc", 0.1, 0.3, 0.2),  # 0.19999999999999998 before rounding
        ("n", 3, 5, 2),
        ("name", "a", "b", None),
    ]
    assert len(diff(old, new, include_unchanged=True)) == 4
    assert diff(old, old) == []


def test_diff_of_a_file_absent_on_one_side() -> None:
    changes = diff({"m.json": None}, {"m.json": {"auc": 1}})
    assert [(c.old, c.new, c.diff) for c in changes] == [(None, 1, None)]
    assert show_value(changes[0].old) == "-"
    assert diff_json(changes) == {"m.json": {"auc": {"old": None, "new": 1, "diff": None}}}


def test_a_bool_is_not_a_number_and_a_type_change_is_a_change() -> None:
    changes = diff({"f": {"ok": True, "v": 1}}, {"f": {"ok": False, "v": 1.0}})
    assert [(c.key, c.diff) for c in changes] == [("ok", None), ("v", 0.0)]


def test_a_change_rounded_to_zero_has_no_sign() -> None:
    (change,) = diff({"f": {"v": 0.4499}}, {"f": {"v": 0.4496}}, precision=3)
    assert str(change.diff) == "0.0"
