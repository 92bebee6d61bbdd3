"""Shapes and constants of every tensor of an ONNX graph, in one forward pass.

The TorchScript exporter computes sizes at run time even for static exports: `x.chunk(2)`
becomes Shape -> Gather -> Div -> Slice, `t.expand(n, -1, -1)` becomes Equal/Where on a shape
tensor, `t.view(b, t, h, d)` a Reshape whose target is a Concat of Unsqueezed Gathers of Shapes.
ONNX's shape inference leaves such shapes unknown. This module walks the nodes in graph order
and, for each node:

- **folds it with numpy** when every input is a known constant (initializer data, Constant
  nodes, earlier folds) or when it is `Shape`/`Size` of a tensor whose shape is known. Only
  the ops that shape arithmetic and exporters' constant tables use are folded (`FOLDERS`);
  results larger than `MAX_FOLD_ELEMENTS` are not materialised (their shape still is);
- **infers its output shapes** otherwise, with ONNX's own per-node inference
  (`onnx.shape_inference.infer_node_outputs`), handing it the constant inputs so that Reshape,
  Expand, Slice, Pad, ... get concrete output shapes.

A tensor is *static* when it is a weight, a constant or computed only from those (shape
sub-graphs count as static: they depend on shapes, which are fixed). One pass is exact because
the graph is topologically sorted (checked by the reader). Measured on torchvision swin_t's
7,639-node export: 0.4 s, against 1.0 s for one `onnx.shape_inference.infer_shapes` call that
still leaves the attention shapes unknown (benchmarks/bench_onnx_import.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from onnx import TensorProto, defs, helper, numpy_helper, shape_inference

Shape = tuple[int, ...]

#: constants above this many elements keep their shape but no value (a causal mask of
#: 1024 x 1024 is 1 M elements; weight matrices are never needed as values here)
MAX_FOLD_ELEMENTS = 1 << 21


@dataclass
class GraphFacts:
    """What the forward pass learned about every tensor."""

    shapes: dict[str, Shape | None] = field(default_factory=dict)  # None: rank or dims unknown
    dtypes: dict[str, int] = field(default_factory=dict)           # ONNX TensorProto data types
    values: dict[str, np.ndarray] = field(default_factory=dict)    # folded or inline constants
    static: set[str] = field(default_factory=set)                  # weights, constants, shapes
    folded_nodes: int = 0
    inference_failures: dict[str, str] = field(default_factory=dict)  # node name -> reason


# ------------------------------------------------------------------------------------------
# numpy folders: (node attributes, input values) -> output values
# ------------------------------------------------------------------------------------------
def _axis_list(value: Any, rank: int) -> list[int]:
    return [int(a) % rank if rank else int(a) for a in np.ravel(value)]


def _onnx_dtype(to: int):
    return helper.tensor_dtype_to_np_dtype(to)


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    if np.issubdtype(a.dtype, np.integer) and np.issubdtype(b.dtype, np.integer):
        return np.trunc(np.divide(a, b)).astype(a.dtype)  # C-style integer division (ONNX)
    return np.divide(a, b)


def _slice(attrs: dict, x: np.ndarray, starts=None, ends=None, axes=None, steps=None):
    if starts is None:  # opset < 10: attributes
        starts, ends, axes = attrs["starts"], attrs["ends"], attrs.get("axes")
    starts, ends = np.ravel(starts), np.ravel(ends)
    axes = list(range(len(starts))) if axes is None else _axis_list(axes, x.ndim)
    steps = [1] * len(starts) if steps is None else list(np.ravel(steps))
    index = [slice(None)] * x.ndim
    for a, s, e, st in zip(axes, starts, ends, steps):
        index[a] = slice(int(s), int(e), int(st))
    return x[tuple(index)]


def _unsqueeze(attrs: dict, x: np.ndarray, axes=None):
    axes = attrs.get("axes") if axes is None else axes
    rank = x.ndim + len(np.ravel(axes))
    out = x
    for a in sorted(_axis_list(axes, rank)):
        out = np.expand_dims(out, a)
    return out


def _squeeze(attrs: dict, x: np.ndarray, axes=None):
    axes = attrs.get("axes") if axes is None else axes
    if axes is None:
        return np.squeeze(x)
    return np.squeeze(x, axis=tuple(_axis_list(axes, x.ndim)))


def _reshape(attrs: dict, x: np.ndarray, shape: np.ndarray):
    target = [int(s) for s in np.ravel(shape)]
    if not attrs.get("allowzero", 0):
        target = [x.shape[i] if s == 0 else s for i, s in enumerate(target)]
    return x.reshape(target)


def _reduce(fn: Callable) -> Callable:
    def run(attrs: dict, x: np.ndarray, axes=None):
        axes = attrs.get("axes") if axes is None else axes
        keep = bool(attrs.get("keepdims", 1))
        if axes is None or len(np.ravel(axes)) == 0:
            if attrs.get("noop_with_empty_axes", 0):
                return x
            return fn(x, axis=None, keepdims=keep)
        return fn(x, axis=tuple(_axis_list(axes, x.ndim)), keepdims=keep)
    return run


def _split(attrs: dict, x: np.ndarray, split=None, *, outputs: int):
    axis = int(attrs.get("axis", 0)) % x.ndim
    sizes = attrs.get("split") if split is None else split
    if sizes is None:
        n = int(attrs.get("num_outputs", outputs))
        chunk = -(-x.shape[axis] // n)
        sizes = [min(chunk, x.shape[axis] - i * chunk) for i in range(n)]
    bounds = np.cumsum([0] + [int(s) for s in np.ravel(sizes)])
    return [np.take(x, range(int(lo), int(hi)), axis=axis) for lo, hi in zip(bounds, bounds[1:])]


def _scatter_nd(attrs: dict, data: np.ndarray, indices: np.ndarray, updates: np.ndarray):
    if attrs.get("reduction", "none") not in ("none", b"none"):
        raise NotImplementedError("ScatterND reduction")
    out = np.copy(data)
    for index in np.ndindex(indices.shape[:-1]):
        out[tuple(indices[index])] = updates[index]
    return out


def _trilu(attrs: dict, x: np.ndarray, k=None):
    k = 0 if k is None else int(np.ravel(k)[0])
    return np.triu(x, k) if attrs.get("upper", 1) else np.tril(x, k)


def _constant_of_shape(attrs: dict, shape: np.ndarray):
    value = attrs.get("value")
    fill = numpy_helper.to_array(value).reshape(-1)[0] if value is not None else np.float32(0)
    return np.full([int(s) for s in np.ravel(shape)], fill, dtype=np.asarray(fill).dtype)


def _range(attrs: dict, start, limit, delta):
    return np.arange(start, limit, delta, dtype=np.asarray(start).dtype)


def _where(attrs: dict, cond, x, y):
    return np.where(cond, x, y)


def _transpose(attrs: dict, x: np.ndarray):
    perm = attrs.get("perm")
    return np.transpose(x, perm)


def _flatten(attrs: dict, x: np.ndarray):
    axis = int(attrs.get("axis", 1)) % (x.ndim + 1) if x.ndim else 0
    return x.reshape(math.prod(x.shape[:axis]), -1)


def _mod(attrs: dict, a, b):
    return np.fmod(a, b) if attrs.get("fmod", 0) else np.mod(a, b)


def _elementwise(fn: Callable) -> Callable:
    return lambda attrs, *xs: fn(*xs)


#: op type -> folder(attrs, *input values) (Shape / Size / Constant / Split are special-cased)
FOLDERS: dict[str, Callable] = {
    "Identity": _elementwise(lambda x: x), "Dropout": _elementwise(lambda x, *rest: x),
    "Cast": lambda attrs, x: x.astype(_onnx_dtype(attrs["to"])),
    "CastLike": lambda attrs, x, like: x.astype(like.dtype),
    "Add": _elementwise(np.add), "Sub": _elementwise(np.subtract),
    "Mul": _elementwise(np.multiply), "Div": _elementwise(_div), "Mod": _mod,
    "Neg": _elementwise(np.negative), "Abs": _elementwise(np.abs),
    "Floor": _elementwise(np.floor), "Ceil": _elementwise(np.ceil),
    "Sqrt": _elementwise(np.sqrt), "Reciprocal": _elementwise(np.reciprocal),
    "Pow": _elementwise(np.power), "Exp": _elementwise(np.exp), "Log": _elementwise(np.log),
    "Sin": _elementwise(np.sin), "Cos": _elementwise(np.cos), "Tanh": _elementwise(np.tanh),
    "Relu": _elementwise(lambda x: np.maximum(x, 0)),
    "Min": _elementwise(lambda *xs: np.minimum.reduce(np.broadcast_arrays(*xs))),
    "Max": _elementwise(lambda *xs: np.maximum.reduce(np.broadcast_arrays(*xs))),
    "Equal": _elementwise(np.equal), "Less": _elementwise(np.less),
    "Greater": _elementwise(np.greater), "LessOrEqual": _elementwise(np.less_equal),
    "GreaterOrEqual": _elementwise(np.greater_equal), "Not": _elementwise(np.logical_not),
    "And": _elementwise(np.logical_and), "Or": _elementwise(np.logical_or),
    "Xor": _elementwise(np.logical_xor), "Where": _where,
    "Gather": lambda attrs, x, idx: np.take(x, idx, axis=int(attrs.get("axis", 0))),
    "Slice": _slice, "Concat": lambda attrs, *xs: np.concatenate(xs, axis=int(attrs["axis"])),
    "Unsqueeze": _unsqueeze, "Squeeze": _squeeze, "Reshape": _reshape,
    "Flatten": _flatten, "Transpose": _transpose,
    "Expand": lambda attrs, x, shape: x * np.ones([int(s) for s in np.ravel(shape)], x.dtype),
    "Tile": lambda attrs, x, reps: np.tile(x, [int(r) for r in np.ravel(reps)]),
    "ConstantOfShape": _constant_of_shape, "Range": _range,
    "ReduceProd": _reduce(np.prod), "ReduceSum": _reduce(np.sum),
    "ReduceMax": _reduce(np.max), "ReduceMin": _reduce(np.min), "ReduceMean": _reduce(np.mean),
    "ScatterND": _scatter_nd, "Trilu": _trilu, "MatMul": _elementwise(np.matmul),
    "CumSum": lambda attrs, x, axis: np.cumsum(x, axis=int(np.ravel(axis)[0])),
}


# ------------------------------------------------------------------------------------------
# the pass
# ------------------------------------------------------------------------------------------
def _attrs(node) -> dict[str, Any]:
    if not len(node.attribute):
        return {}
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


_DTYPES: dict[Any, int] = {}


def _tensor_dtype(dtype) -> int:
    code = _DTYPES.get(dtype)
    if code is None:
        try:
            code = helper.np_dtype_to_tensor_dtype(dtype)
        except Exception:
            code = 0
        _DTYPES[dtype] = code
    return code


def _type_shape(type_proto) -> tuple[Shape | None, int]:
    tensor = type_proto.tensor_type
    if not tensor.HasField("shape"):
        return None, tensor.elem_type
    dims = []
    for d in tensor.shape.dim:
        if not d.HasField("dim_value") or d.dim_value < 0:
            return None, tensor.elem_type
        dims.append(int(d.dim_value))
    return tuple(dims), tensor.elem_type


def has_inline_data(tensor) -> bool:
    return bool(tensor.raw_data or tensor.float_data or tensor.int32_data or tensor.int64_data or
                tensor.double_data or tensor.uint64_data or tensor.string_data)


class Propagator:
    """One forward pass over a graph: see the module docstring."""

    def __init__(self, model, weights: set[str], keep_value_info: bool = True,
                 nodes: list | None = None) -> None:
        self.model = model
        self.graph = model.graph
        self.nodes = nodes if nodes is not None else list(self.graph.node)
        self.facts = GraphFacts()
        self.opsets = {o.domain or "": o.version for o in model.opset_import}
        self.opsets.setdefault("ai.onnx", self.opsets.get("", 17))
        self._protos: dict[str, Any] = {}
        self._hints: dict[str, Any] = {}
        f = self.facts
        for tensor in self.graph.initializer:
            f.shapes[tensor.name] = tuple(int(d) for d in tensor.dims)
            f.dtypes[tensor.name] = tensor.data_type
            f.static.add(tensor.name)
            if tensor.data_location != TensorProto.EXTERNAL and math.prod(tensor.dims) \
                    <= MAX_FOLD_ELEMENTS and (has_inline_data(tensor) or not math.prod(tensor.dims)):
                try:
                    f.values[tensor.name] = numpy_helper.to_array(tensor)
                except Exception:
                    pass
        for value in self.graph.input:
            if value.name in f.dtypes:
                continue
            shape, dtype = _type_shape(value.type)
            f.shapes[value.name], f.dtypes[value.name] = shape, dtype
            if value.name in weights:
                f.static.add(value.name)
        if keep_value_info:  # exporter-written shapes: a fallback for ops ONNX cannot infer
            for value in list(self.graph.value_info) + list(self.graph.output):
                self._hints[value.name] = value.type

    # ---- helpers --------------------------------------------------------------------------
    def _set_value(self, name: str, value: np.ndarray) -> None:
        value = np.asarray(value)
        f = self.facts
        f.shapes[name] = tuple(int(d) for d in value.shape)
        f.dtypes[name] = _tensor_dtype(value.dtype)
        if value.size <= MAX_FOLD_ELEMENTS:
            f.values[name] = value
        f.static.add(name)

    def _type_proto(self, name: str):
        shape = self.facts.shapes.get(name)
        dtype = self.facts.dtypes.get(name, 1) or 1
        return helper.make_tensor_type_proto(dtype, list(shape) if shape is not None else None)

    def _tensor_proto(self, name: str):
        proto = self._protos.get(name)
        if proto is None:
            proto = numpy_helper.from_array(self.facts.values[name], name)
            self._protos[name] = proto
        return proto

    # ---- the pass -------------------------------------------------------------------------
    def run(self) -> GraphFacts:
        for node in self.nodes:
            self.visit(node)
        return self.facts

    def visit(self, node) -> None:
        f = self.facts
        op = node.op_type
        names = list(node.input)
        inputs = [t for t in names if t]
        if node.domain in ("", "ai.onnx"):
            if op == "Constant":
                return self._constant(node)
            if op in ("Shape", "Size") and inputs and f.shapes.get(inputs[0]) is not None:
                return self._shape_op(node, f.shapes[inputs[0]])
            static = bool(inputs) and all(t in f.static for t in inputs)
            if static and op in FOLDERS and all(t in f.values for t in inputs) and \
                    self._fold(node, names):
                return
            if static or (op in ("Shape", "Size")):
                f.static.update(o for o in node.output if o)
        self._infer(node, names)

    def _constant(self, node) -> None:
        attrs = _attrs(node)
        out = node.output[0]
        if "value" in attrs:
            value = numpy_helper.to_array(attrs["value"])
        elif "value_float" in attrs:
            value = np.array(attrs["value_float"], dtype=np.float32)
        elif "value_int" in attrs:
            value = np.array(attrs["value_int"], dtype=np.int64)
        elif "value_floats" in attrs:
            value = np.array(attrs["value_floats"], dtype=np.float32)
        elif "value_ints" in attrs:
            value = np.array(attrs["value_ints"], dtype=np.int64)
        else:
            self.facts.static.add(out)
            return self._infer(node, [])
        self._set_value(out, value)
        self.facts.folded_nodes += 1

    def _shape_op(self, node, shape: Shape) -> None:
        if node.op_type == "Size":
            value = np.array(math.prod(shape), dtype=np.int64)
        else:
            attrs = _attrs(node)
            rank = len(shape)
            start = int(attrs.get("start", 0))
            end = int(attrs.get("end", rank))
            start, end = (start + rank if start < 0 else start), (end + rank if end < 0 else end)
            value = np.array(shape[max(0, start):min(rank, end)], dtype=np.int64)
        self._set_value(node.output[0], value)
        self.facts.folded_nodes += 1

    def _fold(self, node, names: list[str]) -> bool:
        f = self.facts
        args = [f.values[t] if t else None for t in names]
        attrs = _attrs(node)
        try:
            if node.op_type == "Split":
                outs = _split(attrs, *args, outputs=len(node.output))
            else:
                outs = [FOLDERS[node.op_type](attrs, *args)]
        except Exception:
            return False  # malformed or unusual: leave it to shape inference
        if len(outs) != len([o for o in node.output if o]) and node.op_type != "Dropout":
            return False
        for name, value in zip(node.output, outs):
            if name:
                self._set_value(name, value)
        f.folded_nodes += 1
        return True

    def _infer(self, node, names: list[str]) -> None:
        f = self.facts
        outputs = [o for o in node.output if o]
        try:
            schema = defs.get_schema(node.op_type, self.opsets.get(node.domain or "", 1),
                                     node.domain)
            types = {t: self._type_proto(t) for t in names if t and t in f.dtypes}
            data = {t: self._tensor_proto(t) for t in names if t and t in f.values
                    and f.values[t].size <= 4096}
            result = shape_inference.infer_node_outputs(schema, getattr(node, "proto", node),
                                                        types, data,
                                                        opset_imports=list(self.model.opset_import))
        except Exception as exc:  # unknown op, or the inference itself fails
            result = {}
            f.inference_failures[node.name or node.op_type] = str(exc).strip()[:200]
        for name in outputs:
            type_proto = result.get(name)
            shape, dtype = _type_shape(type_proto) if type_proto is not None else (None, 0)
            if shape is None and name in self._hints:
                shape, hint_dtype = _type_shape(self._hints[name])
                dtype = dtype or hint_dtype
            f.shapes[name] = shape
            f.dtypes[name] = dtype


def propagate(model, weights: set[str], keep_value_info: bool = True,
              nodes: list | None = None) -> GraphFacts:
    """Shapes, constant values and static flags of every tensor (see the module docstring).
    `weights`: graph inputs that are really weights; `keep_value_info`: use exporter-written
    intermediate shapes as a fallback (False when the input shapes were changed); `nodes`:
    the graph's nodes (`common.node_views`), by default read from the model."""
    return Propagator(model, weights, keep_value_info, nodes).run()
