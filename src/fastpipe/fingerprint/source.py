"""Source code -> normalized AST: find a definition's node, dump it canonically, scan it.

The canonical dump is the unit that code hashes are taken of. It ignores comments, blank
lines, formatting and docstrings, and is the same on every Python version we support (our own
dumper, because `ast.dump` output changed in 3.13).
"""

from __future__ import annotations

import ast
import types
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)
_SCOPE_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Module)
_SKIPPED_FIELDS = frozenset({"type_comment", "kind", "type_ignores"})
_MUTATORS = frozenset(
    {"append", "extend", "insert", "remove", "pop", "popitem", "clear", "update", "add",
     "discard", "setdefault", "sort", "reverse", "__setitem__", "__delitem__"}
)  # fmt: skip


class SourceIndex:
    """Parsed modules by file name, parsed once per fingerprinting run."""

    def __init__(self) -> None:
        self._trees: dict[str, ast.Module | None] = {}

    def tree(self, filename: str) -> ast.Module | None:
        """The module AST of `filename`, or None when it cannot be read or parsed."""
        if filename not in self._trees:
            try:
                with open(filename, encoding="utf-8") as f:
                    self._trees[filename] = ast.parse(f.read(), filename)
            except (OSError, SyntaxError, ValueError, UnicodeDecodeError):
                self._trees[filename] = None
        return self._trees[filename]

    def code_node(self, code: types.CodeType) -> ast.AST | None:
        """The def or lambda node that compiled to `code`."""
        tree = self.tree(code.co_filename)
        if tree is None:
            return None
        if code.co_name == "<lambda>":
            return _find_lambda(tree, code)
        for node in ast.walk(tree):
            if (
                isinstance(node, _DEF_TYPES)
                and node.name == code.co_name
                and _first_line(node) == code.co_firstlineno
            ):
                return node
        return None

    def class_node(
        self, filename: str, qualname: str, firstlineno: int | None
    ) -> ast.ClassDef | None:
        """The class statement defining `qualname` (the last one, as Python keeps the last)."""
        tree = self.tree(filename)
        if tree is None:
            return None
        found: ast.ClassDef | None = None
        for node, name in _qualified_classes(tree, ""):
            if name == qualname and (firstlineno is None or _first_line(node) == firstlineno):
                found = node
        return found


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def _qualified_classes(node: ast.AST, prefix: str) -> Iterator[tuple[ast.ClassDef, str]]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.ClassDef):
            yield child, prefix + child.name
            yield from _qualified_classes(child, f"{prefix}{child.name}.")
        elif isinstance(child, _DEF_TYPES):
            yield from _qualified_classes(child, f"{prefix}{child.name}.<locals>.")
        else:
            yield from _qualified_classes(child, prefix)


def _find_lambda(tree: ast.Module, code: types.CodeType) -> ast.Lambda | None:
    candidates = [
        n for n in ast.walk(tree) if isinstance(n, ast.Lambda) and n.lineno == code.co_firstlineno
    ]
    if len(candidates) <= 1:
        return candidates[0] if candidates else None
    # Several lambdas on one line: the body's first located instruction tells which one.
    for line, _end, col, _end_col in code.co_positions():
        if line is not None and col is not None:
            inside = [c for c in candidates if _contains(c, line, col)]
            if inside:
                return min(inside, key=lambda c: (c.end_col_offset or 0) - c.col_offset)
    return candidates[0]


def _contains(node: ast.expr, line: int, col: int) -> bool:
    start = (node.lineno, node.col_offset)
    end = (node.end_lineno or node.lineno, node.end_col_offset or 0)
    return start <= (line, col) <= end


def strip_docstring(body: list[ast.stmt]) -> list[ast.stmt]:
    """`body` without a leading docstring."""
    if body and isinstance(body[0], ast.Expr):
        value = body[0].value
        if isinstance(value, ast.Constant) and isinstance(value.value, str):
            return body[1:]
    return body


def canonical(node: ast.AST) -> str:
    """A version-stable dump of `node` with docstrings removed and positions ignored."""
    parts: list[str] = []
    _dump(node, parts)
    return "".join(parts)


def _dump(value: object, out: list[str]) -> None:
    if isinstance(value, ast.AST):
        out.append(type(value).__name__)
        out.append("(")
        for field in value._fields:
            if field in _SKIPPED_FIELDS:
                continue
            item = getattr(value, field, None)
            if field == "body" and isinstance(value, _SCOPE_TYPES):
                item = strip_docstring(item)  # pyright: ignore[reportArgumentType]
            if item is None or item == []:
                continue
            out.append(field)
            out.append("=")
            _dump(item, out)
            out.append(",")
        out.append(")")
    elif isinstance(value, list):
        out.append("[")
        for item in value:  # pyright: ignore[reportUnknownVariableType]
            _dump(item, out)
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


def import_bindings(node: ast.AST, package: str | None) -> list[ImportBinding]:
    """The names that `import` statements inside `node` bind, with what they refer to."""
    bindings: list[ImportBinding] = []
    for stmt in ast.walk(node):
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    bindings.append(ImportBinding(alias.asname, alias.name, None))
                else:
                    top = alias.name.split(".")[0]
                    bindings.append(ImportBinding(top, top, None))
        elif isinstance(stmt, ast.ImportFrom):
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


def hazards(node: ast.AST, global_names: set[str]) -> list[str]:
    """Constructs in `node` that a static fingerprint cannot follow, described for a warning."""
    found: list[str] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            found.extend(_call_hazard(sub))
        found.extend(_mutation_hazard(sub, global_names))
    return found


def _call_hazard(call: ast.Call) -> list[str]:
    chain = chain_of(call.func)
    if chain is None:
        return []
    line = f"line {call.lineno}"
    name = chain[-1]
    if chain == ("getattr",) and len(call.args) >= 2:
        attr = call.args[1]
        if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
            return [f"getattr() with a computed attribute name ({line})"]
    if chain in (("eval",), ("exec",)):
        return [f"{name}() ({line})"]
    if chain == ("__import__",) or name == "import_module":
        return [f"importlib.import_module() ({line})"]
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
