"""Tests for fastpipe.targets: names, matrix base names and globs → stage names."""

from __future__ import annotations

import pytest

from fastpipe.errors import UnknownStageError
from fastpipe.targets import expand

NAMES = ["prep", "train@cnn-0", "train@cnn-1", "train@xgb-0", "report"]


@pytest.mark.parametrize(
    ("targets", "expected"),
    [
        ([], []),
        (["prep"], ["prep"]),
        (["train@cnn-1"], ["train@cnn-1"]),
        (["train"], ["train@cnn-0", "train@cnn-1", "train@xgb-0"]),
        (["train@cnn-*"], ["train@cnn-0", "train@cnn-1"]),
        (["train@*-0", "train"], ["train@cnn-0", "train@xgb-0", "train@cnn-1"]),
        (["re?ort", "prep", "prep"], ["report", "prep"]),
    ],
)
def test_expands_in_target_order_each_name_once(targets: list[str], expected: list[str]) -> None:
    assert expand(targets, NAMES) == expected


@pytest.mark.parametrize("target", ["trian", "train@rnn-*", "tra"])
def test_a_target_that_matches_nothing_is_an_unknown_stage(target: str) -> None:
    with pytest.raises(UnknownStageError) as caught:
        expand([target], NAMES)
    assert str(caught.value).startswith(f"unknown stage '{target}'")


def test_a_misspelt_base_name_is_suggested() -> None:
    with pytest.raises(UnknownStageError, match="did you mean 'train'"):
        expand(["trian"], NAMES)
