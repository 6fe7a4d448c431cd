"""Each source file's definitions indexed once per fingerprinting run, and what a run carries
to the next (run --watch): def, lambda and class nodes found by name and first line without
walking the tree; large or unchanged files parsed one top-level block at a time.
"""

from __future__ import annotations

import ast
import bisect
import dataclasses
import os
import types
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from fastpipe.fingerprint.readable import Readable, Shape, lines_of
from fastpipe.fingerprint.source import module_level_evals

_DEF_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef)


@dataclass
class _FileIndex:
    """One parsed file's definitions, indexed so that lookups do not walk the tree.

    The module tree itself is not kept (for 10,000 stages it is hundreds of MiB): a def node
    is handed out once and dropped from the index (the walker remembers what it made of it);
    asking again for one already handed out re-parses the kept text once, for good.
    """

    text: str
    defs: dict[tuple[str, int], ast.FunctionDef | ast.AsyncFunctionDef]  # (name, first line)
    lambdas: dict[int, list[ast.Lambda]]  # by line
    classes: dict[str, list[ast.ClassDef]]  # by qualname, in source order
    handed: set[tuple[str, int]] = dataclasses.field(default_factory=set[tuple[str, int]])
    keep: bool = False  # re-parsed: defs stay in the index


CHUNKED_BYTES = 1 << 20  # files larger than this are parsed one top-level block at a time
_NOT_STARTS = frozenset(" \t\r\n\f#)]}")
_CONTINUATIONS = ("else:", "else ", "elif ", "except", "finally")


class _Chunks:
    """A large file parsed one top-level block at a time, on demand (10,000 stages in one
    4 MB pipeline.py: a whole parse peaks at ~600 MiB). A block starts at a line in column 0
    (a decorated def with its decorators); a wrong split — inside a string or brackets —
    cannot parse, and any miss falls back to the whole file."""

    def __init__(self, lines: list[str], filename: str) -> None:
        self._lines = lines
        self._starts = _block_starts(self._lines)
        self._filename = filename
        self._last: tuple[int, _FileIndex | None] | None = None

    def index_at(self, line: int) -> _FileIndex | None:
        """The index of the block holding 1-based `line` (None if it does not parse)."""
        i = bisect.bisect_right(self._starts, line - 1) - 1
        if i < 0:
            return None
        if self._last is None or self._last[0] != i:
            start = self._starts[i]
            end = self._starts[i + 1] if i + 1 < len(self._starts) else len(self._lines)
            try:
                tree = ast.parse("".join(self._lines[start:end]), self._filename)
            except (SyntaxError, ValueError):
                self._last = (i, None)
            else:
                ast.increment_lineno(tree, start)
                self._last = (i, _build_index("", tree))
        return self._last[1]


def split_lines(text: str) -> list[str]:
    """`text`'s lines with their ends, split where Python counts lines (the file was read with
    universal newlines, so at "\n" only): `str.splitlines` also splits at form feeds and
    Unicode separators, which would shift every line number after them."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def _block_starts(lines: list[str]) -> list[int]:
    starts: list[int] = []
    decorated = False
    for i, line in enumerate(lines):
        if not line or line[0] in _NOT_STARTS or line.startswith(_CONTINUATIONS):
            continue
        if decorated and not line.startswith("@"):
            decorated = False  # the def or class its decorators belong to
            continue
        if line.startswith("@"):
            if decorated:
                continue
            decorated = True
        starts.append(i)
    return starts


@dataclass(frozen=True)
class Carried:
    """What one fingerprinting run learnt about a file, for the next (run --watch): valid only
    while the file's text is exactly `text`."""

    text: str
    evals: tuple[str, ...] | None  # module_evals(), if it was asked for


class SourceIndex:
    """Parsed modules by file name, parsed and indexed once per fingerprinting run.

    `carried` (from the previous run's `carry()`) spares a file whose text is unchanged a
    whole parse: its definitions are found one top-level block at a time, as in a large file,
    and its module-level eval/exec scan is taken over.
    """

    def __init__(self, carried: Mapping[str, Carried] | None = None) -> None:
        self._files: dict[str, _FileIndex | None] = {}
        self._chunks: dict[str, _Chunks | None] = {}
        self._texts: dict[str, str | None] = {}
        self._lines: dict[str, list[str]] = {}
        self._evals: dict[str, tuple[str, ...]] = {}
        self._carried = dict(carried or {})

    def _text(self, filename: str) -> str | None:
        if filename not in self._texts:
            try:
                with open(filename, encoding="utf-8") as f:
                    self._texts[filename] = f.read()
            except (OSError, ValueError, UnicodeDecodeError):
                self._texts[filename] = None
        return self._texts[filename]

    def _lines_of(self, filename: str) -> list[str] | None:
        if filename not in self._lines:
            text = self._text(filename)
            if text is None:
                return None
            self._lines[filename] = split_lines(text)
        return self._lines[filename]

    def readable(
        self, filename: str, node: ast.AST, shape: Shape, dropped: tuple[int, ...] = ()
    ) -> Readable | None:
        """What shows `node` (found in `filename` by this index) again later, from its lines."""
        lines = self._lines_of(filename)
        if lines is None:
            return None
        try:
            return Readable(lines_of(lines, node), shape, dropped)
        except (IndexError, UnicodeDecodeError, TypeError):
            return None

    def _unchanged(self, filename: str) -> Carried | None:
        """The carried facts of `filename`, when its text is the one they were learnt from."""
        old = self._carried.get(filename)
        return old if old is not None and self._text(filename) == old.text else None

    def carry(self) -> dict[str, Carried]:
        """What the next run may take over: every file read here, by its exact text."""
        found = dict(self._carried)
        for filename, text in self._texts.items():
            if text is None:
                found.pop(filename, None)
            else:
                found[filename] = Carried(text, self._evals.get(filename))
        return found

    def _chunked(self, filename: str) -> _Chunks | None:
        if filename not in self._chunks:
            self._chunks[filename] = None
            try:
                if self._unchanged(filename) is not None or (
                    os.path.getsize(filename) > CHUNKED_BYTES
                ):
                    lines = self._lines_of(filename)
                    if lines is not None:
                        self._chunks[filename] = _Chunks(lines, filename)
            except (OSError, ValueError):
                pass
        return self._chunks[filename]

    def module_evals(self, filename: str) -> tuple[str, ...]:
        """`module_level_evals` of the file (none when it cannot be read or parsed)."""
        if filename not in self._evals:
            old = self._unchanged(filename)
            if old is not None and old.evals is not None:
                self._evals[filename] = old.evals
            else:
                text = self._text(filename)
                # A module-level eval/exec call names them: a file that never spells either
                # has none, and is not parsed whole (a 10,000-stage pipeline.py would be
                # hundreds of MiB of syntax tree, and a whole-file index kept with it).
                named = text is not None and ("eval" in text or "exec" in text)
                tree = self.tree(filename) if named else None
                self._evals[filename] = tuple(module_level_evals(tree)) if tree else ()
        return self._evals[filename]

    def tree(self, filename: str) -> ast.Module | None:
        """The module AST of `filename`, parsed afresh and not kept, or None when it cannot be
        read or parsed."""
        text = self._text(filename)
        if text is None:
            return None
        try:
            return ast.parse(text, filename)
        except (SyntaxError, ValueError):
            return None

    def _index(self, filename: str) -> _FileIndex | None:
        if filename not in self._files:
            text = self._text(filename)
            try:
                index = _build_index(text, ast.parse(text, filename)) if text is not None else None
            except (SyntaxError, ValueError):
                index = None
            self._files[filename] = index
        return self._files[filename]

    def code_node(self, code: types.CodeType) -> ast.AST | None:
        """The def or lambda node that compiled to `code`."""
        chunks = self._chunked(code.co_filename)
        block = chunks.index_at(code.co_firstlineno) if chunks is not None else None
        if block is not None:
            if code.co_name == "<lambda>":
                found = _find_lambda(block.lambdas.get(code.co_firstlineno, []), code)
            else:
                found = block.defs.get((code.co_name, code.co_firstlineno))
            if found is not None:
                return found
        index = self._index(code.co_filename)
        if index is None:
            return None
        if code.co_name == "<lambda>":
            return _find_lambda(index.lambdas.get(code.co_firstlineno, []), code)
        key = (code.co_name, code.co_firstlineno)
        if index.keep:
            return index.defs.get(key)
        if key in index.handed:  # asked again (a closure, a stage also called as a function)
            index = _build_index(index.text, ast.parse(index.text, code.co_filename))
            index.keep = True
            self._files[code.co_filename] = index
            return index.defs.get(key)
        index.handed.add(key)
        return index.defs.pop(key, None)

    def class_node(
        self, filename: str, qualname: str, firstlineno: int | None
    ) -> ast.ClassDef | None:
        """The class statement defining `qualname` (the last one, as Python keeps the last)."""
        chunks = self._chunked(filename) if firstlineno is not None else None
        block = chunks.index_at(firstlineno) if chunks is not None and firstlineno else None
        if block is not None:
            for node in block.classes.get(qualname, []):
                if _first_line(node) == firstlineno:
                    return node
        index = self._index(filename)
        if index is None:
            return None
        found: ast.ClassDef | None = None
        for node in index.classes.get(qualname, []):
            if firstlineno is None or _first_line(node) == firstlineno:
                found = node
        return found


def _build_index(text: str, tree: ast.Module) -> _FileIndex:
    """One pass over the tree: defs by (name, first line), lambdas by line, classes by qualname."""
    index = _FileIndex(text, {}, {}, {})
    stack: list[tuple[ast.AST, str]] = [(tree, "")]
    while stack:
        node, prefix = stack.pop()
        inner = prefix
        if isinstance(node, _DEF_TYPES):
            index.defs[(node.name, _first_line(node))] = node
            inner = f"{prefix}{node.name}.<locals>."
        elif isinstance(node, ast.ClassDef):
            index.classes.setdefault(prefix + node.name, []).append(node)
            inner = f"{prefix}{node.name}."
        elif isinstance(node, ast.Lambda):
            index.lambdas.setdefault(node.lineno, []).append(node)
        stack.extend((child, inner) for child in _children(node))
    for found in index.classes.values():
        found.sort(key=lambda n: (n.lineno, n.col_offset))  # source order: the last one wins
    return index


def _first_line(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) -> int:
    """The line a code object of `node` reports as first: its first decorator's, if any."""
    return min([d.lineno for d in node.decorator_list] + [node.lineno])


def _children(node: ast.AST) -> Iterator[ast.AST]:
    """ast.iter_child_nodes, without its generic overhead."""
    for field in node._fields:
        value = getattr(node, field, None)
        if isinstance(value, ast.AST):
            yield value
        elif isinstance(value, list):
            for item in value:  # pyright: ignore[reportUnknownVariableType]
                if isinstance(item, ast.AST):
                    yield item


def _find_lambda(candidates: list[ast.Lambda], code: types.CodeType) -> ast.Lambda | None:
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
