"""Attention on the systolic array (issue 14 item 3): activation x activation matmuls stream
both operands from on-chip activations, K^T takes a layout pass, KV caches stay in the unified
buffer while they fit and are read from DRAM every step when they do not; decode at batch 1 is
bound by the bytes it reads, prefill of a long prompt by compute."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch

TPU_BYTES_PER_S = 34e9


def attention_block():
    # one head of self-attention over 128 tokens, d_model 256, head dim 64
    return workload_from_dict({"name": "att", "layers": [
        {"name": "x", "type": "linear", "input": [128, 256], "in_features": 256,
         "out_features": 256},
        {"name": "q", "type": "linear", "inputs": ["x"], "in_features": 256, "out_features": 64},
        {"name": "k", "type": "linear", "inputs": ["x"], "in_features": 256, "out_features": 64},
        {"name": "v", "type": "linear", "inputs": ["x"], "in_features": 256, "out_features": 64},
        {"name": "qk", "type": "matmul", "inputs": ["q", "k"], "m": 128, "k": 64, "n": 128},
        {"name": "sm", "type": "activation", "inputs": ["qk"], "function": "softmax"},
        {"name": "av", "type": "matmul", "inputs": ["sm", "v"], "m": 128, "k": 128, "n": 64},
        {"name": "o", "type": "linear", "inputs": ["av"], "in_features": 64,
         "out_features": 256}]})


def test_activation_matmuls_stream_both_operands_from_on_chip_activations():
    result = simulate("tpu_v1", attention_block())
    layers = {l.name: l for l in result.layers}
    for name in ("qk", "av"):
        # no stationary weights from DRAM: Q, K, V and the scores stay in the unified buffer
        assert layers[name].dram_bytes == 0
        assert "filter" not in layers[name].sram_bytes_by_operand
        # the stationary operand is still shifted into the array tile by tile (from the UB)
        assert layers[name].stall_breakdown_cycles["stationary_load"] >= 256
    # K is produced as tokens x features (128 x 64); QK^T loads K^T (64 x 128): one layout
    # pass over its 8,192 elements at 256 per cycle = 32 cycles. V (128 x 64) is K x N already.
    assert layers["qk"].stall_breakdown_cycles["layout"] == 128 * 64 / 256
    assert "layout" not in layers["av"].stall_breakdown_cycles
    # softmax over the 128 x 128 scores: 8 operations per element on the vector unit
    assert layers["sm"].compute_cycles == 128 * 128 * 8 / 256


def decode_step(context: int, heads: int = 32, head_dim: int = 128, layers: int = 2):
    """`layers` decoder attention blocks at batch 1 for one new token at context `context`:
    Q and output projections (d x d), QK^T and scores x V against the KV cache."""
    d = heads * head_dim
    specs = []
    prev = None
    for i in range(layers):
        q = {"name": f"q{i}", "type": "linear", "in_features": d, "out_features": d,
             "bias": False}
        if prev is None:
            q["input"] = [1, d]
        specs += [
            q,
            {"name": f"qk{i}", "type": "matmul", "m": 1, "k": head_dim, "n": context,
             "count": heads, "kv_cache": True},
            {"name": f"sm{i}", "type": "activation", "function": "softmax"},
            {"name": f"av{i}", "type": "matmul", "m": 1, "k": context, "n": head_dim,
             "count": heads, "kv_cache": True},
            {"name": f"o{i}", "type": "linear", "in_features": d, "out_features": d,
             "bias": False}]
        prev = f"o{i}"
    return workload_from_dict({"name": "decode", "layers": specs})


def test_kv_cache_stays_on_chip_while_it_fits():
    # 2 layers x 2 (K, V) x 32 heads x 128 x 1,024 tokens x 1 B = 16 MiB: fits the 24 MiB UB
    result = simulate("tpu_v1", decode_step(1024))
    for layer in result.layers:
        if layer.name.startswith(("qk", "av")):
            assert layer.kv_cache == "on-chip" and layer.dram_bytes == 0
    # 8,192 tokens: 128 MiB of cache, read from DRAM every step, 32 x 128 x 8,192 B per matmul
    result = simulate("tpu_v1", decode_step(8192))
    for layer in result.layers:
        if layer.name.startswith(("qk", "av")):
            assert layer.kv_cache == "dram"
            assert layer.dram_bytes_by_operand["ifmap"] == 32 * 128 * 8192


@pytest.mark.parametrize("context", [8192, 32768])
def test_decode_at_batch_1_is_bound_by_the_bytes_it_reads(context):
    # time per token ~ (weight bytes + KV-cache bytes read) / DRAM bandwidth (the TPU paper's
    # lesson for MLPs and LSTMs, replayed on decode): 2 layers x 2 x 4096^2 B of weights plus
    # 2 layers x 2 x 32 x 128 x context B of cache, at 34 GB/s
    d = 4096
    weights = 2 * 2 * d * d
    kv = 2 * 2 * 32 * 128 * context
    result = simulate("tpu_v1", decode_step(context))
    predicted = (weights + kv) / TPU_BYTES_PER_S
    assert result.totals.latency_s == pytest.approx(predicted, rel=0.10)
    assert result.totals.latency_s >= predicted


def test_prefill_projections_of_a_long_prompt_are_compute_bound():
    # Q and output projections of a Llama-2-7B-like block over a 2,048-token prompt: each
    # 2048 x 4096 x 4096 MACs (34.4 G) against 16.8 MB of int8 weights. The 8 MiB activations
    # stay in the 24 MiB unified buffer, so a projection moves only its weights: 524 k cycles
    # of compute (256 folds of 2,048 rows) vs 345 k cycles of DRAM at 48.6 B per cycle.
    d, tokens = 4096, 2048
    wl = workload_from_dict({"name": "prefill", "layers": [
        {"name": "norm", "type": "norm", "kind": "rmsnorm", "input": [tokens, d]},
        {"name": "q", "type": "linear", "in_features": d, "out_features": d, "bias": False},
        {"name": "o", "type": "linear", "in_features": d, "out_features": d, "bias": False},
        {"name": "out", "type": "norm", "kind": "rmsnorm"}]})
    layers = {l.name: l for l in simulate(load_arch("tpu_v1"), wl).layers}
    for name in ("q", "o"):
        layer = layers[name]
        assert layer.bound == "compute"
        assert layer.dram_bytes == d * d            # the weights, once
        assert layer.compute_cycles == 256 * tokens + 510
        assert layer.utilization > 0.9
