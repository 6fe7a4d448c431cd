"""Command-line targets → stage names: a name, a matrix stage's base name, or a glob.

`train@cnn-0` is one stage; `train` (a matrix stage) is all its variants; `'train@cnn-*'` is
every stage whose name matches the pattern (fnmatch). One pure function, used by every path
that selects stages (the loaded graph and the snapshot fast path alike).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence

from fastpipe.errors import UnknownStageError

_GLOB = frozenset("*?[")


def expand(targets: Iterable[str], names: Sequence[str]) -> list[str]:
    """The stage names `targets` mean, each once, in the order the targets give them.

    UnknownStageError for a target that is no stage, no matrix stage and matches nothing.
    """
    known = set(names)
    found: dict[str, None] = {}
    for target in targets:
        if target in known:
            found[target] = None
            continue
        if _GLOB & set(target):
            matched = fnmatch.filter(names, target)
        else:
            prefix = f"{target}@"
            matched = [name for name in names if name.startswith(prefix)]
        if not matched:
            raise UnknownStageError(target, _suggestions(names))
        found.update(dict.fromkeys(matched))
    return list(found)


def _suggestions(names: Sequence[str]) -> list[str]:
    """Stage names and the base names of matrix stages, for "did you mean"."""
    bases = {name.split("@", 1)[0] for name in names if "@" in name}
    return [*names, *sorted(bases)]
