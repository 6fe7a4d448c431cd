"""DVC's md5 of files and directories, as dvc.lock records it (DVC 3, and DVC 2's dos2unix)."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from fastpipe.export.md5 import CHUNK_SIZE, dvc_md5, file_md5, is_text_block


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_a_file_is_the_md5_of_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(b"one\r\ntwo\r\n")

    assert dvc_md5(path) == _md5(b"one\r\ntwo\r\n")


def test_dos2unix_normalizes_text_but_not_binary(tmp_path: Path) -> None:
    text, binary = tmp_path / "text.txt", tmp_path / "data.bin"
    text.write_bytes(b"one\r\ntwo\r\n")
    binary.write_bytes(b"\x00\r\n\x01")

    assert dvc_md5(text, dos2unix=True) == _md5(b"one\ntwo\n")
    assert dvc_md5(binary, dos2unix=True) == _md5(b"\x00\r\n\x01")


def test_dos2unix_decides_chunk_by_chunk_like_dvc_2(tmp_path: Path) -> None:
    # The first chunk is binary (a NUL in its first 512 bytes), the second is text.
    first = b"\x00" + b"a\r\n" * ((CHUNK_SIZE - 1) // 3) + b"a" * ((CHUNK_SIZE - 1) % 3)
    second = b"b\r\n" * 10
    path = tmp_path / "mixed"
    path.write_bytes(first + second)

    assert len(first) == CHUNK_SIZE
    assert file_md5(path, dos2unix=True) == _md5(first + second.replace(b"\r\n", b"\n"))


def test_dos2unix_matches_dvc_data_where_installed(tmp_path: Path) -> None:
    dvc_hash = pytest.importorskip("dvc_data.hashfile.hash")
    path = tmp_path / "text.txt"
    path.write_bytes(b"x,y\r\n1,2\r\n" * 1000)

    expected = dvc_hash.file_md5(str(path), name="md5-dos2unix")
    assert file_md5(path, dos2unix=True) == expected


def test_text_heuristic() -> None:
    assert is_text_block(b"")
    assert is_text_block(b"plain text\r\n")
    assert not is_text_block(b"text with a \x00 nul")
    assert not is_text_block(bytes(range(128, 256)))


def test_a_directory_is_the_md5_of_its_sorted_listing(tmp_path: Path) -> None:
    root = tmp_path / "out"
    (root / "sub").mkdir(parents=True)
    (root / "b.txt").write_bytes(b"b\n")
    (root / "sub" / "a.txt").write_bytes(b"a\n")
    (root / ".git").write_text("gitdir: elsewhere\n")  # DVC always ignores .git

    entries = [
        {"md5": _md5(b"b\n"), "relpath": "b.txt"},
        {"md5": _md5(b"a\n"), "relpath": "sub/a.txt"},
    ]
    listing = json.dumps(entries, sort_keys=True).encode()
    assert dvc_md5(root) == _md5(listing) + ".dir"


def test_a_directory_skips_vcs_and_dvc_dirs_and_symlinked_dirs(tmp_path: Path) -> None:
    root = tmp_path / "out"
    root.mkdir()
    (root / "kept.txt").write_text("k\n")
    expected = dvc_md5(root)
    for name in (".git", ".hg", ".dvc"):
        (root / name).mkdir()
        (root / name / "x").write_text("ignored\n")
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "y").write_text("not followed\n")
    os.symlink(tmp_path / "elsewhere", root / "link")

    assert dvc_md5(root) == expected


def test_an_empty_directory_and_what_dvc_cannot_hash(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    ignored = tmp_path / "ignored"
    ignored.mkdir()
    (ignored / ".dvcignore").write_text("*.tmp\n")

    assert dvc_md5(empty) == _md5(b"[]") + ".dir"
    assert dvc_md5(ignored) is None  # DVC refuses a .dvcignore inside an output
    assert dvc_md5(tmp_path / "missing") is None
