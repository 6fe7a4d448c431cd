"""Cache object keys, and the checks a downloaded object passes before it is published.

Keys are relative to the cache (and to a remote's root, which has the same layout):
`files/xxh3/<2 hex>/<30 hex>` for file contents and directory manifests, `runs/<2 hex>/<30 hex>`
for run-cache entries. A key is 32 lowercase hex in the 2/30 layout and nothing else, so a
validated key can never point outside the cache.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Protocol

from fastpipe.hashing import hash_file

KEY = re.compile(r"^(files/xxh3|runs)/[0-9a-f]{2}/[0-9a-f]{30}$")
HEX128 = re.compile(r"^[0-9a-f]{32}$")
FILES = "files/xxh3"
RUNS = "runs"
MANIFEST_LIMIT = 256 << 20  # a manifest of a million files is ~100 MiB


class Publish(Protocol):
    """Checks a downloaded object and publishes it (`Publisher` is the cache's own)."""

    def __call__(self, key: str, temp: str | Path, digest: str | None = None) -> None:
        """Publish the object `key` from `temp`; `digest` is the xxh3 of its bytes when the
        download computed it while writing them (else the bytes are hashed here)."""
        ...


class CorruptObjectError(ValueError):
    """A downloaded object whose bytes do not match its name (raised by a Publish)."""


def file_key(digest: str) -> str:
    """The key of a file object (or directory manifest) named by an xxh3-128 digest."""
    return f"{FILES}/{digest[:2]}/{digest[2:]}"


def run_key(digest: str) -> str:
    """The key of a run-cache entry."""
    return f"{RUNS}/{digest[:2]}/{digest[2:]}"


def is_key(key: str) -> bool:
    """Whether `key` is an object key (32 lowercase hex in the 2/30 layout, nothing else)."""
    return KEY.match(key) is not None


def digest_of(key: str) -> str:
    """The 32-hex name inside a key."""
    return key[-33:-31] + key[-30:]


def publisher(cache: Path) -> Publisher:
    """The default Publish for a cache directory (see Publisher)."""
    return Publisher(cache)


class Publisher:
    """Verify a downloaded object's bytes against its key, then link it into the cache.

    A file object's xxh3-128 must equal its name; a directory manifest (JSON with `schema` and
    `files`) must list files whose tree hash (as hashing.hash_path computes it) equals its name;
    a run-cache entry must be a JSON object. Published objects are read-only and never rewritten.

    `verified` holds the keys whose cache object is the very file this publisher checked and
    linked (not one that was already there), so the command that fetched them may place them
    in the workspace without hashing them again. It lives as long as one command.
    """

    def __init__(self, cache: Path) -> None:
        self._cache = str(cache)
        self._made: set[str] = set()
        self._verified: set[str] = set()

    @property
    def verified(self) -> frozenset[str]:
        return frozenset(self._verified)

    def __call__(self, key: str, temp: str | Path, digest: str | None = None) -> None:
        if key.startswith(FILES + "/"):
            _verify_file_object(key, temp, digest)
        else:
            _verify_json_object(key, temp)
        target = f"{self._cache}/{key}"
        folder = target.rpartition("/")[0]
        if folder not in self._made:
            os.makedirs(folder, exist_ok=True)
            self._made.add(folder)
        os.chmod(temp, 0o444)
        try:
            os.link(temp, target)  # never replaces an object already there
        except FileExistsError:
            return  # another's object: not the file checked here
        except OSError:
            if os.path.exists(target):
                return
            os.replace(temp, target)
        self._verified.add(key)


def _verify_file_object(key: str, temp: str | Path, digest: str | None) -> None:
    name = digest_of(key)
    if (hash_file(Path(temp)) if digest is None else digest) == name:
        return
    if tree_hash_of_manifest(Path(temp)) == name:
        return
    raise CorruptObjectError(f"{key}: its bytes do not match its name")


def looks_like_manifest(path: Path) -> bool:
    """Cheaply: could this object be a directory manifest (JSON, not too large)?"""
    try:
        if path.stat().st_size > MANIFEST_LIMIT:
            return False
        with open(path, "rb") as f:
            start = f.read(64).lstrip()
    except OSError:
        return False
    return start.startswith(b"{")


def tree_hash_of_manifest(path: Path) -> str | None:
    """The directory tree hash a manifest object describes, or None if it is not a manifest."""
    import xxhash

    if not looks_like_manifest(path):
        return None
    try:
        data = json.loads(path.read_bytes())
        files = data["files"] if isinstance(data, dict) and "schema" in data else None
        pairs = sorted((str(row[0]), str(row[1])) for row in files)  # type: ignore[union-attr]
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None
    hasher = xxhash.xxh3_128()
    for rel, digest in pairs:
        hasher.update(f"{rel}\0{digest}\n".encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


def _verify_json_object(key: str, temp: str | Path) -> None:
    try:
        data = json.loads(Path(temp).read_bytes())
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict):
        raise CorruptObjectError(f"{key}: not a run-cache entry (a JSON object)")


def copy_file(source: Path | str, target: Path | str) -> None:
    """Copy a file's bytes in the kernel (copy_file_range, as `cp` does), else shutil's way.

    Python 3.11's shutil.copyfile uses sendfile, several times slower than copy_file_range for
    a large file on ext4 here (benchmarks/remote.py).
    """
    copy_range = getattr(os, "copy_file_range", None)
    if copy_range is None:  # pragma: no cover - not Linux
        shutil.copyfile(source, target)
        return
    with open(source, "rb") as src, open(target, "wb") as dst:
        size = os.fstat(src.fileno()).st_size
        try:
            copied = 0
            while copied < size:
                step = copy_range(src.fileno(), dst.fileno(), min(size - copied, 1 << 30))
                if step == 0:
                    break
                copied += step
        except OSError:  # a filesystem or kernel without it: the portable copy
            src.seek(0)
            dst.seek(0)
            dst.truncate()
            shutil.copyfileobj(src, dst, 1 << 20)
            return
        if copied < size:  # the file grew or the call stopped early: finish the portable way
            shutil.copyfileobj(src, dst, 1 << 20)
