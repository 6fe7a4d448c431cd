"""Values -> canonical tokens, by type and value: `1`, `1.0` and `True` differ.

Code-like values (functions, classes, modules, wrappers) are not tokenized here: they are
handed to the `ref` callback, which returns their identity and arranges for them to be
fingerprinted themselves.
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import fractions
import functools
import logging
import operator
import os
import pathlib
import re
import types
import uuid
from collections.abc import Callable
from typing import Any

import xxhash

_REPR_TYPES: tuple[type, ...] = (
    type(None), bool, int, float, complex, str, bytes, range, slice, type(Ellipsis),
    pathlib.PurePath, datetime.date, datetime.time, datetime.timedelta, datetime.timezone,
    decimal.Decimal, fractions.Fraction, uuid.UUID,
)  # fmt: skip
_CODE_TYPES: tuple[type, ...] = (
    types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.ModuleType, type,
    functools.partial, staticmethod, classmethod, property, functools.cached_property,
    types.MethodDescriptorType, types.WrapperDescriptorType, types.MethodWrapperType,
)  # fmt: skip


class OpaqueValueError(Exception):
    """A value that cannot be fingerprinted safely."""


class Tokenizer:
    """Turns values into tokens; `ref(obj)` gives the identity of code-like objects.

    A string or path under one of `roots` (the project root, as given and resolved) is
    tokenized relative to it, as `<root>/...`: `HERE = os.path.dirname(__file__)` gives the
    same manifest in every checkout of the project.
    """

    def __init__(
        self,
        ref: Callable[[object], str],
        is_project_class: Callable[[type], bool],
        roots: tuple[str, ...] = (),
    ):
        self._ref = ref
        self._is_project_class = is_project_class
        self._roots = tuple(r.rstrip(os.sep) for r in roots if os.path.isabs(r) and r != os.sep)

    def token(self, value: object) -> str:
        """The token of `value`; raises OpaqueValueError naming what cannot be fingerprinted."""
        return self._token(value, set())

    def _token(self, value: object, active: set[int]) -> str:
        kind = type(value)
        if isinstance(value, str | pathlib.PurePath) and self._roots:
            relative = self._under_root(str(value))
            if relative is not None:
                return f"{_type_name(kind)}:<root>{relative!r}"
        if isinstance(value, _REPR_TYPES) and not isinstance(value, enum.Enum):
            return f"{_type_name(kind)}:{value!r}"
        if isinstance(value, _CODE_TYPES) or _is_wrapper(value):
            return self._ref(value)
        if id(value) in active:
            return "<cycle>"
        active.add(id(value))
        try:
            return self._composite(value, active)
        finally:
            active.discard(id(value))

    def _under_root(self, text: str) -> str | None:
        """The part of `text` after the project root ('' or '/...'), or None if not under it."""
        for root in self._roots:
            if text == root or text.startswith(root + os.sep):
                return text[len(root) :]
        return None

    def _composite(self, value: object, active: set[int]) -> str:
        kind = type(value)
        prefix = kind.__name__ if kind.__module__ == "builtins" else self._ref(kind)
        if isinstance(value, tuple | list):
            items: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
            return f"{prefix}[{','.join(self._token(v, active) for v in items)}]"
        if isinstance(value, dict):
            pairs: dict[Any, Any] = value  # pyright: ignore[reportUnknownVariableType]
            inner = ",".join(
                f"{self._token(k, active)}:{self._token(v, active)}" for k, v in pairs.items()
            )
            return f"{prefix}{{{inner}}}"
        if isinstance(value, set | frozenset):
            members: list[Any] = list(value)  # pyright: ignore[reportUnknownArgumentType]
            return f"{prefix}{{{','.join(sorted(self._token(v, active) for v in members))}}}"
        if isinstance(value, bytearray):
            return f"bytearray:{bytes(value)!r}"
        return self._object(value, active)

    def _object(self, value: object, active: set[int]) -> str:
        kind = type(value)
        if isinstance(value, enum.Enum):
            return f"enum:{self._ref(kind)}.{value.name}"
        if isinstance(value, re.Pattern):
            pattern: re.Pattern[Any] = value
            return f"re:{pattern.pattern!r}:{pattern.flags}"
        if isinstance(value, logging.Logger):
            return f"logger:{value.name}"
        if isinstance(value, operator.itemgetter | operator.attrgetter):
            arguments: tuple[Any, ...] = value.__reduce__()[1]  # pyright: ignore[reportAssignmentType]
            return f"{_type_name(kind)}:{self._token(arguments, active)}"
        if kind.__module__.split(".")[0] == "numpy":
            return _numpy_token(value)
        if dataclasses.is_dataclass(value):
            fields = dataclasses.fields(value)
            state = ",".join(
                f"{f.name}={self._token(getattr(value, f.name), active)}" for f in fields
            )
            return f"obj:{self._ref(kind)}({state})"
        if self._is_project_class(kind):
            return f"obj:{self._ref(kind)}({self._state(value, active)})"
        raise OpaqueValueError(f"a value of type {kind.__module__}.{kind.__qualname__}")

    def _state(self, value: object, active: set[int]) -> str:
        state: dict[str, Any] = dict(getattr(value, "__dict__", {}))
        for cls in type(value).__mro__:
            slots: Any = cls.__dict__.get("__slots__", ())
            for slot in (slots,) if isinstance(slots, str) else slots:
                if slot not in ("__dict__", "__weakref__") and hasattr(value, slot):
                    state[slot] = getattr(value, slot)
        return ",".join(f"{k}={self._token(v, active)}" for k, v in state.items())


def _type_name(kind: type) -> str:
    return kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"


def _is_wrapper(value: object) -> bool:
    """C-level callable wrappers such as lru_cache/cache objects."""
    try:
        return callable(value) and hasattr(value, "__wrapped__")
    except Exception:
        return False


def _numpy_token(value: Any) -> str:
    dtype = str(getattr(value, "dtype", ""))
    if hasattr(value, "tobytes") and hasattr(value, "shape"):
        data = xxhash.xxh3_128_hexdigest(value.tobytes())
        return f"numpy:{type(value).__name__}:{dtype}:{tuple(value.shape)}:{data}"
    raise OpaqueValueError(f"a value of type numpy.{type(value).__name__}")
