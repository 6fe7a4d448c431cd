"""Tests for fastpipe.packages: library names -> installed distributions and their versions."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from fastpipe import packages, snapshot
from fastpipe.packages import Distributions


def test_reached_maps_top_level_modules_and_skips_stdlib_and_fastpipe() -> None:
    found = Distributions(
        modules={"sklearn": ("scikit-learn",), "fastpipe": ("fastpipe",), "json": ("evil",)},
        versions={"scikit-learn": "1.6.1", "fastpipe": "0.1", "evil": "9"},
    )
    libraries = ["sklearn.ensemble.RandomForestClassifier", "fastpipe.stage", "json.dumps", "x.y"]
    assert found.reached(libraries) == {"scikit-learn": "1.6.1"}


def test_scan_finds_an_installed_distribution() -> None:
    found = packages.scan()
    assert found.modules["pytest"] == ("pytest",)
    assert found.reached(["pytest.fixture"]) == {"pytest": pytest.__version__}


def test_environment_state_changes_when_a_dist_info_appears(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    before = packages.environment_state()
    key = snapshot.environment_key(tmp_path / "project")
    (tmp_path / "fpdemo-1.0.dist-info").mkdir()
    assert packages.environment_state() != before
    assert snapshot.environment_key(tmp_path / "project") != key  # the fast path notices
    assert packages.environment_state(exclude=[str(tmp_path)]) != packages.environment_state()


def test_load_scans_once_per_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "cache" / "packages.json"
    scans: list[int] = []

    def fake_scan() -> Distributions:
        scans.append(1)
        return Distributions({"demo": ("fpdemo",)}, {"fpdemo": str(len(scans))})

    monkeypatch.setattr(packages, "scan", fake_scan)
    assert packages.load(path, "s1").versions == {"fpdemo": "1"}
    assert packages.load(path, "s1") == Distributions({"demo": ("fpdemo",)}, {"fpdemo": "1"})
    assert len(scans) == 1
    assert json.loads(path.read_text())["schema"] == packages.SCHEMA
    assert packages.load(path, "s2").versions == {"fpdemo": "2"}  # another environment
    path.write_text("{not json")
    assert packages.load(path, "s2").versions == {"fpdemo": "3"}
