"""Repeated layers of a run, simulated once.

Networks repeat themselves: ResNet-50's 72 layers are 36 distinct (layer, residency) cases on
tpu_v1 (the bottleneck blocks of a stage are identical after the first), a transformer's
decoder blocks are copies. A systolic layer's figures are a function of the layer's own fields, its
bound shapes and batch, where its operands live (the residency plan) and the run (arch and
options); the layer's name and the names of its inputs play no part. `repeat_key` is that
function's argument; two layers with equal keys get equal figures, so `simulate_batch` costs
the first and copies it for the others, and the run says which layer repeats which
(`EngineRun.copy_of`: `simulator.api` prices and annotates the first and copies its result).
A layer the user pins by name (mapping override, weight file) is always costed on its own.
Tested: every result field of a run with and without the shortcut is equal
(tests/kinds/systolic/test_repeats.py).
"""

from __future__ import annotations

from collections.abc import Hashable

from simulator.core.layer_base import LayerBase
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
