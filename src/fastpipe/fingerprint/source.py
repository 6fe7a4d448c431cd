"""A definition's AST -> its canonical dump, and scans of it (imports, calls, hazards); the
nodes come from sourceindex.py.

The canonical dump is the unit that code hashes are taken of. It ignores comments, blank
lines, formatting and docstrings, and is the same on every Python version we support (our own
dumper, because `ast.dump` output changed in 3.13).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)
_SKIPPED_FIELDS = frozenset({"type_comment", "kind", "type_ignores"})
_MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "add",
     "discard", "setdefault", "sort", "reverse", "__setitem__", "__delitem__"}
)  # fmt: skip


def strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """`body` without a leading docstring."""
    if body and isinstance(body[0], ast.Expr):
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return body[1:]
    return body


@dataclass(frozen=True)
class Analysis:
    """What one pass over a definition finds: its canonical text and the nodes that matter.

    It lives only while its definition is hashed: the nodes hold the definition's tree (see
    readable.py for what is kept to show it later)."""

    text: str  # version-stable dump: docstrings removed, positions ignored
    imports: tuple[ast.Import | ast.ImportFrom, ...]
    calls: tuple[ast.Call, ...]
    stores: tuple[ast.Subscript, ...]  # subscript assignments and deletions


def analyze(node: ast.AST) -> Analysis:
    """Canonical text, imports, calls and subscript stores of `node`, in one traversal."""
    parts: list[str] = []
    found = _Found([], [], [])
    _dump(node, parts, found)
    return Analysis("".join(parts), tuple(found.imports), tuple(found.calls), tuple(found.stores))


@dataclass
class _Found:
    imports: list[ast.Import | ast.ImportFrom]
    calls: list[ast.Call]
    stores: list[ast.Subscript]


def canonical(node: ast.AST) -> str:
    """A version-stable dump of `node` with docstrings removed and positions ignored."""
    return analyze(node).text


def _dump(value: object, out: list[str], found: _Found) -> None:
    if isinstance(value, ast.AST):
        if isinstance(value, ast.Call):
            found.calls.append(value)
        elif isinstance(value, ast.Import | ast.ImportFrom):
            found.imports.append(value)
        elif isinstance(value, ast.Subscript) and not isinstance(value.ctx, ast.Load):
            found.stores.append(value)
        out.append(type(value).__name__)
        out.append("(")
        for field in value._fields:
            if field in _SKIPPED_FIELDS:
                continue
            item = getattr(value, field, None)
            if field == "body" and isinstance(value, SCOPE_TYPES):
                item = strip_docstring(item)  # pyright: ignore[reportArgumentType]
            if item is None or item == []:
                continue
            out.append(field)
            out.append("=")
            _dump(item, out, found)
            out.append(",")
        out.append(")")
    elif isinstance(value, list):
        out.append("[")
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            _dump(item, out, found)
            out.append(",")
        out.append("]")
    else:
        out.append(f"{type(value).__name__}:{value!r}")


def chain_of(node: ast.expr) -> tuple[str, ...] | None:
    """`a.b.c` -> ("a", "b", "c"); None for anything that is not a dotted name."""
    names: list[str] = []
    while isinstance(node, ast.Attribute):
        names.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    names.append(node.id)
    return tuple(reversed(names))


def expression_chains(nodes: Iterable[ast.AST]) -> set[tuple[str, ...]]:
    """The longest dotted names read anywhere in `nodes` (outermost attribute chains)."""
    chains: set[tuple[str, ...]] = set()
    for top in nodes:
        _collect_chains(top, chains)
    return chains


def _collect_chains(node: ast.AST, chains: set[tuple[str, ...]]) -> None:
    if isinstance(node, ast.Attribute | ast.Name) and isinstance(node.ctx, ast.Load):
        chain = chain_of(node)
        if chain is not None:
            chains.add(chain)
            return
    for child in ast.iter_child_nodes(node):
        _collect_chains(child, chains)


@dataclass(frozen=True)
class ImportBinding:
    """A name bound by an import statement inside a function body."""

    local: str
    module: str  # absolute module name (relative imports resolved)
    attr: str | None  # `from module import attr`; None for `import module`


def import_bindings(analysis: Analysis, package: str | None) -> list[ImportBinding]:
    """The names that `import` statements inside a definition bind, with what they refer to."""
    bindings: list[ImportBinding] = []
    for stmt in analysis.imports:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    bindings.append(ImportBinding(alias.asname, alias.name, None))
                else:
                    top = alias.name.split(".")[0]
                    bindings.append(ImportBinding(top, top, None))
        else:
            module = _absolute(stmt.module or "", stmt.level, package)
            if module is None:
                continue
            for alias in stmt.names:
                if alias.name != "*":
                    bindings.append(ImportBinding(alias.asname or alias.name, module, alias.name))
    return bindings


def _absolute(module: str, level: int, package: str | None) -> str | None:
    if level == 0:
        return module
    if not package:
        return None
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None
    base = ".".join(parts[: len(parts) - (level - 1)])
    return f"{base}.{module}" if module else base


def hazards(analysis: Analysis, global_names: set[str]) -> list[str]:
    """Constructs in a definition that a static fingerprint cannot follow, for a warning."""
    found: list[str] = []
    for call in analysis.calls:
        found.extend(_call_hazard(call))
        found.extend(_mutation_hazard(call, global_names))
    for store in analysis.stores:
        found.extend(_mutation_hazard(store, global_names))
    return found


def module_level_evals(tree: ast.Module) -> list[str]:
    """eval()/exec() calls that run when the module is imported (not inside a def or lambda)."""
    found: list[tuple[int, str]] = []
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        chain = chain_of(node.func) if isinstance(node, ast.Call) else None
        if isinstance(node, ast.Call) and chain in (("eval",), ("exec",)):
            found.append((node.lineno, f"{chain[0]}() (line {node.lineno})"))
        pending.extend(ast.iter_child_nodes(node))
    return [
        f"module-level {call}: what it defines has no source file; it is fingerprinted by "
        "its bytecode where a stage reaches it"
        for _, call in sorted(found)
    ]


def _call_hazard(call: ast.Call) -> list[str]:
    chain = chain_of(call.func)
    if chain is None:
        return []
    line = f"line {call.lineno}"
    name = chain[-1]
    if chain == ("getattr",) and len(call.args) >= 2:
        attr = call.args[1]
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            return [
                f"getattr() with a computed attribute name ({line}): what it finds is not followed"
            ]
    if chain in (("eval",), ("exec",)):
        return [f"{name}() ({line}): what the code it runs uses is not followed"]
    if chain == ("__import__",):
        return [f"__import__() ({line}): the module it imports is not followed"]
    if name == "import_module":
        return [f"importlib.import_module() ({line}): the module it imports is not followed"]
    return []


def _mutation_hazard(node: ast.AST, global_names: set[str]) -> list[str]:
    target: ast.expr | None = None
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store | ast.Del):
        target = node.value
    elif (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in _MUTATORS
    ):
        target = node.func.value
    if isinstance(target, ast.Name) and target.id in global_names:
        return [
            f"mutates the global '{target.id}' at run time (line {target.lineno}); "
            "its fingerprint is its value at import"
        ]
    return []
