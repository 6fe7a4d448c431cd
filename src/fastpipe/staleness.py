"""Spec + lock + what is on disk now -> fresh, or stale with exact reasons."""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastpipe.hashing import FileHash
from fastpipe.lockfile import LockEntry, LockRead

_DETAIL_ITEMS = 3  # items named in a one-line detail before "and N more"


class ReasonKind(enum.StrEnum):
    """Why a stage is stale (docs/guide.md); the values are what JSON output shows."""

    NEVER_RUN = "never_run"
    CODE = "code"
    PARAMS = "params"
    DEPS = "deps"
    OUTS = "outs"
    UPSTREAM = "upstream"


class Freshness(enum.StrEnum):
    FRESH = "fresh"
    STALE = "stale"


class Action(enum.StrEnum):
    """What `run` would do with a stage (the `action` of its status JSON)."""

    NONE = "none"  # fresh
    RUN = "run"
    RESTORE = "restore"  # only cached outs are missing: they come back from the cache


@dataclass(frozen=True)
class Reason:
    """One kind of difference from the lock, with the exact items that differ."""

    kind: ReasonKind
    items: tuple[str, ...]
    detail: str
    old: Mapping[str, Any] = field(default_factory=dict[str, Any])
    new: Mapping[str, Any] = field(default_factory=dict[str, Any])
    changes: Mapping[str, str] = field(default_factory=dict[str, str])  # item -> what happened

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        """The reason object of `status --json`; `full` adds old/new (for `explain`)."""
        data: dict[str, Any] = {"kind": self.kind.value, "items": list(self.items)}
        data["detail"] = self.detail
        if full and self.kind in (ReasonKind.PARAMS, ReasonKind.CODE):
            data["old"] = dict(self.old)
            data["new"] = dict(self.new)
        return data


@dataclass(frozen=True)
class StageStatus:
    """A stage's freshness and, when stale, every reason."""

    name: str
    reasons: tuple[Reason, ...]
    restore: bool = False  # stale only for missing outs the cache holds
    accepted: Mapping[str, Any] | None = None  # its lock was written by `fastpipe accept`

    @property
    def action(self) -> Action:
        if not self.reasons:
            return Action.NONE
        return Action.RESTORE if self.restore else Action.RUN

    @property
    def status(self) -> Freshness:
        return Freshness.STALE if self.reasons else Freshness.FRESH

    @property
    def stale(self) -> bool:
        return bool(self.reasons)

    def to_json(self, *, full: bool = False) -> dict[str, Any]:
        reasons = [r.to_json(full=full) for r in self.reasons]
        data: dict[str, Any] = {"name": self.name, "status": self.status.value}
        data["reasons"] = reasons
        if self.accepted is not None:
            data["accepted"] = dict(self.accepted)
        # `status --json` entries say what run would do; explain's object (full) does not
        return data if full else {**data, "action": self.action.value}


@dataclass(frozen=True)
class Observed:
    """What is true now for one stage: its code, params, and deps/outs on disk (None: missing)."""

    code: Mapping[str, str]
    params: Mapping[str, Any]
    deps: Mapping[str, FileHash | None]
    outs: Mapping[str, FileHash | None]
    packages: Mapping[str, str] | None = None  # {distribution: version}; None: not tracked


UNFINISHED = "its last run did not finish (it failed or was interrupted)"


def compare(lock: LockRead, now: Observed) -> tuple[Reason, ...]:
    """The reasons a stage whose lock is `lock` is stale given `now` (empty: fresh).

    Without a lock the stage is `never_run`; a dep that is missing is named too, and when the
    lock of the run before an unfinished one is known, every difference from it is listed.
    """
    if lock.entry is None:
        never = Reason(ReasonKind.NEVER_RUN, (), lock.problem or "never run")
        if lock.previous is not None:
            return (never, *_differences(lock.previous, now))
        missing = _paths_reason(ReasonKind.DEPS, {}, {p: h for p, h in now.deps.items() if not h})
        return (never,) if missing is None else (never, missing)
    return _differences(lock.entry, now)


def _differences(entry: LockEntry, now: Observed) -> tuple[Reason, ...]:
    found = (
        _code_reason(entry, now),
        _params_reason(entry, now),
        _paths_reason(ReasonKind.DEPS, entry.deps, now.deps),
        _paths_reason(ReasonKind.OUTS, entry.outs, now.outs),
    )
    return tuple(r for r in found if r is not None)


def upstream_reason(stages: Iterable[str]) -> Reason | None:
    """The `upstream` reason for the direct upstream stages that will run first."""
    names = tuple(sorted(stages))
    if not names:
        return None
    detail = _summary([f"upstream {n} will run" for n in names])
    return Reason(ReasonKind.UPSTREAM, names, detail, changes=dict.fromkeys(names, "will run"))


def _code_reason(entry: LockEntry, now: Observed) -> Reason | None:
    old: dict[str, str | None] = dict(entry.code)
    new: dict[str, str | None] = dict(now.code)
    changes: list[tuple[str, str]] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            changes.append((key, "added"))
        elif key not in new:
            changes.append((key, "removed"))
        elif old[key] != new[key]:
            changes.append((key, "changed"))
    # A package upgrade is a code change: `package pandas 2.2.1 -> 2.3.0`. Unknown on either
    # side (a lock older than package tracking, or tracking off) is no change.
    if entry.packages is not None and now.packages is not None:
        for dist in sorted(set(entry.packages) | set(now.packages)):
            was, now_version = entry.packages.get(dist), now.packages.get(dist)
            if was != now_version:
                key = f"package {dist}"
                old[key], new[key] = was, now_version
                changes.append((key, f"{was or '(none)'} -> {now_version or '(none)'}"))
    if not changes:
        return None
    items = tuple(k for k, _ in changes)
    return Reason(
        ReasonKind.CODE,
        items,
        _summary([f"{k} {what}" for k, what in changes]),
        old={k: old.get(k) for k in items},
        new={k: new.get(k) for k in items},
        changes=dict(changes),
    )


def _params_reason(entry: LockEntry, now: Observed) -> Reason | None:
    old, new = entry.params, now.params
    names = tuple(
        k for k in sorted(set(old) | set(new)) if k not in old or k not in new or
        _canonical(old[k]) != _canonical(new[k])
    )  # fmt: skip
    if not names:
        return None
    parts = [f"{k} {_show(old, k)} -> {_show(new, k)}" for k in names]
    return Reason(
        ReasonKind.PARAMS,
        names,
        _summary(parts),
        changes={k: part.removeprefix(f"{k} ") for k, part in zip(names, parts, strict=True)},
        old={k: old[k] for k in names if k in old},
        new={k: new[k] for k in names if k in new},
    )


def _paths_reason(
    kind: ReasonKind, old: Mapping[str, FileHash], new: Mapping[str, FileHash | None]
) -> Reason | None:
    changes: list[tuple[str, str]] = []
    for path in sorted(set(old) | set(new)):
        if path not in new:
            changes.append((path, "no longer declared"))
        elif new[path] is None:
            changes.append((path, "missing"))
        elif path not in old:
            changes.append((path, "newly declared"))
        elif old[path].hash != new[path].hash:  # pyright: ignore[reportOptionalMemberAccess]
            changes.append((path, "changed"))
    if not changes:
        return None
    items = tuple(p for p, _ in changes)
    detail = _summary([f"{p} {what}" for p, what in changes])
    return Reason(kind, items, detail, changes=dict(changes))


def _canonical(value: Any) -> str:
    """Type-aware equality: 1, 1.0 and True are different params."""
    return json.dumps(value, sort_keys=True, default=repr)


def _show(values: Mapping[str, Any], key: str) -> str:
    return json.dumps(values[key], sort_keys=True, default=repr) if key in values else "(unset)"


def _summary(parts: list[str]) -> str:
    if len(parts) <= _DETAIL_ITEMS:
        return ", ".join(parts)
    shown = ", ".join(parts[:_DETAIL_ITEMS])
    return f"{shown} and {len(parts) - _DETAIL_ITEMS} more"


def statuses(
    selection: Sequence[str],
    lock_of: Callable[[str], LockRead],
    observe: Callable[[str], Observed],
    upstream_of: Callable[[str], Iterable[str]],
    restorable: Callable[[LockRead, Sequence[Reason]], bool] = lambda _lock, _reasons: False,
) -> list[StageStatus]:
    """Freshness of each selected stage (topological order), with `upstream` reasons.

    `restorable(lock, reasons)` says whether a stale stage's outs can come from the cache.
    """
    will_run: set[str] = set()
    found: list[StageStatus] = []
    for name in selection:
        lock = lock_of(name)
        reasons = list(compare(lock, observe(name)))
        upstream = upstream_reason(u for u in upstream_of(name) if u in will_run)
        if upstream is not None:
            reasons.append(upstream)
        restore = bool(reasons) and restorable(lock, reasons)
        if reasons and not restore:
            will_run.add(name)
        accepted = lock.entry.accepted if lock.entry is not None else None
        found.append(StageStatus(name, tuple(reasons), restore, accepted))
    return found
