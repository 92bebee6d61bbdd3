"""The layer types: convolution, linear, matmul, LSTM, pooling, element-wise, activation,
concat and flatten, each with its shape inference and counts; data-movement layers (reshape,
slice, expand, transpose, pad, embedding) live in `layout_layers`, normalisation, reductions
and masking in `vector_layers`, and all of them join the `Layer` union in `layer_union`.

Conventions (PyTorch's): conv/pool output size is floor((H + 2p - d(R-1) - 1) / s) + 1, or ceil
when `ceil_mode` is set (SCALE-Sim's files use ceil((H - R + s) / s), which the importer maps to
`ofmap_rule: scalesim` on an already-padded input).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt

from simulator.core.arch import Precision
from simulator.core.constant_operand import WithConstant, operand_shapes
from simulator.core.geometry import IntPair, PadSpec, Shape, broadcast_shapes, pair, window_out
from simulator.core.layer_base import Activation, Gemm, LayerBase, ShapeError
from simulator.core.winograd import ALGORITHMS, eligibility_problem, output_tiles


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
    winograd: Literal["f2", "f4"] | None = Field(
        None, description="run as Winograd F(2x2,3x3) or F(4x4,3x3) (3x3 stride-1 only; "
        "core/winograd.py)")

    @property
    def pads(self) -> tuple[int, int]:
        if self.padding == "same":
            kh, kw = pair(self.kernel)
            dh, dw = pair(self.dilation)
            return (dh * (kh - 1) // 2, dw * (kw - 1) // 2)
        return pair(self.padding)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(shape) != 3:
            raise ShapeError(f"conv needs a [C, H, W] input, got {list(shape)}", field="input")
        if self.winograd:
            problem = eligibility_problem(pair(self.kernel), pair(self.stride), pair(self.dilation))
            if problem:
                raise ShapeError(problem, field="winograd", fix="remove winograd from this layer")
        c, h, w = shape
        if c % self.groups:
            raise ShapeError(f"in channels {c} not divisible by groups {self.groups}",
                             field="groups", fix="use a groups value that divides the channels")
        if self.out_channels % self.groups:
            raise ShapeError(f"out_channels {self.out_channels} not divisible by groups "
                             f"{self.groups}", field="groups")
        (kh, kw), (sh, sw), (ph, pw), (dh, dw) = (pair(self.kernel), pair(self.stride),
                                                   self.pads, pair(self.dilation))
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
            ho = window_out(h, kh, sh, ph, dh, self.ceil_mode)
            wo = window_out(w, kw, sw, pw, dw, self.ceil_mode)
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

    @property
    def type_label(self) -> str:
        """The type as tables and plots show it, from the shape: `conv/dw` (depthwise: one
        group per input channel), `conv/g` (grouped), `conv/pw` (pointwise: 1x1, one group),
        else `conv`. These map to GEMMs very differently (docs/models.md), so reports tell
        them apart."""
        if self.is_depthwise:
            return "conv/dw"
        if self.groups > 1:
            return "conv/g"
        return "conv/pw" if pair(self.kernel) == (1, 1) else "conv"

    def direct_gemms(self) -> list[Gemm]:
        """The direct (im2col) lowering: M = N*Ho*Wo, K = R*S*C/g, N = F/g, one GEMM per group."""
        return [Gemm(*self._direct_dims())]

    def _direct_dims(self) -> tuple[int, int, int, int]:
        """(M, K, N, groups) of the direct lowering."""
        _, ho, wo = self.output_shape
        kh, kw = pair(self.kernel)
        return (self.batch * ho * wo, kh * kw * self.in_channels // self.groups,
                self.out_channels // self.groups, self.groups)

    def _gemm_dims(self) -> tuple[int, int, int, int]:
        """(M, K, N, groups) of the lowering `gemms()` uses."""
        if not self.winograd:
            return self._direct_dims()
        # Lavin & Gray Sec. 4.1: alpha^2 element-wise GEMMs (tiles x C/g) @ (C/g x F/g) per group
        alpha = ALGORITHMS[self.winograd].alpha
        return (self.batch * self.winograd_tiles, self.in_channels // self.groups,
                self.out_channels // self.groups, self.groups * alpha * alpha)

    @property
    def winograd_tiles(self) -> int:
        """Output tiles per image under Winograd (0 without it)."""
        if not self.winograd:
            return 0
        _, ho, wo = self.output_shape
        return output_tiles(ho, wo, ALGORITHMS[self.winograd].m)

    @property
    def winograd_transform_ops(self) -> int:
        """Input and output transform work of a Winograd convolution for the batch (additions
        plus constant scalings; counts per tile in core/winograd.py)."""
        if not self.winograd:
            return 0
        algo = ALGORITHMS[self.winograd]
        per_tile = (self.in_channels * (algo.input_transform_adds + algo.input_transform_scalings)
                    + self.out_channels * (algo.output_transform_adds
                                           + algo.output_transform_scalings))
        return self.batch * self.winograd_tiles * per_tile

    def gemms(self) -> list[Gemm]:
        return [Gemm(*self._gemm_dims())]

    @property
    def macs(self) -> int:
        """M x K x N x groups of `gemms()`, from the same dimensions without building the GEMM
        record: a workload's summary reads every layer's MACs on every run."""
        m, k, n, groups = self._gemm_dims()
        return m * k * n * groups

    @property
    def weight_params(self) -> int:
        kh, kw = pair(self.kernel)
        return self.out_channels * kh * kw * self.in_channels // self.groups

    @property
    def extra_params(self) -> int:
        return self.out_channels * (int(self.bias) + 2 * int(self.batchnorm))

    @property
    def vector_ops(self) -> int:
        return (self.output_elements if self.activation else 0) + self.winograd_transform_ops


class LinearLayer(LayerBase):
    """Fully connected layer; a multi-dimensional input is flattened, except that an input
    whose last axis has `in_features` elements applies the layer to each of the positions of
    the other axes (a (T, F) sequence: each of the T tokens; (H, W, F): each pixel, as
    PyTorch's nn.Linear does), keeping those axes in the output."""

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
        if len(shape) >= 2 and self.in_features == shape[-1]:
            return math.prod(shape[:-1]), shape[-1]
        return 1, math.prod(shape)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        tokens, features = self._tokens_and_features(shape)
        expected = self.in_features if self.in_features is not None else features
        if features != expected:
            raise ShapeError(f"in_features is {self.in_features} but the input "
                             f"{list(input_shapes[0])} has {features} features",
                             field="in_features", fix=f"set in_features: {features}")
        if self.tokens is None and len(shape) >= 3 and shape[-1] == features:
            return tuple(shape[:-1]) + (self.out_features,)  # per position, axes kept
        return (tokens, self.out_features) if tokens > 1 else (self.out_features,)

    @property
    def features_in(self) -> int:
        return self._tokens_and_features(self.input_shape)[1]

    @property
    def token_count(self) -> int:
        return self._tokens_and_features(self.input_shape)[0]

    def gemms(self) -> list[Gemm]:
        return [Gemm(*self._gemm_dims())]

    def _gemm_dims(self) -> tuple[int, int, int]:
        """(M, K, N): every token of the batch times the weight matrix."""
        tokens, features = self._tokens_and_features(self.input_shape)
        return self.batch * tokens, features, self.out_features

    @property
    def macs(self) -> int:
        """M x K x N of `gemms()`, without building the GEMM record."""
        m, k, n = self._gemm_dims()
        return m * k * n

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
    kv_cache: bool = Field(
        False, description="the K x N operand is a KV cache (keys or values of the tokens so "
        "far): kept across decode steps, on chip while it fits the arch's SRAM, else read from "
        "DRAM every step (LLM decode)")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        left = input_shapes[0] if input_shapes else ()
        if len(left) >= 3 and tuple(left[-2:]) == (self.m, self.k) and \
                math.prod(left[:-2]) == self.count:
            return tuple(left[:-2]) + (self.m, self.n)  # batched: keeps the left batch axes
        return (self.count, self.m, self.n) if self.count > 1 else (self.m, self.n)

    def gemms(self) -> list[Gemm]:
        if self.weights:  # one stored K x N matrix per `count`, shared by the whole batch
            return [Gemm(m=self.batch * self.m, k=self.k, n=self.n, groups=self.count)]
        # activation x activation: every sample has its own right operand (its keys, values)
        return [Gemm(m=self.m, k=self.k, n=self.n, groups=self.count * self.batch,
                     weights_are_activations=True)]

    @property
    def macs(self) -> int:
        """The MACs of `gemms()` (either lowering: every sample's M x K x N, `count` times)
        without building them (tested equal)."""
        return self.batch * self.m * self.k * self.n * self.count

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
        return [Gemm(*self._gemm_dims())]

    def _gemm_dims(self) -> tuple[int, int, int, int, int]:
        """(M, K, N, groups, steps): the four gates' weights times [x_t, h_{t-1}], per step."""
        steps, features = self._steps_and_features(self.input_shape)
        return self.batch, features + self.hidden_size, 4 * self.hidden_size, 1, steps

    @property
    def macs(self) -> int:
        """M x K x N x steps of `gemms()`, without building the GEMM record."""
        m, k, n, _, steps = self._gemm_dims()
        return m * k * n * steps

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
        (kh, kw) = pair(self.kernel)
        (sh, sw) = pair(self.stride) if self.stride is not None else (kh, kw)
        (ph, pw) = pair(self.padding)
        ho = window_out(h, kh, sh, ph, 1, self.ceil_mode)
        wo = window_out(w, kw, sw, pw, 1, self.ceil_mode)
        if ho <= 0 or wo <= 0:
            raise ShapeError(f"pool window {kh}x{kw} does not fit input {h}x{w}", field="kernel")
        return (c, ho, wo)

    @property
    def vector_ops(self) -> int:
        kh, kw = pair(self.kernel)
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
        ho, wo = pair(self.output_size)
        return (shape[0], ho, wo)

    @staticmethod
    def _window_total(size: int, out: int) -> int:
        """Sum of the window lengths along one axis (PyTorch's start/end index rule), in closed
        form: sum over i < out of ceil((i+1) size / out) - floor(i size / out)
        = size + out - gcd(size, out). (The ceilings are the floors of j size / out for
        j = 1..out, plus one wherever out does not divide j size; the floor sums of i = 0..out-1
        and j = 1..out differ by the last term, size; out divides j size for gcd(size, out)
        values of j.) E.g. size 7, out 3: windows 0-2, 2-4, 4-6, total 9 = 7 + 3 - 1."""
        return size + out - math.gcd(size, out)

    @property
    def vector_ops(self) -> int:
        _, h, w = self.input_shape
        c, ho, wo = self.output_shape
        return self.batch * c * self._window_total(h, ho) * self._window_total(w, wo)


class EltwiseLayer(WithConstant):
    """Element-wise add or multiply of two or more operands (residual add, squeeze-excite
    scale, position embedding add, rotary multiply): the `inputs`, plus a stored `constant`
    tensor when given. Operands broadcast as in NumPy (a (C, 1, 1) operand over (C, H, W))."""

    type: Literal["add", "mul"]
    activation: Activation | None = Field(None, description="fused activation after the add, "
                                          "e.g. relu in a ResNet block")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shapes = operand_shapes(self, input_shapes)
        if len(shapes) < 2:
            raise ShapeError(f"{self.type} needs at least two operands", field="inputs",
                             fix="list the layers to combine, e.g. inputs: [conv3, shortcut], "
                             "or give a constant")
        out = broadcast_shapes(*shapes)
        if out is None:
            raise ShapeError(f"operand shapes {[list(s) for s in shapes]} do not match (nor "
                             "broadcast)", field="inputs", fix="combine layers of the same shape")
        return out

    @property
    def vector_ops(self) -> int:
        operands = len(self._input_shapes) + int(self.constant is not None)
        return self.output_elements * (operands - 1 + int(bool(self.activation)))


class ActivationLayer(LayerBase):
    """A non-linearity applied element-wise (softmax and layernorm included: they are
    vector-unit work too)."""

    type: Literal["activation"]
    function: Activation

    @property
    def vector_ops(self) -> int:
        return self.output_elements


class ConcatLayer(WithConstant):
    """Concatenation along `axis` (default 0: channels of a (C, H, W) map, tokens of a (T, F)
    sequence) of the `inputs` and, when given, a stored `constant` (a class token). A view:
    producers write into place."""

    type: Literal["concat"]
    axis: int = Field(0, description="axis of the per-sample shape (negative: from the end)")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shapes = operand_shapes(self, input_shapes)
        if len(shapes) < 2:
            raise ShapeError("concat needs at least two operands", field="inputs")
        rank = len(shapes[0])
        if not -rank <= self.axis < rank:
            raise ShapeError(f"axis {self.axis} is outside a rank-{rank} input", field="axis")
        axis = self.axis % rank
        rest = [s[:axis] + s[axis + 1:] for s in shapes]
        if any(len(s) != rank for s in shapes) or any(r != rest[0] for r in rest):
            raise ShapeError(f"cannot concatenate shapes {[list(s) for s in shapes]} on axis "
                             f"{self.axis}: all other axes must match", field="inputs")
        return shapes[0][:axis] + (sum(s[axis] for s in shapes),) + shapes[0][axis + 1:]

    @property
    def is_view(self) -> bool:
        return True


class FlattenLayer(LayerBase):
    """Reshape to a vector (free: no data moves)."""

    type: Literal["flatten"]

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        return (math.prod(input_shapes[0]),)

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        """A reshape moves no data."""
        return {"weights": 0, "ifmap": 0, "ofmap": 0}

    @property
    def is_view(self) -> bool:
        return True


def type_label(layer) -> str:
    """A layer's type as tables and plots show it: `ConvLayer.type_label` for convs (conv/dw,
    conv/g, conv/pw, conv), the plain type otherwise."""
    return getattr(layer, "type_label", None) or layer.type
