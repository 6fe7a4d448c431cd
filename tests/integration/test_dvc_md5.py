"""fastpipe's md5 of files and directories equals the md5 the real `dvc add` records."""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from fastpipe.export.md5 import dvc_md5
from tests.integration.dvcproject import dvc_ok, requires_dvc

pytestmark = requires_dvc


def _recorded(root: Path, target: str) -> str:
    data = yaml.safe_load((root / f"{target}.dvc").read_text())
    return data["outs"][0]["md5"]


def test_md5_of_files_and_directories_matches_dvc(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    tree = root / "tree"
    (tree / "nested" / "deeper").mkdir(parents=True)
    (tree / "a.txt").write_bytes(b"unix\n")
    (tree / "nested" / "windows.txt").write_bytes(b"crlf\r\nline\r\n")
    (tree / "nested" / "deeper" / "binary.bin").write_bytes(bytes(range(256)) * 8)
    (tree / "nested" / "empty").write_bytes(b"")
    (tree / "caf\u00e9.txt").write_text("unicode name\n")
    (tree / ".git").write_text("gitdir: nowhere\n")  # ignored by DVC
    (root / "elsewhere").mkdir()
    (root / "elsewhere" / "x.txt").write_text("outside\n")
    os.symlink(root / "elsewhere", tree / "linked")  # DVC does not follow directory links
    (root / "single.txt").write_bytes(b"a\r\nb\r\n")
    dvc_ok("init", "--no-scm", "-q", cwd=root)

    dvc_ok("add", "-q", "tree", "single.txt", cwd=root)

    assert dvc_md5(root / "tree") == _recorded(root, "tree")
    assert _recorded(root, "tree").endswith(".dir")
    assert dvc_md5(root / "single.txt") == _recorded(root, "single.txt")
