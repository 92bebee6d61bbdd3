"""What a result shares with another: the mutable containers inside a layer result."""

from __future__ import annotations

from typing import Any


def containers(value: Any, out: set[int]) -> set[int]:
    """Add to `out` the ids of every dict and list inside `value` (itself included)."""
    if isinstance(value, (dict, list)):
        out.add(id(value))
        for item in value.values() if isinstance(value, dict) else value:
            containers(item, out)
    return out


def layer_containers(layer: Any) -> set[int]:
    """The ids of every dict and list a layer result holds in its fields and extras."""
    out: set[int] = set()
    for value in (*layer.__dict__.values(), *(layer.model_extra or {}).values()):
        containers(value, out)
    return out
