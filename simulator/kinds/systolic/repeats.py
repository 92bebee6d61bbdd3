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

from collections.abc import Callable, Hashable
from marshal import dumps
from operator import itemgetter
from typing import Any

from simulator.core.layer_base import LayerBase
from simulator.kinds.base import RunOptions

#: fields that name things (the layer, its producers) and so never change a figure
_NAMING_FIELDS = frozenset({"name", "inputs"})
#: per layer class, what reads its other fields' values from a layer's `__dict__`
_FIGURE_FIELDS: dict[type, Callable[[dict], Any]] = {}


def _figure_fields(cls: type[LayerBase]) -> Callable[[dict], Any]:
    getter = _FIGURE_FIELDS.get(cls)
    if getter is None:
        names = [n for n in cls.model_fields if n not in _NAMING_FIELDS]
        getter = _FIGURE_FIELDS[cls] = itemgetter(*names)
    return getter


def repeat_key(layer: LayerBase, plan: Hashable, options: RunOptions) -> Hashable | None:
    """What a layer's figures depend on, or None when it must be costed on its own (a mapping
    override or user weights name it). The field values enter as bytes: `marshal` (format 2,
    which writes every value in full: no back-references) writes the numbers, strings and lists
    layer fields hold exactly and by type (1, 1.0 and True differ; a float as its 8 bytes), so
    equal bytes mean equal values; a value marshal cannot write (a nested model) falls back to
    the whole tuple's `repr` (every field is in a model's repr, tested). Bound shapes are tuples
    of integers, compared as they are."""
    # the field values from the layer's `__dict__` (one attribute read of a pydantic model
    # costs about ten dict look-ups)
    field_values = layer.__dict__
    name = field_values["name"]
    if name in options.mapping or name in options.weights or field_values["weights_file"]:
        return None
    values = _figure_fields(type(layer))(field_values)
    try:
        fields: bytes | str = dumps(values, 2)
    except ValueError:
        fields = repr(values)
    inputs = field_values["inputs"]
    return (type(layer), fields, inputs is None, len(inputs or ()),
            tuple(layer.input_shapes), layer.output_shape, layer.batch, plan)
