"""ONNX handlers for layers that compute: Conv, Gemm / MatMul, pooling, activations, Clip,
normalisation (BatchNormalization, LayerNormalization, RMSNormalization), LSTM and reductions.

A mixin of `GraphMapper` (mapper.py): `self` has the tensor facts, `ref`, `add`, `claim`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from simulator.core.errors import NpusimError

Shape = tuple[int, ...]

#: single-input element-wise ONNX ops -> npusim activation function (Erf and the synthetic
#: tanh-GELU node become gelu; the x * 0.5 * (1 + ...) around them folds, see `gated`)
ACTIVATION_OPS = {"Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hardswish",
                  "HardSigmoid": "hardsigmoid", "Softmax": "softmax", "LogSoftmax": "softmax",
                  "Gelu": "gelu", "Erf": "gelu"}


class ComputeOps:
    """Handlers of compute ops (see the module docstring)."""

    def compute_handlers(self) -> dict[str, Callable]:
        table: dict[str, Callable] = {
            "Conv": self._conv, "BatchNormalization": self._batchnorm, "Gemm": self._gemm,
            "MatMul": self._matmul, "MaxPool": self._pool, "AveragePool": self._pool,
            "GlobalAveragePool": self._global_pool, "GlobalMaxPool": self._global_pool,
            "ReduceMean": self._reduce, "ReduceMax": self._reduce, "ReduceSum": self._reduce,
            "ReduceMin": self._reduce, "Clip": self._clip, "LSTM": self._lstm,
            "LayerNormalization": self._layernorm, "RMSNormalization": self._rmsnorm,
        }
        for op in ACTIVATION_OPS:
            table[op] = self._activation
        return table

    # ---- window helpers -------------------------------------------------------------------
    @staticmethod
    def _total_pads(attrs: dict, sizes: Shape, kernel: Shape, strides: Shape,
                    dilations: Shape) -> list[int]:
        """Total padding per spatial axis (begin + end), auto_pad included (ONNX spec)."""
        from simulator.io.onnx.common import decode

        auto = decode(attrs.get("auto_pad", "NOTSET"))
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

    def _set_density(self, fields: dict, tensors: list[str]) -> None:
        density = self.density(tensors)
        if density is not None and density < 1:
            fields["weight_density"] = max(round(density, 6), 1e-6)

    # ---- conv, pooling ----------------------------------------------------------------------
    def _conv(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        attrs = attrs_of(node)
        self._check_window(node, attrs)
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
        prepad = sym is None
        if sym is None:  # no symmetric pad gives the size: give the layer the padded input
            sym = ([0] * len(sizes), False)
            self.folded["Conv asymmetric pads -> pre-padded input"] += 1
        elif any(t % 2 for t in totals):
            self.folded["Conv asymmetric pads -> symmetric"] += 1
        pads, ceil = sym
        c_in, f_out = xs[1], ys[1]
        if w_shape is not None:
            self._check_weight(node, w_shape, (f_out, c_in // groups) + tuple(kernel[-rank:]),
                               "[out channels, in channels / group, kernel...]",
                               c_in % groups == 0)
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
        has_bias = len(node.input) > 2 and bool(node.input[2])
        if has_bias:
            fields["bias"] = True
        if ceil:
            fields["ceil_mode"] = True
        if self.claim(w, node.input[2] if has_bias else ""):
            fields["shared_weights"] = True
        self._set_density(fields, [w])
        in_shape = (c_in,) + ((1,) if one_d else ()) + tuple(xs[2:])
        if prepad:
            in_shape = (in_shape[0],) + tuple(n + t for n, t in zip(in_shape[1:], totals))
            source = self.ref(x, node, want=(c_in,) + ((1,) if one_d else ()) + tuple(xs[2:]))
            source = self._padded(source, node, index, in_shape)
        else:
            source = self.ref(x, node, want=in_shape)
        # MACs = output elements x (C/g) x kh x kw
        macs = math.prod(ys) * (c_in // groups) * math.prod(kernel)
        self.add(fields, [source], list(node.output), macs)

    def _check_window(self, node, attrs: dict) -> None:
        """A conv's or pool's attributes as ONNX defines them: kernel, strides and dilations of
        at least 1, pads of at least 0, a group count of at least 1 (ONNX shape inference
        gives up on others, which would read as a dynamic shape; group 0 divided by zero)."""
        bad = None
        for key, least in (("kernel_shape", 1), ("strides", 1), ("dilations", 1), ("pads", 0)):
            values = attrs.get(key)
            if values is not None and (not isinstance(values, (list, tuple)) or any(
                    not isinstance(v, int) or v < least for v in values)):
                bad = (key, values, least)
                break
        group = attrs.get("group", 1)
        if bad is None and (not isinstance(group, int) or group < 1):
            bad = ("group", group, 1)
        if bad is not None:
            key, value, least = bad
            raise NpusimError(f"node {node.name or node.op_type!r} ({node.op_type}): attribute "
                              f"{key} {str(value)[:60]} is invalid (integers of at least "
                              f"{least})",
                              file=self.path, fix="the model is inconsistent; export it again")

    def _padded(self, source: str, node, index: int, padded: Shape) -> str:
        """A `pad` layer giving a conv or pool the already padded input that no symmetric
        padding reproduces (odd total padding at stride 1)."""
        have = self.npu_shapes[source]
        before = [0] + [(p - h) // 2 for p, h in zip(padded[1:], have[1:])]
        after = [p - h - b for p, h, b in zip(padded, have, before)]
        draft = self.add({"name": self.unique_name(node, index, ".pad"), "type": "pad",
                          "before": before, "after": after}, [source], [],
                         onnx_out="")
        draft.onnx_elements = math.prod(padded)
        return draft.name

    def _pool(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        attrs = attrs_of(node)
        self._check_window(node, attrs)
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
        in_shape = tuple(xs[1:])
        source = self.ref(node.input[0], node, want=in_shape)
        if sym is None:  # no symmetric pad gives the size: give the layer the padded input
            sym = ([0, 0], bool(attrs.get("ceil_mode", 0)))
            padded = (in_shape[0],) + tuple(n + t for n, t in zip(in_shape[1:], totals))
            source = self._padded(source, node, index, padded)
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
        self.add(fields, [source], list(node.output))

    def _global_pool(self, node, index: int, kind: str | None = None) -> None:
        xs = self.shape(node.input[0], node)
        if len(xs) != 4:
            return self.unsupported_op(node, f"{node.op_type}({len(xs) - 2}-D)")
        kind = kind or ("globalavgpool" if node.op_type == "GlobalAveragePool" else "globalmaxpool")
        source = self.ref(node.input[0], node, want=tuple(xs[1:]))
        self.add({"name": self.unique_name(node, index), "type": kind}, [source],
                 list(node.output))

    def _reduce(self, node, index: int) -> None:
        """ReduceMean / ReduceMax over H and W of an NCHW tensor = global pooling (PyTorch's
        `x.mean((2, 3))`); any other reduction is a `reduce` layer over the same axes."""
        from simulator.io.onnx.common import attrs_of

        attrs = attrs_of(node)
        xs = self.shape(node.input[0], node)
        axes = attrs.get("axes")
        if axes is None and len(node.input) > 1 and node.input[1]:
            value = self.value(node.input[1])
            if value is None:
                return self.unsupported_op(node, f"{node.op_type}(run-time axes)")
            axes = [int(v) for v in np.ravel(value)]
        if axes is None or not len(axes):
            axes = list(range(len(xs)))
        axes = sorted(a % len(xs) for a in axes)
        keep = bool(attrs.get("keepdims", 1))
        op = {"ReduceMean": "mean", "ReduceMax": "max", "ReduceSum": "sum",
              "ReduceMin": "min"}[node.op_type]
        if len(xs) == 4 and axes == [2, 3] and keep and op in ("mean", "max"):
            return self._global_pool(node, index, "globalavgpool" if op == "mean"
                                     else "globalmaxpool")
        ps_axes = [self.ps_axis(xs, a) for a in axes]
        if None in ps_axes:
            return self.unsupported_op(node, f"{node.op_type}(over the batch)")
        source = self.ref(node.input[0], node)
        fields = {"name": self.unique_name(node, index), "type": "reduce", "op": op,
                  "axes": ps_axes, "keepdims": keep}
        self.add(fields, [source], list(node.output))

    # ---- GEMMs ------------------------------------------------------------------------------
    def _linear_draft(self, node, index: int, a: str, k: int, n: int, out_full: Shape,
                      bias: str | None, weight: str) -> None:
        tokens = math.prod(out_full) // n
        if tokens % self.model_batch:
            raise NpusimError(f"node {node.name!r}: {tokens} rows do not split into batch "
                              f"{self.model_batch}", file=self.path, fix="check --batch")
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "linear",
                                  "in_features": k, "out_features": n}
        if not bias:
            fields["bias"] = False
        if self.claim(weight):
            fields["shared_weights"] = True
        if bias:
            self.claim(bias)
        self._set_density(fields, [weight])
        have = self.npu_shapes.get(self.producer.get(a, ""))
        want = self.per_sample(self.shape(a, node))
        if have is not None and math.prod(want) == k and math.prod(have) == k and \
                (len(have) < 2 or have[-1] != k or math.prod(have[:-1]) == 1):
            want = have  # one token: a linear flattens its input itself (a CNN classifier)
        source = self.ref(a, node, want=want)
        self.add(fields, [source], list(node.output), tokens * k * n)

    def _gemm(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        attrs = attrs_of(node)
        a, b = node.input[0], node.input[1]
        if attrs.get("transA", 0):
            return self.unsupported_op(node, "Gemm(transA)")
        if not self.is_static(b):
            return self.unsupported_op(node, "Gemm(activation B)")
        if a not in self.producer:
            return self.unsupported_op(node, "Gemm(constant A)")
        a_shape = self.shape(a, node)
        b_shape = self.shapes.get(b)
        if b_shape is not None and len(a_shape) == 2:
            k_of_b = b_shape[1] if attrs.get("transB", 0) else b_shape[0]
            self._check_weight(node, b_shape, (b_shape[0], a_shape[1]) if attrs.get("transB", 0)
                               else (a_shape[1], b_shape[1]) if len(b_shape) == 2 else (),
                               "[N, K] (transB)" if attrs.get("transB", 0) else "[K, N]",
                               len(b_shape) == 2 and k_of_b == a_shape[1])
        y_shape = self.shape(node.output[0], node)
        k, n = a_shape[1], y_shape[1]
        bias = node.input[2] if len(node.input) > 2 and node.input[2] else None
        # alpha and beta scale values only; they do not change the MAC count
        self._linear_draft(node, index, a, k, n, y_shape, bias, b)

    def _check_weight(self, node, got: Shape, want: Shape, layout: str, ok: bool = True) -> None:
        """A weight's declared shape must agree with the data it multiplies: a file whose
        weights contradict its inputs (a conv weight with 5 input channels on a 3-channel
        input) is corrupt, not a model to guess about."""
        if ok and tuple(got) == tuple(want):
            return
        raise NpusimError(f"node {node.name or node.op_type!r} ({node.op_type}): its weight has "
                          f"shape {list(got)}, which contradicts its input (expected "
                          f"{list(want) if want else layout}, laid out as {layout})",
                          file=self.path, fix="the model is inconsistent; export it again")

    def _matmul(self, node, index: int) -> None:
        a, b = node.input[0], node.input[1]
        a_shape = self.shape(a, node)
        b_static = self.shapes.get(b)
        if self.is_static(b) and b_static is not None and len(b_static) == 2 and a_shape:
            self._check_weight(node, b_static, (a_shape[-1], b_static[1]), "[K, N]")
        y_shape = self.shape(node.output[0], node)
        if a not in self.producer:
            return self.unsupported_op(node, "MatMul(constant left operand)")
        k = a_shape[-1]
        b_shape = self.shapes.get(b)
        n = 1 if b_shape is not None and len(b_shape) == 1 else y_shape[-1]
        if self.is_static(b) and (b_shape is None or len(b_shape) <= 2):
            return self._linear_draft(node, index, a, k, n, y_shape, None, b)
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
        refs = [self.ref(a, node)]
        if self.is_static(b):
            fields["weights"] = True
            if self.claim(b):
                fields["shared_weights"] = True
            self._set_density(fields, [b])
        else:
            refs.append(self.ref(b, node))
        # MACs = output elements x K (each output is a K-long dot product)
        self.add(fields, refs, list(node.output), total * k)

    # ---- activations ------------------------------------------------------------------------
    def _activation_draft(self, node, index: int, function: str) -> None:
        x = self.data_inputs(node)[0]
        fields = {"name": self.unique_name(node, index), "type": "activation",
                  "function": function}
        self.add(fields, [self.ref(x, node)], list(node.output))

    def _activation(self, node, index: int) -> None:
        self._activation_draft(node, index, ACTIVATION_OPS[node.op_type])

    def _clip(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        attrs = attrs_of(node)
        lo, hi = attrs.get("min"), attrs.get("max")
        for slot in (1, 2):
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

    # ---- normalisation ----------------------------------------------------------------------
    def _batchnorm(self, node, index: int) -> None:
        x = node.input[0]
        source = self.producer.get(x)
        draft = self.drafts.get(source) if source else None
        self.claim(*node.input[1:])  # scale and bias count; the running statistics are buffers
        if draft is not None and draft.type == "conv" and not draft.fields.get("batchnorm") \
                and self.consumers[x] == 1:
            draft.fields["batchnorm"] = True
            self.folded["BatchNormalization into conv"] += 1
            for out in node.output:
                if out:
                    self.producer[out] = source
            return
        xs = self.shape(x, node)
        fields = {"name": self.unique_name(node, index), "type": "norm", "kind": "batchnorm"}
        self.add(fields, [self.ref(x, node, want=tuple(xs[1:]) or (1,))], [node.output[0]])

    def _layernorm(self, node, index: int) -> None:
        from simulator.io.onnx.common import attrs_of

        xs = self.shape(node.input[0], node)
        axis = int(attrs_of(node).get("axis", -1))
        if axis >= 0:
            axis = self.ps_axis(xs, axis)
            if axis is None:
                return self.unsupported_op(node, "LayerNormalization(over the batch)")
        has_bias = len(node.input) > 2 and bool(node.input[2])
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "norm",
                                  "kind": "layernorm"}
        if axis != -1:
            fields["axis"] = axis
        if not has_bias:
            fields["bias"] = False
        if self.claim(*node.input[1:]):
            fields["shared_weights"] = True
        self.add(fields, [self.ref(node.input[0], node)], [node.output[0]])

    def _rmsnorm(self, node, index: int) -> None:
        """RMSNormalization: ONNX's op (opset 23) or the x * rsqrt(mean(x^2) + eps) * w
        pattern that `patterns` recognises; normalised over the last axis."""
        scale = node.input[1] if len(node.input) > 1 and node.input[1] else None
        fields: dict[str, Any] = {"name": self.unique_name(node, index), "type": "norm",
                                  "kind": "rmsnorm"}
        if scale is None:
            fields["affine"] = False
        else:
            self.claim(scale)
        self.add(fields, [self.ref(node.input[0], node)], [node.output[0]])

    # ---- recurrent --------------------------------------------------------------------------
    def _lstm(self, node, index: int) -> None:
        """One `lstm` layer per direction (gate matmuls per step: [x_t, h_t-1] x 4H gates);
        a bidirectional LSTM concatenates the two directions."""
        from simulator.io.onnx.common import attrs_of, decode

        attrs = attrs_of(node)
        x = node.input[0]
        xs = self.shape(x, node)
        layout = int(attrs.get("layout", 0))
        steps, batch, features = (xs[1], xs[0], xs[2]) if layout else (xs[0], xs[1], xs[2])
        hidden = int(attrs["hidden_size"])
        directions = 2 if decode(attrs.get("direction", "forward")) == "bidirectional" else 1
        if decode(attrs.get("input_forget", 0)):
            self.notes.append("LSTM input_forget (coupled gates) counted as a full LSTM.")
        self.claim(*node.input[1:4])
        source = self.ref(x, node, want=(steps, features))
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
            names.append(self.add(fields, [source], [], macs, onnx_out="").name)
            self.drafts[names[-1]].onnx_elements = steps * hidden
        final = names[0]
        if directions == 2:
            fields = {"name": self.unique_name(node, index, "_concat"), "type": "concat",
                      "axis": 1}
            final = self.add(fields, names, [], onnx_out="").name
            self.drafts[final].onnx_elements = steps * 2 * hidden
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
