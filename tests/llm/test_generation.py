"""LLM generations on the bundled chips against closed forms (issue 14's checks)."""

from __future__ import annotations

import math

import pytest

from simulator.io.llm import load_llm
from simulator.io.load import load_arch
from simulator.llm.build import decode_workload, prefill_workload
from simulator.llm.generation import simulate_generation
from simulator.llm.results import LlmResult
from tests.helpers.llm import tiny_gpt, tiny_llm

TPU_BYTES_PER_S = 34e9  # tpu_v1's DDR3 (arch_configs/tpu_v1.yaml)


@pytest.fixture(scope="module")
def llama7b():
    return load_llm("llama2_7b")


@pytest.fixture(scope="module")
def tpu():
    return load_arch("tpu_v1")


def _step_seconds(arch, model, context, batch=1):
    from simulator import api
    return api.simulate(arch, decode_workload(model, context, batch)).totals.latency_s


def test_decode_macs_in_the_simulation_are_the_closed_form(tpu):
    # one decode step at L = P + 1 = 41, batch 3 (tiny_llm: derivation in test_build.py)
    model = tiny_llm()
    result = simulate_generation(tpu, model, prompt=40, generate=2, batch=3)
    assert result.decode.steps == 1 and result.decode.first_context == 41
    assert result.decode.per_step.macs == 3 * model.decode_macs_per_token(41)
    assert result.closed_form.decode_macs_per_token_first == model.decode_macs_per_token(41)
    assert result.prefill.figures.macs == prefill_workload(model, 40, 3).macs


def test_decode_at_batch_1_is_the_weight_stream_time(tpu, llama7b):
    # Llama-2-7B at int8 on tpu_v1: every decode step streams 6,607,077,376 bytes of matrices
    # (32 x 202,375,168 + 4096 x 32000) and reads the KV cache, 262,144 bytes per token
    # (2 x 32 x 4096): at L = 513: 134.5 MB. Over 34 GB/s: (6.607 + 0.134) GB / 34 GB/s =
    # 198.3 ms per token. The GEMVs do 1 MAC per weight byte, far left of the 1350 ridge,
    # so nothing else matters.
    result = simulate_generation(tpu, llama7b, prompt=512, generate=2)
    expected = (6_607_077_376 + 262_144 * 513) / TPU_BYTES_PER_S
    assert result.memory.weight_bytes == 6_607_077_376
    assert result.closed_form.dram_bound_time_per_token_first_s == pytest.approx(expected)
    assert result.decode.time_per_output_token_s == pytest.approx(expected, rel=0.10)
    assert result.decode.per_step.bound == "memory"


def test_decode_at_a_long_context_reads_weights_and_the_whole_cache(tpu, llama7b):
    # at L = 4000 the cache is 1.05 GB (262,144 x 4000 bytes), 43x the 24 MiB unified buffer:
    # each step reads it from DRAM, 6.607 + 1.049 GB -> 225.2 ms per token. At most one
    # layer's K or V cache (16.4 MB) can stay in the 24 MiB buffer next to the live activations
    weights, cache = 6_607_077_376, 262_144 * 4000
    from simulator import api
    run = api.simulate(tpu, decode_workload(llama7b, 4000))
    assert run.totals.dram_read_bytes >= weights + cache - 24 * 2**20
    assert run.totals.latency_s == pytest.approx((weights + cache) / TPU_BYTES_PER_S, rel=0.10)


def test_decode_time_per_token_is_linear_in_the_context(tpu, llama7b):
    # L = 1024, 2048, 3072, 4096: equal steps in L, equal steps in time (within 2 %: the
    # mapper may pick another tiling for a longer cache, a fraction of a percent of the step)
    times = [_step_seconds(tpu, llama7b, L) for L in (1024, 2048, 3072, 4096)]
    rises = [b - a for a, b in zip(times, times[1:])]
    assert all(r > 0 for r in rises)
    assert max(rises) <= min(rises) * 1.02


def test_decode_time_grows_by_the_cache_bytes_once_the_cache_leaves_the_chip(tpu, llama7b):
    # past 24 MiB of cache (L > 96 at batch 1) every extra token of context adds its K and V
    # of every layer, 262,144 bytes, to each step's DRAM reads: 262,144 / 34e9 = 7.71 us per
    # token of context -> 7.90 ms per 1024 tokens
    low, high = (_step_seconds(tpu, llama7b, L) for L in (1024, 4096))
    assert (high - low) / 3072 == pytest.approx(262_144 / TPU_BYTES_PER_S, rel=0.10)


@pytest.fixture(scope="module")
def prefill_2048(tpu, llama7b):
    from simulator import api
    return api.simulate(tpu, prefill_workload(llama7b, 2048))


@pytest.mark.parametrize("gemm", ["gate", "up", "down"])
def test_prefill_at_2048_tokens_is_compute_bound_for_the_ffn_gemms(prefill_2048, gemm):
    # each FFN weight is used by 2048 tokens: 2048 MACs per weight byte at int8, right of
    # tpu_v1's ridge (92 TOPS / 2 / 34 GB/s = 1350 MACs per weight byte, Jouppi et al. 2017),
    # so the array, not DRAM, sets the time of every FFN GEMM in every block. For the down
    # projection this needs its 2048 x 11008 input (22.5 MB at int8) to stay in the 24 MiB
    # unified buffer: the residency rule spills the tensors used farthest ahead (the block
    # input kept for the residual add, the projection's own output) and keeps it
    assert 2048 > 65536 * 700e6 / TPU_BYTES_PER_S
    layers = [l for l in prefill_2048.layers if l.name.endswith(f".{gemm}")]
    assert len(layers) == 32
    for layer in layers:
        assert layer.compute_cycles >= layer.stall_cycles, layer.name


def test_prefill_at_512_tokens_is_not_compute_bound_on_tpu_v1(tpu, llama7b):
    # 512 MACs per weight byte < 1350: the weight stream sets the FFN's time
    from simulator import api
    run = api.simulate(tpu, prefill_workload(llama7b, 512))
    gate = run.layers[[l.name for l in run.layers].index("blk5.gate")]
    assert gate.stall_cycles > gate.compute_cycles and gate.bound == "memory"


def test_the_roofline_puts_decode_left_of_the_ridge(tpu):
    result = simulate_generation(tpu, tiny_gpt(), prompt=100, generate=8, batch=4)
    ro = result.roofline
    assert ro.ridge_macs_per_weight_byte == pytest.approx(65536 * 700e6 / TPU_BYTES_PER_S)
    assert [p.name for p in ro.points] == ["prefill", "decode (first step)",
                                           "decode (last step)"]
    prefill, first, last = ro.points
    # decode: each weight byte (int8) serves one MAC per sequence -> batch 4 MACs per byte
    assert first.macs_per_weight_byte == pytest.approx(4.0)
    assert prefill.macs_per_weight_byte == pytest.approx(400.0)  # batch x prompt
    for point in (first, last):
        assert point.ops_per_dram_byte < ro.ridge_ops_per_byte and point.bound == "memory"
        assert point.achieved_ops_per_s <= point.attainable_ops_per_s * 1.0001


def test_totals_follow_from_the_phases(tpu):
    r = simulate_generation(tpu, tiny_llm(), prompt=64, generate=17, batch=2)
    d, t = r.decode, r.totals
    assert d.steps == 16 and (d.first_context, d.last_context) == (65, 80)
    assert len(d.series) == 16
    assert t.time_to_first_token_s == r.prefill.time_to_first_token_s
    assert t.latency_s == pytest.approx(t.time_to_first_token_s + 16 * d.time_per_output_token_s)
    assert t.tokens_per_s == pytest.approx(2 * 17 / t.latency_s)
    assert d.tokens_per_s == pytest.approx(2 / d.time_per_output_token_s)
    assert t.energy_pj == pytest.approx(r.prefill.figures.energy_pj + d.total_energy_pj)
    assert d.energy_per_token_pj == pytest.approx(d.total_energy_pj / (16 * 2))
    # KV cache: 2 blocks x 2 K/V heads x 32 x 2 (K and V) = 256 elements per token, int8
    assert r.memory.kv_cache_bytes_per_token == 256
    assert r.memory.kv_cache_bytes_after_prompt == 256 * 64 * 2
    assert r.memory.kv_cache_bytes_final == 256 * 80 * 2
    assert sum(p.cycles for p in d.per_step.by_part.values()) == pytest.approx(d.per_step.cycles)


def test_one_generated_token_has_no_decode_step(tpu):
    r = simulate_generation(tpu, tiny_llm(), prompt=10, generate=1)
    assert r.decode is None and r.totals.time_per_output_token_s is None
    assert r.totals.latency_s == r.prefill.time_to_first_token_s


def test_the_result_round_trips_through_json(tpu):
    r = simulate_generation(tpu, tiny_llm(kv_cache_bits=16), prompt=10, generate=4)
    again = LlmResult.model_validate(r.to_json_dict())
    assert again == r
    assert r.precision["kv_cache_bits"] == 16 and r.memory.kv_cache_bits == 16


def test_bpu_runs_a_generation():
    r = simulate_generation("bpu", tiny_llm(layers=1), prompt=16, generate=3)
    assert r.decode.per_step.latency_s > 0 and math.isfinite(r.totals.tokens_per_s)
