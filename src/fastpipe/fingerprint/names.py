"""Naming and classifying the objects a fingerprint reaches; small pure helpers."""

from __future__ import annotations

import functools
import re
import sys
import types
from collections.abc import Callable
from typing import Any

import xxhash

_INLINED_SCOPES = re.compile(r"<(?:listcomp|dictcomp|setcomp)>\.")
_CODE_TYPES = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
    functools.partial, staticmethod, classmethod, property, functools.cached_property,
)  # fmt: skip

# Class attributes that are bookkeeping of the class machinery, not the class's behaviour
# (and that differ between Python versions).
CLASS_BOOKKEEPING = frozenset(
    {"__module__", "__qualname__", "__doc__", "__dict__", "__weakref__", "__firstlineno__",
     "__static_attributes__", "__annotations__", "__annotate__", "__annotate_func__",
     "__annotations_cache__", "__dataclass_fields__", "__dataclass_params__", "__match_args__",
     "__slots__", "__orig_bases__", "__parameters__", "__abstractmethods__", "__hash__",
     "__type_params__"}
)  # fmt: skip


def digest(*parts: object) -> str:
    """xxh3-128 of a structure of strings, numbers and lists (its repr is deterministic)."""
    return xxhash.xxh3_128_hexdigest(repr(parts).encode("utf-8", "surrogatepass"))


def function_key(func: types.FunctionType) -> str:
    """`module.qualname` of the definition, from the code object and globals."""
    # functools.wraps copies __module__/__qualname__; the code object and globals do not lie.
    # Comprehensions are inlined from 3.12 on and drop out of qualnames; drop them for 3.11 too.
    qualname = _INLINED_SCOPES.sub("", func.__code__.co_qualname)
    return f"{func.__globals__.get('__name__', '?')}.{qualname}"


def has_instances(func: types.FunctionType) -> bool:
    """Whether one definition can give several distinct function objects."""
    return bool(func.__closure__) or "<" in func.__code__.co_qualname


def library_name(obj: object) -> str:
    """The qualified name a library object is recorded under."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return f"{module}.{qualname}"
    if isinstance(qualname, str):
        return qualname
    return f"<{type(obj).__module__}.{type(obj).__qualname__}>"


def cache_parameters(obj: object) -> str:
    """lru_cache's settings (typed=True changes what a call returns for 1 vs 1.0)."""
    method: Callable[[], dict[str, Any]] | None = getattr(obj, "cache_parameters", None)
    return f",{sorted(method().items())}" if method is not None else ""


def descriptor_function(value: object) -> types.FunctionType | None:
    """The Python function behind a class attribute (method, staticmethod, property...)."""
    for attr in ("__func__", "fget", "func"):
        inner = getattr(value, attr, None)
        if inner is not None:
            value = inner
            break
    return value if isinstance(value, types.FunctionType) else None


def is_code_like(obj: object) -> bool:
    """Functions, classes, modules and callable wrappers: identified, not tokenized."""
    if isinstance(obj, _CODE_TYPES):
        return True
    try:
        return callable(obj) and hasattr(obj, "__wrapped__")
    except Exception:
        return False


def is_library_api(obj: object) -> bool:
    """A callable published by a library module under its own name (`numpy.exp`, a ufunc).

    Such objects are recorded by name even when imported into project modules; a callable
    the project built (`np.vectorize(f)`) is not published anywhere and stays a value.
    """
    module_name = getattr(obj, "__module__", None)
    name = getattr(obj, "__name__", None)
    if not (callable(obj) and isinstance(module_name, str) and isinstance(name, str)):
        return False
    if isinstance(obj, types.FunctionType | type):
        return False  # classified by where their code lives
    module = sys.modules.get(module_name)
    return module is not None and getattr(module, name, None) is obj


def disambiguate(items: dict[str, set[str]]) -> dict[str, str]:
    """One hash per key; a key reached as several distinct objects gets a suffix per object."""
    result: dict[str, str] = {}
    for key, hashes in items.items():
        if len(hashes) == 1:
            result[key] = next(iter(hashes))
        else:
            for h in hashes:
                result[f"{key}#{h[:8]}"] = h
    return dict(sorted(result.items()))


def is_published_method(obj: types.MethodType) -> bool:
    """A bound method that its library module publishes (`random.seed`, bound to a hidden
    `random.Random`): a library callable, recorded by name. A method bound to an object the
    project made is not published anywhere, and its object's state counts.
    """
    module = sys.modules.get(getattr(obj, "__module__", None) or "")
    published = getattr(module, getattr(obj, "__name__", ""), None) if module else None
    return (
        isinstance(published, types.MethodType)
        and published.__self__ is obj.__self__
        and published.__func__ is obj.__func__
    )


def namedtuple_fields(cls: type) -> tuple[str, ...] | None:
    """The fields of a namedtuple class (factory-made or typing.NamedTuple), else None."""
    fields = vars(cls).get("_fields")
    if issubclass(cls, tuple) and isinstance(fields, tuple):
        return tuple(str(f) for f in fields)  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
    return None
