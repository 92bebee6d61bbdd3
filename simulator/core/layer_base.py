"""The layer model every layer type shares: fields, bound shapes, counts, GEMM lowering.

A layer is validated from its fields, then bound to its input shapes by `Workload.resolve`
(`LayerBase.bind`), after which its output shape, MACs, parameters and bytes are known.
The batch multiplies activations, MACs and the GEMM M dimension.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field, PositiveInt, PrivateAttr

from simulator.core.arch import Precision, StrictModel
from simulator.core.geometry import Shape, packed_bytes


class ShapeError(ValueError):
    """A layer's shapes do not fit together; carries the offending field name."""

    def __init__(self, message: str, field: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.fix = fix


ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "swish", "hardswish", "hardsigmoid", "gelu",
               "softmax", "layernorm", "identity")
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


@dataclass(frozen=True)
class Gemm:
    """One lowered matrix multiply: (M x K) activations times (K x N) weights.

    `groups` independent GEMMs of this size run with distinct weights (grouped / depthwise conv,
    attention heads). `steps` sequential repeats reuse the same weights, each depending on the
    previous one (LSTM time steps). `weights_are_activations` marks activation x activation
    products (attention), whose "weights" come from on-chip activations, not from the model.
    """

    m: int
    k: int
    n: int
    groups: int = 1
    steps: int = 1
    weights_are_activations: bool = False

    @property
    def macs(self) -> int:
        return self.m * self.k * self.n * self.groups * self.steps


class LayerBase(StrictModel):
    """Fields every layer has. Subclasses implement shape inference and the counts."""

    name: str = Field(min_length=1)
    input: list[PositiveInt] | None = Field(
        None, description="explicit input shape without batch, e.g. [3, 224, 224]")
    inputs: list[str] | None = Field(
        None, description="names of the layers feeding this one (default: the previous layer)")
    weight_density: float = Field(1.0, gt=0, le=1, description="fraction of non-zero weights")
    activation_density: float = Field(1.0, gt=0, le=1,
                                      description="fraction of non-zero input activations")
    weights_file: str | None = Field(
        None, description="pruned weights (.npy / .npz) for sparse engines; relative to the file")

    # a plain default, not default_factory=list: pydantic inspects a factory's signature on every
    # instance, which for a builtin such as list costs more than the rest of the validation
    _input_shapes: list[Shape] = PrivateAttr(default=[])
    _output_shape: Shape = PrivateAttr(default=())
    _batch: int = PrivateAttr(default=1)

    # ---- filled in by Workload.resolve() -------------------------------------------------
    @property
    def input_shapes(self) -> list[Shape]:
        return self._input_shapes

    @property
    def input_shape(self) -> Shape:
        return self._input_shapes[0]

    @property
    def output_shape(self) -> Shape:
        return self._output_shape

    @property
    def batch(self) -> int:
        return self._batch

    def bind(self, input_shapes: list[Shape], batch: int) -> None:
        self._input_shapes = input_shapes
        self._batch = batch
        self._output_shape = self.infer_shape(input_shapes)
        if any(d <= 0 for d in self._output_shape):
            raise ShapeError(f"output shape {list(self._output_shape)} is empty for input "
                             f"{[list(s) for s in input_shapes]}",
                             fix="check kernel, stride and padding against the input size")

    # ---- to be specialised ---------------------------------------------------------------
    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        """Output shape (without batch) from the input shapes."""
        return input_shapes[0]

    def gemms(self) -> list[Gemm]:
        """The layer lowered to matrix multiplies (empty for layers without MACs)."""
        return []

    @property
    def weight_params(self) -> int:
        """Number of weights (excluding bias and norm parameters)."""
        return 0

    @property
    def extra_params(self) -> int:
        """Bias and normalisation parameters, counted as parameters like torchvision does."""
        return 0

    @property
    def params(self) -> int:
        return self.weight_params + self.extra_params

    @property
    def macs(self) -> int:
        return sum(g.macs for g in self.gemms())

    @property
    def vector_ops(self) -> int:
        """Element-wise operations (comparisons, adds, activation evaluations) for the batch."""
        return 0

    @property
    def input_elements(self) -> int:
        return self.batch * sum(math.prod(s) for s in self._input_shapes)

    @property
    def output_elements(self) -> int:
        return self.batch * math.prod(self._output_shape)

    @property
    def is_compute(self) -> bool:
        """True when the layer has MACs (conv, linear, matmul, lstm)."""
        return bool(self.gemms())

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        """Bytes of each operand for the whole batch at `precision`: `weights` (stored model
        weights, dense, at weight_bits; bias and folded-BatchNorm terms excluded), `ifmap` (all
        input activations, including an activation right-hand operand of a matmul) and `ofmap`
        (the output), both at activation_bits. Sparse engines size their compressed formats
        themselves from `weight_density`."""
        return {"weights": packed_bytes(self.weight_params, precision.weight_bits),
                "ifmap": packed_bytes(self.input_elements, precision.activation_bits),
                "ofmap": packed_bytes(self.output_elements, precision.activation_bits)}

    def compulsory_dram_bytes(self, precision: Precision) -> dict[str, int]:
        """Minimum off-chip traffic if this layer ran alone with infinite on-chip memory: every
        weight and input read once, every output written once (Hennessy & Patterson's
        "compulsory" misses). Keys `read` and `write`, in bytes."""
        operands = self.operand_bytes(precision)
        return {"read": operands["weights"] + operands["ifmap"], "write": operands["ofmap"]}
