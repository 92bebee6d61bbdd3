"""The generated prefill and decode workloads: MACs, KV-cache operands and shapes against
closed forms derived by hand, and context limits."""

from __future__ import annotations

import pytest

from simulator.core.errors import NpusimError
from simulator.core.layers import MatmulLayer
from simulator.io.llm import load_llm
from simulator.llm.build import (
    PART_ORDER,
    decode_workload,
    part_of,
    phase_workload,
    prefill_workload,
)
from tests.helpers.llm import tiny_gpt, tiny_llm


def test_decode_macs_per_token_are_the_closed_form_llama2_7b():
    # One decode token passes every matrix once: one MAC per weight.
    #   per block: q, k, v, o = 4 x 4096 x 4096 = 67,108,864
    #              gate, up, down = 3 x 4096 x 11008 = 135,266,304
    #   LM head: 4096 x 32000 = 131,072,000 (the embedding is a lookup: no MACs)
    # plus attention over the L cached tokens, per block and head of 128:
    #   q K^T: one 128-long dot product per cached key = 128 L MACs
    #   probs V: each of the L values scaled and accumulated into 128 outputs = 128 L MACs
    #   -> 2 x 32 heads x 128 x L = 8192 L per block
    # At L = 1000: 32 x (67,108,864 + 135,266,304 + 8,192,000) + 131,072,000 = 6,869,221,376
    llama = load_llm("llama2_7b")
    assert llama.decode_macs_per_token(1000) == 6_869_221_376
    for batch in (1, 3):
        workload = decode_workload(llama, 1000, batch)
        assert workload.macs == batch * 6_869_221_376


def test_decode_macs_count_query_heads_under_grouped_query_attention():
    # Llama-3.2-1B: 32 query heads of 64 share 8 K/V heads; each query head still takes its
    # own dot products: attention = 2 x 32 x 64 x L = 4096 L per block (not 8 x 64).
    #   per block: q 2048^2 + k, v 2 x 2048 x 512 + o 2048^2 = 10,485,760
    #              3 x 2048 x 8192 = 50,331,648
    #   LM head (tied, still multiplied): 2048 x 128256 = 262,668,288
    # At L = 100: 16 x (10,485,760 + 50,331,648 + 409,600) + 262,668,288 = 1,242,300,416
    llama = load_llm("llama3_2_1b")
    assert decode_workload(llama, 100).macs == 1_242_300_416


def test_prefill_macs_closed_form():
    # GPT-2-style tiny model (d 64, 4 heads of 16, FFN 256, vocab 500), P = 10, batch 2:
    #   per block and token: q, k, v, o 4 x 64 x 64 = 16,384; FFN 2 x 64 x 256 = 32,768
    #   attention: full 10 x 10 scores and context per head: 2 x 4 x 16 x 10 = 1,280 per token
    #   -> per block 10 x (16,384 + 32,768 + 1,280) = 504,320; 2 blocks = 1,008,640
    #   LM head on the last position only: 64 x 500 = 32,000
    # per sequence 1,040,640; batch 2: 2,081,280
    assert prefill_workload(tiny_gpt(), 10, 2).macs == 2_081_280


def test_decode_kv_cache_operands_are_the_cache():
    # every block reads its keys (head_dim x L per K/V head) and values (L x head_dim), each
    # of batch sequences: the K x N operands of the kv_cache matmuls add up to the cache
    model = tiny_llm()  # 2 blocks, 2 K/V heads of 32, group 2
    workload = decode_workload(model, 300, batch=3)
    cache = [l for l in workload.layers if isinstance(l, MatmulLayer) and l.kv_cache]
    assert [l.name for l in cache] == ["blk0.scores", "blk0.context", "blk1.scores",
                                       "blk1.context"]
    elements = sum(g.k * g.n * g.groups for l in cache for g in l.gemms())
    assert elements == model.kv_elements_per_token() * 300 * 3 == 2 * 2 * 64 * 300 * 3
    scores = workload.layer("blk0.scores")
    assert (scores.m, scores.k, scores.n, scores.count) == (2, 32, 300, 2)  # group rows
    assert scores.output_shape == (2, 2, 300)
    # the append copies write one token's K and V per sequence and block
    appends = [l for l in workload.layers if part_of(l.name) == "kv_append"]
    assert sum(l.output_elements for l in appends) == model.kv_elements_per_token() * 3
    # prefill attention multiplies activations; nothing there is a cache read
    assert not any(getattr(l, "kv_cache", False) for l in prefill_workload(model, 8).layers)


def test_kv_cache_bits_set_the_width_of_the_cache_layers():
    workload = decode_workload(tiny_llm(kv_cache_bits=4), 64)
    widths = {l.name.split(".")[-1]: l.activation_bits for l in workload.layers
              if l.name.startswith("blk0.")}
    assert widths["scores"] == widths["context"] == widths["k_append"] == 4
    assert widths["q"] is None and widths["gate"] is None


@pytest.mark.parametrize("model", [tiny_llm(), tiny_gpt()], ids=["llama", "gpt"])
@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_every_layer_belongs_to_a_part(model, phase):
    workload = phase_workload(model, phase, prompt=12, context=12, batch=2)
    parts = {part_of(l.name) for l in workload.layers}
    assert parts <= set(PART_ORDER)
    assert {"embedding", "qkvo", "attention", "kv_append", "ffn", "lm_head"} <= parts


def test_prefill_lm_head_runs_on_the_last_position_only():
    workload = prefill_workload(tiny_llm(), 50, batch=4)
    head = workload.layer("lm_head")
    assert head.output_shape == (1000,) and head.macs == 4 * 128 * 1000


@pytest.mark.parametrize("call, field", [
    (lambda m: decode_workload(m, 2049), "context"),
    (lambda m: prefill_workload(m, 3000), "prompt"),
    (lambda m: decode_workload(m, 0), "context"),
    (lambda m: prefill_workload(m, 8, batch=0), "batch"),
    (lambda m: phase_workload(m, "decode", prompt=8), "context"),
    (lambda m: phase_workload(m, "train", prompt=8), "phase"),
])
def test_bad_phases_are_one_line_errors(call, field):
    with pytest.raises(NpusimError) as info:
        call(tiny_llm())
    assert f"'{field}'" in info.value.one_line()


def test_context_over_the_maximum_names_the_limit():
    with pytest.raises(NpusimError) as info:
        decode_workload(load_llm("gpt2_small"), 1025)
    assert "max_context of 1,024" in info.value.one_line()
