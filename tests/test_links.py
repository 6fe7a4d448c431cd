"""Workspace copies: reflink when it works, copy_file_range, plain copy; EXDEV falls back."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from fastpipe import links
from fastpipe.hashing import StatCache, hash_file
from fastpipe.links import LinkMode, Primitives
from fastpipe.objects import ObjectStore
from fastpipe.restore import Restorer


def _copy(tmp_path: Path, prims: Primitives, mode: LinkMode) -> str:
    src = tmp_path / "src"
    src.write_bytes(b"0123456789" * 1000)
    dst = tmp_path / "dst"
    with open(src, "rb") as s, open(dst, "wb") as d:
        method = links.copy_fd(s.fileno(), d.fileno(), src.stat().st_size, mode, prims)
    assert dst.read_bytes() == src.read_bytes()
    return method


def _unsupported(*_args: int) -> None:
    raise OSError(errno.EOPNOTSUPP, "not supported")


def test_injected_reflink_success_is_used(tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []

    def fake_reflink(src_fd: int, dst_fd: int) -> None:
        calls.append((src_fd, dst_fd))
        os.lseek(src_fd, 0, os.SEEK_SET)
        os.write(dst_fd, os.read(src_fd, 1 << 20))

    assert _copy(tmp_path, Primitives(reflink=fake_reflink), LinkMode.REFLINK) == "reflink"
    assert len(calls) == 1


def test_injected_reflink_failure_falls_back_to_copy_file_range(tmp_path: Path) -> None:
    assert _copy(tmp_path, Primitives(reflink=_unsupported), LinkMode.REFLINK) == (
        "copy_file_range"
    )


def test_copy_mode_never_reflinks(tmp_path: Path) -> None:
    def boom(_s: int, _d: int) -> None:
        raise AssertionError("reflink called in copy mode")

    assert _copy(tmp_path, Primitives(reflink=boom), LinkMode.COPY) == "copy_file_range"


def test_exdev_from_copy_file_range_falls_back_to_plain_copy(tmp_path: Path) -> None:
    def exdev(*_args: int) -> None:
        raise OSError(errno.EXDEV, "cross-device")

    prims = Primitives(reflink=_unsupported, copy_range=exdev)
    assert _copy(tmp_path, prims, LinkMode.REFLINK) == "copy"


def test_a_real_io_error_is_not_swallowed(tmp_path: Path) -> None:
    def eio(_s: int, _d: int) -> None:
        raise OSError(errno.EIO, "I/O error")

    with pytest.raises(OSError, match="I/O error"):
        _copy(tmp_path, Primitives(reflink=eio), LinkMode.REFLINK)


def test_real_default_primitives_copy_here(tmp_path: Path) -> None:
    assert _copy(tmp_path, links.SYSTEM, LinkMode.REFLINK) in {"reflink", "copy_file_range"}


def test_hardlink_across_filesystems_falls_back_to_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def cross_device(_src: str, _dst: str) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    root = tmp_path / "proj"
    root.mkdir()
    src = tmp_path / "x"
    src.write_bytes(b"payload")
    store = ObjectStore(tmp_path / "cache", LinkMode.HARDLINK)
    digest = hash_file(src)
    store.store_file(src, digest)
    monkeypatch.setattr(links.os, "link", cross_device)
    assert links.hardlink(str(src), str(tmp_path / "y")) is False
    Restorer(store, root, StatCache.empty()).out("x", digest)
    assert (root / "x").read_bytes() == b"payload"
    assert (root / "x").stat().st_ino != store.path(digest).stat().st_ino
