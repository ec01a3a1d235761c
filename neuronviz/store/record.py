"""Typed records <-> JSON: one (de)serialisation for every dataclass a stored result is made of.

:func:`to_json` turns a record into JSON-safe values (dataclasses to objects, tuples and arrays to
lists, numpy scalars to Python numbers). :func:`from_json` reads them back by the record's type
hints: nested records, ``X | None``, ``list[X]``, ``tuple[...]`` and ``dict[K, X]`` (JSON object
keys come back as ``K``, so ``dict[int, float]`` round-trips). A field the record does not know is
an error, not silently dropped, so a result of another shape is reported instead of misread.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any, TypeVar

import numpy as np

__all__ = ["from_json", "to_json"]

T = TypeVar("T")


def to_json(obj: Any) -> Any:
    """JSON-safe copy: dataclasses to dicts, numpy scalars and arrays to Python values."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_json(getattr(obj, f.name)) for f in _stored_fields(type(obj))}
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def _stored_fields(cls: type) -> list[dataclasses.Field]:
    """The fields written to JSON (``metadata={"json": False}`` keeps one out, e.g. arrays)."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("json", True)]


@functools.cache
def _hints(cls: Any) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_json(cls: type[T], data: Any, where: str = "") -> T:
    """``data`` (parsed JSON) as an instance of the dataclass ``cls``.

    Raises ``TypeError`` (a missing field, a value of the wrong kind) or ``ValueError`` (a field
    ``cls`` does not have), naming the field's path in ``where``.
    """
    where = where or cls.__name__
    if not isinstance(data, dict):
        raise TypeError(f"{where}: expected an object, got {type(data).__name__}")
    hints = _hints(typing.cast(Any, cls))
    names = {f.name for f in _stored_fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")
    values = {k: _convert(hints[k], v, f"{where}.{k}") for k, v in data.items()}
    try:
        return cls(**values)
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None


def _convert(hint: Any, value: Any, where: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            if type(None) in args:
                return None
            raise TypeError(f"{where}: may not be null")
        (inner,) = [a for a in args if a is not type(None)] or [Any]
        return _convert(inner, value, where)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return from_json(hint, value, where)
    if origin is list:
        _expect(value, list, where)
        (item,) = args or (Any,)
        return [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is tuple:
        _expect(value, (list, tuple), where)
        items = [args[0]] * len(value) if len(args) == 2 and args[1] is Ellipsis else list(args)
        if len(items) != len(value):
            raise TypeError(f"{where}: expected {len(items)} values, got {len(value)}")
        return tuple(
            _convert(h, v, f"{where}[{i}]")
            for i, (h, v) in enumerate(zip(items, value, strict=True))
        )
    if origin is dict:
        _expect(value, dict, where)
        key, item = args or (str, Any)
        return {_key(key, k, where): _convert(item, v, f"{where}[{k}]") for k, v in value.items()}
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where}: expected a number, got {value!r}")
        return value  # an int stays one (typing's numeric tower), so JSON round-trips exactly
    if hint in (int, bool, str) and (
        not isinstance(value, hint) or (hint is int and isinstance(value, bool))
    ):
        raise TypeError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def _expect(value: Any, kinds: type | tuple[type, ...], where: str) -> None:
    if not isinstance(value, kinds):
        raise TypeError(f"{where}: expected a list or object, got {type(value).__name__}")


def _key(kind: Any, key: str, where: str) -> Any:
    if kind is int:
        try:
            return int(key)
        except ValueError:
            raise TypeError(f"{where}: key {key!r} is not a whole number") from None
    return key
