"""Repeated layers of a run, simulated once.

Networks repeat themselves: ResNet-50's 72 layers are 36 distinct (layer, residency) cases on
tpu_v1 (the bottleneck blocks of a stage are identical after the first), a transformer's
decoder blocks are copies. A systolic layer's figures are a function of the layer's own fields, its
bound shapes and batch, where its operands live (the residency plan) and the run (arch and
options); the layer's name and the names of its inputs play no part. `repeat_key` is that
function's argument; two layers with equal keys get equal figures, so `simulate_batch` costs
the first and copies it for the others (`renamed`). A layer the user pins by name (mapping
override, weight file) is always costed on its own. Tested: every result field of a run with
and without the shortcut is equal (tests/kinds/systolic/test_repeats.py).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from simulator.core.layer_base import LayerBase
from simulator.core.results import LayerResult, copy_layer
from simulator.kinds.base import RunOptions

#: fields that name things (the layer, its producers) and so never change a figure
_NAMING_FIELDS = frozenset({"name", "inputs"})
_FIGURE_FIELDS: dict[type, tuple[str, ...]] = {}


def _figure_fields(cls: type[LayerBase]) -> tuple[str, ...]:
    names = _FIGURE_FIELDS.get(cls)
    if names is None:
        names = _FIGURE_FIELDS[cls] = tuple(n for n in cls.model_fields
                                            if n not in _NAMING_FIELDS)
    return names


def repeat_key(layer: LayerBase, plan: Hashable, options: RunOptions) -> Hashable | None:
    """What a layer's figures depend on, or None when it must be costed on its own (a mapping
    override or user weights name it). The field values enter by `repr`: exact for the
    numbers, strings, lists and nested models that layer fields hold (a float's repr
    round-trips; every field is in a model's repr, tested), and cheaper than hashing them one
    by one."""
    if layer.name in options.mapping or layer.name in options.weights or layer.weights_file:
        return None
    values = layer.__dict__
    fields = repr(tuple(values[name] for name in _figure_fields(type(layer))))
    return (type(layer), fields, layer.inputs is None, len(layer.inputs or ()),
            repr(layer.input_shapes), layer.output_shape, layer.batch, plan)


_CONTAINERS = (dict, list)


def _own(value: Any) -> Any:
    """A copy of the dicts and lists inside `value` (numbers and strings are immutable)."""
    if isinstance(value, dict):
        return {k: _own(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
    if isinstance(value, list):
        return [_own(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


def renamed(result: LayerResult, name: str) -> LayerResult:
    """A copy of `result` for the layer `name` (its own copies of every dict and list, so a
    later change to one layer's figures never reaches the other)."""
    update: dict[str, Any] = {"name": name}
    for key, value in {**result.__dict__, **(result.model_extra or {})}.items():
        if isinstance(value, _CONTAINERS):
            update[key] = _own(value)
    return copy_layer(result, update)
