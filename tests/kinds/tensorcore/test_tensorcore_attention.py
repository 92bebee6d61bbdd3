"""Attention on the tensor cores: activation x activation products through the bridge, the KV
cache kept on chip while it fits, softmax and norms as two-pass reductions."""

from __future__ import annotations

from helpers.archs import ideal_arch

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch


def attention(batch: int = 1, tokens: int = 128, heads: int = 4, hd: int = 64):
    d = heads * hd
    return workload_from_dict({"name": "attn", "input": [tokens, d], "batch": batch, "layers": [
        {"name": "q", "type": "linear", "in_features": d, "out_features": d},
        {"name": "k", "type": "linear", "in_features": d, "out_features": d, "inputs": ["q"]},
        {"name": "scores", "type": "matmul", "m": tokens, "k": hd, "n": tokens,
         "count": heads, "inputs": ["q", "k"]},
        {"name": "probs", "type": "activation", "function": "softmax"},
        {"name": "ln", "type": "norm", "kind": "layernorm", "inputs": ["q"]}]})


def test_q_times_k_transposed_reads_both_operands_from_the_shared_sram():
    # 4 heads of (128 x 64) @ (64 x 128): no stored weights, nothing from DRAM; the keys
    # (4 x 64 x 128 = 32 KiB) are routed to the cores like a weight block. On one ideal core
    # each head is 128 x ceil(64/32) x ceil(128/32) = 1,024 cycles: 4,096.
    (_, _, s, _, _) = simulate(ideal_arch(), attention()).layers
    assert s.macs == 4 * 128 * 64 * 128
    assert s.cycles == s.analytic_compute_cycles_one_core == 4_096
    assert s.mapping["weights"] == "activation_operand"
    assert s.dram_read_bytes == 0 and "filter" not in s.dram_bytes_by_operand
    assert s.sram_bytes_by_operand["weights"] == 4 * 64 * 128
    # every sample has its own keys: batch 2 routes twice the right operand and takes twice
    # the cycles (8 products)
    (_, _, s2, _, _) = simulate(ideal_arch(), attention(batch=2)).layers
    assert s2.sram_bytes_by_operand["weights"] == 2 * 4 * 64 * 128
    assert s2.cycles == 2 * 4_096


def test_softmax_and_layernorm_are_two_pass_reductions_on_the_vector_unit():
    # bpu hard-wires neither: the vector unit reads each row twice (statistics, normalise).
    # softmax over 4 x 128 x 128 scores at 8 ops per element; layernorm over 128 x 256 at
    # 7 ops (norm's own count: 5 + gamma + beta)
    _, _, _, probs, ln = simulate(load_arch("bpu"), attention()).layers
    assert probs.sram_bytes_by_operand["input"] == 2 * 4 * 128 * 128
    assert probs.busy_cycles["vector"] == 4 * 128 * 128 * 8 / 32
    assert ln.sram_bytes_by_operand["input"] == 2 * 128 * 256
    assert ln.busy_cycles["vector"] == 128 * 256 * 7 / 32
    assert probs.mapping["passes"][0]["reads_per_row"] == 2


def decode(context: int, batch: int = 1, heads: int = 8, hd: int = 64):
    """One decode step's attention: the query of one token against `context` cached keys and
    values per head (the K x N operand of each matmul is the KV cache)."""
    d = heads * hd
    return workload_from_dict({"name": "dec", "input": [d], "batch": batch, "layers": [
        {"name": "q", "type": "linear", "in_features": d, "out_features": d},
        {"name": "scores", "type": "matmul", "m": 1, "k": hd, "n": context, "count": heads,
         "kv_cache": True, "inputs": ["q"]},
        {"name": "probs", "type": "activation", "function": "softmax"},
        {"name": "context", "type": "matmul", "m": 1, "k": context, "n": hd, "count": heads,
         "kv_cache": True, "inputs": ["probs"]},
        {"name": "o", "type": "linear", "in_features": d, "out_features": d}]})


def test_the_kv_cache_stays_on_chip_while_it_fits_else_comes_from_dram_every_step():
    # keys and values: 2 x 8 heads x 64 x 1,024 tokens x 1 B = 1 MiB: on bpu's 8 MiB SRAM they
    # stay resident (loaded once, like resident weights); each step reads nothing from DRAM
    # for them
    cache = 8 * 64 * 1024
    on_chip = simulate(load_arch("bpu"), decode(1024))
    scores, context = on_chip.layers[1], on_chip.layers[3]
    assert scores.mapping["weights"] == "kv_cache_resident"
    assert scores.dram_read_bytes == context.dram_read_bytes == 0
    assert on_chip.totals.engine_totals["weight_preload_bytes"] >= 2 * cache
    # with a 2 MiB SRAM a cache of 16,384 tokens (2 x 8 MiB) cannot stay: every step reads all
    # of it from DRAM (as activations: ifmap)
    long = simulate(load_arch("bpu", ["sram.size_bytes=2097152"]), decode(16384))
    for layer in (long.layers[1], long.layers[3]):
        assert layer.mapping["weights"] == "kv_cache_streamed"
        assert layer.dram_bytes_by_operand["ifmap"] >= 8 * 64 * 16384
        assert layer.cycles >= 8 * 64 * 16384 / load_arch("bpu").dram_bytes_per_cycle
    # per sample: batch 4 reads four caches
    batched = simulate(load_arch("bpu", ["sram.size_bytes=2097152"]), decode(16384, batch=4))
    assert batched.layers[1].dram_bytes_by_operand["ifmap"] >= 4 * 8 * 64 * 16384


def test_a_kv_cache_append_no_later_layer_reads_is_written_to_dram():
    # reported: KV-cache writes never reached DRAM on tensor cores (the append's output, read
    # by no later layer of the step, stayed in the SRAM). One token's new keys, a copy of the
    # k projection (8 heads x 64 = 512 int8 elements per sequence), leave the step like the
    # final output: 512 B written at batch 1, 4 x 512 B at batch 4.
    def step(batch):
        d = 8 * 64
        return workload_from_dict({"name": "dec", "input": [d], "batch": batch, "layers": [
            {"name": "k", "type": "linear", "in_features": d, "out_features": d},
            {"name": "k_append", "type": "pad", "before": [0], "after": [0], "inputs": ["k"]},
            {"name": "o", "type": "linear", "in_features": d, "out_features": d,
             "inputs": ["k"]}]})
    for batch in (1, 4):
        k, append, o = simulate(load_arch("bpu"), step(batch)).layers
        assert append.dram_write_bytes == batch * 512
        assert append.cycles >= batch * 512 / load_arch("bpu").dram_bytes_per_cycle
        assert k.dram_write_bytes == 0 and o.dram_write_bytes == batch * 512
