"""Strict, typed, frozen dataclass configs shared by both arms.

Research configs that accept anything hide typos (``lr`` vs ``learning_rate``) as silently
ignored keys. Every config in this package is a frozen dataclass; building one from a mapping
(JSON, CLI) goes through :func:`from_dict`, which rejects unknown keys and wrong types with a
``ValueError`` that names the field.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from featuredrop.atomic import atomic_write

T = TypeVar("T")

__all__ = ["from_dict", "to_dict", "save_json"]


def _coerce(name: str, tp: Any, value: Any) -> Any:
    """Convert ``value`` to the annotated type ``tp`` or raise ``ValueError`` naming ``name``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(name, arg, value)
            except ValueError as err:
                errors.append(str(err))
        raise ValueError(f"{name}: {value!r} matches none of {tp}")
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"{name} must be one of {list(args)}, got {value!r}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be a sequence, got {value!r}")
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(f"{name}[{i}]", args[0], v) for i, v in enumerate(value))
        if origin is tuple and args:
            if len(args) != len(value):
                raise ValueError(f"{name} must have {len(args)} entries, got {value!r}")
            return tuple(_coerce(f"{name}[{i}]", a, v) for i, (a, v) in enumerate(zip(args, value)))
        return list(value)
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        if isinstance(value, tp):
            return value
        if not isinstance(value, Mapping):
            raise ValueError(f"{name} must be a mapping for {tp.__name__}, got {value!r}")
        return from_dict(tp, value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{name} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"{name} must be an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    return value


def from_dict(cls: type[T], data: Mapping[str, Any]) -> T:
    """Build the dataclass ``cls`` from ``data``, rejecting unknown keys and wrong types.

    Nested dataclass fields accept nested mappings. Missing keys take the field defaults.

    Raises:
        ValueError: on an unknown key (the message lists the valid ones) or a value of the
            wrong type; also whatever ``cls.__post_init__`` raises for invalid values.
    """
    if not (dataclasses.is_dataclass(cls) and isinstance(cls, type)):
        raise TypeError(f"{cls!r} is not a dataclass type")
    if not isinstance(data, Mapping):
        raise ValueError(f"{cls.__name__} config must be a mapping, got {type(data).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown {cls.__name__} option(s) {unknown}; valid options: {sorted(fields)}"
        )
    hints = typing.get_type_hints(cls)
    kwargs = {key: _coerce(key, hints[key], value) for key, value in data.items()}
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    """Return a JSON-ready dict of a (nested) dataclass config; tuples become lists."""
    return json.loads(json.dumps(dataclasses.asdict(config)))


def save_json(path: str | Path, obj: Any) -> None:
    """Write ``obj`` (a dataclass or JSON-ready value) to ``path`` as indented JSON, atomically."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        obj = to_dict(obj)
    atomic_write(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")
