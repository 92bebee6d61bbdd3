"""Hypothesis strategies for fuzzed npusim inputs: workloads (CNNs and MLPs whose shapes chain,
so most are valid), hostile mutations of any field, `--set` overrides, sweep specs and ONNX
graphs. Valid inputs exercise the engines' physics, mutated ones the error path."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

#: Values that have broken loaders before (issue 15): zero, negative, booleans, huge and
#: non-finite numbers, a 400-digit integer, wrong types.
HOSTILE: list[Any] = [0, -1, -(2**63), True, False, None, 2**31, 2**62, 2**62 + 1, 2**64,
                      10**30, 10**400, 1e300, -1e300, 1e-300, math.inf, -math.inf, math.nan,
                      0.5, "", "x", "1e999", "$\\frac{", [], {}, [1, 2, 3], [0], {"a": 1}]
#: Unknown or misspelt fields.
UNKNOWN = ["zzz", "strid", "Kernel", "out_channel", "type "]


def hostile() -> st.SearchStrategy:
    return st.sampled_from(HOSTILE)


@st.composite
def cnn(draw, max_layers: int = 6) -> dict:
    """A small CNN: convs (dense, grouped, depthwise), pools, activations, residual adds,
    global pooling and a classifier; shapes are tracked so every layer fits."""
    c, h = draw(st.integers(1, 16)), draw(st.integers(4, 32))
    w = draw(st.one_of(st.just(h), st.integers(4, 32)))
    first = [c, h, w]
    shape: tuple = (c, h, w)
    layers: list[dict] = []
    same: dict[tuple, str] = {}
    for i in range(draw(st.integers(1, max_layers))):
        name = f"l{i}"
        if len(shape) == 3:
            c, h, w = shape
            op = draw(st.sampled_from(["conv", "conv", "dw", "pool", "act", "add", "gap"]))
            if op in ("conv", "dw"):
                k = draw(st.integers(1, min(5, h, w)))
                s = draw(st.integers(1, 2))
                p = draw(st.integers(0, k // 2))
                groups = c if op == "dw" else draw(st.sampled_from(
                    [g for g in (1, 2, 4) if c % g == 0]))
                out = c if op == "dw" else groups * draw(st.integers(1, 8))
                layer = {"name": name, "type": "conv", "out_channels": out, "kernel": k,
                         "stride": s, "padding": p, "groups": groups}
                if draw(st.booleans()):
                    layer["activation"] = draw(st.sampled_from(["relu", "relu6", "hardswish",
                                                                "sigmoid"]))
                shape = (out, (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1)
            elif op == "pool":
                k = draw(st.integers(1, min(3, h, w)))
                layer = {"name": name, "type": draw(st.sampled_from(["maxpool", "avgpool"])),
                         "kernel": k}
                shape = (c, (h - k) // k + 1, (w - k) // k + 1)
            elif op == "act":
                layer = {"name": name, "type": "activation",
                         "function": draw(st.sampled_from(["relu", "swish", "gelu", "tanh"]))}
            elif op == "add" and shape in same:
                layer = {"name": name, "type": "add", "inputs": [same[shape], layers[-1]["name"]]}
            else:
                layer = {"name": name, "type": "globalavgpool"}
                shape = (c, 1, 1)
        else:
            out = draw(st.integers(1, 64))
            layer = {"name": name, "type": "linear", "in_features": shape[0],
                     "out_features": out}
            shape = (out,)
        layers.append(layer)
        same.setdefault(shape, name)
        if len(shape) == 3 and shape[1] == shape[2] == 1 and draw(st.booleans()):
            layers.append({"name": f"f{i}", "type": "flatten"})
            shape = (math.prod(shape),)
    return {"name": "fuzz_cnn", "input": first, "batch": draw(st.integers(1, 4)),
            "layers": layers}


@st.composite
def mlp(draw, max_layers: int = 4) -> dict:
    """Fully connected layers and LSTMs (what the sparse engine runs), with densities."""
    features = draw(st.integers(1, 256))
    seq = draw(st.integers(1, 8))
    shape: tuple = (features,)
    layers = []
    for i in range(draw(st.integers(1, max_layers))):
        density = {"weight_density": draw(st.sampled_from([1.0, 0.5, 0.1, 0.01])),
                   "activation_density": draw(st.sampled_from([1.0, 0.6, 0.3]))}
        if draw(st.integers(0, 3)) == 0 and len(shape) == 1:
            hidden = draw(st.integers(1, 128))
            layers.append({"name": f"lstm{i}", "type": "lstm", "input": [seq, shape[0]],
                           "hidden_size": hidden, **density})
            shape = (seq, hidden)
        else:
            out = draw(st.integers(1, 256))
            layers.append({"name": f"fc{i}", "type": "linear", "out_features": out, **density})
            shape = (shape[0], out) if len(shape) == 2 else (out,)
    return {"name": "fuzz_mlp", "input": [features], "batch": draw(st.integers(1, 4)),
            "layers": layers}


@st.composite
def mutated(draw, base: st.SearchStrategy) -> dict:
    """A workload with one to three hostile edits: a field of a layer or of the top level set
    to a hostile value, an unknown field, a layer removed or duplicated, a bad reference."""
    data = draw(base)
    layers = list(data["layers"])  # the edits below may replace data["layers"] itself
    for _ in range(draw(st.integers(1, 3))):
        edit = draw(st.sampled_from(["layer_field", "layer_field", "top_field", "unknown",
                                     "drop_name", "duplicate", "bad_ref", "defaults"]))
        layer = draw(st.sampled_from(layers))
        if edit == "layer_field":
            layer[draw(st.sampled_from(sorted(layer)))] = draw(hostile())
        elif edit == "top_field":
            data[draw(st.sampled_from(["batch", "input", "name", "precision", "layers"]))] = \
                draw(hostile())
        elif edit == "unknown":
            layer[draw(st.sampled_from(UNKNOWN))] = 1
        elif edit == "drop_name":
            layer.pop("name", None)
        elif edit == "duplicate" and isinstance(data.get("layers"), list):
            data["layers"].append(dict(layer))
        elif edit == "bad_ref":
            layer["inputs"] = [draw(st.sampled_from(["nowhere", layer.get("name", "x")]))]
        else:
            data["defaults"] = {draw(st.sampled_from(["conv", "linear", "cnov"])):
                                {draw(st.sampled_from(["bias", "strid", "kernel"])):
                                 draw(hostile())}}
    return data


# ---- arch overrides -------------------------------------------------------------------------
#: Factors a numeric arch field is scaled by: mostly plausible chips, sometimes extreme ones.
SCALES = [0.5, 0.5, 2.0, 2.0, 4.0, 0.25, 8.0, 0.0, 1e-6, 1e6]


def leaf_paths(data: Any, prefix: str = "") -> dict[str, Any]:
    """Dotted path -> value of every numeric or boolean leaf of an arch dict."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for key, value in data.items():
            out.update(leaf_paths(value, f"{prefix}{key}."))
    elif isinstance(data, (int, float)) and prefix:
        out[prefix[:-1]] = data
    return out


@st.composite
def overrides(draw, leaves: dict[str, Any], hostile_share: float = 0.3) -> list[str]:
    """`--set` overrides: numeric leaves scaled (often still valid), or set to hostile
    values, misspelt paths, YAML oddities."""
    out = []
    for _ in range(draw(st.integers(1, 4))):
        path = draw(st.sampled_from(sorted(leaves)))
        value = leaves[path]
        roll = draw(st.floats(0, 1))
        if roll < hostile_share:
            text = draw(st.sampled_from(["true", "-1", "0", ".inf", ".nan", "1e999", "9" * 400,
                                         "[1, 2]", "{a: 1}", "abc", "", "&a [*a]", "1e-300"]))
        elif roll < hostile_share * 1.3:
            path = path + draw(st.sampled_from(["z", ".x", ""])) + "_typo"
            text = "1"
        elif isinstance(value, bool):
            text = draw(st.sampled_from(["true", "false"]))
        else:
            scaled = value * draw(st.sampled_from(SCALES))
            text = str(int(scaled) if isinstance(value, int) else scaled)
        out.append(f"{path}={text}")
    return out


# ---- sweep specs ----------------------------------------------------------------------------
@st.composite
def sweep_spec(draw, leaves: dict[str, Any]) -> dict:
    """A sweep over numeric arch fields: lists and ranges, valid or hostile, with constraints
    and objectives that may not exist."""
    vary: dict[str, Any] = {}
    for _ in range(draw(st.integers(0, 2))):
        path = draw(st.sampled_from(sorted(p for p, v in leaves.items()
                                           if not isinstance(v, bool))))
        base = leaves[path]
        kind = draw(st.sampled_from(["list", "range", "factor", "num", "hostile"]))
        if kind == "list":
            vary[path] = [type(base)(max(base * s, 1)) for s in
                          draw(st.lists(st.sampled_from([0.5, 1, 2]), min_size=1, max_size=3))]
        elif kind == "range":
            vary[path] = {"start": base, "stop": base * 2, "step": max(base // 2, 1)}
        elif kind == "factor":
            vary[path] = {"start": base, "stop": base * 4, "factor": 2}
        elif kind == "num":
            vary[path] = {"start": base, "stop": base * 2,
                          "num": draw(st.sampled_from([1, 2, 3, 10**12]))}
        else:
            vary[path] = draw(st.sampled_from([
                {"start": math.nan, "stop": 4, "step": 1}, {"start": 1, "stop": 4,
                                                             "factor": math.inf},
                {"start": 1, "stop": 1e300, "step": 1e-300}, {"start": 4, "stop": 1, "step": 1},
                {"start": 1, "stop": 8, "factor": 1.0000001}, [], [True], [-1], "x", 10**400,
                {"start": 1}, {"start": 1, "stop": 2, "step": 1, "num": 2}]))
    spec: dict[str, Any] = {"name": "fuzz", "base": "tpu_v1", "workloads": ["w.yaml"],
                            "vary": vary}
    if draw(st.booleans()):
        spec["constraints"] = draw(st.lists(st.sampled_from(
            ["area_mm2 <= 1000", "latency <= 1", "latencyy <= 1", "energy >= abc",
             "area_mm2 <= 1e999", "cycles > -1"]), max_size=2))
    if draw(st.booleans()):
        spec["objectives"] = draw(st.lists(st.sampled_from(
            ["latency", "energy", "area", "speed", "tops_per_watt", "edp"]), max_size=3))
    return spec


# ---- ONNX graphs ----------------------------------------------------------------------------
@st.composite
def onnx_graph(draw) -> tuple[Any, str]:
    """An ONNX model built with onnx.helper: a chain of Conv / Relu / MaxPool / Add /
    GlobalAveragePool / Flatten / Gemm / MatMul with mostly consistent shapes, sometimes a
    hostile twist (weights contradicting the input, huge or symbolic dims, zero dims, missing
    tensors). Returns (model, what was twisted)."""
    from onnx import TensorProto, helper, numpy_helper

    twist = draw(st.sampled_from(["none"] * 6 + ["weight", "huge", "symbolic", "zero",
                                                 "dangling", "attr"]))
    n, c, h = 1, draw(st.integers(1, 8)), draw(st.integers(4, 24))
    dims: list[Any] = [n, c, h, h]
    if twist == "huge":
        dims[draw(st.integers(1, 3))] = draw(st.sampled_from([2**40, 2**62, 2**63 - 1]))
    elif twist == "symbolic":
        dims[draw(st.integers(1, 3))] = "S"
    elif twist == "zero":
        dims[draw(st.integers(1, 3))] = 0
    nodes, inits = [], []
    x = "x"
    count = 0

    def weight(shape: list[int]) -> str:
        nonlocal count
        count += 1
        name = f"w{count}"
        data = np.ones([max(1, min(int(d), 64)) for d in shape], dtype=np.float32)
        tensor = numpy_helper.from_array(data, name)
        del tensor.dims[:]
        tensor.dims.extend(int(d) for d in shape)  # declared dims may contradict the data
        if math.prod(shape) > data.size:
            tensor.ClearField("raw_data")
            tensor.data_location = TensorProto.EXTERNAL
            entry = tensor.external_data.add()
            entry.key, entry.value = "location", "missing.bin"
        inits.append(tensor)
        return name

    def node(op: str, inputs: list[str], **attrs) -> str:
        nonlocal count
        count += 1
        out = f"t{count}"
        nodes.append(helper.make_node(op, inputs, [out], name=f"{op}_{count}", **attrs))
        return out

    channels, size, flat = c, h, None
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.sampled_from(["Conv", "Conv", "Relu", "MaxPool", "Add", "GAP", "Gemm"]))
        if flat is not None or op == "Gemm":
            if flat is None:
                x = node("Flatten", [x], axis=1)
                flat = channels * size * size
            out = draw(st.integers(1, 32))
            k_in = flat + (draw(st.integers(1, 3)) if twist == "weight" else 0)
            x = node("Gemm", [x, weight([out, k_in])], transB=1)
            flat = out
        elif op == "Conv":
            k = draw(st.integers(1, min(3, size)))
            out = draw(st.integers(1, 16))
            cin = channels + (1 if twist == "weight" else 0)
            attrs = {"kernel_shape": [k, k], "pads": [k // 2] * 4}
            if twist == "attr":
                attrs[draw(st.sampled_from(["strides", "dilations", "group"]))] = \
                    draw(st.sampled_from([[0, 0], [-1, -1], [2**40, 2**40], 0, 3]))
            x = node("Conv", [x, weight([out, cin, k, k])], **attrs)
            channels, size = out, size + 2 * (k // 2) - k + 1
        elif op == "Relu":
            x = node("Relu", [x])
        elif op == "MaxPool" and size >= 2:
            x = node("MaxPool", [x], kernel_shape=[2, 2], strides=[2, 2])
            size //= 2
        elif op == "Add":
            x = node("Add", [x, x])
        else:
            x = node("GlobalAveragePool", [x])
            size = 1
    if twist == "dangling":
        nodes[-1].input.append("never_defined")
    graph = helper.make_graph(
        nodes, "fuzz", [helper.make_tensor_value_info("x", TensorProto.FLOAT, dims)],
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return model, twist
