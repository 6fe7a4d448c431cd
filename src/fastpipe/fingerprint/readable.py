"""A definition's normalized source for `explain --diff`, kept as its source lines rather than
its syntax tree, and the normalizations the fingerprint applies before hashing.

A fingerprinted definition's tree is ~20 KB alive; its lines are a few hundred bytes. A run
of 10,000 stages fingerprints them all before the first one starts, so the trees were most of
the run's memory. `Readable.text()` parses the lines again (when `explain --diff` shows
them) and applies the same normalization, so the text is what the tree would have given. A run
stores the encoded lines, not the text: rendering every stage it runs cost ~1 ms a stage.
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from fastpipe.fingerprint.source import SCOPE_TYPES, strip_docstring

HEADER = "fastpipe-source 1"  # first line of an encoded Readable, with its format version


class Shape(Enum):
    """What a definition's lines are, and how the fingerprint cut them before hashing."""

    FUNCTION = "function"  # a def, as written
    LAMBDA = "lambda"  # a lambda expression
    STAGE = "stage"  # a stage's def: no defaults (params) and no @stage(...) decorator
    CLASS_SHELL = "class"  # a class statement without its methods and nested classes


@dataclass(frozen=True)
class Readable:
    """Enough to show a definition's normalized source again: its lines and their shape."""

    lines: str  # from its first decorator to its last line (a lambda: exactly its span)
    shape: Shape
    dropped: tuple[int, ...] = ()  # STAGE: positions of the decorators left out

    def encode(self) -> bytes:
        """The bytes a source store keeps (`decode` reads them back): a versioned header line
        with the shape, then the lines as written."""
        dropped = ",".join(map(str, self.dropped)) or "-"
        return f"{HEADER} {self.shape.value} {dropped}\n{self.lines}".encode()

    @classmethod
    def decode(cls, data: bytes) -> Readable | None:
        """What `encode` wrote, or None for anything else (another version, a damaged file)."""
        try:
            head, _, lines = data.decode("utf-8").partition("\n")
            tag, version, shape, dropped = head.split(" ")
            if f"{tag} {version}" != HEADER:
                return None
            positions = () if dropped == "-" else tuple(int(i) for i in dropped.split(","))
            return cls(lines, Shape(shape), positions)
        except (UnicodeDecodeError, ValueError):
            return None

    def text(self) -> str | None:
        """The definition as normalized source (`ast.unparse`: comments, layout and docstrings
        gone); None when it cannot be parsed or unparsed."""
        try:
            node = self._node()
            if node is None:
                return None
            return ast.unparse(_without_docstrings(node))
        except (SyntaxError, ValueError, TypeError, AttributeError, RecursionError, MemoryError):
            return None

    def _node(self) -> ast.AST | None:
        if self.shape is Shape.LAMBDA:
            found = ast.parse(f"(\n{self.lines}\n)", mode="eval").body
            return found if isinstance(found, ast.Lambda) else None
        indented = self.lines[:1].isspace()
        tree = ast.parse(f"if 1:\n{self.lines}" if indented else self.lines)
        node = tree.body[0]
        if indented and isinstance(node, ast.If):
            node = node.body[0]
        if self.shape is Shape.CLASS_SHELL:
            return class_shell(node) if isinstance(node, ast.ClassDef) else None
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return None
        if self.shape is not Shape.STAGE:
            return node
        shaped = stage_shape(node, self.dropped)
        # One None per keyword-only argument: unparse zips them (the hash keeps none at all).
        shaped.args.kw_defaults = [None] * len(shaped.args.kwonlyargs)
        return shaped


def lines_of(lines: Sequence[str], node: ast.AST) -> str:
    """The source of a def or class `node` (from its first decorator) or of a lambda (its exact
    span), out of its file's `lines` (kept line ends)."""
    if isinstance(node, ast.Lambda):
        first, last = node.lineno - 1, (node.end_lineno or node.lineno) - 1
        end = node.end_col_offset if node.end_col_offset is not None else None
        if first == last:
            return _cut(lines[first], node.col_offset, end)
        head = _cut(lines[first], node.col_offset, None)
        return head + "".join(lines[first + 1 : last]) + _cut(lines[last], 0, end)
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        raise TypeError(f"not a definition: {type(node).__name__}")
    first = min([d.lineno for d in node.decorator_list] + [node.lineno])
    return "".join(lines[first - 1 : node.end_lineno or node.lineno])


def _cut(line: str, start: int, end: int | None) -> str:
    """`line[start:end]` where the offsets count UTF-8 bytes (as the ast's columns do)."""
    return line.encode("utf-8")[start:end].decode("utf-8")


def stage_shape(
    node: ast.FunctionDef | ast.AsyncFunctionDef, dropped: Sequence[int]
) -> ast.FunctionDef | ast.AsyncFunctionDef:
    """A stage's def as its code is hashed: defaults are params (compared as resolved values)
    and @stage(...) is compared through deps/outs in the lock, so neither counts."""
    shaped = copy.copy(node)
    shaped.args = copy.copy(node.args)
    shaped.args.defaults = []
    shaped.args.kw_defaults = []
    shaped.decorator_list = [d for i, d in enumerate(node.decorator_list) if i not in dropped]
    return shaped


def class_shell(node: ast.ClassDef) -> ast.ClassDef:
    """The class statement without its docstring, methods and nested classes (each of those is
    fingerprinted apart)."""
    shell = copy.copy(node)
    shell.body = [
        s
        for s in strip_docstring(node.body)
        if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    ]
    return shell


def _without_docstrings(node: ast.AST) -> ast.AST:
    """`node` (a tree of its own, parsed for this) with no docstrings in its definitions: they
    are not hashed, so a diff of what changed never shows them."""
    for inner in ast.walk(node):
        if isinstance(inner, SCOPE_TYPES):
            inner.body = strip_docstring(inner.body) or [ast.Pass()]
    return node
