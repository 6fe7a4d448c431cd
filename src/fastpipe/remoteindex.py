"""Keys known to be on one remote, kept under the cache so a no-op push asks it nothing."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterable
from pathlib import Path

from fastpipe.atomicfile import atomic_write
from fastpipe.objectkeys import is_key
from fastpipe.remotes import Remote

INDEX_SCHEMA = 1


class RemoteIndex:
    """Keys known to be on one remote, kept under the cache so a no-op push asks nothing.

    Stored at `<cache>/remotes/<digest of the remote>.json`; the remote is identified by its URL
    and endpoint, never by its credentials. A lost or corrupt index only costs requests.
    """

    def __init__(self, path: Path | None, shown_url: str, keys: set[str]) -> None:
        self._path = path
        self._url = shown_url
        self._keys = keys
        self._lock = threading.Lock()
        self._dirty = False

    @classmethod
    def load(cls, cache: Path, remote: Remote) -> RemoteIndex:
        import xxhash

        endpoint = _endpoint(remote)
        ident = xxhash.xxh3_128_hexdigest(f"{remote.config.url}\0{endpoint}".encode())
        path = cache / "remotes" / f"{ident}.json"
        try:
            data = json.loads(path.read_bytes())
        except (OSError, ValueError):
            data = None
        keys: set[str] = set()
        if isinstance(data, dict) and data.get("schema") == INDEX_SCHEMA:
            listed = data.get("keys")
            if isinstance(listed, list):
                keys = {k for k in listed if isinstance(k, str) and is_key(k)}
        return cls(path, remote.shown_url, keys)

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def add(self, keys: Iterable[str]) -> None:
        with self._lock:
            before = len(self._keys)
            self._keys.update(keys)
            self._dirty |= len(self._keys) != before

    def save(self) -> None:
        if self._path is None or not self._dirty:
            return
        data = {"schema": INDEX_SCHEMA, "url": self._url, "keys": sorted(self._keys)}
        with contextlib.suppress(OSError):  # the index only saves requests
            atomic_write(self._path, json.dumps(data, separators=(",", ":")).encode())
        self._dirty = False


def _endpoint(remote: Remote) -> str:
    client = remote.config.options.get("client_kwargs")
    endpoint = remote.config.options.get("endpoint_url")
    if endpoint is None and isinstance(client, dict):
        endpoint = client.get("endpoint_url")
    return str(endpoint or "")
