"""Tests for fastpipe.packages: library names -> installed distributions and their versions."""

from __future__ import annotations

import csv
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


def _stdlib_answer() -> Distributions:
    """What importlib.metadata's own (slower) functions say: the oracle for `scan`."""
    from importlib import metadata

    modules = {m: tuple(sorted(set(d))) for m, d in metadata.packages_distributions().items()}
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(name, dist.version)
    return Distributions(modules, versions)


def test_scan_answers_as_importlib_metadata_does_for_this_environment() -> None:
    assert packages.scan() == _stdlib_answer()


def _dist_info(site: Path, name: str, version: str, files: dict[str, str]) -> None:
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    for relative, text in files.items():
        (info / relative).write_text(text)


def test_scan_answers_as_importlib_metadata_does_for_odd_distributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "lib" / "site"
    metadata_text = "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not-this\n"
    _dist_info(
        site,
        "fp-declared",
        "1.0",
        {
            "METADATA": metadata_text.format(name="fp-declared", version="1.0"),
            "top_level.txt": "fpdeclared\nfpdeclared_extra\n",
        },
    )
    record = "\n".join(
        [
            "fpinferred/__init__.py,sha256=x,1",
            "fpinferred/sub/mod.py,,",
            "fpsingle.py,,",
            "_fpnative.cpython-311-x86_64-linux-gnu.so,,",
            '"fp,comma.py",,',
            "../../bin/fptool,,",
            "fp_inferred-2.0.dist-info/METADATA,,",
            "fpdata/table.csv,,",
            "README,,",
        ]
    )
    _dist_info(
        site,
        "fp-inferred",
        "2.0",
        {"METADATA": metadata_text.format(name="fp-inferred", version="2.0"), "RECORD": record},
    )
    for line in record.splitlines():  # installed files exist (3.12+ skip those that do not)
        relative = next(csv.reader([line]))[0]
        (site / relative).parent.mkdir(parents=True, exist_ok=True)
        (site / relative).touch()
    _dist_info(  # a second copy later on the path: the first version wins
        tmp_path / "later",
        "fp-inferred",
        "1.5",
        {"METADATA": metadata_text.format(name="fp-inferred", version="1.5"), "RECORD": record},
    )
    _dist_info(
        site,
        "fp-legacy",
        "0.3",
        {
            "PKG-INFO": "Metadata-Version: 1.0\nname: fp-legacy\nversion: 0.3\n",
            "top_level.txt": "fplegacy",
        },
    )
    stdlib = [entry for entry in sys.path if entry and "-packages" not in entry]  # imports
    monkeypatch.setattr(sys, "path", [str(site), str(tmp_path / "later"), *stdlib])
    found = packages.scan()
    assert found == _stdlib_answer()
    assert found.versions == {"fp-declared": "1.0", "fp-inferred": "2.0", "fp-legacy": "0.3"}
    assert found.modules["fpinferred"] == ("fp-inferred",)
    assert found.modules["fpdeclared_extra"] == ("fp-declared",)
