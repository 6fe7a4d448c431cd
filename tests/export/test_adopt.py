"""`fastpipe import-dvc`: adopt what DVC computed, from a dvc.lock written as DVC 3 writes it.

The real `dvc repro` -> import-dvc path is in tests/integration/test_dvc_import.py; here the
lock is made by hand so that every way of not matching can be set up exactly.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pytest
import yaml

import fastpipe.api as api
from fastpipe.errors import DvcError
from fastpipe.export import adopt
from fastpipe.export.adopt import Adoption, ImportReport, same_value
from fastpipe.export.md5 import dvc_md5
from tests.export.conftest import MakeProject


def _entry(root: Path, path: str, *, dos2unix: bool = False) -> dict[str, Any]:
    found = root / path
    md5 = dvc_md5(found, dos2unix=dos2unix)
    entry: dict[str, Any] = {"path": path} if dos2unix else {"path": path, "hash": "md5"}
    return {**entry, "md5": md5, "size": found.stat().st_size}


def _value(root: Path, file: str, key: str) -> Any:
    node: Any = yaml.safe_load((root / file).read_text())
    for part in key.split("."):
        node = node[part]
    return node


def write_dvc_lock(root: Path, *, dos2unix: bool = False) -> dict[str, Any]:
    """A dvc.lock for the exported dvc.yaml and the files on disk now, as `dvc repro` writes."""
    stages: dict[str, Any] = {}
    for name, stage in yaml.safe_load((root / "dvc.yaml").read_text())["stages"].items():
        params: dict[str, dict[str, Any]] = {}
        for item in stage.get("params", []):
            file, keys = (
                ("params.yaml", [item]) if isinstance(item, str) else next(iter(item.items()))
            )
            params.setdefault(file, {}).update({k: _value(root, file, k) for k in keys})
        outs = [
            next(iter(o)) if isinstance(o, dict) else o
            for kind in ("outs", "metrics", "plots")
            for o in stage.get(kind, [])
        ]
        stages[name] = {
            "cmd": stage["cmd"],
            "deps": [_entry(root, d, dos2unix=dos2unix) for d in stage.get("deps", [])],
            "params": params,
            "outs": [_entry(root, o, dos2unix=dos2unix) for o in sorted(outs)],
        }
    lock = {"schema": "2.0", "stages": stages}
    (root / "dvc.lock").write_text(yaml.safe_dump(lock, sort_keys=False))
    return lock


@pytest.fixture
def computed(project: Path) -> Path:
    """The project exported and run stage by stage as `dvc repro` would, with its dvc.lock."""
    api.export(root=project)
    for name in ("clean", "notes", "train"):
        assert api.exec_stage(name, root=project).ok
    write_dvc_lock(project)
    return project


def _outcomes(report: ImportReport) -> dict[str, tuple[Adoption, tuple[str, ...]]]:
    return {s.name: (s.adoption, s.reasons) for s in report.stages}


def test_every_matching_stage_is_adopted_and_then_fresh(computed: Path) -> None:
    report = api.import_dvc(root=computed)

    assert {s.name: s.adoption for s in report.stages} == dict.fromkeys(
        ("clean", "notes", "train"), Adoption.ADOPTED
    )
    assert api.status(root=computed).stale == []
    locks = {p: p.stat().st_mtime_ns for p in (computed / ".fastpipe/stages").iterdir()}
    assert api.run(root=computed, executor="inline").ok
    assert {p: p.stat().st_mtime_ns for p in locks} == locks  # nothing ran
    assert (computed / "notes.txt").read_text() == "run\n"


def test_dry_run_writes_no_lock(computed: Path) -> None:
    report = api.import_dvc(root=computed, dry_run=True)

    assert {s.adoption for s in report.stages} == {Adoption.WOULD_ADOPT}
    assert not (computed / ".fastpipe" / "stages").exists()


def test_a_stage_already_fresh_is_left_alone(computed: Path) -> None:
    api.import_dvc(root=computed)
    lock = computed / ".fastpipe/stages/clean.lock"
    before = lock.stat().st_mtime_ns

    report = api.import_dvc(root=computed)

    assert {s.adoption for s in report.stages} == {Adoption.FRESH}
    assert lock.stat().st_mtime_ns == before


def test_an_output_changed_since_dvc_ran_leaves_that_stage_stale(computed: Path) -> None:
    (computed / "model" / "weights.txt").write_text("tampered\n")

    found = _outcomes(api.import_dvc(root=computed))

    assert found["clean"][0] is Adoption.ADOPTED
    assert found["train"][0] is Adoption.STALE
    assert found["train"][1] == (
        f"out model changed since dvc repro (md5 {_locked(computed, 'train', 'model')} in "
        f"dvc.lock, {dvc_md5(computed / 'model')} now)",
    )
    assert api.status(root=computed).stale == ["train"]


def _locked(root: Path, stage: str, path: str) -> str:
    lock = yaml.safe_load((root / "dvc.lock").read_text())
    return next(o["md5"] for o in lock["stages"][stage]["outs"] if o["path"] == path)


def test_a_missing_file_and_a_stage_dvc_never_ran(computed: Path) -> None:
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    del lock["stages"]["notes"]
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))
    (computed / "model.txt").unlink()

    found = _outcomes(api.import_dvc(root=computed))

    assert found["notes"] == (Adoption.STALE, ("not in dvc.lock: DVC has not run it",))
    assert found["train"] == (Adoption.STALE, ("out model.txt is missing or unreadable",))


def test_params_edited_since_dvc_ran_leave_the_stage_stale(
    computed: Path, make_project: MakeProject
) -> None:
    make_project({"params.yaml": "train:\n  lr: 0.25\nclean:\n  threshold: 2\n"})

    found = _outcomes(api.import_dvc(root=computed))

    assert found["train"] == (
        Adoption.STALE,
        ("param train.lr in params.yaml changed since dvc repro (0.5 -> 0.25)",),
    )
    assert found["clean"][0] is Adoption.ADOPTED


def test_a_param_dvc_ran_with_another_value_is_not_adopted(computed: Path) -> None:
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    lock["stages"]["train"]["params"] = {"other.yaml": {"train.epochs": 5}}
    (computed / "other.yaml").write_text("train:\n  epochs: 5\n")
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))

    found = _outcomes(api.import_dvc(root=computed))

    assert found["train"] == (
        Adoption.STALE,
        ("param train.epochs was 5 for DVC but fastpipe resolves 2",),
    )


def test_a_changed_cmd_and_deps_dvc_did_not_track(computed: Path) -> None:
    dvc_yaml = computed / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("cmd: fastpipe exec notes", "cmd: make"))
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    lock["stages"]["clean"]["deps"] = [
        d for d in lock["stages"]["clean"]["deps"] if d["path"] != "data/raw.txt"
    ]
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))

    found = _outcomes(api.import_dvc(root=computed))

    assert found["notes"] == (
        Adoption.STALE,
        ("its cmd in dvc.yaml changed since dvc.lock was written",),
    )
    assert found["clean"] == (
        Adoption.STALE,
        ("dep data/raw.txt is not a dep of the DVC stage",),
    )


def test_a_dvc_2_lock_hashes_text_with_dos2unix(project: Path) -> None:
    (project / "data/raw.txt").write_bytes(b"1\r\n2\r\n3\r\n4\r\n")
    api.export(root=project)
    for name in ("clean", "notes", "train"):
        assert api.exec_stage(name, root=project).ok
    lock = write_dvc_lock(project, dos2unix=True)
    raw = next(d for d in lock["stages"]["clean"]["deps"] if d["path"] == "data/raw.txt")
    assert raw["md5"] == hashlib.md5(b"1\n2\n3\n4\n").hexdigest()

    found = _outcomes(api.import_dvc(root=project))

    assert {adoption for adoption, _ in found.values()} == {Adoption.ADOPTED}


def test_a_dvc_yaml_elsewhere_with_a_wdir(project: Path) -> None:
    api.export(root=project, output="dvc/")
    for name in ("clean", "notes", "train"):
        assert api.exec_stage(name, root=project).ok
    sub = project / "dvc"
    lock = write_dvc_lock_from(project, sub)
    assert lock["stages"]["clean"]["deps"][0]["path"] == "data/raw.txt"  # relative to wdir

    found = _outcomes(api.import_dvc(root=project, dvc_file="dvc/dvc.yaml"))

    assert {adoption for adoption, _ in found.values()} == {Adoption.ADOPTED}


def write_dvc_lock_from(root: Path, directory: Path) -> dict[str, Any]:
    """write_dvc_lock for a dvc.yaml in `directory` whose stages run in `root` (wdir)."""
    (root / "dvc.yaml").write_text((directory / "dvc.yaml").read_text())
    try:
        lock = write_dvc_lock(root)
    finally:
        (root / "dvc.yaml").unlink()
    (root / "dvc.lock").rename(directory / "dvc.lock")
    return lock


@pytest.mark.parametrize(
    ("lock_text", "message"),
    [
        (None, "dvc.lock not found"),
        ("schema: '1.0'\nstages: {}\n", "not a DVC 2/3 lock file"),
        ("schema: '2.0'\nstages: [1, 2]\n", "expected a 'stages' mapping"),
        ("schema: '2.0'\nstages:\n  clean:\n    cmd: x\n    deps: [{md5: 1}]\n", "without a path"),
        ("stages: [\n", "cannot read it"),
    ],
)
def test_unreadable_dvc_files_are_errors(
    computed: Path, lock_text: str | None, message: str
) -> None:
    lock = computed / "dvc.lock"
    if lock_text is None:
        lock.unlink()
    else:
        lock.write_text(lock_text)

    with pytest.raises(DvcError, match=message):
        api.import_dvc(root=computed)


def test_params_files_in_json_and_toml_and_keys_gone(computed: Path) -> None:
    (computed / "p.json").write_text('{"a": {"b": [1, {"c": 2.0}]}}')
    (computed / "p.toml").write_text("[train]\nflag = true\n")
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    lock["stages"]["clean"]["params"] = {"p.json": {"a.b.1.c": 2}, "p.toml": {"train.flag": True}}
    lock["stages"]["train"]["params"] = {"p.toml": {"train.gone": 1}}
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))

    found = _outcomes(api.import_dvc(root=computed))

    assert found["clean"][0] is Adoption.ADOPTED
    assert found["train"] == (Adoption.STALE, ("param train.gone is no longer in p.toml",))


def test_stages_dvc_no_longer_defines_or_cannot_vouch_for(computed: Path) -> None:
    dvc_yaml = yaml.safe_load((computed / "dvc.yaml").read_text())
    del dvc_yaml["stages"]["notes"]
    (computed / "dvc.yaml").write_text(yaml.safe_dump(dvc_yaml))
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    lock["stages"]["clean"]["deps"].append({"path": "../outside.txt", "md5": "0" * 32})
    del lock["stages"]["train"]["outs"][0]["md5"]
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))

    found = _outcomes(api.import_dvc(root=computed))

    assert found["notes"] == (Adoption.STALE, ("dvc.yaml no longer defines it",))
    assert found["clean"] == (Adoption.STALE, ("dep ../outside.txt is outside the project",))
    assert found["train"] == (Adoption.STALE, ("dvc.lock records no md5 for out metrics.json",))


def test_files_edited_while_being_compared_are_not_adopted(
    computed: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = adopt.mismatches

    def edit_then_compare(ctx: Any, name: str, *rest: Any) -> list[str]:
        found = real(ctx, name, *rest)
        if name == "notes":
            (computed / "notes.txt").write_text("edited meanwhile\n")
        return found

    monkeypatch.setattr(adopt, "mismatches", edit_then_compare)

    found = _outcomes(api.import_dvc(root=computed))

    assert found["notes"] == (
        Adoption.STALE,
        ("its files changed while they were being compared",),
    )


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        (1, 1.0, True),
        (True, 1, False),
        (False, False, True),
        ([1, {"x": 2}], (1, {"x": 2.0}), True),
        ({"x": 1}, {"y": 1}, False),
        ([1], [1, 2], False),
        ("1", 1, False),
        (None, None, True),
    ],
)
def test_param_values_compare_as_dvc_does_but_bools_are_not_numbers(
    a: Any, b: Any, same: bool
) -> None:
    assert same_value(a, b) is same


def test_a_file_inside_a_directory_dvc_tracked_is_covered_by_it(computed: Path) -> None:
    lock = yaml.safe_load((computed / "dvc.lock").read_text())
    deps = lock["stages"]["clean"]["deps"]
    deps[:] = [d for d in deps if d["path"] != "data/raw.txt"] + [_entry(computed, "data")]
    (computed / "dvc.lock").write_text(yaml.safe_dump(lock))

    found = _outcomes(api.import_dvc(root=computed))

    assert found["clean"][0] is Adoption.ADOPTED
