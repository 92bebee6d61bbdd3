"""The `constant` operand that element-wise layers, concat and `where` may take: a stored tensor
such as a position embedding, a class token, a rotary table or a mask, read like weights."""

from __future__ import annotations

import math

from pydantic import Field, NonNegativeInt, PositiveInt

from simulator.core.geometry import Shape
from simulator.core.layer_base import LayerBase


class WithConstant(LayerBase):
    """A layer that may take one stored tensor as an extra operand (`constant`). The constant
    is data of the model: it is read like weights (its elements are `weight_params`, at
    `weight_bits`) and its learned parameters count in `params` (`constant_params`, default
    all its elements; 0 for a fixed table such as a rotary cos/sin table or a mask; fewer than
    its elements when it is gathered from a smaller learned table)."""

    constant: list[PositiveInt] | None = Field(
        None, description="shape (without batch) of a stored tensor operand")
    constant_params: NonNegativeInt | None = Field(
        None, description="learned parameters behind the constant (default: its elements)")

    @property
    def weight_params(self) -> int:
        return math.prod(self.constant) if self.constant is not None else 0

    @property
    def params(self) -> int:
        learned = self.weight_params if self.constant_params is None else self.constant_params
        return (0 if self.shared_weights else learned) + self.extra_params


def operand_shapes(layer: WithConstant, input_shapes: list[Shape]) -> list[Shape]:
    """The layer's inputs plus its constant, if any."""
    shapes = [tuple(s) for s in input_shapes]
    if layer.constant is not None:
        shapes.append(tuple(layer.constant))
    return shapes
