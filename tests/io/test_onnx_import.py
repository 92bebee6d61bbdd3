"""ONNX import: small models built in code, checked against hand counts (derivations inline).

Conventions: MACs of a conv = Ho*Wo*F * (C/g)*kh*kw; params count weights, bias and 2 per
channel for a folded BatchNorm (torchvision's count of gamma and beta)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from helpers.onnx_builders import Builder, resnet50
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_workload
from simulator.io.onnx.mapper import sanitize
from simulator.io.onnx.reader import import_onnx, onnx_to_workload_dict


def load(path: Path, **kwargs):
    data = onnx_to_workload_dict(path, **kwargs)
    return workload_from_dict(data, path)


def by_name(workload):
    return {layer.name: layer for layer in workload.layers}


# ------------------------------------------------------------------------------------------
# conv - bn - relu - pool
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("weights", ["full", "external", "inputs"])
def test_conv_bn_relu_pool_chain(tmp_path, weights):
    b = Builder(weights)
    x = b.input("x", [1, 3, 32, 32])
    y = b.node("Relu", [b.bn(b.conv(x, 3, 16, 3, 1, 1, name="/conv/Conv"), 16)])
    y = b.node("MaxPool", [y], "/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    b.output(y)
    w = load(b.save(tmp_path / "m.onnx"))
    assert [layer.type for layer in w.layers] == ["conv", "maxpool"]
    conv, pool = w.layers
    assert conv.name == "conv" and conv.batchnorm and conv.activation == "relu"
    assert conv.input_shape == (3, 32, 32) and conv.output_shape == (16, 32, 32)
    # 32*32*16 outputs x 3*3*3 = 442,368 MACs
    assert conv.macs == 442_368
    # 16*3*3*3 = 432 weights + 2*16 BatchNorm (gamma, beta) = 464
    assert conv.params == 464
    assert pool.output_shape == (16, 16, 16) and pool.macs == 0
    assert w.batch == 1 and w.input == [3, 32, 32]


def test_batchnorm_not_after_conv_is_a_norm_layer_with_its_parameters(tmp_path):
    b = Builder("inputs")
    x = b.input("x", [1, 8, 4, 4])
    y = b.conv(x, 8, 8, 1)
    y = b.node("Add", [y, x])
    b.output(b.bn(y, 8))
    w = workload_from_dict(import_onnx(b.save(tmp_path / "m.onnx")).workload)
    norm = w.layers[-1]
    assert (norm.type, norm.kind) == ("norm", "batchnorm")
    # weight and bias per channel (torch's parameters; running mean / var are buffers): 2*8
    assert norm.params == 16
    # inference BatchNorm = one scale and one shift per element: 2 * 8*4*4 = 256
    assert norm.vector_ops == 256
    # conv 8*8 + the BatchNorm's 16
    assert w.params == 64 + 16


# ------------------------------------------------------------------------------------------
# residual block
# ------------------------------------------------------------------------------------------
def test_residual_block(tmp_path):
    b = Builder("inputs")
    x = b.input("x", [1, 16, 8, 8])
    y = b.conv_bn(x, 16, 16, 3, 1, 1, name="/block/conv1/Conv")
    y = b.conv_bn(y, 16, 16, 3, 1, 1, relu=False, name="/block/conv2/Conv")
    y = b.node("Relu", [b.node("Add", [y, x], "/block/Add")])
    b.output(b.conv(y, 16, 4, 1, name="/head/Conv"))
    w = load(b.save(tmp_path / "m.onnx"))
    layers = by_name(w)
    # the graph input feeds a two-input add, so it is named by an identity layer
    assert [layer.type for layer in w.layers] == ["activation", "conv", "conv", "add", "conv"]
    assert layers["x"].function == "identity" and layers["x"].input_shape == (16, 8, 8)
    add = layers["block"]
    assert add.inputs == ["block.conv2", "x"] and add.activation == "relu"
    assert layers["block.conv1"].inputs is None  # reads x, the layer above it
    assert add.output_shape == (16, 8, 8)
    # each 3x3 conv: 8*8*16 outputs x 16*9 = 147,456 MACs; head 8*8*4 x 16 = 4,096
    assert layers["block.conv1"].macs == 147_456 and layers["block.conv2"].macs == 147_456
    assert w.macs == 2 * 147_456 + 4_096
    # relu fused into conv1 only (conv2's output goes to the add)
    assert layers["block.conv1"].activation == "relu" and layers["block.conv2"].activation is None
    assert layers["head"].inputs is None  # reads the add, the layer above it


# ------------------------------------------------------------------------------------------
# depthwise separable + hardswish + squeeze-excite
# ------------------------------------------------------------------------------------------
def _dw_se_block(b: Builder, hswish: str) -> str:
    x = b.input("x", [1, 16, 16, 16])
    y = b.bn(b.conv(x, 16, 16, 3, 1, 1, groups=16, name="/dw/Conv"), 16)
    if hswish == "op":
        y = b.node("HardSwish", [y], "/dw/act")
    else:  # x * relu6(x + 3) / 6, as older exporters write it
        gate = b.node("Clip", [b.node("Add", [y, b.const(3.0)]), b.const(0.0), b.const(6.0)])
        y = b.node("Div", [b.node("Mul", [y, gate]), b.const(6.0)])
    s = b.node("GlobalAveragePool", [y], "/se/pool")
    s = b.node("Relu", [b.conv(s, 16, 4, 1, bias=True, name="/se/fc1")])
    s = b.node("HardSigmoid", [b.conv(s, 4, 16, 1, bias=True, name="/se/fc2")])
    y = b.node("Mul", [y, s], "/se/scale")
    return b.bn(b.conv(y, 16, 24, 1, name="/pw/Conv"), 24)


@pytest.mark.parametrize("hswish", ["op", "pattern"])
def test_depthwise_separable_with_hardswish_and_squeeze_excite(tmp_path, hswish):
    b = Builder("external")
    b.output(_dw_se_block(b, hswish))
    w = load(b.save(tmp_path / "m.onnx"))
    layers = by_name(w)
    assert [(l.name, l.type) for l in w.layers] == [
        ("dw", "conv"), ("se.pool", "globalavgpool"), ("se.fc1", "conv"), ("se.fc2", "conv"),
        ("se.scale", "mul"), ("pw", "conv")]
    dw = layers["dw"]
    assert dw.is_depthwise and dw.activation == "hardswish" and dw.batchnorm
    # depthwise: 16*16*16 outputs x 1*3*3 = 36,864 MACs; 16*9 weights + 2*16 BN = 176 params
    assert dw.macs == 36_864 and dw.params == 176
    # SE fc1: 4 outputs x 16 = 64 MACs, 64 + 4 bias params; fc2: 16 x 4 = 64 MACs, 64 + 16
    assert layers["se.fc1"].macs == 64 and layers["se.fc1"].params == 68
    assert layers["se.fc1"].activation == "relu"
    assert layers["se.fc2"].macs == 64 and layers["se.fc2"].params == 80
    assert layers["se.fc2"].activation == "hardsigmoid"
    scale = layers["se.scale"]
    assert scale.inputs == ["dw", "se.fc2"]
    assert scale.input_shapes == [(16, 16, 16), (16, 1, 1)]
    # pointwise: 16*16*24 outputs x 16 = 98,304 MACs; 384 weights + 48 BN = 432 params
    assert layers["pw"].macs == 98_304 and layers["pw"].params == 432
    assert layers["pw"].inputs is None


def test_no_fuse_keeps_activation_layers(tmp_path):
    b = Builder("inputs")
    b.output(_dw_se_block(b, "op"))
    w = workload_from_dict(import_onnx(b.save(tmp_path / "m.onnx"),
                                       fuse_activations=False).workload)
    functions = [l.function for l in w.layers if l.type == "activation"]
    assert functions == ["hardswish", "relu", "hardsigmoid"]
    assert w.macs == 36_864 + 64 + 64 + 98_304


def test_swish_pattern_becomes_one_activation(tmp_path):
    b = Builder("inputs")
    x = b.input("x", [1, 8, 4, 4])
    y = b.conv(x, 8, 8, 1, name="/c/Conv")
    y = b.node("Mul", [y, b.node("Sigmoid", [y])], "/c/swish")
    b.output(b.conv(y, 8, 8, 1, name="/d/Conv"))
    report = import_onnx(b.save(tmp_path / "m.onnx"))
    layers = report.workload["layers"]
    assert [l["type"] for l in layers] == ["conv", "conv"]
    assert layers[0]["activation"] == "swish"  # x * sigmoid(x), fused into the conv
    assert report.folded["Mul x*sigmoid(x) -> swish"] == 1


# ------------------------------------------------------------------------------------------
# MLP with measured weight sparsity
# ------------------------------------------------------------------------------------------
def test_mlp_with_pruned_weights(tmp_path):
    b = Builder("full", zero_fraction=0.75)
    x = b.input("x", [1, 784])
    y = b.node("Relu", [b.gemm(x, 784, 256, "/fc1/Gemm")])
    y = b.node("Softmax", [b.gemm(y, 256, 10, "/fc2/Gemm")], "/softmax", axis=1)
    b.output(y)
    w = load(b.save(tmp_path / "m.onnx"))
    fc1, fc2, softmax = w.layers
    assert (fc1.type, fc2.type, softmax.type) == ("linear", "linear", "activation")
    assert fc1.activation == "relu" and softmax.function == "softmax"
    # 784*256 = 200,704 and 256*10 = 2,560 MACs; params add the biases: 200,960 and 2,570
    assert (fc1.macs, fc2.macs) == (200_704, 2_560)
    assert (fc1.params, fc2.params) == (200_960, 2_570)
    # 3/4 of each weight matrix zeroed by the builder (bias not counted in the density)
    assert fc1.weight_density == pytest.approx(0.25) and fc2.weight_density == pytest.approx(0.25)


def test_dense_weights_leave_density_at_one(tmp_path):
    b = Builder("full")
    b.output(b.gemm(b.input("x", [1, 16]), 16, 4))
    assert "weight_density" not in import_onnx(b.save(tmp_path / "m.onnx")).workload["layers"][0]


def test_all_zero_weights_leave_density_unset(tmp_path):
    """An export whose weights are all zero (placeholders) gets no `weight_density: 1.0e-06`
    (issue 13): the layer stays dense, as with no weights at all."""
    b = Builder("full", zero_fraction=1.0)
    x = b.input("x", [1, 3, 8, 8])
    b.output(b.gemm(b.node("Flatten", [b.conv(x, 3, 4, 3)], axis=1), 4 * 6 * 6, 2))
    layers = import_onnx(b.save(tmp_path / "m.onnx")).workload["layers"]
    assert [l["type"] for l in layers] == ["conv", "linear"]
    assert all("weight_density" not in l for l in layers)


# ------------------------------------------------------------------------------------------
# tiny attention block
# ------------------------------------------------------------------------------------------
def test_attention_block(tmp_path):
    t, d_model, heads = 8, 32, 2
    d_head = d_model // heads
    b = Builder("external")
    x = b.input("x", [1, t, d_model])
    q = b.matmul_w(x, d_model, d_model, "/attn/q/MatMul")
    k = b.matmul_w(x, d_model, d_model, "/attn/k/MatMul")
    v = b.matmul_w(x, d_model, d_model, "/attn/v/MatMul")

    def split(tensor, perm):
        return b.node("Transpose", [b.reshape(tensor, [1, t, heads, d_head])], perm=perm)

    scores = b.node("MatMul", [split(q, [0, 2, 1, 3]), split(k, [0, 2, 3, 1])], "/attn/qk")
    scores = b.node("Div", [scores, b.const(4.0)])
    probs = b.node("Softmax", [scores], "/attn/softmax", axis=-1)
    ctx = b.node("MatMul", [probs, split(v, [0, 2, 1, 3])], "/attn/pv")
    ctx = b.reshape(b.node("Transpose", [ctx], perm=[0, 2, 1, 3]), [1, t, d_model])
    b.output(b.matmul_w(ctx, d_model, d_model, "/attn/out/MatMul"))
    w = load(b.save(tmp_path / "m.onnx"))
    layers = by_name(w)
    for proj in ("attn.q", "attn.k", "attn.v", "attn.out"):
        layer = layers[proj]
        # per token (8 tokens): 32 x 32, bias folded in from the Add: 8*32*32 = 8,192 MACs
        assert layer.type == "linear" and layer.bias and layer.token_count == t
        assert layer.macs == 8_192 and layer.params == 32 * 32 + 32
    qk, pv = layers["attn.qk"], layers["attn.pv"]
    # per head: (8 x 16) @ (16 x 8); 2 heads: 2*8*16*8 = 2,048 MACs each
    assert (qk.m, qk.k, qk.n, qk.count, qk.weights) == (8, 16, 8, 2, False)
    assert (pv.m, pv.k, pv.n, pv.count) == (8, 8, 16, 2)
    assert qk.macs == pv.macs == 2_048 and qk.params == 0
    assert layers["attn.softmax"].function == "softmax"
    # the head split is a free reshape view (8, 32) -> (8, 2, 16) then a transpose that moves
    # data: 8*2*16 = 256 elements read and written once; K's transpose puts d_head before t
    q_split, k_split = (layers[name] for name in qk.inputs)
    assert q_split.type == k_split.type == "transpose"
    assert (q_split.perm, k_split.perm) == ([1, 0, 2], [1, 2, 0])
    assert q_split.vector_ops == k_split.vector_ops == 256
    assert layers[q_split.inputs[0] if q_split.inputs else w.layers[
        w.layers.index(q_split) - 1].name].type == "reshape"
    assert q_split.output_shape == (2, 8, 16) and k_split.output_shape == (2, 16, 8)
    assert layers[pv.inputs[0]].name == "attn.softmax"
    # merge heads: transpose back (moves) and a free reshape to (8, 32) for the projection
    merge = [l for l in w.layers if l.type == "transpose"][-1]
    assert merge.output_shape == (8, 2, 16) and merge.vector_ops == 256
    assert layers["attn.out"].input_shape == (t, d_model) and layers["attn.out"].input is None
    reshapes = [l for l in w.layers if l.type == "reshape"]
    assert all(l.is_view and l.vector_ops == 0 for l in reshapes)
    assert w.macs == 4 * 8_192 + 2 * 2_048


# ------------------------------------------------------------------------------------------
# LSTM
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("direction", ["forward", "bidirectional"])
def test_lstm(tmp_path, direction):
    steps, features, hidden = 5, 10, 20
    dirs = 2 if direction == "bidirectional" else 1
    b = Builder("full", zero_fraction=0.5)
    x = b.input("x", [steps, 1, features])
    wt = b.weight("W", [dirs, 4 * hidden, features])
    r = b.weight("R", [dirs, 4 * hidden, hidden])
    bias = b.weight("B", [dirs, 8 * hidden])
    y = b.node("LSTM", [x, wt, r, bias], "/lstm/LSTM", outputs=3, hidden_size=hidden,
               direction=direction)
    b.output(y[0])
    w = load(b.save(tmp_path / "m.onnx"))
    lstms = [l for l in w.layers if l.type == "lstm"]
    assert len(lstms) == dirs
    for layer in lstms:
        assert layer.input_shape == (steps, features) and layer.output_shape == (steps, hidden)
        # per step: (1 x (10 + 20)) @ (30 x 80): 2,400 MACs; 5 steps: 12,000
        assert layer.macs == 12_000
        # 4H(I + H) = 80*30 = 2,400 weights + 8H = 160 biases
        assert layer.params == 2_560
    assert w.macs == dirs * 12_000
    if dirs == 2:
        assert w.layers[-1].type == "concat" and w.layers[-1].inputs == ["lstm_fw", "lstm_bw"]
    # the builder zeroes the first half of W and of R (flattened over directions): one
    # direction has density 1/2; bidirectional, the forward direction is all zeros (placeholder
    # weights: no density is invented, the layer stays dense) and the backward one dense
    if dirs == 1:
        assert lstms[0].weight_density == pytest.approx(0.5)
    else:
        assert lstms[0].weight_density == 1.0 and lstms[1].weight_density == 1.0


# ------------------------------------------------------------------------------------------
# ResNet-50 against the bundled workload and torchvision
# ------------------------------------------------------------------------------------------
def test_resnet50_matches_bundled_and_torchvision(tmp_path):
    w = load(resnet50("external").save(tmp_path / "r50.onnx"))
    # torchvision resnet50: 25,557,032 parameters, 4.089 GMACs (refs/README.md, [TV])
    assert w.params == 25_557_032
    assert w.macs == pytest.approx(4.089e9, rel=0.005)
    bundled = load_workload("resnet50")
    assert abs(w.macs - bundled.macs) / bundled.macs < 0.005
    assert w.macs == bundled.macs  # same layer-by-layer model, so in fact exact
    assert len([l for l in w.layers if l.type == "conv"]) == 53


# ------------------------------------------------------------------------------------------
# padding, symbolic dims, batch
# ------------------------------------------------------------------------------------------
def test_asymmetric_and_auto_pads_keep_output_size(tmp_path):
    b = Builder("inputs")
    x = b.input("x", [1, 3, 224, 224])
    y = b.conv(x, 3, 8, 3, 2, [0, 0, 1, 1], name="/tf_same/Conv")  # TensorFlow-style 'SAME'
    y = b.conv(y, 8, 8, 3, 2, auto_pad="SAME_UPPER", name="/auto/Conv")
    b.output(y)
    report = import_onnx(b.save(tmp_path / "m.onnx"))
    w = workload_from_dict(report.workload)
    first, second = w.layers
    # 224 + 1 pad -> floor((225 - 3) / 2) + 1 = 112 (npusim uses padding 1: same size)
    assert first.output_shape == (8, 112, 112) and first.macs == 112 * 112 * 8 * 27
    assert second.output_shape == (8, 56, 56) and second.macs == 56 * 56 * 8 * 72
    assert report.folded["Conv asymmetric pads -> symmetric"] == 2


def test_symbolic_dims_need_an_input_shape(tmp_path):
    b = Builder("inputs")
    x = b.input("image", ["N", 3, "H", "W"])
    b.output(b.conv(x, 3, 4, 3, 1, 1))
    path = b.save(tmp_path / "m.onnx")
    with pytest.raises(NpusimError, match=r"symbolic dims H, W.*--input-shape image="):
        import_onnx(path)
    w = load(path, input_shapes=[1, 3, 64, 48])
    assert w.layers[0].output_shape == (4, 64, 48)
    w4 = load(path, batch=4, input_shapes={"image": [1, 3, 64, 48]})
    assert w4.batch == 4 and w4.macs == 4 * w.macs


def test_batch_from_model_and_override(tmp_path):
    b = Builder("inputs")
    x = b.input("x", [2, 8])
    b.output(b.gemm(x, 8, 4))
    path = b.save(tmp_path / "m.onnx")
    w = load(path)
    assert w.batch == 2 and w.macs == 2 * 8 * 4
    assert load_workload(path, batch=3).macs == 3 * 8 * 4


# ------------------------------------------------------------------------------------------
# unknown ops, bad files, missing package
# ------------------------------------------------------------------------------------------
def _with_unknown_ops(tmp_path) -> Path:
    b = Builder("inputs")
    x = b.input("x", [1, 8])
    y = b.node("Hardmax", [b.gemm(x, 8, 8)])
    y = b.node("Shrink", [b.node("Hardmax", [y])])
    b.output(b.gemm(y, 8, 2))
    return b.save(tmp_path / "m.onnx")


def test_unknown_ops_fail_with_names_and_counts(tmp_path):
    with pytest.raises(NpusimError) as info:
        import_onnx(_with_unknown_ops(tmp_path))
    assert "unsupported ONNX ops: Hardmax x2, Shrink x1" in str(info.value)
    assert "--skip-unknown" in str(info.value)


def test_skip_unknown_proceeds_and_says_so(tmp_path):
    path = _with_unknown_ops(tmp_path)
    with pytest.warns(UserWarning, match="Hardmax x2, Shrink x1"):
        data = onnx_to_workload_dict(path, skip_unknown=True)
    w = workload_from_dict(data)
    assert "SKIPPED" in w.description and "Hardmax x2" in w.description
    assert [l.type for l in w.layers] == ["linear", "linear"]
    assert w.macs == 8 * 8 + 8 * 2


def test_missing_onnx_package_says_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(NpusimError, match=r"pip install 'npusim\[onnx\]'"):
        import_onnx(tmp_path / "whatever.onnx")


# ------------------------------------------------------------------------------------------
# names
# ------------------------------------------------------------------------------------------
def test_names_are_sanitised_and_unique(tmp_path):
    assert sanitize("/layer1/layer1.0/conv1/Conv") == "layer1.0.conv1"
    assert sanitize("/features/features.0/features.0.0/Conv") == "features.0.0"
    assert sanitize("conv 1:weird") == "conv_1_weird"
    b = Builder("inputs")
    x = b.input("x", [1, 4, 4, 4])
    y = b.conv(x, 4, 4, 1, name="/same/Conv")
    y = b.conv(y, 4, 4, 1, name="/same/Conv")
    y = b.conv(y, 4, 4, 1, name="/same/Conv")
    y = b.conv(y, 4, 4, 1)
    b.output(y)
    names = [l["name"] for l in import_onnx(b.save(tmp_path / "m.onnx")).workload["layers"]]
    # the module name, then the op token for the module's next op, then numbers
    assert names == ["same", "same.conv", "same.conv_2", "conv_3"]


# ------------------------------------------------------------------------------------------
# invariant: any conv the importer accepts has exactly ONNX's output shape and MACs
# ------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None)
@given(size=st.integers(5, 20), k=st.integers(1, 5), stride=st.integers(1, 3),
       dilation=st.integers(1, 2), pads=st.lists(st.integers(0, 2), min_size=4, max_size=4),
       groups=st.sampled_from([1, 2, 4]))
def test_conv_import_matches_onnx_shape_inference(tmp_path_factory, size, k, stride, dilation,
                                                   pads, groups):
    span = dilation * (k - 1) + 1
    if size + pads[0] + pads[2] < span or size + pads[1] + pads[3] < span:
        return
    b = Builder("inputs")
    x = b.input("x", [1, 4, size, size])
    y = b.conv(x, 4, 8, k, stride, pads, groups, dilations=[dilation, dilation])
    b.output(y)
    path = b.save(tmp_path_factory.mktemp("h") / "m.onnx")
    # ONNX output size: floor((n + pad_begin + pad_end - span) / stride) + 1
    ho = (size + pads[0] + pads[2] - span) // stride + 1
    wo = (size + pads[1] + pads[3] - span) // stride + 1
    layer = next(l for l in load(path).layers if l.type == "conv")
    assert layer.output_shape == (8, ho, wo)
    assert layer.macs == ho * wo * 8 * (4 // groups) * k * k


# ------------------------------------------------------------------------------------------
# exporter idioms: shape sub-graphs, erf GELU, LayerNormalization, mean-pool SE, Constant nodes
# ------------------------------------------------------------------------------------------
def test_transformer_export_idioms(tmp_path):
    """What torch.onnx.export writes for a pre-norm MLP block: LayerNormalization, a dynamic
    Reshape whose target comes from Shape -> Gather -> Concat, GELU as x*0.5*(1+erf(x/sqrt2))
    and a residual Add."""
    t, d, hidden = 4, 8, 32
    b = Builder("inputs")
    x = b.input("x", [1, t, d])
    norm = b.node("LayerNormalization", [x, b.weight("ln_g", [d]), b.weight("ln_b", [d])],
                  "/ln/LayerNormalization", axis=-1)
    h = b.matmul_w(norm, d, hidden, "/fc1/MatMul")
    gate = b.node("Erf", [b.node("Div", [h, b.const(1.4142135)])], "/gelu/Erf")
    gate = b.node("Add", [gate, b.const(1.0)])
    h = b.node("Mul", [b.node("Mul", [h, gate]), b.const(0.5)])
    shape = b.node("Shape", [h])
    first = b.node("Gather", [shape, b.const([0, 1], "int64")], axis=0)
    target = b.node("Concat", [first, b.const([hidden], "int64")], axis=0)
    h = b.node("Reshape", [h, target])
    h = b.matmul_w(h, hidden, d, "/fc2/MatMul")
    b.output(b.node("Add", [h, x], "/residual"))
    report = import_onnx(b.save(tmp_path / "m.onnx"))
    w = workload_from_dict(report.workload)
    assert [(l.name, l.type) for l in w.layers] == [
        ("x", "activation"), ("ln", "norm"), ("fc1", "linear"), ("fc2", "linear"),
        ("residual", "add")]
    layers = by_name(w)
    assert layers["ln"].kind == "layernorm" and layers["fc1"].activation == "gelu"
    # LayerNorm's scale and shift, d = 8 each, count as parameters (torch's nn.LayerNorm)
    assert layers["ln"].params == 16
    # 4 tokens: 4*8*32 = 1,024 MACs per projection
    assert layers["fc1"].macs == layers["fc2"].macs == 1_024
    assert layers["residual"].inputs == ["fc2", "x"]
    assert report.folded["Mul x*gelu(x) -> gelu"] == 1
    assert not report.skipped


def test_reduce_mean_squeeze_excite_and_constant_nodes(tmp_path):
    b = Builder("inputs", opset=13)
    x = b.input("x", [1, 8, 6, 6])
    s = b.node("ReduceMean", [x], "/se/mean", axes=[2, 3], keepdims=1)
    s = b.node("Sigmoid", [b.conv(s, 8, 8, 1, bias=True, name="/se/fc")])
    y = b.node("Mul", [x, s], "/se/scale")
    lo = b.node("Constant", [], value=onnx_scalar(0.0))
    hi = b.node("Constant", [], value=onnx_scalar(6.0))
    b.output(b.node("Clip", [y, lo, hi], "/act/relu6"))
    w = workload_from_dict(import_onnx(b.save(tmp_path / "m.onnx")).workload)
    assert [(l.name, l.type) for l in w.layers] == [
        ("x", "activation"), ("se.mean", "globalavgpool"), ("se.fc", "conv"),
        ("se.scale", "mul")]
    assert by_name(w)["se.fc"].activation == "sigmoid"
    assert by_name(w)["se.scale"].activation == "relu6"  # Clip(0, 6) fused into the mul


def onnx_scalar(value: float):
    from onnx import numpy_helper
    return numpy_helper.from_array(np.array(value, dtype=np.float32))
