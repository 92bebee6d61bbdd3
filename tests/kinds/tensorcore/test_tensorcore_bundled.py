"""Tensor-core engine on every bundled workload, and the layer types that once broke it.

A scan of the bundled workloads on `bpu` once found LSTM layers at 187 % utilization (the gate
GEMMs ran as a zero-work vector pass), AlexNet's 11x11 conv1 rejected as not fitting the core
buffers, and NT-LSTM rejected by the vector unit. These tests keep every bundled workload
physically possible, and pin the fixed cases to hand-derived numbers.
"""

from __future__ import annotations

from functools import lru_cache

import pytest

from simulator.api import simulate
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload

BUNDLED = ["alexnet", "vgg16", "googlenet", "resnet50", "mobilenet_v2", "mobilenet_v3_large",
           "squeezenet", "tpu_mlp0", "lstm_lm", "eie_benchmarks"]
from helpers.archs import ideal_arch  # one core, unbounded bandwidths, zero latencies


@lru_cache(maxsize=None)
def _run(name: str):
    arch = load_arch("bpu")
    wl = load_workload(name)  # at the workload's own batch (lstm_lm 64, tpu_mlp0 200)
    return arch, wl, simulate(arch, wl)


@pytest.mark.parametrize("name", BUNDLED)
def test_bundled_workload_is_physically_possible_on_bpu(name):
    arch, wl, result = _run(name)
    peak = arch.peak_macs_per_cycle          # 2 cores x 32 x 32 = 2048 MACs/cycle
    dram_bpc = arch.dram_bytes_per_cycle     # 12.8 GB/s / 1.2 GHz = 10.67 B/cycle
    assert result.totals.macs == wl.macs
    assert 0 < result.totals.utilization <= 1
    for layer in result.layers:
        if getattr(layer, "fused_into", None):
            assert layer.cycles == 0
            continue
        # a layer cannot beat the MAC array or the DRAM interface
        assert layer.cycles >= layer.macs / peak - 1e-9, layer.name
        assert layer.cycles >= (layer.dram_read_bytes + layer.dram_write_bytes) / dram_bpc - 1, layer.name
        assert layer.utilization <= 1, layer.name




def net(*layers, input, batch=1):
    return workload_from_dict({"name": "t", "input": list(input), "batch": batch,
                               "layers": list(layers)})


# ---- LSTM: sequential steps ------------------------------------------------------------------
def test_lstm_steps_run_in_sequence_gemm_then_gate_math():
    # I = H = 32, 4 steps, batch 2, one ideal core. Per step the gate GEMM is
    # (2 x 64) @ (64 x 128): M = 2, K = 64 -> 2 row folds, N = 128 -> 4 column folds:
    # 2 * 2 * 4 = 16 cycles. Then the gate math on the vector unit: 2 x 32 hidden units x 13
    # element ops (3 sigmoids, 2 tanh, 3 products, 1 add, 4 bias adds) / 32 ops per cycle = 26
    # cycles. Step t+1's GEMM needs all of h_t: 4 x (16 + 26) = 168 cycles.
    # MACs: 4 steps x 2 x 64 x 128 = 65,536 (Layer.macs).
    wl = net({"name": "l", "type": "lstm", "hidden_size": 32, "seq_len": 4}, input=(4, 32), batch=2)
    (l,) = simulate(ideal_arch(), wl).layers
    assert l.macs == 65_536
    assert l.analytic_compute_cycles_one_core == 4 * 16
    assert l.busy_cycles["core0"] == 4 * 16
    assert l.busy_cycles["vector"] == 4 * 26
    assert l.cycles == 168
    # the weights (64 x 128 = 8,192 B) are one block that stays in the core's weight buffer
    # across the steps: routed once, not once per step
    assert l.sram_bytes_by_operand["weights"] == 8_192


def test_lstm_weights_restream_every_step_unless_resident():
    # I = H = 256: W = 512 x 1024 = 524,288 B int8, more than the 262,144 B staging area and
    # than a core's 64 KiB weight-buffer half, so when streamed every step loads it again.
    wl = net({"name": "l", "type": "lstm", "hidden_size": 256, "seq_len": 3}, input=(3, 256), batch=4)
    stream = simulate(load_arch("bpu", ["compiler.weight_residency=stream"]), wl).layers[0]
    resident = simulate(load_arch("bpu"), wl)
    assert stream.dram_bytes_by_operand["filter"] == 3 * 524_288
    assert resident.layers[0].dram_bytes_by_operand.get("filter", 0) == 0
    assert resident.totals.engine_totals["weight_preload_bytes"] == 524_288
    # cycles cover every step's MACs: 3 x 4 x 512 x 1024 = 6,291,456 MACs / 2048 per cycle
    assert resident.layers[0].cycles >= 3072
    assert stream.cycles >= 3 * 524_288 / load_arch("bpu").dram_bytes_per_cycle


# ---- oversized convolutions: tiled, not rejected ---------------------------------------------
def test_alexnet_conv1_runs_at_its_closed_form():
    # 11x11 stride 4, 3 -> 64 on 224x224, pad 2: Ho = (224 + 4 - 11) // 4 + 1 = 55,
    # M = 3025, K = 363 -> 12 row folds, N = 64 -> 2: 3025 * 12 * 2 = 72,600 cycles.
    # (Its 3 x 121 x 32 = 11.6 KB of weights per array width fit easily; the tiler used to
    # demand 32-channel chunks of 11x11 taps, 124 KB, and rejected the layer.)
    wl = net({"name": "conv1", "type": "conv", "out_channels": 64, "kernel": 11, "stride": 4,
              "padding": 2}, input=(3, 224, 224))
    (l,) = simulate(ideal_arch(), wl).layers
    assert l.cycles == l.analytic_compute_cycles_one_core == 72_600


def test_large_kernel_splits_input_channels_and_pays_the_partial_folds():
    # 11x11, 16 -> 32 on 32x32, pad 5: M = 1024, N = 32 -> 1 column fold. An 8 KiB weight
    # buffer (4 KiB halves) holds 4096 // (32 x 121) = 1 input channel of an array width...
    # per channel 32 x 121 = 3,872 B: one channel per chunk. Each chunk: K = 121 -> 4 folds
    # (the last one 25/32 full), 16 chunks = 64 folds instead of ceil(1936 / 32) = 61:
    # 1024 * 64 = 65,536 cycles vs the unsplit closed form 1024 * 61 = 62,464.
    wl = net({"name": "c", "type": "conv", "out_channels": 32, "kernel": 11, "padding": 5},
             input=(16, 32, 32))
    (l,) = simulate(ideal_arch(weight_buffer_bytes=8192), wl).layers
    assert l.analytic_compute_cycles_one_core == 62_464
    assert l.cycles == 65_536


def test_layer_whose_smallest_tile_cannot_fit_is_a_one_line_error():
    # a 64 B input buffer (32 B halves) cannot hold even 11 input rows of one 224-wide channel
    wl = net({"name": "conv1", "type": "conv", "out_channels": 64, "kernel": 11, "stride": 4,
              "padding": 2}, input=(3, 224, 224))
    with pytest.raises(NpusimError, match="conv1.*smallest"):
        simulate(ideal_arch(input_buffer_bytes=64), wl)


# ---- element-wise work on the vector unit: tiled by channel slices ----------------------------
def test_vector_unit_tiles_a_one_row_tensor_larger_than_its_buffer():
    # sigmoid (not hard-wired on bpu) over a 10,000-element linear output: 10,000 B > the
    # vector unit's 8 KiB input quarter, so it runs in 2 slices of 5,000 elements. Sigmoid
    # is 7 element ops (core/activations.py: exp 4, add 1, divide 2):
    # 2 x ceil(5,000 x 7 ops / 32) = 2 x 1,094 = 2,188 cycles; the tensor moves once each way.
    wl = net({"name": "fc", "type": "linear", "out_features": 10000},
             {"name": "s", "type": "activation", "function": "sigmoid"}, input=(512,))
    s = simulate(load_arch("bpu"), wl).layers[1]
    assert s.busy_cycles["vector"] == 2188
    assert s.sram_bytes_by_operand["input"] == 10_000


def test_matmul_with_count_is_count_independent_gemms():
    # 4 heads of (64 x 64) @ (64 x 48): per head 64 * ceil(64/32) * ceil(48/32) = 256 cycles,
    # 4 heads 1,024 (one 64 x 192 GEMM would be 64 * 2 * 6 = 768: too few column folds).
    wl = workload_from_dict({"name": "t", "layers": [
        {"name": "mm", "type": "matmul", "m": 64, "k": 64, "n": 48, "count": 4, "weights": True}]})
    (l,) = simulate(ideal_arch(), wl).layers
    assert l.macs == 4 * 64 * 64 * 48
    assert l.cycles == l.analytic_compute_cycles_one_core == 1024
