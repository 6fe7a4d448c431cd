"""Lock files already parsed, remembered by their stat, so a no-op command reads no YAML.

Parsing a lock costs about 0.2 ms (the YAML constructor is Python), a few dozen milliseconds
for a large pipeline's status. A parsed lock is reused while its file's size, mtime, ctime and
inode are unchanged, and only if it was read at least 2 s after its last change (the same
racy-file rule as the stat cache: a rewrite within one timestamp tick cannot go unseen).
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any

from fastpipe.atomicfile import atomic_write
from fastpipe.hashing import RACY_WINDOW_NS
from fastpipe.lockfile import LockRead, from_lock_dict, read_lock, to_lock_dict

VERSION = 1


class LockCache:
    """Parsed locks by path, trusted while the file's stat is unchanged."""

    def __init__(self, path: Path | None, rows: dict[str, Any]) -> None:
        self._path = path
        self._rows = rows
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> LockCache:
        """The cache at `path`; anything unreadable is an empty cache."""
        try:
            data = json.loads(path.read_bytes())
            rows = data["locks"] if data.get("version") == VERSION else {}
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            rows = {}
        return cls(path, rows if isinstance(rows, dict) else {})

    def read(self, path: Path) -> LockRead:
        """The lock at `path`, from the cache when its file has not changed."""
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return LockRead(None, None)
        except OSError:
            return read_lock(path)
        key = str(path)
        stamp = [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino]
        row = self._rows.get(key)
        if isinstance(row, list) and len(row) == 3 and row[0] == stamp:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                if row[1] - st.st_mtime_ns >= RACY_WINDOW_NS:
                    return LockRead(from_lock_dict(row[2]), None)
        read_at = time.time_ns()
        found = read_lock(path)
        if found.entry is not None:
            self._rows[key] = [stamp, read_at, to_lock_dict(found.entry)]
            self._dirty = True
        return found

    def save(self) -> None:
        """Write the cache if it changed (failing to write only costs time next run)."""
        if self._path is None or not self._dirty:
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            data = {"version": VERSION, "locks": self._rows}
            atomic_write(self._path, json.dumps(data, separators=(",", ":")).encode())
            self._dirty = False
