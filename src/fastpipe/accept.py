"""`fastpipe accept`: record a stage's current code and params as its truth without running it.

For an edit known not to change results (a rename, a refactor proven equivalent): the lock
gets the current code manifest, params and package versions, keeps the outputs as they are,
and says that it was accepted, when (UTC), why, and what each changed item was before. A
stage whose deps or outputs changed is refused (running it is the way to record those)
unless forced; a stage that never ran has nothing to keep and cannot be accepted.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fastpipe import sourcestore
from fastpipe.context import Context
from fastpipe.errors import AcceptError, UnknownStageError
from fastpipe.lockfile import LockEntry, write_lock
from fastpipe.staleness import Reason, ReasonKind, compare


@dataclass(frozen=True)
class Accepted:
    """One stage accepted (`reasons`: what differed from its lock; empty: it was fresh)."""

    name: str
    reasons: tuple[Reason, ...]


def accept(ctx: Context, names: Sequence[str], because: str, *, force: bool) -> list[Accepted]:
    """Accept each named stage (all checked before any lock is written)."""
    if not because.strip():
        raise AcceptError("accept needs a reason: --because 'TEXT' (it is kept in the lock)")
    planned: list[tuple[str, LockEntry, tuple[Reason, ...]]] = []
    for name in dict.fromkeys(names):
        if name not in ctx.pipeline.stages:
            raise UnknownStageError(name, ctx.pipeline.stages)
        planned.append((name, *_plan(ctx, name, because, force=force)))
    layout = ctx.pipeline.project.layout
    done: list[Accepted] = []
    for name, entry, reasons in planned:
        if reasons:
            write_lock(layout.lock_path(name), entry)
            manifest = ctx.manifest(name, quiet=True)
            sourcestore.store(layout, manifest.items, manifest.definition)
            ctx.forget_lock(name)
        done.append(Accepted(name, reasons))
    return done


def _plan(
    ctx: Context, name: str, because: str, *, force: bool
) -> tuple[LockEntry, tuple[Reason, ...]]:
    lock = ctx.lock(name)
    if lock.entry is None:
        raise AcceptError(
            f"stage '{name}' has no lock to accept into ({lock.problem or 'never run'}); "
            f"run it: fastpipe run {name}"
        )
    now = ctx.observe(name)
    reasons = compare(lock, now)
    paths = [r for r in reasons if r.kind in (ReasonKind.DEPS, ReasonKind.OUTS)]
    if paths and not force:
        what = "; ".join(f"{r.kind.value}: {r.detail}" for r in paths)
        raise AcceptError(
            f"stage '{name}': {what}; accept records code and params only: run it, "
            "or pass --force to record these files as they are"
        )
    missing = sorted(p for p, h in {**now.deps, **now.outs}.items() if h is None)
    if missing:
        raise AcceptError(
            f"stage '{name}': {', '.join(missing)} missing; run it: fastpipe run {name}"
        )
    previous: dict[str, Any] = {}
    for reason in reasons:
        if reason.kind is ReasonKind.CODE:
            previous.update({item: reason.old.get(item) for item in reason.items})
        elif reason.kind is ReasonKind.PARAMS:
            previous.update({f"params.{k}": reason.old.get(k) for k in reason.items})
        else:  # deps or outs, with --force
            recorded = lock.entry.deps if reason.kind is ReasonKind.DEPS else lock.entry.outs
            for path in reason.items:
                found = recorded.get(path)
                previous[f"{reason.kind.value} {path}"] = found.hash if found else None
    at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    entry = LockEntry(
        stage=name,
        code=dict(now.code),
        params=dict(now.params),
        deps={p: h for p, h in now.deps.items() if h is not None},
        outs={p: h for p, h in now.outs.items() if h is not None},
        packages=now.packages,
        accepted={"at": at, "because": because, "previous": previous},
    )
    return entry, reasons
