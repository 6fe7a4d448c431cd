"""Code objects -> the global names (and dotted chains) they read, as the compiler decided.

Bytecode is the authority on scope: a name is read as a global exactly when the compiler
emitted a global load for it, so locals and parameters that shadow a global never count.
"""

from __future__ import annotations

import dis
import types
from collections.abc import Iterator

_GLOBAL_LOADS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS"})
_ATTR_LOADS = frozenset({"LOAD_ATTR", "LOAD_METHOD"})
_TRANSPARENT = frozenset({"EXTENDED_ARG", "CACHE", "NOP"})


def code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """`code` and every code object nested in it (functions, lambdas, comprehensions)."""
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


def read_chains(
    code: types.CodeType, import_locals: frozenset[str] = frozenset()
) -> tuple[set[tuple[str, ...]], set[tuple[str, ...]]]:
    """Dotted names read by `code` and its nested code: (from globals, from import-bound locals).

    A chain is the global (or local) name followed by the attribute loads applied directly to
    it, e.g. `helpers.load(...)` gives ("helpers", "load").
    """
    global_chains: set[tuple[str, ...]] = set()
    local_chains: set[tuple[str, ...]] = set()
    for sub in code_objects(code):
        _scan(sub, import_locals, global_chains, local_chains)
    return global_chains, local_chains


def _scan(
    code: types.CodeType,
    import_locals: frozenset[str],
    global_chains: set[tuple[str, ...]],
    local_chains: set[tuple[str, ...]],
) -> None:
    chain: list[str] = []
    target: set[tuple[str, ...]] | None = None
    for ins in dis.get_instructions(code):
        op = ins.opname
        if op in _TRANSPARENT:
            continue
        if target is not None and op in _ATTR_LOADS:
            chain.append(str(ins.argval))
            continue
        if target is not None:
            target.add(tuple(chain))
            target = None
        if op in _GLOBAL_LOADS:
            chain, target = [str(ins.argval)], global_chains
        elif import_locals and (op.startswith("LOAD_FAST") or op == "LOAD_DEREF"):
            names = ins.argval if isinstance(ins.argval, tuple) else (ins.argval,)
            for name in names[:-1]:
                if name in import_locals:
                    local_chains.add((str(name),))
            if names and names[-1] in import_locals:
                chain, target = [str(names[-1])], local_chains
    if target is not None:
        target.add(tuple(chain))
