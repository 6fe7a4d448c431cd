"""Lock entries <-> deterministic YAML, with schema versions, migrations and atomic writes."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from fastpipe.atomicfile import atomic_write, atomic_write_many
from fastpipe.errors import LockSchemaError
from fastpipe.hashing import FileHash

SCHEMA = 2

Migration = Callable[[dict[str, Any]], dict[str, Any]]
# MIGRATIONS[v] turns the dict of a schema-v lock into a schema-(v + 1) one; read on every call,
# so bumping SCHEMA means adding one function here.


def _from_schema_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 2 adds `packages`; a schema-1 lock has none, which is no change (not known)."""
    return data


MIGRATIONS: Mapping[int, Migration] = MappingProxyType({1: _from_schema_1})

_KEYS = ("schema", "stage", "code", "params", "deps", "outs")
_OPTIONAL_KEYS = ("packages", "accepted")
_ACCEPTED_KEYS = {"at", "because", "previous"}
_SCALARS = (type(None), bool, int, float, str)


@dataclass(frozen=True)
class LockEntry:
    """What a stage's last successful run saw (code, params, deps) and produced (outs)."""

    stage: str
    code: Mapping[str, str]
    params: Mapping[str, Any]
    deps: Mapping[str, FileHash]
    outs: Mapping[str, FileHash]
    # {distribution: version} its code reaches; None: not recorded (tracking off, older lock)
    packages: Mapping[str, str] | None = None
    # set by `fastpipe accept` (not a run): {at: UTC ISO time, because: why, previous: {item:
    # the manifest hash (or version, value) it had before}}; a run's lock has None
    accepted: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class LockRead:
    """A lock file as read: the entry, or None with `problem` saying why it is unreadable."""

    entry: LockEntry | None
    problem: str | None
    previous: LockEntry | None = None  # no lock, but the one its unfinished last run replaced


def to_lock_dict(entry: LockEntry) -> dict[str, Any]:
    """The plain dict written to a lock file; raises ValueError for a non-YAML param value."""
    data: dict[str, Any] = {
        "schema": SCHEMA,
        "stage": entry.stage,
        "code": dict(entry.code),
        "params": {k: _plain(v, f"params[{k!r}]") for k, v in _mapping(entry.params, "params")},
        "deps": {p: {"hash": h.hash, "size": h.size} for p, h in entry.deps.items()},
        "outs": {p: {"hash": h.hash, "size": h.size} for p, h in entry.outs.items()},
    }
    if entry.packages is not None:
        data["packages"] = dict(entry.packages)
    if entry.accepted is not None:
        data["accepted"] = _accepted(dict(entry.accepted))
    return data


def from_lock_dict(data: object, *, migrations: Mapping[int, Migration] | None = None) -> LockEntry:
    """Validate (migrating older schemas) a lock dict; ValueError says what is malformed."""
    if not isinstance(data, dict):
        raise ValueError(f"expected a mapping at the top level, got {_kind(data)}")
    data = _migrate(data, MIGRATIONS if migrations is None else migrations)
    for key in _KEYS:
        if key not in data:
            raise ValueError(f"missing key '{key}'")
    extra = sorted(str(k) for k in data if k not in _KEYS and k not in _OPTIONAL_KEYS)
    if extra:
        raise ValueError(f"unexpected key '{extra[0]}'")
    stage = data["stage"]
    if not isinstance(stage, str):
        raise ValueError(f"stage must be a string, got {_kind(stage)}")
    return LockEntry(
        stage=stage,
        code=_code(data["code"]),
        params={k: _plain(v, f"params[{k!r}]") for k, v in _mapping(data["params"], "params")},
        deps=_hashes(data["deps"], "deps"),
        outs=_hashes(data["outs"], "outs"),
        packages=_packages(data["packages"]) if "packages" in data else None,
        accepted=_accepted(data["accepted"]) if "accepted" in data else None,
    )


def dump_lock(entry: LockEntry) -> str:
    """Deterministic YAML for a lock entry: sorted keys, block style, no timestamps."""
    from fastpipe import yamltext

    return yamltext.dump(to_lock_dict(entry), sort_keys=True)


def parse_lock(text: str) -> LockEntry:
    """Parse lock YAML with the safe loader; ValueError says why it is malformed."""
    from fastpipe import yamltext  # only when a lock is really read (lockcache often spares it)

    return from_lock_dict(yamltext.load(text))


def read_lock(path: Path) -> LockRead:
    """Read a lock file; missing -> no entry, no problem; a newer schema raises LockSchemaError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return LockRead(None, None)
    except OSError as e:
        return LockRead(None, f"lock unreadable: {e}")
    return lock_from_bytes(path, data)


def lock_from_bytes(path: Path, data: bytes) -> LockRead:
    """The lock in `data`, as read from `path` (named in errors); see read_lock."""
    try:
        # Line breaks as read_text would give them (universal newlines).
        text = data.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")
        entry = parse_lock(text)
    except ValueError as e:
        return LockRead(None, f"lock unreadable: {e}")
    except LockSchemaError as e:
        raise LockSchemaError(f"{path}: {e}") from e
    return LockRead(entry, None)


def write_lock(path: Path, entry: LockEntry) -> None:
    """Write a lock file atomically: readers see the old content or the new, never a mix."""
    atomic_write(path, dump_lock(entry).encode("utf-8"))


def write_locks(locks: Sequence[tuple[Path, LockEntry]]) -> list[bytes]:
    """Write several lock files atomically, with one flush of the filesystem for all.

    Returns each file's bytes, in order.
    """
    files = [(path, dump_lock(entry).encode("utf-8")) for path, entry in locks]
    atomic_write_many(files)
    return [data for _, data in files]


def _migrate(data: dict[Any, Any], migrations: Mapping[int, Migration]) -> dict[Any, Any]:
    """Bring a lock dict of an older schema to SCHEMA; refuse a newer one."""
    if "schema" not in data:
        raise ValueError("missing key 'schema'")
    version = data["schema"]
    if type(version) is not int:
        raise ValueError(f"schema must be an integer, got {_kind(version)}")
    if version > SCHEMA:
        raise LockSchemaError(
            f"lock file has schema {version} but this fastpipe reads schema {SCHEMA} at most; "
            "upgrade fastpipe (pip install -U fastpipe)"
        )
    while version < SCHEMA:
        step = migrations.get(version)
        if step is None:
            raise ValueError(f"schema {version} is too old to migrate to schema {SCHEMA}")
        try:
            data = {**step(dict(data)), "schema": version + 1}
        except (KeyError, TypeError, ValueError) as e:
            # a migration meets an old lock that was already malformed: unreadable, not a crash
            raise ValueError(f"cannot migrate schema {version}: {e!r}") from e
        version += 1
    return data


def _mapping(value: object, where: str) -> list[tuple[str, Any]]:
    """The items of a mapping with string keys, or ValueError naming `where`."""
    if not isinstance(value, Mapping):
        raise ValueError(f"{where} must be a mapping, got {_kind(value)}")
    for key in value:
        if not isinstance(key, str):
            raise ValueError(f"{where} keys must be strings, got {_kind(key)} {key!r}")
    return list(value.items())


def _code(value: object) -> dict[str, str]:
    code = dict(_mapping(value, "code"))
    for name, digest in code.items():
        if not isinstance(digest, str):
            raise ValueError(f"code[{name!r}] must be a string, got {_kind(digest)}")
    return code


def _packages(value: object) -> dict[str, str]:
    found = dict(_mapping(value, "packages"))
    for name, version in found.items():
        if not isinstance(version, str):
            raise ValueError(f"packages[{name!r}] must be a string, got {_kind(version)}")
    return found


def _accepted(value: object) -> dict[str, Any]:
    found = dict(_mapping(value, "accepted"))
    if set(found) != _ACCEPTED_KEYS:
        raise ValueError("accepted must have exactly the keys 'at', 'because' and 'previous'")
    for key in ("at", "because"):
        if not isinstance(found[key], str):
            raise ValueError(f"accepted.{key} must be a string, got {_kind(found[key])}")
    previous = {
        k: _plain(v, f"accepted.previous[{k!r}]")
        for k, v in _mapping(found["previous"], "accepted.previous")
    }
    return {"at": found["at"], "because": found["because"], "previous": previous}


def _hashes(value: object, where: str) -> dict[str, FileHash]:
    """Parse `{path: {hash, size}}`, checking every field."""
    result: dict[str, FileHash] = {}
    for path, item in _mapping(value, where):
        here = f"{where}[{path!r}]"
        fields = dict(_mapping(item, here))
        if set(fields) != {"hash", "size"}:
            raise ValueError(f"{here} must have exactly the keys 'hash' and 'size'")
        digest, size = fields["hash"], fields["size"]
        if not isinstance(digest, str):
            raise ValueError(f"{here}.hash must be a string, got {_kind(digest)}")
        if type(size) is not int or size < 0:
            raise ValueError(f"{here}.size must be a non-negative integer, got {size!r}")
        result[path] = FileHash(digest, size)
    return result


def _plain(value: object, where: str) -> Any:
    """A fresh copy of a param value made of YAML's plain types, or ValueError naming `where`."""
    if type(value) in _SCALARS:
        return value
    if type(value) is list:
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if type(value) is dict:
        return {k: _plain(v, f"{where}[{k!r}]") for k, v in _mapping(value, where)}
    raise ValueError(
        f"{where}: a {type(value).__name__} is not a param value "
        "(use bool, int, float, str, None, or lists and dicts of these)"
    )


def _kind(value: object) -> str:
    """A YAML-flavoured name for the type of `value`, for error messages."""
    names = {type(None): "null", bool: "a boolean", int: "an integer", float: "a float"}
    names |= {str: "a string", list: "a list", dict: "a mapping"}
    return names.get(type(value), f"a {type(value).__name__}")
