"""Lock files already parsed, remembered by the digest of their bytes, so a no-op command
parses no YAML.

Parsing a lock costs about 0.2 ms (the YAML constructor is Python), a few dozen milliseconds
for a large pipeline's status; reading and hashing its bytes costs a few microseconds. A
parsed lock is reused only for a file whose bytes hash to the same xxh3-128 digest, so any
change to a lock, however quick or however it was made, is parsed again: unlike a cache keyed
by stat, there is no racy window in which a rewrite could go unseen. `fastpipe run` adds the
locks it writes (`remember`), so the command after a run is served from the cache too.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import xxhash

from fastpipe.atomicfile import atomic_write
from fastpipe.lockfile import LockEntry, LockRead, from_lock_dict, lock_from_bytes, to_lock_dict

VERSION = 2
_ROW = 2  # [digest, lock dict]


class LockCache:
    """Parsed locks by path, each trusted for the exact bytes it was parsed from."""

    def __init__(self, path: Path | None, rows: dict[str, Any]) -> None:
        self._path = path
        self._rows = rows
        self._dirty = False

    @classmethod
    def load(cls, path: Path) -> LockCache:
        """The cache at `path`; anything unreadable (or of another version) is an empty cache."""
        try:
            data = json.loads(path.read_bytes())
            rows = data["locks"] if data.get("version") == VERSION else {}
        except (OSError, ValueError, KeyError, AttributeError, TypeError):
            rows = {}
        return cls(path, rows if isinstance(rows, dict) else {})

    def read(self, path: Path) -> LockRead:
        """The lock at `path`: from the cache when its bytes are the ones parsed before."""
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return LockRead(None, None)
        except OSError as e:
            return LockRead(None, f"lock unreadable: {e}")
        digest = xxhash.xxh3_128_hexdigest(data)
        row = self._rows.get(str(path))
        if isinstance(row, list) and len(row) == _ROW and row[0] == digest:
            with contextlib.suppress(ValueError, KeyError, TypeError, AttributeError):
                return LockRead(from_lock_dict(row[1]), None)
        found = lock_from_bytes(path, data)
        if found.entry is not None:
            self._keep(path, digest, found.entry)
        return found

    def remember(self, path: Path, data: bytes, entry: LockEntry) -> None:
        """Record a lock this process wrote: `data`, its bytes, encode `entry`."""
        self._keep(path, xxhash.xxh3_128_hexdigest(data), entry)

    def _keep(self, path: Path, digest: str, entry: LockEntry) -> None:
        plain = to_lock_dict(entry)
        # Only what JSON gives back unchanged (a float NaN, say, would not compare equal).
        if json.loads(json.dumps(plain)) != plain:
            return
        self._rows[str(path)] = [digest, plain]
        self._dirty = True

    def save(self) -> None:
        """Write the cache if it changed (failing to write only costs time next run)."""
        if self._path is None or not self._dirty:
            return
        with contextlib.suppress(OSError, TypeError, ValueError):
            data = {"version": VERSION, "locks": self._rows}
            atomic_write(self._path, json.dumps(data, separators=(",", ":")).encode())
            self._dirty = False
