"""Code objects -> the global names (and dotted chains) they read, as the compiler decided.

Bytecode is the authority on scope: a name is read as a global exactly when the compiler
emitted a global load for it, so locals and parameters that shadow a global never count.
"""

from __future__ import annotations

import dis
import sys
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
        if import_locals:
            _scan(sub, import_locals, global_chains, local_chains)
        else:
            _scan_globals(sub, global_chains)
    return global_chains, local_chains


# The common case (no import inside the function) reads the raw bytecode: dis builds a full
# Instruction for every opcode, which made it most of the cost of fingerprinting a pipeline.
# tests/fingerprint/test_bytecode.py checks the two scans agree.
_OP = dis.opmap
_CACHE, _EXTENDED_ARG = _OP["CACHE"], _OP["EXTENDED_ARG"]
_NAME_LOADS = {_OP[name] for name in ("LOAD_NAME", "LOAD_FROM_DICT_OR_GLOBALS") if name in _OP}
_LOAD_GLOBAL = _OP["LOAD_GLOBAL"]  # its name index is oparg >> 1 (3.11+)
_LOAD_ATTR = _OP["LOAD_ATTR"]  # oparg >> 1 from 3.12 on
_ATTR_SHIFT = 1 if sys.version_info >= (3, 12) else 0
_LOAD_METHOD = _OP.get("LOAD_METHOD", -1)  # 3.11 only; a pseudo-op from 3.12 on
_SKIPPED = {_CACHE, _OP["NOP"]}


def _scan_globals(code: types.CodeType, chains: set[tuple[str, ...]]) -> None:
    raw, names = code.co_code, code.co_names
    chain: list[str] | None = None
    extended = 0
    for i in range(0, len(raw), 2):
        op = raw[i]
        if op in _SKIPPED:
            continue
        if op == _EXTENDED_ARG:
            extended = (extended | raw[i + 1]) << 8
            continue
        arg, extended = extended | raw[i + 1], 0
        if chain is not None and op in (_LOAD_ATTR, _LOAD_METHOD):
            chain.append(names[arg >> _ATTR_SHIFT if op == _LOAD_ATTR else arg])
            continue
        if chain is not None:
            chains.add(tuple(chain))
            chain = None
        if op == _LOAD_GLOBAL:
            chain = [names[arg >> 1]]
        elif op in _NAME_LOADS:
            chain = [names[arg]]
    if chain is not None:
        chains.add(tuple(chain))


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
