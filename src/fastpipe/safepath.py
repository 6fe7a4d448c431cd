"""Untrusted paths and hashes (from locks, manifests, other branches) checked before use.

A lock or a cache manifest may come from a pull request or a tampered cache: a path in it
must stay inside the project root (no `..`, no absolute path, no symlink leading out) and a
hash must be 32 lowercase hex digits, or the command stops with a one-line error.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from fastpipe.errors import UnsafeInputError
from fastpipe.hashing import FileHash

_HEX = frozenset("0123456789abcdef")
_ODD_PARTS = frozenset({"", ".", ".."})  # a leading "/" or "//" splits into an empty part


def is_hash(value: object) -> bool:
    """Whether `value` is an xxh3-128 hex digest (32 lowercase hex digits)."""
    return isinstance(value, str) and len(value) == 32 and _HEX.issuperset(value)


def check_hash(value: object, where: str) -> str:
    """`value` if it is a well-formed hash, else UnsafeInputError naming `where`."""
    if not is_hash(value):
        raise UnsafeInputError(f"{where}: {value!r} is not a 32-hex-digit hash; refusing it")
    return str(value)


def check_relpath(value: object, where: str) -> str:
    """`value` if it is a relative POSIX path that stays below its base, else UnsafeInputError."""
    if not isinstance(value, str) or not value or "\0" in value or "\\" in value:
        raise UnsafeInputError(f"{where}: {value!r} is not a valid relative path; refusing it")
    if not _ODD_PARTS.intersection(value.split("/")):
        return value  # plain names only (no "", ".", ".."): what the checks below accept
    parts = PurePosixPath(value).parts
    if value.startswith("/") or any(p in ("..", "") for p in parts) or parts[:1] == (".",):
        raise UnsafeInputError(f"{where}: path '{value}' leaves the project root; refusing it")
    return value


def inside(root: Path, relpath: str, where: str) -> Path:
    """The path of `relpath` under `root`, refusing one whose existing part leads out of it.

    The deepest existing ancestor is resolved (symlinks followed) and must still be below
    the resolved root, so writing there cannot land outside through a symlink.
    """
    check_relpath(relpath, where)
    target = root / relpath
    real_root = os.path.realpath(root)
    probe = target
    while not os.path.lexists(probe) and probe != root:
        probe = probe.parent
    if os.path.islink(probe) and probe == target:
        probe = probe.parent  # the target itself may be a symlink: it is replaced, not followed
    real = os.path.realpath(probe)
    if real != real_root and not real.startswith(real_root + os.sep):
        raise UnsafeInputError(f"{where}: path '{relpath}' leads outside the project root")
    return target


def check_outs(outs: Mapping[str, FileHash], where: str) -> None:
    """Refuse a lock whose outs name a path leaving the root or a hash that is not 32 hex."""
    for path, found in outs.items():
        check_relpath(path, where)
        check_hash(found.hash, f"{where}, out '{path}'")
