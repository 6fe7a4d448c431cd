"""Untrusted relative paths: the plain-name fast path accepts exactly what the full check does."""

from __future__ import annotations

import pytest

from fastpipe import safepath
from fastpipe.errors import UnsafeInputError


@pytest.mark.parametrize("value", ["a", "data/part-0001.bin", "a/b/c.txt", "x..y/..z", ".hidden/a"])
def test_plain_relative_paths_are_accepted(value: str) -> None:
    assert safepath.check_relpath(value, "manifest") == value


@pytest.mark.parametrize("value", ["a//b", "a/./b", "a/", "./a"])
def test_redundant_separators_are_accepted_as_before(value: str) -> None:
    assert safepath.check_relpath(value, "manifest") == value


@pytest.mark.parametrize(
    "value", ["..", "../x", "a/../../x", "a/..", "/etc/passwd", "//x", "a\\b", "a\0b", ""]
)
def test_paths_that_leave_the_base_are_refused(value: str) -> None:
    with pytest.raises(UnsafeInputError, match="manifest"):
        safepath.check_relpath(value, "manifest")
