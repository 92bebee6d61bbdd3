"""Vector-unit layers with their own counts: normalisation (LayerNorm, RMSNorm, standalone
BatchNorm), reductions over any axes, and masking (`where`, which may take a `constant`
operand: simulator/core/constant_operand.py).

Element operations per element (`vector_ops`, ours; per-row scalar work such as the square
root of a variance is left out, it is one operation per row):

| layer | statistics pass | normalise pass | affine | total |
|---|---|---|---|---|
| layernorm | x, x^2 summed: 3 | (x - mean) * rstd: 2 | * gamma, + beta: 1 each | 5-7 |
| rmsnorm | x^2 summed: 2 | x * rstd: 1 | * gamma (+ beta): 1 each | 3-5 |
| batchnorm (inference) | none (stored) | folded into one scale and one shift: 2 | included | 2 |
| reduce | one add / compare per input element (+ one divide per output for mean) | | | |
| where | one select per output element | | | |
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field

from simulator.core.constant_operand import WithConstant, operand_shapes
from simulator.core.geometry import Shape, broadcast_shapes
from simulator.core.layer_base import LayerBase, ShapeError


class NormLayer(LayerBase):
    """Normalisation: `layernorm` and `rmsnorm` over the axes from `axis` to the end (PyTorch's
    normalized_shape), `batchnorm` (inference, standalone: not after a conv) per channel (axis
    0). Parameters as PyTorch counts them: scale (`affine`) and shift (`bias`) vectors of the
    normalised size (channels for batchnorm); BatchNorm's running statistics are buffers."""

    type: Literal["norm"]
    kind: Literal["layernorm", "rmsnorm", "batchnorm"]
    axis: int = Field(-1, description="first normalised axis (layernorm, rmsnorm)")
    affine: bool = Field(True, description="a learned scale (gamma / weight)")
    bias: bool | None = Field(None, description="a learned shift (beta); default: true for "
                              "layernorm and batchnorm, false for rmsnorm")

    @property
    def has_bias(self) -> bool:
        return self.bias if self.bias is not None else self.kind != "rmsnorm"

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if not -len(shape) <= self.axis < len(shape):
            raise ShapeError(f"axis {self.axis} is outside a rank-{len(shape)} input",
                             field="axis")
        return shape

    @property
    def normalized_size(self) -> int:
        """Size of one scale vector: the channels (batchnorm) or the normalised axes."""
        if self.kind == "batchnorm":
            return self.input_shape[0]
        return math.prod(self.input_shape[self.axis % len(self.input_shape):])

    @property
    def extra_params(self) -> int:
        return self.normalized_size * (int(self.affine) + int(self.has_bias))

    @property
    def vector_ops(self) -> int:
        if self.kind == "batchnorm":
            per = 2
        else:
            per = (5 if self.kind == "layernorm" else 3) + int(self.affine) + int(self.has_bias)
        return self.output_elements * per


class ReduceLayer(LayerBase):
    """Mean, sum, max or min over `axes` of the per-sample shape (token mean pooling, a
    variance, an explicit sum); global pooling of a (C, H, W) map is `globalavgpool`."""

    type: Literal["reduce"]
    op: Literal["mean", "sum", "max", "min"]
    axes: list[int] = Field(min_length=1)
    keepdims: bool = True

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        rank = len(shape)
        if any(not -rank <= a < rank for a in self.axes):
            raise ShapeError(f"axes {self.axes} outside a rank-{rank} input", field="axes")
        axes = {a % rank for a in self.axes}
        if self.keepdims:
            return tuple(1 if i in axes else d for i, d in enumerate(shape))
        out = tuple(d for i, d in enumerate(shape) if i not in axes)
        return out or (1,)

    @property
    def vector_ops(self) -> int:
        return self.input_elements + (self.output_elements if self.op == "mean" else 0)


class WhereLayer(WithConstant):
    """Element-wise select, `where(condition, a, b)` (PyTorch's masked_fill): the `inputs` that
    are activations (scores, and the condition when it is computed), plus the stored operands
    (a causal mask, a fill value) as one `constant` of their broadcast shape. Operands broadcast
    as in NumPy; one select per output element."""

    type: Literal["where"]

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shapes = operand_shapes(self, input_shapes)
        out = broadcast_shapes(*shapes)
        if out is None:
            raise ShapeError(f"operand shapes {[list(s) for s in shapes]} do not broadcast",
                             field="inputs")
        return out

    @property
    def vector_ops(self) -> int:
        return self.output_elements

