"""The layer model every layer type shares: fields, bound shapes, counts, GEMM lowering.

A layer is validated from its fields, then bound to its input shapes by `Workload.resolve`
(`LayerBase.bind`), after which its output shape, MACs, parameters and bytes are known.
The batch multiplies activations, MACs and the GEMM M dimension.
"""

from __future__ import annotations

import math
from typing import Literal, NamedTuple

from pydantic import Field, NonNegativeInt, PositiveInt, PrivateAttr

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


class HuffmanCoding(StrictModel):
    """Huffman coding of a layer's stored weight symbols (codebook indices or quantized values)
    and, for sparse storage, of its relative row indices (Deep Compression, Han et al., ICLR
    2016, Sec. 4). The code is built from the histograms when given (counts of each symbol,
    measured or read from real weights), else from the documented default distributions of
    docs/compression.md."""

    weight_histogram: list[NonNegativeInt] | None = Field(
        None, description="count of each weight symbol (index into the codebook or quantization "
        "level, lowest first); default: pruned Gaussian weights on a linear codebook")
    index_histogram: list[NonNegativeInt] | None = Field(
        None, description="count of each relative-index value 0 .. 2^index_bits - 1; default: "
        "zero runs of i.i.d. Bernoulli(weight_density) positions")
    source: str = Field("default", description="where the histograms come from (file, note)")


class Gemm(NamedTuple):
    """One lowered matrix multiply: (M x K) activations times (K x N) weights.

    `groups` independent GEMMs of this size run with distinct weights (grouped / depthwise conv,
    attention heads). `steps` sequential repeats reuse the same weights, each depending on the
    previous one (LSTM time steps). `weights_are_activations` marks activation x activation
    products (attention), whose "weights" come from on-chip activations, not from the model.
    A named tuple (immutable, built in half the time of a frozen dataclass: layers lower to
    GEMMs on every run and sweep point); compare GEMMs with each other, not with plain tuples.
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
    # ---- compression (set by the transforms of simulator.compress; docs/compression.md) ----
    weight_bits: int | None = Field(
        None, ge=1, le=32, description="this layer's quantized weight width in bits "
        "(default: the workload's precision, else the arch's)")
    activation_bits: int | None = Field(
        None, ge=1, le=32, description="this layer's quantized input/output activation width")
    accumulator_bits: int | None = Field(
        None, ge=8, le=64, description="accumulator width this layer needs (set by quantization)")
    sparse_index_bits: int | None = Field(
        None, ge=1, le=16, description="bits of a relative row index in the sparse (CSC) weight "
        "storage; default 4 (EIE, Deep Compression) when weight_density < 1")
    codebook_entries: int | None = Field(
        None, ge=2, le=65536, description="weight sharing: number of shared weight values; the "
        "weights are stored as ceil(log2(entries))-bit indices")
    codebook_bits: int | None = Field(
        None, ge=1, le=32, description="bits of each shared weight value in the codebook (the "
        "width the MACs then run at)")
    huffman: HuffmanCoding | None = Field(
        None, description="Huffman coding of the stored weight symbols and relative indices")

    shared_weights: bool = Field(
        False, description="the weights are another layer's (a tied embedding and output head): "
        "stored, moved and used as usual, but counted once, in that other layer's params")

    # a default, not default_factory=list: pydantic 2.13 inspects a factory's signature on every
    # instantiation (0.5 ms for a builtin), which dominated importing a 300-layer model
    _input_shapes: list[Shape] = PrivateAttr(default=[])
    _output_shape: Shape = PrivateAttr(default=())
    _batch: int = PrivateAttr(default=1)

    # ---- filled in by Workload.resolve() -------------------------------------------------
    # read from pydantic's private-attribute dict directly: `self._batch` goes through
    # BaseModel.__getattr__ (about 1 us each), and engines read these thousands of times a run
    @property
    def input_shapes(self) -> list[Shape]:
        return self.__pydantic_private__["_input_shapes"]

    @property
    def input_shape(self) -> Shape:
        return self.__pydantic_private__["_input_shapes"][0]

    @property
    def output_shape(self) -> Shape:
        return self.__pydantic_private__["_output_shape"]

    @property
    def batch(self) -> int:
        return self.__pydantic_private__["_batch"]

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
        """Parameters as PyTorch counts them (`sum(p.numel())`): weights (unless they are
        another layer's, `shared_weights`) plus bias and normalisation parameters."""
        return (0 if self.shared_weights else self.weight_params) + self.extra_params

    @property
    def stored_weight_elements(self) -> int:
        """Weights the chip stores and reads: the K x N weight operand of every GEMM that
        multiplies model weights (equal to `weight_params`, except for a Winograd convolution,
        whose transformed filters are (m+2)^2 / 9 times larger)."""
        return sum(g.k * g.n * g.groups for g in self.gemms() if not g.weights_are_activations)

    @property
    def macs(self) -> int:
        """MACs of the layer's GEMMs (the layer types with GEMMs compute it in closed form)."""
        gemms = self.gemms()
        return sum(g.macs for g in gemms) if gemms else 0

    @property
    def vector_ops(self) -> int:
        """Element-wise operations (comparisons, adds, activation evaluations) for the batch."""
        return 0

    @property
    def input_elements(self) -> int:
        return self.batch * sum(math.prod(s) for s in self.input_shapes)

    @property
    def output_elements(self) -> int:
        return self.batch * math.prod(self.output_shape)

    @property
    def is_view(self) -> bool:
        """True when the layer only re-labels data that stays where it is (concat, flatten,
        reshape, slice, expand, a transpose of size-1 axes): no work, no traffic of its own;
        its consumers read its producers' data in place (docs/models.md, section 1)."""
        return False

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
