"""ONNX import of the exporter idioms transformers use, on graphs built node by node (no
torch): shape sub-graphs folded, layout ops, masks, decomposed GELU / RMSNorm, bad inputs.
Counts derived by hand in the comments."""

from __future__ import annotations

import numpy as np
import pytest
from helpers.onnx_builders import Builder

from simulator.cli.main import main
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.onnx.reader import import_onnx

I64 = np.int64


def load(path):
    report = import_onnx(path)
    return report, workload_from_dict(report.workload, path)


def test_chunk_through_a_shape_subgraph_is_two_slice_views(tmp_path):
    """What the TorchScript exporter writes for x.chunk(2, dim=1): the half size is computed
    at run time (Shape -> Gather -> Div -> Unsqueeze) and feeds two Slices."""
    b = Builder("external")
    x = b.input("x", [1, 8, 4, 4])
    channels = b.node("Gather", [b.node("Shape", [x]), b.const(1, I64)], axis=0)
    half = b.node("Unsqueeze", [b.node("Div", [channels, b.const(2, I64)]), b.const([0], I64)])
    lo = b.node("Slice", [x, b.const([0], I64), half, b.const([1], I64)], "/chunk/Slice")
    hi = b.node("Slice", [x, half, b.const([1 << 62], I64), b.const([1], I64)], "/chunk/Slice_1")
    y = b.node("Concat", [b.conv(lo, 4, 4, 1), b.conv(hi, 4, 4, 3, pad=1)], axis=1)
    b.output(y)
    _, w = load(b.save(tmp_path / "m.onnx"))
    slices = [l for l in w.layers if l.type == "slice"]
    assert [(l.axis, l.start, l.end) for l in slices] == [(0, 0, 4), (0, 4, 8)]
    assert all(l.is_view and l.vector_ops == 0 for l in slices)
    # 1x1 conv 4->4 over 16 pixels: 256 MACs; 3x3: 16*4*4*9 = 2,304
    assert w.macs == 256 + 2_304
    assert w.layers[-1].type == "concat" and w.layers[-1].output_shape == (8, 4, 4)


def _block(b: Builder, t: int, d: int) -> str:
    return b.input("x", [1, t, d])


def test_tanh_gelu_is_one_gelu_fused_into_its_linear(tmp_path):
    """torch's tanh GELU at opset 17: 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3)))
    with x^3 = x * (x * x)."""
    b = Builder("external")
    x = _block(b, 4, 8)
    h = b.matmul_w(x, 8, 32, "/fc/MatMul")
    cube = b.node("Mul", [h, b.node("Mul", [h, h])])
    inner = b.node("Add", [h, b.node("Mul", [b.const(0.044715), cube])])
    t = b.node("Tanh", [b.node("Mul", [b.const(0.7978845608), inner])], "/gelu/Tanh")
    y = b.node("Mul", [b.const(0.5), b.node("Mul", [h, b.node("Add", [b.const(1.0), t])])])
    b.output(b.matmul_w(y, 32, 8, "/proj/MatMul"))
    report, w = load(b.save(tmp_path / "m.onnx"))
    assert [(l.name, l.type) for l in w.layers] == [("fc", "linear"), ("proj", "linear")]
    assert w.layers[0].activation == "gelu"
    assert report.folded["GELU (tanh form) pattern -> one layer"] == 1
    # 4 tokens: 4*8*32 = 1,024 MACs each way
    assert w.macs == 2 * 1_024


@pytest.mark.parametrize("form", ["div", "reciprocal", "pow"])
def test_rmsnorm_chain_is_one_norm_with_its_weight(tmp_path, form):
    """x * 1/sqrt(mean(x^2, -1) + eps) * w, with the reciprocal written three ways."""
    b = Builder("external")
    x = _block(b, 4, 8)
    mean = b.node("ReduceMean", [b.node("Pow", [x, b.const(2.0)])], axes=[-1], keepdims=1)
    var = b.node("Add", [mean, b.const(1e-5)])
    if form == "div":
        inv = b.node("Div", [b.const(1.0), b.node("Sqrt", [var])])
    elif form == "reciprocal":
        inv = b.node("Reciprocal", [b.node("Sqrt", [var])])
    else:
        inv = b.node("Pow", [var, b.const(-0.5)])
    y = b.node("Mul", [b.node("Mul", [x, inv], "/norm/Mul"), b.weight("w", [8])])
    b.output(b.matmul_w(y, 8, 8, "/fc/MatMul", bias=False))
    _, w = load(b.save(tmp_path / "m.onnx"))
    norm, fc = w.layers
    assert (norm.type, norm.kind, norm.affine, norm.has_bias) == ("norm", "rmsnorm", True, False)
    # the weight, d = 8, is torch's RMSNorm parameter; per element: square and sum (2),
    # scale by 1/rms (1), times the weight (1) = 4 ops x 32 elements
    assert norm.params == 8 and norm.vector_ops == 128
    assert w.params == 8 + 64


def test_causal_mask_split_and_head_transposes(tmp_path):
    """nanoGPT's attention: packed projection, Split, per-head Reshape/Transpose, masked_fill
    of a stored causal mask with -inf (Where), softmax."""
    t, d, heads = 4, 8, 2
    b = Builder("external")
    x = _block(b, t, d)
    qkv = b.matmul_w(x, d, 3 * d, "/c_attn/MatMul")
    q, k, v = b.node("Split", [qkv, b.const([d, d, d], I64)], "/split", outputs=3, axis=2)

    def heads_of(tensor, perm):
        return b.node("Transpose", [b.reshape(tensor, [1, t, heads, d // heads])], perm=perm)

    att = b.node("MatMul", [heads_of(q, [0, 2, 1, 3]), heads_of(k, [0, 2, 3, 1])], "/qk")
    mask = b.node("Equal", [b.const(np.tril(np.ones((1, 1, t, t), np.float32))), b.const(0.0)])
    att = b.node("Where", [mask, b.const(-np.inf), att], "/mask")
    att = b.node("Softmax", [att], "/softmax", axis=-1)
    y = b.node("MatMul", [att, heads_of(v, [0, 2, 1, 3])], "/av")
    b.output(y)
    _, w = load(b.save(tmp_path / "m.onnx"))
    layers = {l.name: l for l in w.layers}
    splits = [l for l in w.layers if l.type == "slice"]
    assert [(l.axis, l.start, l.end) for l in splits] == [(1, 0, 8), (1, 8, 16), (1, 16, 24)]
    where = layers["mask"]
    # one select per score: 2 heads x 4 x 4 = 32; the (4, 4) mask is a stored buffer
    assert where.vector_ops == 32 and where.constant == [4, 4] and where.params == 0
    # per head (4 x 4) @ (4 x 4): 2 * 64 = 128 MACs each
    assert layers["qk"].macs == layers["av"].macs == 128
    # three head-split transposes, each moving 4*2*4 = 32 elements
    moves = [l for l in w.layers if l.type == "transpose"]
    assert len(moves) == 3 and all(l.vector_ops == 32 for l in moves)


def test_embedding_lookup_and_tied_head_count_the_table_once(tmp_path):
    vocab, t, d = 50, 6, 8
    b = Builder("external")
    ids = b.input("ids", [1, t])
    b.inputs[-1].type.tensor_type.elem_type = 7  # int64 token ids
    table = b.weight("wte", [vocab, d])
    x = b.node("Gather", [table, ids], "/wte/Gather", axis=0)
    head = b.node("Transpose", [table], perm=[1, 0])
    b.output(b.node("MatMul", [x, head], "/lm_head/MatMul"))
    _, w = load(b.save(tmp_path / "m.onnx"))
    emb, lm = w.layers
    assert (emb.type, emb.vocab, emb.dim, emb.output_shape) == ("embedding", vocab, d, (t, d))
    assert lm.shared_weights and lm.params == 0 and emb.params == vocab * d
    assert w.params == 400 and w.macs == t * d * vocab
    # the lookup reads only the 6 rows it needs: 48 weights, one int8 byte each
    assert emb.operand_bytes(w.precision or _int8())["weights"] == t * d


def _int8():
    from simulator.core.arch import Precision

    return Precision(weight_bits=8, activation_bits=8, accumulator_bits=32)


# ------------------------------------------------------------------------------------------
# bad input: unknown ops first, then dynamic shapes, one line each
# ------------------------------------------------------------------------------------------
def _runtime_reshape(tmp_path, unknown_op: bool):
    b = Builder("external")
    x = b.input("x", [1, 8])
    target = b.input("target", [2])
    b.inputs[-1].type.tensor_type.elem_type = 7
    y = b.gemm(x, 8, 8)
    if unknown_op:
        y = b.node("Hardmax", [y])
    y = b.node("Reshape", [y, target])  # a shape known only when the model runs
    b.output(b.node("Relu", [y]))
    return b.save(tmp_path / "dynamic.onnx")


def test_unknown_op_is_listed_before_a_dynamic_shape(tmp_path):
    with pytest.raises(NpusimError) as info:
        import_onnx(_runtime_reshape(tmp_path, unknown_op=True))
    assert "unsupported ONNX ops: Hardmax x1" in str(info.value)
    assert "run time" not in str(info.value)


def test_dynamic_shape_is_one_line_and_exit_2(tmp_path, capsys):
    assert main(["import", str(_runtime_reshape(tmp_path, unknown_op=False))]) == 2
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith("npusim: error: ") and "known only at run time" in lines[0]
