"""ONNX handlers for the data-movement and element-wise ops transformers use on activations:
Reshape-like ops, Transpose, Gather (index select, embedding lookup), Split, Slice, Concat,
Expand, Pad, Where and the element-wise Add / Sub / Mul / Div / Neg (with constants too).

A mixin of `GraphMapper` (mapper.py). What each becomes (docs/onnx.md has the table):
- Reshape, Flatten, Squeeze, Unsqueeze, and a Transpose that moves only size-1 axes: nothing
  (a `reshape` view appears where a consumer needs the new shape, see `GraphMapper.ref`);
- Transpose of axes of size > 1: `transpose` (moves data);
- Gather of a stored table by token ids: `embedding`; Gather / Split / Slice of an activation by
  constant positions: `slice` views; Expand: `expand` view; Pad: `pad` (zero pads: nothing);
- Concat on any axis: `concat` (a stored operand, such as ViT's class token, as `constant`);
- Where: `where`; Add / Mul with a tensor constant: `add` / `mul` with `constant`; with a scalar:
  folded into the producer (requantisation); a bias vector after a bias-free conv / linear:
  its `bias`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

Shape = tuple[int, ...]

#: x * f(x) patterns: f -> the activation the product is
GATED = {"sigmoid": "swish", "hardsigmoid": "hardswish", "relu6": "hardswish", "gelu": "gelu"}


class LayoutOps:
    """Handlers of data-movement and element-wise ops (see the module docstring)."""

    def layout_handlers(self) -> dict[str, Callable]:
        return {"Transpose": self._transpose, "Gather": self._gather, "Split": self._split,
                "Slice": self._slice_op, "Concat": self._concat, "Expand": self._expand,
                "Pad": self._pad, "Where": self._where, "Add": self._eltwise,
                "Sub": self._eltwise, "Mul": self._eltwise, "Div": self._eltwise,
                "Neg": self._neg}

    def handlers(self) -> dict[str, Callable]:
        return {**self.compute_handlers(), **self.layout_handlers()}

    # ---- shape-only ops ---------------------------------------------------------------------
    def reshape_like(self, node, index: int) -> None:
        """Reshape, Flatten, Squeeze, Unsqueeze: same elements, same order. No layer: `ref`
        inserts a `reshape` view (named after this node) where a consumer needs the shape."""
        self.pass_through(node)
        for out in node.output:
            if out:
                self.view_nodes.setdefault(out, (node, index))

    def _transpose(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        x = node.input[0]
        xs, ys = self.shape(x, node), self.shape(node.output[0], node)
        perm = list(attrs_of(node).get("perm", range(len(xs) - 1, -1, -1)))
        order = [a for a in perm if xs[a] > 1]
        if order == sorted(order):  # only size-1 axes move: the data stays in order
            return self.reshape_like(node, index)
        # the per-sample input and perm that give the per-sample output: drop the input axis
        # that lands on output axis 0 when the output's axis 0 is the batch
        want, ps_perm = tuple(xs), perm
        if self.drops_batch(ys):
            removed = perm[0]
            if xs[removed] != self.model_batch or (self.model_batch > 1 and removed != 0):
                return self.unsupported_op(node, "Transpose(moves the batch axis)")
            want = tuple(d for i, d in enumerate(xs) if i != removed)
            ps_perm = [p - (p > removed) for p in perm[1:]]
        elif self.model_batch > 1:
            return self.unsupported_op(node, "Transpose(merged batch)")
        fields = {"name": self.unique_name(node, index), "type": "transpose", "perm": ps_perm}
        self.add(fields, [self.ref(x, node, want=want)], list(node.output))

    # ---- index selection --------------------------------------------------------------------
    def _gather(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        data, indices = node.input[0], node.input[1]
        axis = int(attrs_of(node).get("axis", 0))
        if self.is_static(data) and not self.is_static(indices):
            return self._embedding(node, index, data, indices, axis)
        if self.is_static(indices) and not self.is_static(data):
            return self._index_select(node, index, data, indices, axis)
        self.unsupported_op(node, "Gather(indices from activations)")

    def _embedding(self, node, index: int, table: str, ids: str, axis: int) -> None:
        """A stored table looked up by token ids: an `embedding` layer (rows read from DRAM)."""
        shape = self.shapes.get(table)
        if shape is None or len(shape) != 2 or axis % 2 != 0:
            return self.unsupported_op(node, "Gather(table lookup, not rows of a 2-D table)")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "embedding",
                                  "vocab": shape[0], "dim": shape[1]}
        if self.claim(table):
            fields["shared_weights"] = True
        self.add(fields, [self.ref(ids, node)], list(node.output))

    def _index_select(self, node, index: int, data: str, indices: str, axis: int) -> None:
        """Constant positions of an activation: one position (a scalar index: the axis goes,
        as in `x[:, 0]`) or an evenly spaced run (`x[:, [-1]]`) are `slice` views."""
        xs = self.shape(data, node)
        value = self.value(indices)
        if value is None:
            return self.unsupported_op(node, "Gather(indices unknown)")
        size = xs[axis % len(xs)]
        positions = [int(v) % size for v in np.ravel(value)]
        ps_axis = self.ps_axis(xs, axis)
        if ps_axis is None:  # the batch axis: at batch 1, position 0 is everything
            if positions == [0] * len(positions) and self.model_batch == 1 and len(positions) == 1:
                return self.reshape_like(node, index)
            return self.unsupported_op(node, "Gather(over the batch)")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "slice",
                                  "axis": ps_axis}
        if np.ndim(value) == 0:
            fields["index"] = positions[0]
        else:
            steps = {b - a for a, b in zip(positions, positions[1:])}
            if len(steps) > 1 or (steps and min(steps) <= 0):
                return self.unsupported_op(node, "Gather(unevenly spaced positions)")
            step = steps.pop() if steps else 1
            fields.update(start=positions[0], end=positions[-1] + 1, step=step)
            if step == 1:
                del fields["step"]
        self.add(fields, [self.ref(data, node)], list(node.output))

    def _slices(self, node, index: int, data: str, cuts: list[tuple[int, int, int, int]],
                outputs: list[str]) -> None:
        """`slice` views of `data`, one per (axis, start, end, step) that is not the whole
        axis, chained; the last one produces `outputs`."""
        xs = self.shape(data, node)
        source = self.ref(data, node)
        parts = []
        for axis, start, end, step in cuts:
            axis %= len(xs)
            size = xs[axis]
            start, end, step = slice(start, end, step).indices(size)
            if (start, end, step) == (0, size, 1):
                continue
            ps_axis = self.ps_axis(xs, axis)
            if ps_axis is None:
                return self.unsupported_op(node, f"{node.op_type}(over the batch)")
            parts.append((ps_axis, start, end, step))
        if not parts:  # the whole tensor
            return self._alias(outputs, source)
        for i, (axis, start, end, step) in enumerate(parts):
            fields: dict[str, Any] = {"name": self.unique_name(node, index, "" if i == 0 else
                                                               f"_{i + 1}"),
                                      "type": "slice", "axis": axis, "start": start,
                                      "end": end}
            if step != 1:
                fields["step"] = step
            last = i == len(parts) - 1
            draft = self.add(fields, [source], outputs if last else [],
                             onnx_out=outputs[0] if last else "")
            source = draft.name

    def _alias(self, outputs: list[str], source: str) -> None:
        for out in outputs:
            self.producer[out] = source

    def _slice_op(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        data = node.input[0]
        attrs = attrs_of(node)
        if len(node.input) > 1:  # opset >= 10: starts, ends, axes, steps as inputs
            values = [self.value(t) if t else None for t in list(node.input[1:5]) +
                      [""] * (5 - len(node.input))]
            if values[0] is None or values[1] is None or \
                    any(t and v is None for t, v in zip(list(node.input[3:5]), values[2:4])):
                return self.unsupported_op(node, "Slice(run-time bounds)")
            starts, ends = np.ravel(values[0]), np.ravel(values[1])
            axes = np.ravel(values[2]) if values[2] is not None else range(len(starts))
            steps = np.ravel(values[3]) if values[3] is not None else [1] * len(starts)
        else:
            starts, ends = attrs["starts"], attrs["ends"]
            axes = attrs.get("axes", range(len(starts)))
            steps = [1] * len(starts)
        big = 1 << 62
        cuts = [(int(a), int(max(min(s, big), -big)), int(max(min(e, big), -big)), int(st))
                for a, s, e, st in zip(axes, starts, ends, steps)]
        self._slices(node, index, data, cuts, [node.output[0]])

    def _split(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        data = node.input[0]
        xs = self.shape(data, node)
        axis = int(attrs_of(node).get("axis", 0)) % len(xs)
        start = 0
        for out in node.output:
            size = self.shape(out, node)[axis]
            if out and self.consumers[out]:
                self._slices(node, index, data, [(axis, start, start + size, 1)], [out])
            start += size

    # ---- combining --------------------------------------------------------------------------
    def _concat(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        ys = self.shape(node.output[0], node)
        axis = int(attrs_of(node).get("axis", 1)) % len(ys)
        inputs = self.data_inputs(node)
        constants = [t for t in node.input if t and self.is_static(t)]
        ps_axis = self.ps_axis(ys, axis)
        if ps_axis is None:
            return self.unsupported_op(node, "Concat(over the batch)")
        if len(constants) > 1:
            return self.unsupported_op(node, "Concat(several constants)")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "concat"}
        if ps_axis != 0:
            fields["axis"] = ps_axis - len(self.per_sample(ys))  # from the end: rank-proof
        if constants:
            const = self.shape(constants[0], node)
            fields["constant"] = list(self._constant_shape(const, ys, keep_rank=True))
            fields["constant_params"] = self.learned_elements(constants[0])
        if len(inputs) + len(constants) < 2:
            return self.pass_through(node)
        self.add(fields, [self.ref(t, node) for t in inputs], list(node.output))

    def _expand(self, node, index: int) -> None:
        x = node.input[0]
        xs, ys = self.shape(x, node), self.shape(node.output[0], node)
        out = self.per_sample(ys)
        if math.prod(xs) == math.prod(ys):
            return self.reshape_like(node, index)
        fields = {"name": self.unique_name(node, index), "type": "expand", "shape": list(out)}
        self.add(fields, [self.ref(x, node)], list(node.output))

    def _pad(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        x = node.input[0]
        xs = self.shape(x, node)
        attrs = attrs_of(node)
        pads = attrs.get("pads")
        if pads is None and len(node.input) > 1 and node.input[1]:
            value = self.value(node.input[1])
            if value is None:
                return self.unsupported_op(node, "Pad(run-time pads)")
            pads = [int(v) for v in np.ravel(value)]
        rank = len(xs)
        if len(node.input) > 3 and node.input[3]:  # opset 18 axes
            axes = [int(a) % rank for a in np.ravel(self.value(node.input[3]))]
            full = [0] * (2 * rank)
            for i, a in enumerate(axes):
                full[a], full[a + rank] = pads[i], pads[i + len(axes)]
            pads = full
        pads = list(pads or [0] * (2 * rank))
        if not any(pads):
            return self.pass_through(node)
        if any(p < 0 for p in pads):
            return self.unsupported_op(node, "Pad(negative: a crop)")
        before, after = pads[:rank], pads[rank:]
        if self.drops_batch(xs):
            if before[0] or after[0]:
                return self.unsupported_op(node, "Pad(of the batch)")
            before, after = before[1:], after[1:]
        fields = {"name": self.unique_name(node, index), "type": "pad", "before": before,
                  "after": after}
        want = tuple(xs[1:]) if self.drops_batch(xs) else tuple(xs)
        self.add(fields, [self.ref(x, node, want=want)], list(node.output))

    # ---- element-wise -----------------------------------------------------------------------
    def _constant_shape(self, const: Shape, out_full: Shape, keep_rank: bool = False) -> Shape:
        """Per-sample shape of a constant operand that broadcasts against `out_full`."""
        padded = (1,) * (len(out_full) - len(const)) + tuple(const)
        if self.drops_batch(out_full):
            padded = padded[1:]
        if not keep_rank:
            while len(padded) > 1 and padded[0] == 1:
                padded = padded[1:]
        return padded or (1,)

    def _where(self, node, index: int) -> None:
        ys = self.shape(node.output[0], node)
        inputs = self.data_inputs(node)
        constants = [t for t in node.input if t and self.is_static(t)]
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "where"}
        big = [self._constant_shape(self.shape(t, node), ys) for t in constants]
        big = [s for s in big if math.prod(s) > 1]  # scalars (a fill value) are immediates
        if big:
            from simulator.core.geometry import broadcast_shapes

            shape = broadcast_shapes(*big)
            if shape is None:
                return self.unsupported_op(node, "Where(constants that do not broadcast)")
            fields["constant"] = list(shape)
            fields["constant_params"] = 0  # a mask is a buffer, not a parameter
            self.claim(*constants)
        self.add(fields, [self.ref(t, node) for t in inputs], list(node.output))

    def _neg(self, node, index: int) -> None:
        """-x: a sign the consumer applies (as a scale by -1 in its requantisation)."""
        self.folded["Neg (sign folded into the consumer)"] += 1
        self.pass_through(node)

    def _eltwise(self, node, index: int) -> None:
        a, b = node.input[0], node.input[1]
        op = node.op_type
        static_a, static_b = self.is_static(a), self.is_static(b)
        if static_a or static_b:
            return self._eltwise_constant(node, index, b if static_b else a,
                                          a if static_b else b, constant_first=static_a)
        if op == "Mul" and self._gated(node):
            return
        if op == "Div":
            return self.unsupported_op(node, "Div(activation / activation)")
        fields = {"name": self.unique_name(node, index),
                  "type": "add" if op in ("Add", "Sub") else "mul"}
        self.add(fields, [self.ref(a, node), self.ref(b, node)], list(node.output))

    def _eltwise_constant(self, node, index: int, const: str, data: str,
                          constant_first: bool) -> None:
        """Element-wise op with a constant. A scalar is folded into the producer (accelerators
        apply it in the requantisation step); a bias vector after a bias-free conv / linear
        becomes its bias; any other constant is a stored operand of an `add` / `mul` layer."""
        op = node.op_type
        source = self.producer.get(data)
        draft = self.drafts.get(source) if source else None
        cshape = self.shape(const, node)
        size = math.prod(cshape)
        if op == "Div" and constant_first:
            return self.unsupported_op(node, "Div(constant / activation)")
        channels = None
        if draft is not None and draft.type == "conv":
            channels = draft.fields["out_channels"]
        elif draft is not None and draft.type == "linear":
            channels = draft.fields["out_features"]
        if op in ("Add", "Sub") and channels and size == channels and \
                not draft.fields.get("bias", draft.type == "linear") and \
                self.consumers[data] == 1 and self._is_channel_vector(cshape, draft):
            draft.fields.pop("bias", None)
            if draft.type == "conv":
                draft.fields["bias"] = True
            self.claim(const)
            self.folded["Add (bias) into its layer"] += 1
            return self._alias(list(node.output), source)
        if size == 1:
            self.folded[f"{op} by a scalar (requantisation)"] += 1
            return self._alias([o for o in node.output if o], source)
        ys = self.shape(node.output[0], node)
        shape = self._constant_shape(cshape, ys)
        fields: dict[str, Any] = {"name": self.unique_name(node, index),
                                  "type": "add" if op in ("Add", "Sub") else "mul",
                                  "constant": list(shape)}
        if op in ("Add", "Sub") or sum(d > 1 for d in shape) <= 1:
            # a bias, a position embedding, a per-channel scale (layer scale): learned
            fields["constant_params"] = self.learned_elements(const)
        else:  # a multiplicative table over positions (rotary cos / sin): precomputed
            fields["constant_params"] = 0
            self.claim(const)
        self.add(fields, [self.ref(data, node)], list(node.output))

    @staticmethod
    def _is_channel_vector(cshape: Shape, draft) -> bool:
        """A bias for a conv is (C,) broadcast over NCHW as (C, 1, 1); for a linear (N,)."""
        if draft.type == "conv":
            return len(cshape) >= 3 and cshape[-2:] == (1, 1) or len(cshape) == 1
        return cshape[-1:] == (draft.fields["out_features"],)

    def _gated(self, node) -> bool:
        """x * f(x) with f = sigmoid (swish), hardsigmoid or relu6 (hardswish), gelu (the erf
        or tanh form of GELU): fold the product into f's activation layer."""
        for x, gate in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
            gate_draft = self.drafts.get(self.producer.get(gate) or "")
            if gate_draft is None or gate_draft.type != "activation":
                continue
            function = gate_draft.fields["function"]
            if function in GATED and gate_draft.refs == [self.producer.get(x)] \
                    and self.consumers[gate] == 1:
                gate_draft.fields["function"] = GATED[function]
                self.folded[f"Mul x*{function}(x) -> {GATED[function]}"] += 1
                return self._alias([o for o in node.output if o], gate_draft.name) or True
        return False
