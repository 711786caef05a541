"""Value checks shared by the deep arm's configs and registries (each error names the offending field)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TypeVar

T = TypeVar("T")

__all__ = ["positive", "one_of", "registered"]


def positive(owner: str, **values: float | int | None) -> None:
    """Raise ``ValueError`` for the first value that is not ``None`` and not > 0 (or not finite)."""
    for name, value in values.items():
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{owner}.{name} must be > 0, got {value!r}")


def one_of(field: str, value: object, allowed: Iterable[str]) -> None:
    """Raise ``ValueError`` naming ``field`` when ``value`` is not one of ``allowed``."""
    allowed = tuple(allowed)
    if value not in allowed:
        raise ValueError(f"{field} must be one of {allowed}, got {value!r}")


def registered(registry: Mapping[str, T], name: str, field: str) -> T:
    """The entry ``name`` of a registry; ``ValueError`` naming ``field`` and the known names otherwise."""
    one_of(field, name, registry)
    return registry[name]
