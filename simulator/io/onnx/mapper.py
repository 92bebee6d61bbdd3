"""Map a shape-inferred ONNX graph to npusim layers.

Three passes:

1. **map**: walk the nodes in graph (topological) order and turn each into a draft layer, a fold
   into an earlier layer (BatchNormalization into its conv, a bias Add into its linear, the
   x*sigmoid(x) pattern into swish), a free layout op (Reshape, Flatten, Transpose, ... : no
   layer, consumers refer to the producer) or an unsupported op (reported by name and count).
   Sub-graphs that only compute shapes or constants (Shape -> Gather -> Concat -> Reshape) are
   constant-folded away, as every ONNX runtime does.
2. **fuse** (optional): an element-wise activation whose only producer is a conv, linear or
   eltwise layer used by nothing else becomes that layer's fused `activation` (how accelerators
   run conv+relu, and how the bundled workloads are written). Vector-op counts do not change.
3. **finalize**: decide each layer's `inputs` (omitted when it is the previous layer) and bind it
   with npusim's own shape inference. Where a free reshape makes the producer's npusim shape
   differ from what the consumer needs, the layer gets an explicit `input:` shape. Every layer is
   then checked against the ONNX graph: its MACs must equal the ONNX node's (product of output
   dims times the reduction length) and its output must hold as many elements; a mismatch is an
   importer bug and stops the import instead of returning a wrong workload.

Shapes: ONNX tensors carry the batch; npusim shapes do not. A tensor's per-sample shape drops
the batch axis (or divides the first axis that is a multiple of the model's batch, for exports
that merge batch and tokens into one axis).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import TypeAdapter, ValidationError

from simulator.core.errors import NpusimError
from simulator.core.layer_base import ShapeError
from simulator.core.layers import Layer

Shape = tuple[int, ...]
_LAYER = TypeAdapter(Layer)

#: ONNX ops that move or relabel data without computing: no layer, dataflow passes through.
FREE_OPS = {"Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout",
            "Cast", "Pad"}
#: single-input element-wise ONNX ops -> npusim activation function
ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
                  "HardSigmoid": "hardsigmoid", "Softmax": "softmax", "LogSoftmax": "softmax",
                  "Gelu": "gelu", "Erf": "gelu", "LayerNormalization": "layernorm"}
#: x * f(x) patterns: f -> the activation the product is
GATED = {"sigmoid": "swish", "hardsigmoid": "hardswish", "relu6": "hardswish", "gelu": "gelu"}
#: activations that can be fused into the layer that produces their input
FUSABLE = {"relu", "relu6", "sigmoid", "tanh", "swish", "hardswish", "hardsigmoid", "gelu"}
FUSE_INTO = {"conv", "linear", "add", "mul"}
#: ops whose outputs are shapes / sizes, never activations
SHAPE_OPS = {"Shape", "Size"}
#: marks a graph input in a draft's refs (graph inputs are not layers)
INPUT_PREFIX = "\0input:"


def is_graph_input(ref: str | None) -> bool:
    return ref is None or ref.startswith(INPUT_PREFIX)


def sanitize(name: str) -> str:
    """A readable layer name from an ONNX node name.

    PyTorch names nodes like `/layer1/layer1.0/conv1/Conv`; this gives `layer1.0.conv1` (parent
    scopes that repeat as a prefix of the child are dropped, and so is a trailing op type)."""
    parts = [p for p in name.split("/") if p]
    kept = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and
                                                   parts[i + 1].startswith(p + "."))]
    if len(kept) > 1 and re.fullmatch(r"[A-Z][A-Za-z]*(_\d+)?", kept[-1]):
        kept = kept[:-1]
    text = ".".join(kept)
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_.")
    return text


@dataclass
class Draft:
    """A layer in the making: its fields plus what the finalize pass needs to check it."""

    fields: dict[str, Any]
    refs: list[str | None]  # producing drafts (INPUT_PREFIX + name: a graph input)
    in_shapes: list[Shape]  # per-sample ONNX shapes of those inputs
    out_shape: Shape  # per-sample ONNX output shape
    macs: int  # ONNX MACs for the model's batch
    commutative: bool = False

    @property
    def name(self) -> str:
        return self.fields["name"]

    @property
    def type(self) -> str:
        return self.fields["type"]


@dataclass
class ImportReport:
    """Result of an import: the layers and an account of everything that is not a layer."""

    layers: list[dict[str, Any]]
    input_shape: Shape | None
    folded: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    macs: int = 0
    workload: dict[str, Any] = field(default_factory=dict)

    def skipped_message(self) -> str:
        return "skipped unsupported ONNX ops (treated as pass-through, no cost counted): " + \
            _counts(self.skipped)

    def description(self, model, path: Path) -> str:
        producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                    default=0)
        text = f"Imported from {path.name} (ONNX opset {opset}"
        text += f", {producer})." if producer else ")."
        if self.folded:
            text += " Folded: " + _counts(self.folded) + "."
        if self.skipped:
            text += " SKIPPED (unsupported, not counted): " + _counts(self.skipped) + "."
        for note in self.notes:
            text += " " + note
        return text


def _counts(counter: Counter) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _attrs(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class GraphMapper:
    """Walks one shape-inferred ONNX graph and builds the npusim layer list."""

    def __init__(self, model, path: Path, model_batch: int, skip_unknown: bool,
                 weights: set[str], initializers: dict[str, Any] | None = None) -> None:
        """`model` is the shape-inferred graph; `initializers` the original weight tensors
        (their data gives weight densities), by default the model's own."""
        self.model = model
        self.graph = model.graph
        self.path = path
        self.model_batch = model_batch
        self.skip_unknown = skip_unknown
        self.base_dir = path.parent
        self.shapes: dict[str, Shape | None] = {}
        self.initializers = initializers if initializers is not None else \
            {t.name: t for t in self.graph.initializer}
        self.static: set[str] = set(self.initializers) | set(weights)
        self.const_values: dict[str, np.ndarray] = {}
        self.producer: dict[str, str | None] = {}
        self.drafts: dict[str, Draft] = {}
        self.used_names: set[str] = set()
        self.consumers: Counter = Counter()
        self.folded: Counter = Counter()
        self.unsupported: Counter = Counter()
        self.notes: list[str] = []
        self.input_shape: Shape | None = None
        self._collect_shapes()

    # ---- tensor facts ---------------------------------------------------------------------
    def _collect_shapes(self) -> None:
        for value in list(self.graph.input) + list(self.graph.value_info) + list(self.graph.output):
            tensor_type = value.type.tensor_type
            if not tensor_type.HasField("shape"):
                continue
            dims = [d.dim_value if d.HasField("dim_value") else 0 for d in tensor_type.shape.dim]
            self.shapes[value.name] = tuple(dims) if all(d > 0 for d in dims) else None
        for name, tensor in self.initializers.items():
            self.shapes[name] = tuple(int(d) for d in tensor.dims)
        for node in self.graph.node:
            for name in node.input:
                if name:
                    self.consumers[name] += 1
        for out in self.graph.output:
            self.consumers[out.name] += 1

    def shape(self, tensor: str, node) -> Shape:
        shape = self.shapes.get(tensor)
        if shape is None:
            raise NpusimError(f"the shape of tensor {tensor!r} (input or output of node "
                              f"{node.name or node.op_type!r}) could not be inferred",
                              file=self.path, fix="give fixed input sizes with --input-shape, "
                              "or export with static shapes")
        return shape

    def per_sample(self, shape: Shape) -> Shape:
        """Drop the batch from a full ONNX shape (see the module docstring)."""
        batch = self.model_batch
        for axis, size in enumerate(shape):
            if size == batch:
                return shape[:axis] + shape[axis + 1:]
            if size % batch == 0:
                return shape[:axis] + (size // batch,) + shape[axis + 1:]
        raise NpusimError(f"cannot find the batch ({batch}) in tensor shape {list(shape)}",
                          file=self.path, fix="export with a batch size that divides the "
                          "first dimension, or pass --batch")

    def value(self, tensor: str) -> np.ndarray | None:
        """A constant's value (initializer with data, or Constant node), else None."""
        if tensor in self.const_values:
            return self.const_values[tensor]
        init = self.initializers.get(tensor)
        if init is None:
            return None
        return self._tensor_data(init)

    def _tensor_data(self, tensor) -> np.ndarray | None:
        import onnx
        from onnx import numpy_helper

        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            info = {e.key: e.value for e in tensor.external_data}
            location = self.base_dir / info.get("location", "")
            if not info.get("location") or not location.is_file():
                return None  # weights stripped: shape-only
            try:
                from onnx.external_data_helper import load_external_data_for_tensor

                copy = onnx.TensorProto()
                copy.CopyFrom(tensor)
                load_external_data_for_tensor(copy, str(self.base_dir))
                return numpy_helper.to_array(copy)
            except Exception:
                return None
        if math.prod(tensor.dims) and not _has_inline_data(tensor):
            return None
        try:
            return numpy_helper.to_array(tensor)
        except Exception:
            return None

    def density(self, tensors: list[str]) -> float | None:
        """Fraction of non-zero weights over `tensors`, or None when any lacks data."""
        nonzero = total = 0
        for name in tensors:
            data = self.value(name)
            if data is None:
                return None
            nonzero += int(np.count_nonzero(data))
            total += data.size
        if not total or not nonzero:
            # all-zero weights are placeholders (an export without trained weights), not a
            # layer pruned to nothing: leave the density unset (dense) rather than invent one
            return None
        return nonzero / total

    def is_static(self, tensor: str) -> bool:
        return tensor in self.static

    def data_inputs(self, node) -> list[str]:
        return [t for t in node.input if t and not self.is_static(t)]

    # ---- naming ---------------------------------------------------------------------------
    def unique_name(self, node, index: int, suffix: str = "") -> str:
        base = sanitize(node.name) if node.name else ""
        base = (base or f"{node.op_type.lower()}_{index}") + suffix
        name, n = base, 2
        while name in self.used_names:
            name, n = f"{base}_{n}", n + 1
        self.used_names.add(name)
        return name

    # ---- drafts ---------------------------------------------------------------------------
    def add(self, draft: Draft, outputs: list[str]) -> Draft:
        self.drafts[draft.name] = draft
        for out in outputs:
            if out:
                self.producer[out] = draft.name
        return draft

    def ref(self, tensor: str) -> str | None:
        if tensor not in self.producer:
            raise NpusimError(f"tensor {tensor!r} has no producer", file=self.path,
                              fix="the model may be truncated; export it again")
        return self.producer[tensor]

    def pass_through(self, node) -> None:
        inputs = self.data_inputs(node)
        source = self.producer.get(inputs[0]) if inputs else None
        for out in node.output:
            if out:
                self.producer[out] = source

    def unsupported_op(self, node, label: str | None = None) -> None:
        self.unsupported[label or node.op_type] += 1
        self.pass_through(node)

    # ---- pass 1: map ----------------------------------------------------------------------
    def run(self, fuse_activations: bool = True) -> ImportReport:
        for value in self.graph.input:
            if value.name not in self.static:
                self.producer[value.name] = INPUT_PREFIX + value.name
                if self.input_shape is None and self.shapes.get(value.name):
                    self.input_shape = self._input_per_sample(value.name)
        handlers = self._handlers()
        for index, node in enumerate(self.graph.node):
            op = node.op_type
            if op == "Constant":
                self._constant(node)
                continue
            if node.domain not in ("", "ai.onnx"):
                self.unsupported_op(node, f"{node.domain}.{op}")
                continue
            data = [t for t in node.input if t]
            if op in SHAPE_OPS or (data and all(self.is_static(t) for t in data)):
                self.static.update(o for o in node.output if o)  # constant-folded
                continue
            if op in FREE_OPS:
                self.pass_through(node)
                continue
            handler = handlers.get(op)
            if handler is None:
                self.unsupported_op(node)
                continue
            handler(node, index)
        if self.unsupported and not self.skip_unknown:
            raise NpusimError("unsupported ONNX ops: " + _counts(self.unsupported), file=self.path,
                              fix="`npusim import --skip-unknown` imports without them (they "
                              "are then listed in the workload description)")
        if fuse_activations:
            self._fuse()
        layers = self._finalize()
        if not layers:
            raise NpusimError("the model has no layers npusim can simulate", file=self.path)
        return ImportReport(layers=layers, input_shape=self.input_shape, folded=self.folded,
                            skipped=self.unsupported, notes=self.notes,
                            macs=sum(d.macs for d in self.drafts.values()))

    def _input_per_sample(self, name: str) -> Shape:
        shape = self.shapes[name]
        assert shape is not None
        for node in self.graph.node:
            if node.op_type == "LSTM" and node.input and node.input[0] == name:
                layout = _attrs(node).get("layout", 0)
                return (shape[1], shape[2]) if layout else (shape[0], shape[2])
        return self.per_sample(shape)

    def _handlers(self) -> dict[str, Callable]:
        table: dict[str, Callable] = {
            "Conv": self._conv, "BatchNormalization": self._batchnorm, "Gemm": self._gemm,
            "MatMul": self._matmul, "MaxPool": self._pool, "AveragePool": self._pool,
            "GlobalAveragePool": self._global_pool, "GlobalMaxPool": self._global_pool,
            "ReduceMean": self._reduce, "ReduceMax": self._reduce,
            "Add": self._eltwise, "Sub": self._eltwise, "Mul": self._eltwise,
            "Div": self._eltwise, "Concat": self._concat, "Clip": self._clip, "LSTM": self._lstm,
        }
        for op in ACTIVATION_OPS:
            table[op] = self._activation
        return table

    def _constant(self, node) -> None:
        from onnx import numpy_helper

        attrs = _attrs(node)
        out = node.output[0]
        self.static.add(out)
        if "value" in attrs:
            self.const_values[out] = numpy_helper.to_array(attrs["value"])
        elif "value_float" in attrs:
            self.const_values[out] = np.array(attrs["value_float"], dtype=np.float32)
        elif "value_int" in attrs:
            self.const_values[out] = np.array(attrs["value_int"])
        elif "value_floats" in attrs:
            self.const_values[out] = np.array(attrs["value_floats"], dtype=np.float32)
        elif "value_ints" in attrs:
            self.const_values[out] = np.array(attrs["value_ints"])

    # ---- window helpers -------------------------------------------------------------------
    @staticmethod
    def _total_pads(attrs: dict, sizes: Shape, kernel: Shape, strides: Shape,
                    dilations: Shape) -> list[int]:
        """Total padding per spatial axis (begin + end), auto_pad included (ONNX spec)."""
        auto = _decode(attrs.get("auto_pad", "NOTSET"))
        rank = len(sizes)
        if auto in ("SAME_UPPER", "SAME_LOWER"):
            return [max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
                    for n, k, s, d in zip(sizes, kernel, strides, dilations)]
        if auto == "VALID":
            return [0] * rank
        pads = list(attrs.get("pads", [0] * (2 * rank)))
        return [pads[i] + pads[i + rank] for i in range(rank)]

    @staticmethod
    def _symmetric(sizes: Shape, kernel: Shape, strides: Shape, dilations: Shape,
                   totals: list[int], outs: Shape, prefer_ceil: bool) -> tuple[list[int], bool] | None:
        """Symmetric padding (and ceil_mode) that reproduce the ONNX output size.

        npusim pads symmetrically; an asymmetric ONNX pad (begin != end, e.g. TensorFlow
        'SAME' with stride 2) is replaced by floor or ceil of half the total so that the output
        size, hence the MACs, stay exact."""
        from simulator.core.geometry import window_out

        for ceil in ((True, False) if prefer_ceil else (False, True)):
            choice = []
            for n, k, s, d, total, out in zip(sizes, kernel, strides, dilations, totals, outs):
                for pad in dict.fromkeys((total // 2, (total + 1) // 2)):
                    if window_out(n, k, s, pad, d, ceil) == out:
                        choice.append(pad)
                        break
                else:
                    break
            if len(choice) == len(sizes):
                return choice, ceil
        return None

    @staticmethod
    def _compact(values: list[int]) -> int | list[int]:
        return values[0] if all(v == values[0] for v in values) else list(values)

    # ---- op handlers ----------------------------------------------------------------------
    def _conv(self, node, index: int) -> None:
        attrs = _attrs(node)
        x, w = node.input[0], node.input[1]
        xs, ys = self.shape(x, node), self.shape(node.output[0], node)
        if len(xs) not in (3, 4):
            return self.unsupported_op(node, f"Conv({len(xs) - 2}-D)")
        if x not in self.producer:
            return self.unsupported_op(node, "Conv(constant input)")
        one_d = len(xs) == 3
        groups = int(attrs.get("group", 1))
        w_shape = self.shapes.get(w)
        kernel = tuple(attrs.get("kernel_shape") or (w_shape[2:] if w_shape else ()))
        if not kernel:
            raise NpusimError(f"conv {node.name!r} has no kernel_shape and no weight shape",
                              file=self.path, fix="export with kernel_shape attributes")
        rank = len(kernel)
        strides = tuple(attrs.get("strides", [1] * rank))
        dilations = tuple(attrs.get("dilations", [1] * rank))
        sizes = tuple(xs[2:])
        totals = self._total_pads(attrs, sizes, kernel, strides, dilations)
        if one_d:  # a 1-D conv is a 2-D conv over a height of 1
            sizes, kernel, strides, dilations = ((1,) + sizes, (1,) + kernel, (1,) + strides,
                                                 (1,) + dilations)
            totals, outs = [0] + totals, (1,) + tuple(ys[2:])
        else:
            outs = tuple(ys[2:])
        sym = self._symmetric(sizes, kernel, strides, dilations, totals, outs, prefer_ceil=False)
        prepad = [0, 0] if sym is None else None
        if sym is None:  # no symmetric pad gives the size: give the layer the padded input
            sym = ([0] * len(sizes), False)
            self.folded["Conv asymmetric pads -> pre-padded input"] += 1
        elif any(t % 2 for t in totals):
            self.folded["Conv asymmetric pads -> symmetric"] += 1
        pads, ceil = sym
        c_in, f_out = xs[1], ys[1]
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "conv",
                                  "out_channels": f_out, "kernel": self._compact(list(kernel))}
        if any(s != 1 for s in strides):
            fields["stride"] = self._compact(list(strides))
        if any(pads):
            fields["padding"] = self._compact(pads)
        if any(d != 1 for d in dilations):
            fields["dilation"] = self._compact(list(dilations))
        if groups != 1:
            fields["groups"] = groups
        if len(node.input) > 2 and node.input[2]:
            fields["bias"] = True
        if ceil:
            fields["ceil_mode"] = True
        self._set_density(fields, [w])
        in_shape = self.per_sample(xs)
        out_shape = self.per_sample(ys)
        if one_d:
            in_shape, out_shape = (in_shape[0], 1) + in_shape[1:], (out_shape[0], 1) + out_shape[1:]
        if prepad is not None:
            in_shape = (in_shape[0],) + tuple(n + t for n, t in zip(in_shape[1:], totals))
        # MACs = output elements x (C/g) x kh x kw
        macs = math.prod(ys) * (c_in // groups) * math.prod(kernel)
        self.add(Draft(fields, [self.ref(x)], [in_shape], out_shape, macs), list(node.output))

    def _set_density(self, fields: dict, tensors: list[str]) -> None:
        density = self.density(tensors)
        if density is not None and density < 1:
            fields["weight_density"] = max(round(density, 6), 1e-6)

    def _batchnorm(self, node, index: int) -> None:
        x = node.input[0]
        source = self.ref(x)
        draft = self.drafts.get(source) if source else None
        if draft is not None and draft.type == "conv" and not draft.fields.get("batchnorm") \
                and self.consumers[x] == 1:
            draft.fields["batchnorm"] = True
            self.folded["BatchNormalization into conv"] += 1
        else:
            self.folded["BatchNormalization (standalone, free per-channel affine)"] += 1
        for out in node.output:
            if out:
                self.producer[out] = source

    def _linear_draft(self, node, index: int, a: str, k: int, n: int, out_full: Shape,
                      bias: bool, weight: str) -> None:
        tokens = math.prod(out_full) // n
        per_sample_tokens, rem = divmod(tokens, self.model_batch)
        if rem:
            raise NpusimError(f"node {node.name!r}: {tokens} rows do not split into batch "
                              f"{self.model_batch}", file=self.path, fix="check --batch")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "linear",
                                  "in_features": k, "out_features": n}
        if not bias:
            fields["bias"] = False
        self._set_density(fields, [weight])
        in_shape = (per_sample_tokens, k) if per_sample_tokens > 1 else (k,)
        out_shape = (per_sample_tokens, n) if per_sample_tokens > 1 else (n,)
        self.add(Draft(fields, [self.ref(a)], [in_shape], out_shape, tokens * k * n),
                 list(node.output))

    def _gemm(self, node, index: int) -> None:
        attrs = _attrs(node)
        a, b = node.input[0], node.input[1]
        if attrs.get("transA", 0):
            return self.unsupported_op(node, "Gemm(transA)")
        if not self.is_static(b):
            return self.unsupported_op(node, "Gemm(activation B)")
        if a not in self.producer:
            return self.unsupported_op(node, "Gemm(constant A)")
        a_shape, y_shape = self.shape(a, node), self.shape(node.output[0], node)
        k, n = a_shape[1], y_shape[1]
        bias = len(node.input) > 2 and bool(node.input[2])
        # alpha and beta scale values only; they do not change the MAC count
        self._linear_draft(node, index, a, k, n, y_shape, bias, b)

    def _matmul(self, node, index: int) -> None:
        a, b = node.input[0], node.input[1]
        a_shape, y_shape = self.shape(a, node), self.shape(node.output[0], node)
        if a not in self.producer:
            return self.unsupported_op(node, "MatMul(constant left operand)")
        k = a_shape[-1]
        b_shape = self.shapes.get(b)
        if b_shape is not None and len(b_shape) == 1:
            n = 1
        else:
            n = y_shape[-1]
        if self.is_static(b) and (b_shape is None or len(b_shape) <= 2):
            return self._linear_draft(node, index, a, k, n, y_shape, False, b)
        m = a_shape[-2] if len(a_shape) >= 2 else 1
        total = math.prod(y_shape)  # = batch dims x m x n
        count, rem = divmod(total, m * n * self.model_batch)
        if rem:
            raise NpusimError(f"node {node.name!r}: output {list(y_shape)} does not split into "
                              f"batch {self.model_batch}", file=self.path, fix="check --batch")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "matmul",
                                  "m": m, "k": k, "n": n}
        if count > 1:
            fields["count"] = count
        refs = [self.ref(a)]
        in_shapes = [self.per_sample(a_shape)]
        if self.is_static(b):
            fields["weights"] = True
            self._set_density(fields, [b])
        else:
            refs.append(self.ref(b))
            in_shapes.append(self.per_sample(self.shape(b, node)))
        # MACs = output elements x K (each output is a K-long dot product)
        self.add(Draft(fields, refs, in_shapes, self.per_sample(y_shape), total * k),
                 list(node.output))

    def _pool(self, node, index: int) -> None:
        attrs = _attrs(node)
        xs, ys = self.shape(node.input[0], node), self.shape(node.output[0], node)
        if len(xs) != 4:
            return self.unsupported_op(node, f"{node.op_type}({len(xs) - 2}-D)")
        kernel = tuple(attrs["kernel_shape"])
        strides = tuple(attrs.get("strides", [1, 1]))
        dilations = tuple(attrs.get("dilations", [1, 1]))
        if any(d != 1 for d in dilations):
            return self.unsupported_op(node, f"{node.op_type}(dilation)")
        totals = self._total_pads(attrs, tuple(xs[2:]), kernel, strides, dilations)
        sym = self._symmetric(tuple(xs[2:]), kernel, strides, dilations, totals, tuple(ys[2:]),
                              prefer_ceil=bool(attrs.get("ceil_mode", 0)))
        in_shape = self.per_sample(xs)
        if sym is None:  # no symmetric pad gives the size: give the layer the padded input
            sym = ([0, 0], bool(attrs.get("ceil_mode", 0)))
            in_shape = (in_shape[0],) + tuple(n + t for n, t in zip(in_shape[1:], totals))
            self.folded[f"{node.op_type} asymmetric pads -> pre-padded input"] += 1
        elif any(t % 2 for t in totals):
            self.folded[f"{node.op_type} asymmetric pads -> symmetric"] += 1
        pads, ceil = sym
        fields: dict[str, Any] = {"name": self.unique_name(node, index),
                                  "type": "maxpool" if node.op_type == "MaxPool" else "avgpool",
                                  "kernel": self._compact(list(kernel)),
                                  "stride": self._compact(list(strides))}
        if any(pads):
            fields["padding"] = self._compact(pads)
        if ceil:
            fields["ceil_mode"] = True
        self.add(Draft(fields, [self.ref(node.input[0])], [in_shape], self.per_sample(ys), 0),
                 list(node.output))

    def _global_pool(self, node, index: int, kind: str | None = None) -> None:
        xs, ys = self.shape(node.input[0], node), self.shape(node.output[0], node)
        if len(xs) != 4:
            return self.unsupported_op(node, f"{node.op_type}({len(xs) - 2}-D)")
        kind = kind or ("globalavgpool" if node.op_type == "GlobalAveragePool" else "globalmaxpool")
        fields = {"name": self.unique_name(node, index), "type": kind}
        self.add(Draft(fields, [self.ref(node.input[0])], [self.per_sample(xs)],
                       self.per_sample(ys), 0), list(node.output))

    def _reduce(self, node, index: int) -> None:
        """ReduceMean / ReduceMax over H and W of an NCHW tensor = global pooling
        (PyTorch's `x.mean((2, 3))`); other reductions are not mapped."""
        attrs = _attrs(node)
        xs = self.shape(node.input[0], node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            value = self.value(node.input[1])
            axes = None if value is None else [int(v) for v in np.ravel(value)]
        if len(xs) == 4 and axes is not None and sorted(a % 4 for a in axes) == [2, 3]:
            kind = "globalavgpool" if node.op_type == "ReduceMean" else "globalmaxpool"
            return self._global_pool(node, index, kind)
        self.unsupported_op(node, f"{node.op_type}(axes {axes})")

    def _activation_draft(self, node, index: int, function: str) -> None:
        x = self.data_inputs(node)[0]
        xs = self.per_sample(self.shape(x, node))
        fields = {"name": self.unique_name(node, index), "type": "activation",
                  "function": function}
        self.add(Draft(fields, [self.ref(x)], [xs], xs, 0), list(node.output))

    def _activation(self, node, index: int) -> None:
        self._activation_draft(node, index, ACTIVATION_OPS[node.op_type])

    def _clip(self, node, index: int) -> None:
        attrs = _attrs(node)
        lo, hi = attrs.get("min"), attrs.get("max")
        for slot, current in ((1, lo), (2, hi)):
            if len(node.input) > slot and node.input[slot]:
                value = self.value(node.input[slot])
                if value is None:
                    return self.unsupported_op(node, "Clip(unknown bounds)")
                if slot == 1:
                    lo = float(np.ravel(value)[0])
                else:
                    hi = float(np.ravel(value)[0])
        if lo == 0 and hi == 6:
            return self._activation_draft(node, index, "relu6")
        if lo == 0 and (hi is None or hi >= 3.4e38):
            return self._activation_draft(node, index, "relu")
        self.unsupported_op(node, f"Clip({lo}, {hi})")

    def _eltwise(self, node, index: int) -> None:
        a, b = node.input[0], node.input[1]
        op = node.op_type
        static_a, static_b = self.is_static(a), self.is_static(b)
        if static_a or static_b:
            return self._eltwise_constant(node, b if static_b else a, a if static_b else b)
        if op == "Mul" and self._gated(node):
            return
        ys = self.shape(node.output[0], node)
        out = self.per_sample(ys)
        shapes = []
        for t in (a, b):
            s = self.per_sample(self.shape(t, node)) if len(self.shape(t, node)) == len(ys) \
                else self.shape(t, node)
            shapes.append((1,) * (len(out) - len(s)) + tuple(s))
        fields = {"name": self.unique_name(node, index),
                  "type": "add" if op in ("Add", "Sub") else "mul"}
        self.add(Draft(fields, [self.ref(a), self.ref(b)], shapes, out, 0, commutative=True),
                 list(node.output))

    def _eltwise_constant(self, node, const: str, data: str) -> None:
        """Element-wise op with a constant: a bias after a bias-free conv / linear becomes its
        bias; any other scale or shift is folded into the producer (accelerators apply it in
        the requantisation step) and listed in the description."""
        source = self.ref(data)
        draft = self.drafts.get(source) if source else None
        size = math.prod(self.shapes.get(const) or (0,))
        channels = None
        if draft is not None and draft.type == "conv":
            channels = draft.fields["out_channels"]
        elif draft is not None and draft.type == "linear":
            channels = draft.fields["out_features"]
        if node.op_type in ("Add", "Sub") and channels and size == channels and \
                draft is not None and not draft.fields.get("bias", draft.type == "linear") and \
                self.consumers[data] == 1:
            draft.fields.pop("bias", None)
            if draft.type == "conv":
                draft.fields["bias"] = True
            self.folded["Add (bias) into its layer"] += 1
        else:
            self.folded[f"{node.op_type} by a constant"] += 1
        for out in node.output:
            if out:
                self.producer[out] = source

    def _gated(self, node) -> bool:
        """x * f(x) with f = sigmoid (swish), hardsigmoid or relu6 (hardswish), gelu (the erf
        form of GELU): fold the product into f's activation layer."""
        for x, gate in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            gate_draft = self.drafts.get(self.producer.get(gate) or "")
            if gate_draft is None or gate_draft.type != "activation":
                continue
            function = gate_draft.fields["function"]
            if function in GATED and gate_draft.refs == [self.producer.get(x)] \
                    and self.consumers[gate] == 1:
                gate_draft.fields["function"] = GATED[function]
                self.folded[f"Mul x*{function}(x) -> {GATED[function]}"] += 1
                for out in node.output:
                    if out:
                        self.producer[out] = gate_draft.name
                return True
        return False

    def _concat(self, node, index: int) -> None:
        axis = int(_attrs(node).get("axis", 1))
        ys = self.shape(node.output[0], node)
        inputs = self.data_inputs(node)
        axis %= len(ys)
        out = self.per_sample(ys)
        per_axis = axis - (len(ys) - len(out))
        if per_axis != 0:
            return self.unsupported_op(node, "Concat(non-channel axis)")
        if len(inputs) < 2:
            self.folded["Concat with constants"] += 1
            return self.pass_through(node)
        fields = {"name": self.unique_name(node, index), "type": "concat"}
        shapes = [self.per_sample(self.shape(t, node)) for t in inputs]
        self.add(Draft(fields, [self.ref(t) for t in inputs], shapes, out, 0), list(node.output))

    def _lstm(self, node, index: int) -> None:
        """One `lstm` layer per direction (gate matmuls per step: [x_t, h_t-1] x 4H gates);
        a bidirectional LSTM concatenates the two directions."""
        attrs = _attrs(node)
        x = node.input[0]
        xs = self.shape(x, node)
        layout = int(attrs.get("layout", 0))
        steps, batch, features = (xs[1], xs[0], xs[2]) if layout else (xs[0], xs[1], xs[2])
        hidden = int(attrs["hidden_size"])
        direction = _decode(attrs.get("direction", "forward"))
        directions = 2 if direction == "bidirectional" else 1
        if _decode(attrs.get("input_forget", 0)):
            self.notes.append("LSTM input_forget (coupled gates) counted as a full LSTM.")
        source = self.ref(x)
        names = []
        for d in range(directions):
            suffix = ("_fw", "_bw")[d] if directions == 2 else ""
            fields: dict[str, Any] = {"name": self.unique_name(node, index, suffix),
                                      "type": "lstm", "input_size": features,
                                      "hidden_size": hidden, "seq_len": steps}
            density = self._lstm_density(node, d, directions)
            if density is not None and density < 1:
                fields["weight_density"] = max(round(density, 6), 1e-6)
            # MACs = steps x batch x (I + H) x 4H
            macs = steps * batch * (features + hidden) * 4 * hidden
            draft = self.add(Draft(fields, [source], [(steps, features)], (steps, hidden), macs),
                             [])
            names.append(draft.name)
        final = names[0]
        if directions == 2:
            fields = {"name": self.unique_name(node, index, "_concat"), "type": "concat"}
            final = self.add(Draft(fields, names, [(steps, hidden)] * 2, (steps, 2 * hidden), 0),
                             []).name
        for out in node.output:
            if out:
                self.producer[out] = final

    def _lstm_density(self, node, direction: int, directions: int) -> float | None:
        w = self.value(node.input[1])
        r = self.value(node.input[2])
        if w is None or r is None:
            return None
        parts = [w[direction] if w.shape[0] == directions else w,
                 r[direction] if r.shape[0] == directions else r]
        total = sum(p.size for p in parts)
        nonzero = sum(int(np.count_nonzero(p)) for p in parts)
        return nonzero / total if total and nonzero else None  # all zero: placeholders

    # ---- pass 2: fuse ---------------------------------------------------------------------
    def _fuse(self) -> None:
        users: Counter = Counter()
        for draft in self.drafts.values():
            for ref in draft.refs:
                users[ref] += 1
        graph_outputs = {self.producer.get(o.name) for o in self.graph.output}
        rename: dict[str, str] = {}
        for name in list(self.drafts):
            draft = self.drafts[name]
            draft.refs = [rename.get(r, r) if r else r for r in draft.refs]
            if draft.type != "activation" or draft.fields["function"] not in FUSABLE:
                continue
            source = draft.refs[0]
            target = self.drafts.get(source) if source else None
            if target is None or target.type not in FUSE_INTO or "activation" in target.fields \
                    or users[source] != 1 or source in graph_outputs:
                continue
            target.fields["activation"] = draft.fields["function"]
            rename[name] = source
            del self.drafts[name]
        for tensor, producer in self.producer.items():
            if producer in rename:
                self.producer[tensor] = rename[producer]

    # ---- pass 3: finalize -----------------------------------------------------------------
    def _finalize(self) -> list[dict[str, Any]]:
        self._name_shared_inputs()
        out: list[dict[str, Any]] = []
        seen: dict[str, Shape] = {}
        previous: str | None = None
        for index, draft in enumerate(self.drafts.values()):
            fields, layer = self._place(draft, dict(draft.fields), list(draft.refs), seen,
                                        previous, index == 0)
            out.append(fields)
            seen[draft.name] = layer.output_shape
            previous = draft.name
        return out

    def _name_shared_inputs(self) -> None:
        """A graph input read by a multi-input layer (a residual add on the network input)
        must be nameable in `inputs`: it gets an identity activation layer at the top, and
        every reader of that input reads the identity layer instead."""
        shared: dict[str, Shape] = {}
        for draft in self.drafts.values():
            if len(draft.refs) > 1:
                for ref, shape in zip(draft.refs, draft.in_shapes):
                    if is_graph_input(ref) and ref not in shared:
                        shared[ref or ""] = shape
        if not shared:
            return
        front: dict[str, Draft] = {}
        rename: dict[str, str] = {}
        for ref, shape in shared.items():
            name = self._identity_name(ref[len(INPUT_PREFIX):] if ref else "input")
            front[name] = Draft({"name": name, "type": "activation", "function": "identity"},
                                [ref], [shape], shape, 0)
            rename[ref] = name
            self.notes.append(f"Layer {name!r} (identity) stands for a graph input that a "
                              "multi-input layer reads.")
        for draft in self.drafts.values():
            draft.refs = [rename.get(r or "", r) for r in draft.refs]
        self.drafts = {**front, **self.drafts}

    def _identity_name(self, tensor: str) -> str:
        base = sanitize(tensor) or "input"
        name, n = base, 2
        while name in self.used_names:
            name, n = f"{base}_{n}", n + 1
        self.used_names.add(name)
        return name

    def _place(self, draft: Draft, fields: dict, refs: list[str | None], seen: dict[str, Shape],
               previous: str | None, first: bool):
        """Choose `inputs` / `input` so that npusim's resolve() gives this layer the ONNX
        shapes, and check the bound layer against the ONNX counts."""
        if len(refs) == 1 and is_graph_input(refs[0]):
            if not (first and self.input_shape == draft.in_shapes[0]):
                fields["input"] = list(draft.in_shapes[0])
            candidates = [(fields, [draft.in_shapes[0]])]
        else:
            if not (len(refs) == 1 and refs[0] == previous):
                fields["inputs"] = list(refs)
            shapes = [seen[r] for r in refs]  # type: ignore[index]
            candidates = [(fields, shapes)]
            with_input = {**fields, "input": list(draft.in_shapes[0])}
            candidates.append((with_input, [draft.in_shapes[0]] + shapes[1:]))
            if draft.commutative and len(refs) == 2:
                swapped = {**fields, "inputs": [refs[1], refs[0]], "input": list(draft.in_shapes[1])}
                candidates.append((swapped, [draft.in_shapes[1], shapes[0]]))
        problem = "no candidate"
        for candidate, shapes in candidates:
            try:
                layer = self._bind(candidate, shapes, draft)
            except ShapeError as exc:
                problem = str(exc)
                continue
            if self._matches(layer, draft):
                return self._order(candidate), layer
            problem = (f"npusim counts {layer.macs} MACs / {math.prod(layer.output_shape)} "
                       f"outputs, ONNX {draft.macs} / {math.prod(draft.out_shape)}")
        raise NpusimError(f"cannot express ONNX node {draft.name!r} as an npusim "
                          f"{draft.type} layer ({problem})", file=self.path,
                          fix="please report this model; --skip-unknown does not apply")

    def _matches(self, layer, draft: Draft) -> bool:
        return (layer.macs == draft.macs and
                math.prod(layer.output_shape) == math.prod(draft.out_shape))

    def _bind(self, fields: dict, shapes: list[Shape], draft: Draft):
        try:
            layer = _LAYER.validate_python(fields)
        except ValidationError as exc:
            raise NpusimError(f"internal import error for {draft.name!r}: {exc.errors()[0]['msg']}",
                              file=self.path) from None
        layer.bind([tuple(s) for s in shapes], self.model_batch)
        return layer

    @staticmethod
    def _order(fields: dict) -> dict:
        """Key order for readable YAML: name, type, dataflow, then the rest."""
        head = ["name", "type", "inputs", "input"]
        return {**{k: fields[k] for k in head if k in fields},
                **{k: v for k, v in fields.items() if k not in head}}


def _has_inline_data(tensor) -> bool:
    return bool(tensor.raw_data or tensor.float_data or tensor.int32_data or tensor.int64_data or
                tensor.double_data or tensor.uint64_data or tensor.string_data)
