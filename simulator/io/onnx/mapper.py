"""Map an ONNX graph (with every tensor's shape known: `folding.propagate`) to npusim layers.

Three passes:

1. **map**: first every op that no handler knows is listed (by name and count, before any
   shape problem can stop the import); then the nodes are walked in graph order and each
   becomes a draft layer, a fold into an earlier layer (BatchNormalization into its conv, a
   bias Add into its linear, x*sigmoid(x) into swish, a scalar scale into the producer's
   requantisation), a pass-through (Identity, Dropout, Cast, and the reshape-like ops) or an
   unsupported op. Static sub-graphs (shape arithmetic, constant tables) were folded by
   `folding`. The handlers live in `compute_ops` and `layout_ops`.
2. **fuse** (optional): an element-wise activation whose only producer is a conv, linear or
   eltwise layer used by nothing else becomes that layer's fused `activation` (how
   accelerators run conv+relu, and how the bundled workloads are written).
3. **finalize**: each layer's `inputs` (omitted when it is the previous layer), then every
   layer is bound with npusim's own shape inference and checked against the ONNX graph: its
   MACs must equal the ONNX node's and its output must hold as many elements; a mismatch is an
   importer bug and stops the import instead of returning a wrong workload.

Shapes: ONNX tensors carry the batch; npusim shapes do not. A tensor's per-sample shape drops
axis 0 when it equals the batch (or divides the first axis that is a multiple of the batch,
for exports that merge batch and tokens). Every layer reads its inputs through `ref`, which
guarantees that the npusim shape of what it reads is the per-sample ONNX shape (or the shape
the handler asks for): where a reshape-like op (Reshape, Flatten, Squeeze, Unsqueeze, a
transpose of size-1 axes) changed it, a free `reshape` view is inserted, once per tensor.

Parameters are counted as PyTorch counts them: every float tensor stored in the file that a
layer uses as a weight, bias, norm scale or shift, embedding table or learned constant operand
counts once, in the first layer that uses it (`claim`); a later use marks the layer
`shared_weights` (tied embeddings). Buffers count nothing: BatchNorm running statistics,
masks, and multiplicative tables that vary over positions (rotary cos/sin).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import numpy as np
from pydantic import ValidationError
from pydantic_core import PydanticCustomError

from simulator.core.errors import NpusimError
from simulator.core.layer_base import ShapeError
from simulator.core.layer_union import validate_layer
from simulator.io.onnx.common import (
    INPUT_PREFIX,
    Draft,
    ImportReport,
    counts,
    is_graph_input,
    sanitize,
)
from simulator.io.onnx.compute_ops import ComputeOps
from simulator.io.onnx.folding import GraphFacts, has_inline_data
from simulator.io.onnx.layout_ops import LayoutOps

Shape = tuple[int, ...]

#: ONNX ops that leave the data as it is: no layer, consumers read the producer
PASS_OPS = {"Identity", "Dropout", "Cast", "CastLike"}
#: ops that change only the shape (same elements, same order): views made on demand by `ref`
RESHAPE_OPS = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
#: activations that can be fused into the layer that produces their input
FUSABLE = {"relu", "relu6", "sigmoid", "tanh", "swish", "hardswish", "hardsigmoid", "gelu"}
FUSE_INTO = {"conv", "linear", "add", "mul"}
_FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


class _UnknownShape(NpusimError):
    """A tensor's shape is not fixed; raised inside a handler, reported after the op list."""


class GraphMapper(ComputeOps, LayoutOps):
    """Walks one ONNX graph (shapes from `facts`) and builds the npusim layer list."""

    def __init__(self, model, facts: GraphFacts, path: Path, model_batch: int,
                 skip_unknown: bool, weights: set[str], nodes: list | None = None,
                 initializers: dict[str, Any] | None = None) -> None:
        """`nodes`: the graph's nodes after pattern rewriting (default: the graph's own);
        `initializers`: the weight tensors (their data gives weight densities)."""
        self.model = model
        self.graph = model.graph
        self.nodes = list(nodes if nodes is not None else self.graph.node)
        self.path = path
        self.model_batch = model_batch
        self.skip_unknown = skip_unknown
        self.base_dir = path.parent
        self.shapes = facts.shapes
        self.values = facts.values
        self.initializers = initializers if initializers is not None else \
            {t.name: t for t in self.graph.initializer}
        self.static: set[str] = set(facts.static) | set(self.initializers) | set(weights)
        self.producer: dict[str, str] = {}
        self.drafts: dict[str, Draft] = {}
        self.npu_shapes: dict[str, Shape] = {}  # draft or graph-input ref -> npusim shape
        self.views: dict[tuple[str, Shape], str] = {}
        self.view_nodes: dict[str, tuple[Any, int]] = {}  # tensor -> reshape-like node
        self.used_names: set[str] = set()
        self.consumers: Counter = Counter()
        self.folded: Counter = Counter()
        self.unsupported: Counter = Counter()
        self.notes: list[str] = []
        self.input_shape: Shape | None = None
        self.claimed: set[str] = set()
        self.sources: dict[str, frozenset[str]] = {}
        self.first_shape_error: NpusimError | None = None
        self._collect(weights)

    # ---- tensor facts ---------------------------------------------------------------------
    def _collect(self, weights: set[str]) -> None:
        for node in self.nodes:
            for name in node.input:
                if name:
                    self.consumers[name] += 1
        for out in self.graph.output:
            self.consumers[out.name] += 1
        # float tensors stored in the file (or weight-like graph inputs) behind static tensors
        for name, tensor in self.initializers.items():
            self.sources[name] = frozenset([name]) if tensor.data_type in _FLOAT_TYPES \
                else frozenset()
        for value in self.graph.input:
            if value.name in weights and value.name not in self.sources:
                self.sources[value.name] = frozenset([value.name])
        for node in self.nodes:
            if node.op_type in ("Shape", "Size"):
                continue
            outs = [o for o in node.output if o and o in self.static]
            if node.op_type == "Identity" and outs and self.sources.get(node.input[0]):
                # the TorchScript exporter stores equal-valued parameters once and names each
                # use with an Identity (freshly initialised biases, LayerNorm scales): each is
                # a parameter of its own, unlike a tied weight, which is read directly
                self.sources[outs[0]] = frozenset([outs[0]])
                continue
            if outs:
                src = frozenset().union(*(self.sources.get(t, frozenset()) for t in node.input
                                          if t))
                for out in outs:
                    self.sources[out] = src

    def shape(self, tensor: str, node) -> Shape:
        shape = self.shapes.get(tensor)
        if shape is None:
            raise _UnknownShape(
                f"the shape of tensor {tensor!r} (read by node {node.name or node.op_type!r}) "
                "is not fixed: it depends on values known only at run time", file=self.path,
                fix="export with static shapes (fixed batch and sequence length), or give "
                "symbolic input dims with --input-shape")
        return shape

    def batch_axis(self, shape: Shape) -> int | None:
        """The axis that `per_sample` drops (None: none is dropped, the batch is merged)."""
        batch = self.model_batch
        for axis, size in enumerate(shape):
            if size == batch:
                return axis
            if size % batch == 0:
                return None
        return None

    def drops_batch(self, shape: Shape) -> bool:
        """True when the per-sample shape drops axis 0 (it is the batch)."""
        return bool(shape) and self.batch_axis(shape) == 0

    def per_sample(self, shape: Shape) -> Shape:
        """Drop the batch from a full ONNX shape (see the module docstring)."""
        batch = self.model_batch
        for axis, size in enumerate(shape):
            if size == batch:
                return (shape[:axis] + shape[axis + 1:]) or (1,)
            if size % batch == 0:
                return (shape[:axis] + (size // batch,) + shape[axis + 1:]) or (1,)
        if not shape:
            return (1,)
        raise NpusimError(f"cannot find the batch ({batch}) in tensor shape {list(shape)}",
                          file=self.path, fix="export with a batch size that divides the "
                          "first dimension, or pass --batch")

    def ps_axis(self, full_shape: Shape, axis: int) -> int | None:
        """Per-sample axis of a full-shape axis (None: it is the batch axis)."""
        axis %= len(full_shape)
        dropped = self.batch_axis(full_shape)
        if dropped is None:
            return axis
        if axis == dropped:
            return None
        return axis - 1 if axis > dropped else axis

    def value(self, tensor: str) -> np.ndarray | None:
        """A constant's value (inline or folded, or an initializer's data), else None."""
        if tensor in self.values:
            return self.values[tensor]
        init = self.initializers.get(tensor)
        return None if init is None else self._tensor_data(init)

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
        if math.prod(tensor.dims) and not has_inline_data(tensor):
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

    # ---- parameters -----------------------------------------------------------------------
    def claim(self, *tensors: str) -> bool:
        """Mark the stored float tensors behind `tensors` as counted; True when one of them was
        counted before (a tied weight)."""
        src = frozenset().union(*(self.sources.get(t, frozenset()) for t in tensors if t))
        shared = bool(src & self.claimed)
        self.claimed |= src
        return shared

    def learned_elements(self, tensor: str) -> int:
        """Elements of the not yet counted stored float tensors behind `tensor` (its learned
        parameters), which are then counted."""
        fresh = self.sources.get(tensor, frozenset()) - self.claimed
        self.claimed |= fresh
        return sum(math.prod(self.shapes.get(t) or (0,)) for t in fresh)

    # ---- naming ---------------------------------------------------------------------------
    def unique_name(self, node, index: int, suffix: str = "") -> str:
        """The sanitized node name; when a module holds several ops (attention's reshapes,
        transposes and matmuls all sit in `/h.0/attn/`), the later ones keep their op token
        (`h.0.attn.transpose_2`); `_2`, `_3` only when that is taken too."""
        base = sanitize(node.name) if node is not None and node.name else ""
        name = (base or f"{node.op_type.lower()}_{index}") + suffix
        if base and name in self.used_names:
            last = [p for p in node.name.split("/") if p][-1]
            if re.fullmatch(r"[A-Z][A-Za-z]*(_\d+)?", last) and not base.endswith(last):
                name = f"{base}.{last.lower()}{suffix}"
        return self._unique(name)

    def _unique(self, base: str) -> str:
        name, n = base, 2
        while name in self.used_names:
            name, n = f"{base}_{n}", n + 1
        self.used_names.add(name)
        return name

    # ---- drafts ---------------------------------------------------------------------------
    def add(self, fields: dict[str, Any], refs: list[str], outputs: list[str], macs: int = 0,
            onnx_out: str | None = None, node=None) -> Draft:
        """Bind a new layer to what it reads (npusim shapes from `ref`) and register it as the
        producer of `outputs`."""
        in_shapes = [self.npu_shapes[r] for r in refs]
        layer = self._bind(fields, in_shapes)
        out = onnx_out if onnx_out is not None else next((o for o in outputs if o), None)
        elements = math.prod(self.per_sample(self.shapes[out])) if out and \
            self.shapes.get(out) is not None else math.prod(layer.output_shape)
        draft = Draft(fields, list(refs), in_shapes, layer.output_shape, macs, elements)
        self.drafts[draft.name] = draft
        self.npu_shapes[draft.name] = layer.output_shape
        for name in outputs:
            if name:
                self.producer[name] = draft.name
        return draft

    def _bind(self, fields: dict, shapes: list[Shape]):
        try:
            layer = validate_layer(fields)
        except (ValidationError, PydanticCustomError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            raise NpusimError(f"internal import error for {fields.get('name')!r}: {message}",
                              file=self.path) from None
        try:
            layer.bind([tuple(s) for s in shapes], self.model_batch)
        except ShapeError as exc:
            raise NpusimError(f"cannot express ONNX node {fields.get('name')!r} as an npusim "
                              f"{fields.get('type')} layer ({exc})", file=self.path,
                              fix="please report this model; --skip-unknown does not apply") \
                from None
        return layer

    def ref(self, tensor: str, node=None, want: Shape | None = None) -> str:
        """The draft (or graph input) to read `tensor` from, with npusim shape `want` (default:
        the tensor's per-sample shape): a free `reshape` view is inserted when the producer's
        shape differs (same elements)."""
        if tensor not in self.producer:
            raise NpusimError(f"tensor {tensor!r} has no producer", file=self.path,
                              fix="the model may be truncated; export it again")
        source = self.producer[tensor]
        if want is None:
            want = self.per_sample(self.shape(tensor, node))
        want = tuple(want)
        have = self.npu_shapes[source]
        if have == want:
            return source
        key = (source, want)
        if key in self.views:
            return self.views[key]
        if math.prod(have) != math.prod(want):
            raise NpusimError(f"internal import error: {tensor!r} has {list(have)} in npusim but "
                              f"{list(want)} is needed", file=self.path,
                              fix="please report this model")
        origin = self.view_nodes.get(tensor)
        if origin is not None:
            name = self.unique_name(*origin)
        else:
            base = source[len(INPUT_PREFIX):] if is_graph_input(source) else source
            name = self._unique(sanitize(base) + ".reshape")
        self.add({"name": name, "type": "reshape", "shape": list(want)}, [source], [])
        self.views[key] = name
        return name

    def pass_through(self, node) -> None:
        inputs = self.data_inputs(node)
        if not inputs or inputs[0] not in self.producer:
            return
        for out in node.output:
            if out:
                self.producer[out] = self.producer[inputs[0]]

    def unsupported_op(self, node, label: str | None = None) -> None:
        """Count the op; with --skip-unknown it is a free pass-through, and an output whose size
        differs from its input is read by its consumers as a fresh input of its own shape."""
        self.unsupported[label or node.op_type] += 1
        self.pass_through(node)
        for out in node.output:
            shape = self.shapes.get(out) if out else None
            if shape is None:
                continue
            source = self.producer.get(out)
            ps = self.per_sample(shape)
            if source is None or math.prod(self.npu_shapes[source]) != math.prod(ps):
                self.producer[out] = INPUT_PREFIX + out
                self.npu_shapes[INPUT_PREFIX + out] = ps

    # ---- pass 1: map ----------------------------------------------------------------------
    def run(self, fuse_activations: bool = True) -> ImportReport:
        for value in self.graph.input:
            if value.name not in self.static:
                ref = INPUT_PREFIX + value.name
                self.producer[value.name] = ref
                shape = self.shapes.get(value.name)
                if shape is not None:
                    self.npu_shapes[ref] = self.per_sample(shape)
                    if self.input_shape is None:
                        self.input_shape = self.npu_shapes[ref]
        handlers = self.handlers()
        self._list_unsupported(handlers)
        for index, node in enumerate(self.nodes):
            outs = [o for o in node.output if o]
            if outs and all(o in self.static for o in outs):
                continue  # constant-folded (shape arithmetic, constant tables)
            op = node.op_type
            if node.domain not in ("", "ai.onnx"):
                self.unsupported_op(node, f"{node.domain}.{op}")
                continue
            try:
                if op in PASS_OPS:
                    self.pass_through(node)
                elif op in RESHAPE_OPS:
                    self.reshape_like(node, index)
                elif op in handlers:
                    handlers[op](node, index)
                else:
                    self.unsupported_op(node)
            except _UnknownShape as exc:
                self.first_shape_error = self.first_shape_error or exc
                self.pass_through(node)
        if self.unsupported and not self.skip_unknown:
            raise NpusimError("unsupported ONNX ops: " + counts(self.unsupported), file=self.path,
                              fix="`npusim import --skip-unknown` imports without them (they "
                              "are then listed in the workload description)")
        if self.first_shape_error is not None:
            raise self.first_shape_error
        if fuse_activations:
            self._fuse()
        layers = self._finalize()
        if not layers:
            raise NpusimError("the model has no layers npusim can simulate", file=self.path)
        return ImportReport(layers=layers, input_shape=self.input_shape, folded=self.folded,
                            skipped=self.unsupported, notes=self.notes,
                            macs=sum(d.macs for d in self.drafts.values()))

    def _list_unsupported(self, handlers: dict[str, Callable]) -> None:
        """Ops no handler knows, counted before any node is mapped: a shape problem further
        on cannot hide them."""
        known = set(handlers) | PASS_OPS | RESHAPE_OPS
        for node in self.nodes:
            outs = [o for o in node.output if o]
            if outs and all(o in self.static for o in outs):
                continue
            if node.domain not in ("", "ai.onnx") or node.op_type not in known:
                label = node.op_type if node.domain in ("", "ai.onnx") else \
                    f"{node.domain}.{node.op_type}"
                self.unsupported[label] += 1
        if self.unsupported and not self.skip_unknown:
            raise NpusimError("unsupported ONNX ops: " + counts(self.unsupported), file=self.path,
                              fix="`npusim import --skip-unknown` imports without them (they "
                              "are then listed in the workload description)")
        self.unsupported.clear()  # counted again, with variants, while mapping

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
            draft.refs = [rename.get(r, r) for r in draft.refs]
            if draft.type != "activation" or draft.fields["function"] not in FUSABLE:
                continue
            source = draft.refs[0]
            target = self.drafts.get(source)
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
        previous: str | None = None
        for index, draft in enumerate(self.drafts.values()):
            fields = dict(draft.fields)
            refs = draft.refs
            if len(refs) == 1 and is_graph_input(refs[0]):
                if not (index == 0 and self.input_shape == draft.in_shapes[0]):
                    fields["input"] = list(draft.in_shapes[0])
            elif not (len(refs) == 1 and refs[0] == previous):
                fields["inputs"] = list(refs)
            layer = self._bind(fields, draft.in_shapes)
            if layer.macs != draft.macs or math.prod(layer.output_shape) != draft.onnx_elements:
                raise NpusimError(
                    f"cannot express ONNX node {draft.name!r} as an npusim {draft.type} layer "
                    f"(npusim counts {layer.macs} MACs / {math.prod(layer.output_shape)} "
                    f"outputs, ONNX {draft.macs} / {draft.onnx_elements})", file=self.path,
                    fix="please report this model; --skip-unknown does not apply")
            out.append(self._order(fields))
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
                        shared[ref] = shape
        if not shared:
            return
        front: dict[str, Draft] = {}
        rename: dict[str, str] = {}
        for ref, shape in shared.items():
            name = self._unique(sanitize(ref[len(INPUT_PREFIX):]) or "input")
            front[name] = Draft({"name": name, "type": "activation", "function": "identity"},
                                [ref], [shape], shape, 0, math.prod(shape))
            rename[ref] = name
            self.notes.append(f"Layer {name!r} (identity) stands for a graph input that a "
                              "multi-input layer reads.")
        for draft in self.drafts.values():
            draft.refs = [rename.get(r, r) for r in draft.refs]
        self.drafts = {**front, **self.drafts}

    @staticmethod
    def _order(fields: dict) -> dict:
        """Key order for readable YAML: name, type, dataflow, then the rest."""
        head = ["name", "type", "inputs", "input"]
        return {**{k: fields[k] for k in head if k in fields},
                **{k: v for k, v in fields.items() if k not in head}}

