"""Stage function -> manifest: every piece of project code and every value it reaches.

Each object reached becomes a node: a manifest key (`module.qualname` of a definition, or
`module.NAME` of a module-level value), a hash, and the objects it refers to. A node's hash
covers its normalized source plus the *identity* of everything it refers to (so rebinding a
name to another function is a change of the reader), while the referred-to code is hashed in
its own node (so `explain` names the helper that changed, not every caller).
"""

from __future__ import annotations

import ast
import builtins
import functools
import importlib
import inspect
import os
import sys
import types
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastpipe.fingerprint import bytecode, names, readable, source, unsourced
from fastpipe.fingerprint.project import ProjectCode
from fastpipe.fingerprint.readable import Readable, Shape
from fastpipe.fingerprint.sourceindex import Carried, SourceIndex
from fastpipe.fingerprint.values import OpaqueValueError, Tokenizer
from fastpipe.stage import stage as _stage_decorator

_MISSING = object()
_ENVIRONMENT_READERS = frozenset({"os.environ", "os.environb", "os.getenv", "os.getenvb"})
# Where output goes, not what it is: `print(..., file=sys.stderr)` is no fingerprint hazard.
_PROCESS_STREAMS = frozenset(
    {
        f"sys.{name}"
        for name in ("stdin", "stdout", "stderr", "__stdin__", "__stdout__", "__stderr__")
    }
)
# How and where this process runs (the command that started it, the import machinery), which
# differ between `fastpipe run` and `status` and between machines: recorded by name, as
# hashing their values would make a stage that logs `sys.argv` stale on every command.
_PROCESS_STATE = frozenset(
    f"sys.{name}"
    for name in ("argv", "orig_argv", "path", "executable", "modules", "meta_path",
                 "path_hooks", "path_importer_cache", "prefix", "base_prefix", "exec_prefix")
)  # fmt: skip


@dataclass(frozen=True)
class Manifest:
    """What a stage's code fingerprint consists of."""

    items: Mapping[str, str]  # qualified name -> hash
    files: tuple[str, ...]  # project source files (and escape-hatch files) reached, relative
    warnings: tuple[str, ...]  # constructs that could not be fingerprinted safely
    libraries: tuple[str, ...] = ()  # library objects reached, by the name used (`numpy.load`)
    # item -> what shows its definition (functions, classes, stages), for `source`
    definitions: Mapping[str, Readable] = field(
        default_factory=dict[str, Readable], compare=False, repr=False
    )

    def source(self, item: str) -> str | None:
        """The normalized source of a function, class or stage item (None: not a definition)."""
        found = self.definitions.get(item)
        return found.text() if found is not None else None

    def definition(self, item: str) -> Readable | None:
        """What shows a function, class or stage item's source (None: not a definition)."""
        return self.definitions.get(item)


def _definitions_of(
    final: Mapping[str, str],
    items: Mapping[str, set[str]],
    found: Mapping[tuple[str, str], Readable],
) -> dict[str, Readable]:
    """The definitions under the manifest's own item names: a key reached as several objects
    (lambdas of one module) is `key#hash8` there, each with its own definition."""
    named: dict[str, Readable] = {}
    for item, digest in final.items():
        key = item if item in items else item.rpartition("#")[0]
        readable = found.get((key, digest))
        if readable is not None:
            named[item] = readable
    return named


@dataclass(frozen=True)
class _Node:
    key: str
    hash: str
    children: tuple[Hashable, ...]
    file: str | None = None
    warnings: tuple[str, ...] = ()
    library: bool = False  # a library object, recorded by name
    readable: Readable | None = None  # the definition hashed, to show its source
    prefixed: bool = True  # warnings start with the node's key


class _Collector:
    """Identities and children gathered while one node is being hashed."""

    def __init__(self) -> None:
        self.children: dict[Hashable, None] = {}
        self.warnings: list[str] = []


class Fingerprinter:
    """Computes manifests for the stages of one project; caches work across stages of a run."""

    def __init__(
        self,
        root: Path,
        hash_file: Callable[[str], str | None] | None = None,
        import_module: Callable[[str], types.ModuleType] | None = None,
        carried: Mapping[str, Carried] | None = None,
    ) -> None:
        self._project = ProjectCode(str(root))
        self._hash_file = hash_file
        # Importing a module that a function body imports but nothing has imported yet runs
        # project code: the caller may want to watch it (see importwatch).
        self._import_module = import_module or importlib.import_module
        self._sources = SourceIndex(carried)  # carried: what the last run read
        self._nodes: dict[Hashable, _Node] = {}
        self._pending: dict[Hashable, Callable[[], _Node]] = {}
        self._keep: list[object] = []  # memo keys use id(); keep those objects alive
        self._instances_in_progress: set[int] = set()
        self._failed_imports: dict[str, unsourced.ImportFailure | types.ModuleType | None] = {}
        self._module_hazards: dict[str, tuple[str, ...]] = {}
        self._roots = tuple(dict.fromkeys((str(root), os.path.realpath(root))))

    # ---------------------------------------------------------------- public

    @property
    def project(self) -> ProjectCode:
        """What counts as project code for this fingerprinter."""
        return self._project

    def carry(self) -> dict[str, Carried]:
        """What a later Fingerprinter may take over (`carried=`) about the files read here: each
        is used only while the file's text is the same (run --watch)."""
        return self._sources.carry()

    def manifest(self, func: Callable[..., Any], extra: Iterable[object] = ()) -> Manifest:
        """The manifest of the stage whose function is `func` (`extra`: the escape hatch)."""
        inner = inspect.unwrap(func)
        skip = ("id", id(inner))
        root = self._stage_node(func, inner, tuple(extra))
        items: dict[str, set[str]] = {}
        files: set[str] = set()
        warnings: list[str] = []
        libraries: set[str] = set()
        definitions: dict[tuple[str, str], Readable] = {}  # by (key, hash): see disambiguate
        seen: set[Hashable] = {("root", id(func)), skip}
        queue = [root]
        while queue:
            node = queue.pop()
            items.setdefault(node.key, set()).add(node.hash)
            if node.file:
                files.add(node.file)
            if node.library:
                libraries.add(node.key)
            if node.readable is not None:
                definitions[node.key, node.hash] = node.readable
            warnings.extend(f"{node.key}: {w}" if node.prefixed else w for w in node.warnings)
            for child in node.children:
                if child not in seen:
                    seen.add(child)
                    queue.append(self._node(child))
        final = names.disambiguate(items)
        return Manifest(
            final,
            tuple(sorted(files)),
            tuple(sorted(set(warnings))),
            tuple(sorted(libraries)),
            _definitions_of(final, items, definitions),
        )

    # ---------------------------------------------------------------- classification

    # ---------------------------------------------------------------- identities

    def _ref(self, obj: object, out: _Collector, public: str | None = None) -> str:
        """The identity of a code-like object; schedules project code to be fingerprinted.

        `public` is the dotted path the code used to reach a library object (`numpy.mean`),
        preferred over the object's own, often internal, qualified name.
        """
        if isinstance(obj, staticmethod | classmethod):
            return f"{type(obj).__name__}({self._ref(obj.__func__, out)})"
        if isinstance(obj, property):
            parts = [self._ref(f, out) if f else "-" for f in (obj.fget, obj.fset, obj.fdel)]
            return f"property({','.join(parts)})"
        if isinstance(obj, functools.cached_property):
            return f"cached_property({self._ref(obj.func, out)})"  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
        if isinstance(obj, functools.partial):
            return self._partial(obj, out)  # pyright: ignore[reportUnknownArgumentType]
        if isinstance(obj, types.MethodType):
            if names.is_published_method(obj) and not self._project.is_callable(obj.__func__):
                return self._library(public or names.library_name(obj), out)  # random.seed
            owner = self._token(obj.__self__, out, "bound method")
            return f"method({self._ref(obj.__func__, out)},{owner})"
        if isinstance(obj, types.FunctionType):
            return self._function_ref(obj, out, public)
        if isinstance(obj, type):
            return self._class_ref(obj, out, public)
        if isinstance(obj, types.ModuleType):
            return self._module_ref(obj, out)
        wrapped = getattr(obj, "__wrapped__", None)
        if wrapped is not None and self._project.is_callable(wrapped):
            extra = names.cache_parameters(obj)
            return f"wrapped:{type(obj).__qualname__}({self._ref(wrapped, out)}{extra})"
        return self._library(public or names.library_name(obj), out)

    def _partial(self, obj: functools.partial[Any], out: _Collector) -> str:
        args = self._token(obj.args, out, "partial arguments")
        kwargs = self._token(obj.keywords, out, "partial arguments")
        return f"partial({self._ref(obj.func, out)},{args},{kwargs})"

    def _function_ref(
        self, func: types.FunctionType, out: _Collector, public: str | None = None
    ) -> str:
        if not self._project.is_function(func):
            if unsourced.is_dynamic(func, self._project):
                memo = ("id", id(func))
                self._schedule(memo, func, lambda: self._dynamic_node(func), out)
                return f"fn:{names.function_key(func)}"
            return self._library(public or names.library_name(func), out)
        key = names.function_key(func)
        self._schedule(("id", id(func)), func, lambda: self._function_node(func), out)
        if not names.has_instances(func):
            return f"fn:{key}"
        # One definition, several function objects (closures, factories): the object's own
        # closure and defaults are part of the reference, its code is the shared node.
        if id(func) in self._instances_in_progress:  # a closure that refers to itself
            return f"fn:{key}(<recursive>)"
        self._instances_in_progress.add(id(func))
        try:
            return f"fn:{key}({names.digest(self._instance(func, out))[:16]})"
        finally:
            self._instances_in_progress.discard(id(func))

    def _class_ref(self, cls: type, out: _Collector, public: str | None = None) -> str:
        key = f"{cls.__module__}.{cls.__qualname__}"
        if not self._project.is_class(cls):
            return self._library(public or key, out)
        self._schedule(("id", id(cls)), cls, lambda: self._class_node(cls), out)
        return f"cls:{key}"

    def _module_ref(self, module: types.ModuleType, out: _Collector) -> str:
        if self._project.module_relpath(module) is None:
            return self._library(module.__name__, out)
        self._schedule(("id", id(module)), module, lambda: self._module_node(module), out)
        return f"mod:{module.__name__}"

    def _library(self, name: str, out: _Collector) -> str:
        if name in _ENVIRONMENT_READERS:
            out.warnings.append(
                f"reads environment variables ({name}), which are not part of the fingerprint; "
                "pass them as params instead"
            )
        memo = ("lib", name)
        if memo not in self._nodes:
            self._nodes[memo] = _Node(name, names.digest("lib", name), (), library=True)
        out.children[memo] = None
        return f"lib:{name}"

    def _schedule(
        self, memo: Hashable, obj: object, build: Callable[[], _Node], out: _Collector
    ) -> None:
        if memo not in self._nodes and memo not in self._pending:
            self._keep.append(obj)
            self._pending[memo] = build
        out.children[memo] = None

    def _node(self, memo: Hashable) -> _Node:
        if memo not in self._nodes:
            self._nodes[memo] = self._pending.pop(memo)()
        return self._nodes[memo]

    def _token(self, value: object, out: _Collector, what: str) -> str:
        tokenizer = Tokenizer(lambda obj: self._ref(obj, out), self._project.is_class, self._roots)
        try:
            return tokenizer.token(value)
        except OpaqueValueError as exc:
            out.warnings.append(f"cannot fingerprint {what}: {exc}")
            return f"opaque:{exc}"

    # ---------------------------------------------------------------- name resolution

    def _resolve(
        self, chain: tuple[str, ...], namespace: Mapping[str, Any], module: str, out: _Collector
    ) -> tuple[str, str] | None:
        """(dotted name as read, identity of what it refers to), or None for builtins."""
        head = chain[0]
        self._report_module_code(module, out)
        if head in namespace:
            obj = namespace[head]
        elif hasattr(builtins, head):
            return None
        else:
            return head, "undefined"
        return self._walk(obj, chain, (module, head), out)

    def _walk(
        self, obj: object, chain: tuple[str, ...], location: tuple[str, str], out: _Collector
    ) -> tuple[str, str]:
        i = 1
        while isinstance(obj, types.ModuleType) and i < len(chain):
            attr = chain[i]
            nxt = vars(obj).get(attr, _MISSING)  # no getattr: module __getattr__ may have effects
            if nxt is _MISSING:  # not yet imported (a lazy submodule), or not defined
                read, name = ".".join(chain[: i + 1]), f"{obj.__name__}.{attr}"
                if self._project.module_relpath(obj):
                    return read, f"undefined:{name}"
                return read, self._library(name, out)
            location, obj = (obj.__name__, attr), nxt
            i += 1
        return ".".join(chain[:i]), self._identity(obj, location, out)

    def _identity(self, obj: object, location: tuple[str, str], out: _Collector) -> str:
        key = f"{location[0]}.{location[1]}"
        module = sys.modules.get(location[0])
        in_library = module is None or self._project.module_relpath(module) is None
        if (in_library and callable(obj)) or names.is_library_api(obj):
            return self._ref(obj, out, key if in_library else None)
        if names.is_code_like(obj) and not isinstance(obj, functools.partial | types.MethodType):
            return self._ref(obj, out)
        if key in _ENVIRONMENT_READERS or key in _PROCESS_STREAMS or key in _PROCESS_STATE:
            return self._library(key, out)
        # Values, and callables that carry state (partial, bound methods), are module-level
        # bindings of their own: their entry changes when their state does.
        memo = ("const", key)
        self._schedule(memo, obj, lambda: self._constant_node(key, obj, module), out)
        return f"const:{key}"

    # ---------------------------------------------------------------- nodes

    def _constant_node(self, key: str, value: object, module: types.ModuleType | None) -> _Node:
        out = _Collector()
        token = self._token(value, out, "its value")
        file = self._project.module_relpath(module) if module is not None else None
        return _Node(
            key, names.digest("const", token), tuple(out.children), file, tuple(out.warnings)
        )

    def _stage_node(self, func: Callable[..., Any], inner: Any, extra: tuple[object, ...]) -> _Node:
        out = _Collector()
        if not isinstance(inner, types.FunctionType):
            bindings = [("<stage>", self._ref(inner, out))]
            return _Node(
                names.library_name(inner), names.digest("stage", bindings), tuple(out.children)
            )
        key = names.function_key(inner)
        node = self._sources.code_node(inner.__code__)
        analysis, readable = self._stage_analysis(inner, node)
        text = analysis.text if analysis is not None else "<no source>"
        bindings, heads = self._code_bindings(inner, node, analysis, out, skip_stage_decorator=True)
        if func is not inner:
            bindings.append(("<wrapper>", self._ref(func, out)))
        for i, item in enumerate(extra):
            label = f"fingerprint[{i}]"
            if isinstance(item, str):
                bindings.append((label, self._file_ref(item, out)))
            else:
                bindings.append((label, self._identity(item, (inner.__module__, label), out)))
        closure = self._closure(inner, out)
        digest = names.digest("stage", text, sorted(bindings), closure)
        file = self._project.relpath(inner.__code__.co_filename)
        warnings = self._code_warnings(analysis, heads, out)
        return _Node(key, digest, tuple(out.children), file, warnings, readable=readable)

    def _stage_analysis(
        self, func: types.FunctionType, node: ast.AST | None
    ) -> tuple[source.Analysis | None, Readable | None]:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return None, None
        dropped = tuple(
            i for i, d in enumerate(node.decorator_list) if self._is_stage_decorator(d, func)
        )
        analysis = source.analyze(readable.stage_shape(node, dropped))
        shown = self._sources.readable(func.__code__.co_filename, node, Shape.STAGE, dropped)
        return analysis, shown

    def _is_stage_decorator(self, decorator: ast.expr, func: types.FunctionType) -> bool:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        chain = source.chain_of(target)
        if chain is None:
            return False
        obj: Any = func.__globals__.get(chain[0], _MISSING)
        for attr in chain[1:]:
            obj = getattr(obj, attr, _MISSING)
        return obj is _stage_decorator

    def _file_ref(self, path: str, out: _Collector) -> str:
        memo = ("file", path)
        if memo not in self._nodes:
            content = self._hash_file(path) if self._hash_file else None
            warnings = () if content else (f"fingerprint file '{path}' does not exist",)
            self._nodes[memo] = _Node(f"file:{path}", content or "missing", (), path, warnings)
        out.children[memo] = None
        return f"file:{path}"

    def _function_node(self, func: types.FunctionType) -> _Node:
        out = _Collector()
        node = self._sources.code_node(func.__code__)
        analysis = source.analyze(node) if node is not None else None
        text = analysis.text if analysis is not None else "<no source>"
        shape = Shape.LAMBDA if isinstance(node, ast.Lambda) else Shape.FUNCTION
        shown = (
            self._sources.readable(func.__code__.co_filename, node, shape)
            if node is not None
            else None
        )
        bindings, heads = self._code_bindings(func, node, analysis, out, skip_stage_decorator=False)
        instance = [] if names.has_instances(func) else self._instance(func, out)
        digest = names.digest("function", text, sorted(bindings), instance)
        file = self._project.relpath(func.__code__.co_filename)
        warnings = self._code_warnings(analysis, heads, out)
        key = names.function_key(func)
        return _Node(key, digest, tuple(out.children), file, warnings, readable=shown)

    def _instance(self, func: types.FunctionType, out: _Collector) -> list[str]:
        """What differs between function objects made from one definition."""
        parts = [self._token(func.__defaults__, out, "a default argument")]
        parts.append(self._token(func.__kwdefaults__, out, "a default argument"))
        parts.extend(self._closure(func, out))
        wrapped = func.__dict__.get("__wrapped__")
        if wrapped is not None:
            parts.append(f"wraps:{self._ref(wrapped, out)}")
        return parts

    def _closure(self, func: types.FunctionType, out: _Collector) -> list[str]:
        cells = func.__closure__ or ()
        parts: list[str] = []
        for name, cell in zip(func.__code__.co_freevars, cells, strict=False):
            try:
                value = cell.cell_contents
            except ValueError:
                parts.append(f"{name}=<empty>")
                continue
            parts.append(f"{name}={self._token(value, out, f'the closure variable {name}')}")
        return parts

    def _code_bindings(
        self,
        func: types.FunctionType,
        node: ast.AST | None,
        analysis: source.Analysis | None,
        out: _Collector,
        *,
        skip_stage_decorator: bool,
    ) -> tuple[list[tuple[str, str]], set[str]]:
        """What the function's names refer to, and which mutable container globals it reads."""
        namespace = func.__globals__
        module = str(namespace.get("__name__", "?"))
        package = namespace.get("__package__")
        imports = source.import_bindings(analysis, package) if analysis is not None else []
        import_map = {b.local: b for b in imports}
        global_chains, local_chains = bytecode.read_chains(func.__code__, frozenset(import_map))
        if node is not None and "<locals>" not in func.__code__.co_qualname:
            global_chains |= self._decorator_chains(func, node, skip_stage_decorator)
        bindings: list[tuple[str, str]] = []
        for chain in sorted(global_chains):
            resolved = self._resolve(chain, namespace, module, out)
            if resolved is not None:
                bindings.append(resolved)
        for chain in sorted(local_chains):
            bindings.append(self._resolve_import(import_map[chain[0]], chain, out))
        containers = {
            c[0] for c in global_chains if isinstance(namespace.get(c[0]), list | dict | set)
        }
        return bindings, containers

    def _decorator_chains(
        self, func: types.FunctionType, node: ast.AST, skip_stage_decorator: bool
    ) -> set[tuple[str, ...]]:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return set()
        decorators = [
            d
            for d in node.decorator_list
            if not (skip_stage_decorator and self._is_stage_decorator(d, func))
        ]
        return source.expression_chains(decorators)

    def _resolve_import(
        self, binding: source.ImportBinding, chain: tuple[str, ...], out: _Collector
    ) -> tuple[str, str]:
        module = sys.modules.get(binding.module)
        if module is None:
            module = self._import_if_project(binding.module)
        if isinstance(module, unsourced.ImportFailure):
            return ".".join(chain), self._failed_import_ref(module, out)
        if module is None:
            suffix = f".{binding.attr}" if binding.attr else ""
            return ".".join(chain), f"lib:{binding.module}{suffix}"
        if binding.attr is None:
            return self._walk(module, chain, (binding.module, binding.local), out)
        obj = vars(module).get(binding.attr, _MISSING)
        if obj is _MISSING:
            obj = self._import_if_project(f"{binding.module}.{binding.attr}")
        if isinstance(obj, unsourced.ImportFailure):
            return ".".join(chain), self._failed_import_ref(obj, out)
        if obj is None or obj is _MISSING:
            return ".".join(chain), f"undefined:{binding.module}.{binding.attr}"
        return self._walk(obj, chain, (binding.module, binding.attr), out)

    def _import_if_project(self, name: str) -> types.ModuleType | unsourced.ImportFailure | None:
        """Import a not-yet-imported module named in a function body, if it is project code.

        None: not project code (a library, installed or not). Project code that raises when
        imported is an `ImportFailure`, fingerprinted from its file: never taken for a library.
        """
        if name not in self._failed_imports:
            self._failed_imports[name] = unsourced.try_import(
                name, self._project, self._import_module
            )
        return self._failed_imports[name]

    def _failed_import_ref(self, failure: unsourced.ImportFailure, out: _Collector) -> str:
        memo = ("failed", failure.name)
        if memo not in self._nodes:
            tree = self._sources.tree(failure.origin)
            text = source.canonical(tree) if tree is not None else "<no source>"
            file = self._project.relpath(failure.origin)
            digest = names.digest("module", text)
            key = f"module {failure.name}"
            warnings = (failure.warning,)
            self._nodes[memo] = _Node(key, digest, (), file, warnings, prefixed=False)
        out.children[memo] = None
        return f"failed:{failure.name}"

    # ---------------------------------------------------------------- code without a file

    def _dynamic_node(self, func: types.FunctionType) -> _Node:
        out = _Collector()
        bindings, _ = self._code_bindings(func, None, None, out, skip_stage_decorator=False)
        instance = [] if names.has_instances(func) else self._instance(func, out)
        code = unsourced.code_token(func.__code__)
        digest = names.digest("dynamic", code, sorted(bindings), instance)
        out.warnings.append(unsourced.dynamic_warning(func))
        return _Node(
            names.function_key(func), digest, tuple(out.children), None, tuple(out.warnings)
        )

    def _report_module_code(self, module_name: str, out: _Collector) -> None:
        """A project module whose top-level code calls eval/exec: reported once, as a node."""
        if module_name not in self._module_hazards:
            module = sys.modules.get(module_name)
            filename = getattr(module, "__file__", None) if module is not None else None
            found: tuple[str, ...] = ()
            if isinstance(filename, str) and self._project.relpath(filename) is not None:
                found = self._sources.module_evals(filename)
            self._module_hazards[module_name] = found
        hazards = self._module_hazards[module_name]
        if hazards:
            memo = ("module code", module_name)
            if memo not in self._nodes:
                key = f"{module_name}.<module code>"
                self._nodes[memo] = _Node(key, names.digest("hazards", hazards), (), None, hazards)
            out.children[memo] = None

    def _code_warnings(
        self, analysis: source.Analysis | None, global_names: set[str], out: _Collector
    ) -> tuple[str, ...]:
        if analysis is None:
            out.warnings.append("cannot read its source; edits to it will not be detected")
            return tuple(out.warnings)
        return tuple(out.warnings + source.hazards(analysis, global_names))

    def _class_node(self, cls: type) -> _Node:
        out = _Collector()
        module = sys.modules.get(cls.__module__)
        filename = getattr(module, "__file__", None) or ""
        node = self._sources.class_node(
            filename, cls.__qualname__, getattr(cls, "__firstlineno__", None)
        )
        key = f"{cls.__module__}.{cls.__qualname__}"
        hazards: list[str] = []
        shown: Readable | None = None
        fields = names.namedtuple_fields(cls)
        if node is None and fields is not None:  # collections.namedtuple("P", "x y")
            defaults = self._token(getattr(cls, "_field_defaults", {}), out, "a field default")
            text, bindings = f"namedtuple{fields}={defaults}", []
        elif node is None:
            out.warnings.append("cannot find its class statement; only its attributes count")
            text, bindings = "<no source>", []
        else:
            shell, bindings = self._class_shell(node, vars(module) if module else {}, out)
            text, hazards = shell.text, source.hazards(shell, set())
            shown = self._sources.readable(filename, node, Shape.CLASS_SHELL)
        attrs = self._class_attributes(cls, out)
        bases = [self._ref(b, out) for b in cls.__bases__ if b is not object]
        digest = names.digest("class", text, sorted(bindings), attrs, bases)
        warnings = tuple(out.warnings) + tuple(hazards)
        file = self._project.relpath(filename)
        return _Node(key, digest, tuple(out.children), file, warnings, readable=shown)

    def _class_shell(
        self, node: ast.ClassDef, namespace: Mapping[str, Any], out: _Collector
    ) -> tuple[source.Analysis, list[tuple[str, str]]]:
        """The class statement without its methods and nested classes (fingerprinted apart)."""
        shell = readable.class_shell(node)
        stored = {
            t.id for s in shell.body for t in ast.walk(s) if isinstance(t, ast.Name) and
            isinstance(t.ctx, ast.Store)
        }  # fmt: skip
        exprs: list[ast.AST] = [*node.decorator_list, *node.bases, *node.keywords, *shell.body]
        module = str(namespace.get("__name__", "?"))
        bindings: list[tuple[str, str]] = []
        for chain in sorted(source.expression_chains(exprs)):
            if chain[0] not in stored:
                resolved = self._resolve(chain, namespace, module, out)
                if resolved is not None:
                    bindings.append(resolved)
        return source.analyze(shell), bindings

    def _class_attributes(self, cls: type, out: _Collector) -> list[tuple[str, str]]:
        attrs: list[tuple[str, str]] = []
        fields = names.namedtuple_fields(cls) or ()
        for name, value in sorted(vars(cls).items()):
            if name in names.CLASS_BOOKKEEPING or name in fields:  # a field's accessor
                continue
            if names.is_code_like(value):
                if not self._is_generated(name, value):
                    attrs.append((name, self._ref(value, out)))
            elif not name.startswith("_"):
                attrs.append((name, self._token(value, out, f"the class attribute {name}")))
        return attrs

    def _is_generated(self, name: str, value: object) -> bool:
        """Methods made by class machinery (dataclass, enum): not the project's code.

        They also differ between Python versions. A public name bound to library code
        (`Model.score = np.mean`) still counts.
        """
        function = names.descriptor_function(value)
        if function is None or self._project.is_function(function):
            return False
        return name.startswith("_") or function.__code__.co_filename.startswith("<")

    def _module_node(self, module: types.ModuleType) -> _Node:
        filename = getattr(module, "__file__", None) or ""
        tree = self._sources.tree(filename)
        text = source.canonical(tree) if tree is not None else "<no source>"
        # A module used as a value could have any attribute read: all of it counts.
        return _Node(
            module.__name__, names.digest("module", text), (), self._project.relpath(filename)
        )
