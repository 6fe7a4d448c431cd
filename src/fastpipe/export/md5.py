"""Files and directories -> the md5 that DVC 3 records in dvc.lock, computed as DVC does.

Matched against dvc-data (`dvc_data/hashfile/hash.py`, `tree.py`, `build.py`) and dvc
(`output.py`, `ignore.py`):

- a file: the md5 of its bytes (`hash: md5`). Locks written by DVC 2 carry no `hash` field and
  mean `md5-dos2unix`: every 1 MiB chunk whose first 512 bytes look like text is hashed with
  CRLF turned into LF (`Dos2UnixHashStreamFile`, `istextblock`).
- a directory: `<md5>.dir`, the md5 of `json.dumps(entries, sort_keys=True)` where entries are
  `{"md5": file md5, "relpath": POSIX path inside the directory}` sorted by relpath
  (`Tree.as_bytes`, `Tree.digest`). The walk is `os.walk` without following directory
  symlinks, skipping what DVC always ignores (`.git` anywhere, `.hg/` and `.dvc/` directories);
  a `.dvcignore` inside the directory is an error in DVC, so no md5 here. Patterns of the
  project's own `.dvcignore` are not applied: where they matter the md5 differs and the stage
  is simply not adopted.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

CHUNK_SIZE = 2**20  # dvc_data.hashfile.hash.fobj_md5
TEXT_BLOCK = 512  # dvc_data.hashfile.istextfile.DEFAULT_CHUNK_SIZE
DIR_SUFFIX = ".dir"
_TEXT_CHARS = bytes(range(32, 127)) + b"\n\r\t\f\b"
_IGNORED_FILES = frozenset({".git"})
_IGNORED_DIRS = frozenset({".git", ".hg", ".dvc"})
_DVCIGNORE = ".dvcignore"


def dvc_md5(path: Path, *, dos2unix: bool = False) -> str | None:
    """DVC's md5 of the file or directory at `path`; None if it is missing or DVC would fail."""
    try:
        if path.is_dir():
            return _tree_md5(path, dos2unix)
        if path.is_file():
            return file_md5(path, dos2unix=dos2unix)
    except OSError:
        return None
    return None


def file_md5(path: Path, *, dos2unix: bool = False) -> str:
    """The md5 of a file's bytes (`dos2unix`: DVC 2's text normalization, chunk by chunk)."""
    hasher = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK_SIZE):
            if dos2unix and is_text_block(chunk[:TEXT_BLOCK]):
                chunk = chunk.replace(b"\r\n", b"\n")
            hasher.update(chunk)
    return hasher.hexdigest()


def is_text_block(block: bytes) -> bool:
    """DVC's guess that a block is text: no NUL, at most 30% bytes outside printable ASCII."""
    if not block:
        return True
    if b"\x00" in block:
        return False
    return len(block.translate(None, _TEXT_CHARS)) / len(block) <= 0.30


def _tree_md5(directory: Path, dos2unix: bool) -> str | None:
    entries: list[dict[str, str]] = []
    for current, dirnames, filenames in os.walk(directory):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS]
        if _DVCIGNORE in filenames:
            return None
        relative = Path(current).relative_to(directory).as_posix()
        prefix = "" if relative == "." else relative + "/"
        for name in filenames:
            if name in _IGNORED_FILES:
                continue
            digest = file_md5(Path(current, name), dos2unix=dos2unix)
            entries.append({"md5": digest, "relpath": prefix + name})
    entries.sort(key=lambda entry: entry["relpath"])
    listing = json.dumps(entries, sort_keys=True).encode("utf-8")
    return hashlib.md5(listing, usedforsecurity=False).hexdigest() + DIR_SUFFIX
