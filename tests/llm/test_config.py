"""LLM configs: the bundled presets have the parameter counts PyTorch reports for the public
models, resolved shapes and closed forms are right, and bad configs are one-line errors."""

from __future__ import annotations

import pytest

from simulator.core.errors import NpusimError
from simulator.io.llm import llm_from_dict, load_llm
from simulator.llm.build import decode_workload, prefill_workload

#: sum(p.numel()) of the released models (Hugging Face: gpt2, meta-llama/Llama-3.2-1B,
#: meta-llama/Llama-2-7b-hf; a tied LM head counted once). By hand:
#: gpt2_small: wte 50257 x 768 = 38,597,376 + wpe 1024 x 768 = 786,432 + 12 blocks x
#:   (qkv 768 x 2304 + 2304, proj 768 x 768 + 768, fc 768 x 3072 + 3072, proj 3072 x 768 + 768,
#:   2 LayerNorms 2 x 1536 = 7,087,872) + ln_f 1536 = 124,439,808
#: llama3_2_1b: embed 128256 x 2048 = 262,668,288 + 16 x (q 2048^2 + k, v 2048 x 512 each +
#:   o 2048^2 + 3 x 2048 x 8192 + 2 x 2048 = 60,821,504) + norm 2048 = 1,235,814,400
#: llama2_7b: embed and head 2 x 32000 x 4096 = 262,144,000 + 32 x (4 x 4096^2 +
#:   3 x 4096 x 11008 + 2 x 4096 = 202,383,360) + 4096 = 6,738,415,616
PARAMS = {"gpt2_small": 124_439_808, "llama3_2_1b": 1_235_814_400, "llama2_7b": 6_738_415_616}


@pytest.mark.parametrize("name", sorted(PARAMS))
def test_presets_have_the_public_parameter_counts(name):
    config = load_llm(name)
    assert config.params == PARAMS[name]
    # the generated workloads count the same parameters, layer by layer
    assert decode_workload(config, 16).params == PARAMS[name]
    assert prefill_workload(config, 16).params == PARAMS[name]


def test_resolved_shapes():
    llama1b = load_llm("llama3_2_1b")
    assert (llama1b.n_kv_heads, llama1b.dim_head, llama1b.group) == (8, 64, 4)
    assert (llama1b.q_dim, llama1b.kv_dim) == (2048, 512)
    gpt2 = load_llm("gpt2_small")
    assert (gpt2.n_kv_heads, gpt2.dim_head, gpt2.group) == (12, 64, 1)


def test_kv_cache_bytes_closed_form():
    # Llama-2-7B, int8, 4096 tokens, 1 sequence: 2 (K, V) x 32 layers x 32 heads x 128 x 4096
    # x 1 byte = 2^30 bytes exactly; per token 2 x 32 x 4096 = 262,144 bytes
    llama = load_llm("llama2_7b")
    assert llama.kv_cache_bytes(4096, 1, 8) == 2 ** 30
    assert llama.kv_cache_bytes(1, 1, 8) == 262_144
    # GQA shrinks it by the group: Llama-3.2-1B keeps 8 K/V heads of 64 per layer, 16 layers:
    # 2 x 16 x 512 = 16,384 elements per token, 32,768 bytes at fp16; batch 8 x 1000 tokens
    assert load_llm("llama3_2_1b").kv_cache_bytes(1000, 8, 16) == 16_384 * 2 * 8000
    # 4-bit entries pack two per byte
    assert llama.kv_cache_bytes(1, 1, 4) == 131_072


@pytest.mark.parametrize("data, field, gist", [
    ({"name": "x", "layers": 2, "d_model": 100, "heads": 3, "ffn": 8, "vocab": 10,
      "max_context": 8}, None, "not a multiple of heads"),
    ({"name": "x", "layers": 2, "d_model": 96, "heads": 6, "kv_heads": 4, "ffn": 8, "vocab": 10,
      "max_context": 8}, None, "not a multiple of kv_heads"),
    ({"name": "x", "layers": 2, "d_model": 64, "heads": 4, "ffn": 8, "vocab": 10,
      "max_context": 8, "norm": "batchnorm"}, "norm", "layernorm"),
    ({"name": "x", "layers": 0, "d_model": 64, "heads": 4, "ffn": 8, "vocab": 10,
      "max_context": 8}, "layers", "greater than 0"),
    ({"name": "x", "d_model": 64, "heads": 4, "ffn": 8, "vocab": 10, "max_context": 8},
     "layers", "missing"),
    ({"name": "x", "layers": 2, "d_model": 64, "heads": 4, "ffn": 8, "vocab": 10,
      "max_context": 8, "ffn_hidden": 8}, "ffn_hidden", "unknown field"),
    ({"name": "x", "layers": 2, "d_model": 64, "heads": 4, "ffn": 8, "vocab": 10,
      "max_context": 8, "kv_cache_bits": 6}, "kv_cache_bits", "6"),
    ({"kind": "systolic", "name": "x"}, "kind", "not an LLM config"),
    ({"name": "x", "layers": [{"name": "a"}]}, "layers", "workload"),
])
def test_bad_configs_are_one_line_errors(data, field, gist):
    with pytest.raises(NpusimError) as info:
        llm_from_dict(data, "m.yaml")
    line = info.value.one_line()
    assert "\n" not in line and line.startswith("m.yaml")
    assert gist in line
    if field:
        assert f"'{field}'" in line


def test_unknown_preset_lists_the_bundled_ones():
    with pytest.raises(NpusimError) as info:
        load_llm("llama9_70b")
    line = info.value.one_line()
    assert "llama9_70b" in line and "gpt2_small" in line and "llama2_7b" in line
