"""Package-aware fingerprints end to end, with a real second installed version of a package.

`fpdemo` 1.0 and 2.0 are two real wheels, installed in turn by pip (offline, `--target`) into a
directory on the fastpipe command's PYTHONPATH: upgrading makes exactly the stages whose code
reaches it stale, as a `code` reason naming `package fpdemo`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.integration.conftest import MakeProject
from tests.integration.project import Project

PIPELINE = """\
from pathlib import Path

import fpdemo

from fastpipe import stage


@stage(outs=["uses.txt"])
def uses() -> None:
    Path("uses.txt").write_text(str(fpdemo.double(2)))


@stage(outs=["untracked.txt"], track_packages=False)
def untracked() -> None:
    Path("untracked.txt").write_text(str(fpdemo.double(3)))


@stage(outs=["plain.txt"])
def plain() -> None:
    Path("plain.txt").write_text("plain")
"""


def _wheel(directory: Path, version: str) -> Path:
    """A real pure-Python wheel of the throwaway distribution `fpdemo`."""
    info = f"fpdemo-{version}.dist-info"
    files = {
        "fpdemo/__init__.py": f"VERSION = {version!r}\n\n\ndef double(x):\n    return 2 * x\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: fpdemo\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
        f"{info}/top_level.txt": "fpdemo\n",
    }
    record = []
    for name, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    path = directory / f"fpdemo-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


_PIP_INSTALL = (sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps")
_PIP_INSTALL += ("--upgrade", "--disable-pip-version-check")


def _install(wheel: Path, site: Path) -> None:
    subprocess.run(
        [*_PIP_INSTALL, "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
    )


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """A site directory with fpdemo 1.0 installed."""
    site = tmp_path / "site"
    _install(_wheel(tmp_path, "1.0"), site)
    return site


def _make(make_project: MakeProject, site: Path) -> tuple[Project, dict[str, str]]:
    project = make_project({"pipeline.py": PIPELINE})
    env = {"PYTHONPATH": str(site)}
    result = project.run("run", env=env)
    assert result.code == 0, result
    return project, env


def _stale(project: Project, env: dict[str, str]) -> dict[str, list[dict[str, object]]]:
    result = project.run("status", "--json", env=env)
    assert result.code == 0, result
    stages = json.loads(result.out)["stages"]
    return {s["name"]: s["reasons"] for s in stages if s["status"] == "stale"}


def test_upgrade_makes_exactly_the_stages_using_it_stale(
    make_project: MakeProject, site: Path, tmp_path: Path
) -> None:
    project, env = _make(make_project, site)
    lock = project.read(".fastpipe/stages/uses.lock")
    assert "packages:\n  fpdemo: '1.0'\n" in lock, lock
    assert "packages: {}\n" in project.read(".fastpipe/stages/plain.lock")
    assert "packages" not in project.read(".fastpipe/stages/untracked.lock")
    assert _stale(project, env) == {}  # the snapshot is written and trusted from here

    _install(_wheel(tmp_path, "2.0"), site)

    stale = _stale(project, env)
    assert stale == {
        "uses": [
            {
                "kind": "code",
                "items": ["package fpdemo"],
                "detail": "package fpdemo 1.0 -> 2.0",
            }
        ]
    }
    explain = project.run("explain", "uses", env=env)
    assert explain.code == 0, explain
    assert "package fpdemo  1.0 -> 2.0" in explain.out, explain.out

    rerun = project.run("run", env=env)
    assert rerun.code == 0, rerun
    assert "fpdemo: '2.0'" in project.read(".fastpipe/stages/uses.lock")
    assert _stale(project, env) == {}


def test_lock_from_before_package_tracking_is_not_stale_after_upgrade(
    make_project: MakeProject, site: Path, tmp_path: Path
) -> None:
    project, env = _make(make_project, site)
    path = project.path(".fastpipe/stages/uses.lock")
    text = path.read_text()
    old = text.replace("packages:\n  fpdemo: '1.0'\n", "").replace("schema: 2\n", "schema: 1\n")
    assert "packages" not in old and "schema: 1\n" in old, old
    path.write_text(old)

    assert _stale(project, env) == {}
    _install(_wheel(tmp_path, "2.0"), site)
    assert _stale(project, env) == {}  # an absent entry is unknown, not a change


def test_track_packages_false_in_pyproject(
    make_project: MakeProject, site: Path, tmp_path: Path
) -> None:
    project = make_project(
        {"pipeline.py": PIPELINE, "pyproject.toml": "[tool.fastpipe]\ntrack_packages = false\n"}
    )
    env = {"PYTHONPATH": str(site)}
    assert project.run("run", env=env).code == 0
    assert "packages" not in project.read(".fastpipe/stages/uses.lock")
    _install(_wheel(tmp_path, "2.0"), site)
    assert _stale(project, env) == {}
