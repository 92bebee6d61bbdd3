"""Layers and networks: validation, shape inference, MAC / parameter / byte counts, GEMM lowering.

Shapes exclude the batch: a feature map is (C, H, W), a vector (F,), a sequence (T, F) and a
matrix (M, N). The workload's `batch` multiplies activations, MACs and the GEMM M dimension.

Conventions (PyTorch's): conv/pool output size is floor((H + 2p - d(R-1) - 1) / s) + 1, or ceil
when `ceil_mode` is set (SCALE-Sim's files use ceil((H - R + s) / s), which the importer maps to
ceil_mode on an already-padded input).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Field, NonNegativeInt, PositiveInt, PrivateAttr, TypeAdapter, ValidationError, field_validator

from simulator.core.arch import Precision, StrictModel
from simulator.core.errors import NpusimError, from_validation_error, register_union_tags

Shape = tuple[int, ...]
IntPair = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]
PadSpec = Union[NonNegativeInt, tuple[NonNegativeInt, NonNegativeInt], Literal["same"]]


class ShapeError(ValueError):
    """A layer's shapes do not fit together; carries the offending field name."""

    def __init__(self, message: str, field: str | None = None, fix: str | None = None) -> None:
        super().__init__(message)
        self.field = field
        self.fix = fix


ACTIVATIONS = ("relu", "relu6", "sigmoid", "tanh", "swish", "hardswish", "hardsigmoid", "gelu",
               "softmax", "layernorm", "identity")
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]


def _bytes(elements: int, bits: int) -> int:
    """Bytes to hold `elements` values of `bits` each (sub-byte values packed, rounded up)."""
    return -(-elements * bits // 8)


def _pair(value: int | tuple[int, int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def _window_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """Output length of a sliding window (PyTorch's formula, with its ceil_mode rule)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        # PyTorch: the last window must start inside the (left-padded) input
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return span // stride + 1


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

    _input_shapes: list[Shape] = PrivateAttr(default_factory=list)
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

    def _bind(self, input_shapes: list[Shape], batch: int) -> None:
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
        return {"weights": _bytes(self.weight_params, precision.weight_bits),
                "ifmap": _bytes(self.input_elements, precision.activation_bits),
                "ofmap": _bytes(self.output_elements, precision.activation_bits)}

    def compulsory_dram_bytes(self, precision: Precision) -> dict[str, int]:
        """Minimum off-chip traffic if this layer ran alone with infinite on-chip memory: every
        weight and input read once, every output written once (Hennessy & Patterson's
        "compulsory" misses). Keys `read` and `write`, in bytes."""
        operands = self.operand_bytes(precision)
        return {"read": operands["weights"] + operands["ifmap"], "write": operands["ofmap"]}


# ------------------------------------------------------------------------------------------
# layers with MACs
# ------------------------------------------------------------------------------------------
class ConvLayer(LayerBase):
    """2-D convolution; `groups == in_channels == out_channels` is depthwise.
    BatchNorm is folded into the conv for compute, but its parameters count (torchvision)."""

    type: Literal["conv"]
    out_channels: PositiveInt
    kernel: IntPair
    stride: IntPair = 1
    padding: PadSpec = 0
    dilation: IntPair = 1
    groups: PositiveInt = 1
    bias: bool = False
    batchnorm: bool = False
    ceil_mode: bool = False
    activation: Activation | None = Field(None, description="fused activation, e.g. relu")
    ofmap_rule: Literal["pytorch", "scalesim"] = Field(
        "pytorch", description="pytorch: floor (or ceil with ceil_mode) window count; scalesim: "
        "ceil((H - R + stride) / stride) as SCALE-Sim sizes its ofmaps (set by the importer)")

    def _pads(self) -> tuple[int, int]:
        if self.padding == "same":
            kh, kw = _pair(self.kernel)
            dh, dw = _pair(self.dilation)
            return (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        return _pair(self.padding)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise ShapeError(f"conv needs a [C, H, W] input, got {list(shape)}", field="input")
        c, h, w = shape
        if c % self.groups:
            raise ShapeError(f"in channels {c} not divisible by groups {self.groups}",
                             field="groups", fix="use a groups value that divides the channels")
        if self.out_channels % self.groups:
            raise ShapeError(f"out_channels {self.out_channels} not divisible by groups "
                             f"{self.groups}", field="groups")
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (_pair(self.kernel), _pair(self.stride),
                                                   self._pads(), _pair(self.dilation))
        if ph < 0 or pw < 0:
            raise ShapeError("padding must not be negative", field="padding")
        if self.ofmap_rule == "scalesim":
            # SCALE-Sim (topology_utils.topo_calc_hyperparams): the ifmap is already padded and
            # ofmap = ceil((H - R + s) / s); unlike PyTorch's ceil_mode it keeps a last window
            # that starts past the input when R < s (e.g. 1x1 stride-2 on an even size).
            if ph or pw or dh != 1 or dw != 1:
                raise ShapeError("ofmap_rule 'scalesim' needs padding 0 and dilation 1 (the "
                                 "SCALE-Sim ifmap is already padded)", field="ofmap_rule",
                                 fix="pad the input size instead, or use ofmap_rule: pytorch")
            ho = -(-(h - kh + sh) // sh) if h >= kh else 0
            wo = -(-(w - kw + sw) // sw) if w >= kw else 0
        else:
            ho = _window_out(h, kh, sh, ph, dh, self.ceil_mode)
            wo = _window_out(w, kw, sw, pw, dw, self.ceil_mode)
        if ho <= 0 or wo <= 0:
            raise ShapeError(f"kernel {kh}x{kw} does not fit input {h}x{w} with padding "
                             f"{ph}x{pw}", field="kernel", fix="use a smaller kernel or more padding")
        return (self.out_channels, ho, wo)

    @property
    def in_channels(self) -> int:
        return self.input_shape[0]

    @property
    def is_depthwise(self) -> bool:
        return self.groups > 1 and self.groups == self.in_channels

    def gemms(self) -> list[Gemm]:
        # im2col: M = N*Ho*Wo, K = R*S*C/g, N = F/g, one GEMM per group
        _, ho, wo = self.output_shape
        kh, kw = _pair(self.kernel)
        return [Gemm(m=self.batch * ho * wo, k=kh * kw * self.in_channels // self.groups,
                     n=self.out_channels // self.groups, groups=self.groups)]

    @property
    def weight_params(self) -> int:
        kh, kw = _pair(self.kernel)
        return self.out_channels * kh * kw * self.in_channels // self.groups

    @property
    def extra_params(self) -> int:
        return self.out_channels * (int(self.bias) + 2 * int(self.batchnorm))

    @property
    def vector_ops(self) -> int:
        return self.output_elements if self.activation else 0


class LinearLayer(LayerBase):
    """Fully connected layer; a multi-dimensional input is flattened, except that a (T, F)
    sequence input applies the layer to each of the T tokens."""

    type: Literal["linear"]
    in_features: PositiveInt | None = None
    out_features: PositiveInt
    bias: bool = True
    tokens: PositiveInt | None = Field(None, description="apply per token (default: inferred)")
    activation: Activation | None = Field(None, description="fused activation, e.g. relu")

    def _tokens_and_features(self, shape: Shape) -> tuple[int, int]:
        if self.tokens is not None:
            total = math.prod(shape)
            if total % self.tokens:
                raise ShapeError(f"input of {total} elements does not split into {self.tokens} "
                                 "tokens", field="tokens")
            return self.tokens, total // self.tokens
        if len(shape) == 2 and self.in_features == shape[1]:
            return shape[0], shape[1]
        return 1, math.prod(shape)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        tokens, features = self._tokens_and_features(input_shapes[0])
        expected = self.in_features if self.in_features is not None else features
        if features != expected:
            raise ShapeError(f"in_features is {self.in_features} but the input "
                             f"{list(input_shapes[0])} has {features} features",
                             field="in_features", fix=f"set in_features: {features}")
        return (tokens, self.out_features) if tokens > 1 else (self.out_features,)

    @property
    def features_in(self) -> int:
        return self._tokens_and_features(self.input_shape)[1]

    @property
    def token_count(self) -> int:
        return self._tokens_and_features(self.input_shape)[0]

    def gemms(self) -> list[Gemm]:
        return [Gemm(m=self.batch * self.token_count, k=self.features_in, n=self.out_features)]

    @property
    def weight_params(self) -> int:
        return self.features_in * self.out_features

    @property
    def extra_params(self) -> int:
        return self.out_features if self.bias else 0

    @property
    def vector_ops(self) -> int:
        return self.output_elements if self.activation else 0


class MatmulLayer(LayerBase):
    """A plain (M x K) @ (K x N) product, `count` times (e.g. attention heads). By default both
    operands are activations (attention scores, context); set `weights: true` when the K x N
    operand is a stored weight matrix."""

    type: Literal["matmul"]
    m: PositiveInt
    k: PositiveInt
    n: PositiveInt
    count: PositiveInt = 1
    weights: bool = False

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        return (self.count, self.m, self.n) if self.count > 1 else (self.m, self.n)

    def gemms(self) -> list[Gemm]:
        return [Gemm(m=self.batch * self.m, k=self.k, n=self.n, groups=self.count,
                     weights_are_activations=not self.weights)]

    @property
    def weight_params(self) -> int:
        return self.k * self.n * self.count if self.weights else 0

    @property
    def input_elements(self) -> int:
        # left operand always; right operand too when it is an activation
        left = self.batch * self.count * self.m * self.k
        right = 0 if self.weights else self.batch * self.count * self.k * self.n
        return left + right


class LstmLayer(LayerBase):
    """One LSTM layer over `seq_len` steps, lowered to its gate matmuls: per step
    [x_t, h_{t-1}] (1 x (I+H)) times the stacked gate weights ((I+H) x 4H), then element-wise
    gate math. Biases as in PyTorch (b_ih and b_hh: 8H)."""

    type: Literal["lstm"]
    input_size: PositiveInt | None = None
    hidden_size: PositiveInt
    seq_len: PositiveInt | None = None

    def _steps_and_features(self, shape: Shape) -> tuple[int, int]:
        if len(shape) == 2:
            return shape[0], shape[1]
        return (self.seq_len or 1), math.prod(shape)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        steps, features = self._steps_and_features(input_shapes[0])
        if self.seq_len is not None and steps != self.seq_len:
            raise ShapeError(f"seq_len is {self.seq_len} but the input has {steps} steps",
                             field="seq_len")
        if self.input_size is not None and features != self.input_size:
            raise ShapeError(f"input_size is {self.input_size} but the input "
                             f"{list(input_shapes[0])} has {features} features",
                             field="input_size", fix=f"set input_size: {features}")
        return (steps, self.hidden_size)

    @property
    def steps(self) -> int:
        return self._steps_and_features(self.input_shape)[0]

    @property
    def features_in(self) -> int:
        return self._steps_and_features(self.input_shape)[1]

    def gemms(self) -> list[Gemm]:
        return [Gemm(m=self.batch, k=self.features_in + self.hidden_size, n=4 * self.hidden_size,
                     steps=self.steps)]

    @property
    def weight_params(self) -> int:
        return 4 * self.hidden_size * (self.features_in + self.hidden_size)

    @property
    def extra_params(self) -> int:
        return 8 * self.hidden_size

    @property
    def vector_ops(self) -> int:
        # per hidden unit and step: 3 sigmoids, 2 tanh, 3 multiplies, 1 add, 4 bias adds
        return self.batch * self.steps * self.hidden_size * 13


# ------------------------------------------------------------------------------------------
# layers without MACs
# ------------------------------------------------------------------------------------------
class PoolLayer(LayerBase):
    """Max or average pooling over a window."""

    type: Literal["maxpool", "avgpool"]
    kernel: IntPair
    stride: IntPair | None = None
    padding: NonNegativeInt | tuple[NonNegativeInt, NonNegativeInt] = 0
    ceil_mode: bool = False

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise ShapeError(f"pooling needs a [C, H, W] input, got {list(shape)}", field="input")
        c, h, w = shape
        (kh, kw) = _pair(self.kernel)
        (sh, sw) = _pair(self.stride) if self.stride is not None else (kh, kw)
        (ph, pw) = _pair(self.padding)
        ho = _window_out(h, kh, sh, ph, 1, self.ceil_mode)
        wo = _window_out(w, kw, sw, pw, 1, self.ceil_mode)
        if ho <= 0 or wo <= 0:
            raise ShapeError(f"pool window {kh}x{kw} does not fit input {h}x{w}", field="kernel")
        return (c, ho, wo)

    @property
    def vector_ops(self) -> int:
        kh, kw = _pair(self.kernel)
        return self.output_elements * kh * kw


class GlobalPoolLayer(LayerBase):
    """Global average or max pooling: (C, H, W) -> (C, 1, 1)."""

    type: Literal["globalavgpool", "globalmaxpool"]

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise ShapeError(f"global pooling needs a [C, H, W] input, got {list(shape)}",
                             field="input")
        return (shape[0], 1, 1)

    @property
    def vector_ops(self) -> int:
        return self.input_elements


class AdaptivePoolLayer(LayerBase):
    """Adaptive average / max pooling to a fixed `output_size` (PyTorch's AdaptiveAvgPool2d):
    output cell i covers input rows floor(i*H/Ho) .. ceil((i+1)*H/Ho) - 1, so windows may
    overlap and differ in size. An input already of the output size passes through unchanged."""

    type: Literal["adaptiveavgpool", "adaptivemaxpool"]
    output_size: IntPair

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise ShapeError(f"adaptive pooling needs a [C, H, W] input, got {list(shape)}",
                             field="input")
        ho, wo = _pair(self.output_size)
        return (shape[0], ho, wo)

    @staticmethod
    def _window_total(size: int, out: int) -> int:
        """Sum of the window lengths along one axis (PyTorch's start/end index rule)."""
        return sum(-(-((i + 1) * size) // out) - (i * size) // out for i in range(out))

    @property
    def vector_ops(self) -> int:
        _, h, w = self.input_shape
        c, ho, wo = self.output_shape
        return self.batch * c * self._window_total(h, ho) * self._window_total(w, wo)


class EltwiseLayer(LayerBase):
    """Element-wise add or multiply of two or more inputs (residual add, squeeze-excite
    scale). A (C, 1, 1) operand broadcasts over (C, H, W)."""

    type: Literal["add", "mul"]
    activation: Activation | None = Field(None, description="fused activation after the add, "
                                          "e.g. relu in a ResNet block")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        if len(input_shapes) < 2:
            raise ShapeError(f"{self.type} needs at least two inputs", field="inputs",
                             fix="list the layers to combine, e.g. inputs: [conv3, shortcut]")
        out = max(input_shapes, key=math.prod)
        for shape in input_shapes:
            if shape == out:
                continue
            broadcast = len(shape) == len(out) and all(a in (1, b) for a, b in zip(shape, out))
            if not broadcast:
                raise ShapeError(f"input shapes {[list(s) for s in input_shapes]} do not match",
                                 field="inputs", fix="combine layers of the same shape")
        return out

    @property
    def vector_ops(self) -> int:
        return self.output_elements * (len(self._input_shapes) - 1 + int(bool(self.activation)))


class ActivationLayer(LayerBase):
    """A non-linearity applied element-wise (softmax and layernorm included: they are
    vector-unit work too)."""

    type: Literal["activation"]
    function: Activation

    @property
    def vector_ops(self) -> int:
        return self.output_elements


class ConcatLayer(LayerBase):
    """Concatenation along channels (the first axis)."""

    type: Literal["concat"]

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        if len(input_shapes) < 2:
            raise ShapeError("concat needs at least two inputs", field="inputs")
        rest = input_shapes[0][1:]
        for shape in input_shapes[1:]:
            if shape[1:] != rest:
                raise ShapeError(f"cannot concatenate shapes {[list(s) for s in input_shapes]}: "
                                 "all but the first axis must match", field="inputs")
        return (sum(s[0] for s in input_shapes),) + tuple(rest)


class FlattenLayer(LayerBase):
    """Reshape to a vector (free: no data moves)."""

    type: Literal["flatten"]

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        return (math.prod(input_shapes[0]),)

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        """A reshape moves no data."""
        return {"weights": 0, "ifmap": 0, "ofmap": 0}


Layer = Annotated[Union[ConvLayer, LinearLayer, MatmulLayer, LstmLayer, PoolLayer,
                        GlobalPoolLayer, AdaptivePoolLayer, EltwiseLayer, ActivationLayer,
                        ConcatLayer, FlattenLayer],
                  Field(discriminator="type")]
LAYER_TYPES = ("conv", "linear", "matmul", "lstm", "maxpool", "avgpool", "globalavgpool",
               "globalmaxpool", "adaptiveavgpool", "adaptivemaxpool", "add", "mul", "activation",
               "concat", "flatten")
register_union_tags(*LAYER_TYPES)
_LAYER_ADAPTER: TypeAdapter = TypeAdapter(Layer)


class Workload(StrictModel):
    """A network: a named list of layers with a batch size and (optionally) a precision."""

    name: str
    description: str = ""
    batch: PositiveInt = 1
    input: list[PositiveInt] | None = Field(None, description="network input shape, e.g. [3, 224, 224]")
    precision: Precision | None = None
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per layer type default fields, e.g. {conv: {batchnorm: true}}")
    layers: list[Layer] = Field(min_length=1)
    source: str = ""

    @field_validator("defaults")
    @classmethod
    def _known_default_types(cls, defaults: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for layer_type in defaults:
            if layer_type not in LAYER_TYPES:
                raise ValueError(f"unknown layer type {layer_type!r}; "
                                 f"use one of {', '.join(LAYER_TYPES)}")
        return defaults

    @field_validator("layers", mode="before")
    @classmethod
    def _apply_defaults(cls, layers: Any, info: Any) -> Any:
        defaults = (info.data or {}).get("defaults") or {}
        if not defaults or not isinstance(layers, list):
            return layers

        out = []
        for layer in layers:
            if isinstance(layer, dict) and layer.get("type") in defaults:
                layer = {**defaults[layer["type"]], **layer}
            out.append(layer)
        return out

    def resolve(self, source: str | Path = "<workload>") -> "Workload":
        """Infer every layer's input and output shapes; bad shapes become one-line errors."""
        seen: dict[str, Shape] = {}
        previous: Shape | None = tuple(self.input) if self.input else None
        for index, layer in enumerate(self.layers):
            field_prefix = f"layers[{index}] ({layer.name})"
            if layer.name in seen:
                raise NpusimError(f"duplicate layer name {layer.name!r}", file=source,
                                  field=f"{field_prefix}.name", fix="give every layer a unique name")
            if layer.inputs:
                shapes = []
                for ref in layer.inputs:
                    if ref not in seen:
                        raise NpusimError(f"input {ref!r} is not an earlier layer", file=source,
                                          field=f"{field_prefix}.inputs",
                                          fix="name a layer defined above this one")
                    shapes.append(seen[ref])
                if layer.input is not None:
                    shapes = [tuple(layer.input)] + shapes[1:]
            elif layer.input is not None:
                shapes = [tuple(layer.input)]
            elif isinstance(layer, MatmulLayer):
                # a matmul states its own operand sizes: its input is the left (M x K) operand
                shapes = [(layer.count, layer.m, layer.k) if layer.count > 1 else (layer.m, layer.k)]
            elif previous is not None:
                shapes = [previous]
            else:
                raise NpusimError("the first layer needs an input shape", file=source,
                                  field=f"{field_prefix}.input",
                                  fix="add input: [C, H, W] to the layer or to the workload")
            try:
                layer._bind(shapes, self.batch)
            except ShapeError as exc:
                raise NpusimError(str(exc), file=source,
                                  field=f"{field_prefix}.{exc.field}" if exc.field else field_prefix,
                                  fix=exc.fix) from None
            seen[layer.name] = layer.output_shape
            previous = layer.output_shape
        return self

    # ---- totals ------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def layer(self, name: str) -> LayerBase:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def summary(self) -> dict[str, Any]:
        """What a report needs to name the workload."""
        return {"name": self.name, "batch": self.batch, "layers": len(self.layers),
                "macs": self.macs, "params": self.params,
                "precision": self.precision.model_dump() if self.precision else None,
                "source": self.source}


def _name_layer_in_error(error: NpusimError, data: Any) -> NpusimError:
    """Turn field `layers[3].strid` into `layers[3] (conv2).strid` so users find the line."""
    match = re.match(r"layers\[(\d+)\](.*)", error.field or "")
    layers = data.get("layers") if isinstance(data, dict) else None
    if match and isinstance(layers, list) and int(match.group(1)) < len(layers):
        layer = layers[int(match.group(1))]
        if isinstance(layer, dict) and isinstance(layer.get("name"), str):
            error = NpusimError(error.message, file=error.file,
                                field=f"layers[{match.group(1)}] ({layer['name']}){match.group(2)}",
                                fix=error.fix)
    return error


def workload_from_dict(data: dict, source: str | Path = "<workload>") -> Workload:
    """Validate a plain dict (as read from YAML) into a resolved workload."""
    try:
        workload = Workload.model_validate(data)
    except ValidationError as exc:
        error = from_validation_error(exc, source)
        raise _name_layer_in_error(error, data) from None
    workload.source = workload.source or str(source)
    return workload.resolve(source)


def load_workload(name_or_path: str | Path, batch: int | None = None,
                  input_shapes: dict[str, list[int]] | list[int] | None = None,
                  skip_unknown: bool = False) -> Workload:
    """Load a workload from a bundled name (`resnet50`), a YAML file, a SCALE-Sim topology CSV
    or an ONNX model (`input_shapes` and `skip_unknown` apply to ONNX only)."""
    from simulator.io.config import WORKLOAD_DIR, read_yaml, resolve_bundled

    path = resolve_bundled(str(name_or_path), WORKLOAD_DIR, (".yaml", ".yml", ".csv", ".onnx"),
                           "workload")
    if path.suffix == ".csv":
        from simulator.io.scalesim import read_scalesim_topology
        data = read_scalesim_topology(path)
    elif path.suffix == ".onnx":
        from simulator.io.onnx.reader import onnx_to_workload_dict
        data = onnx_to_workload_dict(path, batch=batch, input_shapes=input_shapes,
                                     skip_unknown=skip_unknown)
    else:
        data = read_yaml(path)
    if batch is not None:
        data = {**data, "batch": batch}
    return workload_from_dict(data, path)
