"""Compressed layers on the tensor cores (docs/compression.md, section 8): what the datapath
consumes natively and what it only stores."""

from __future__ import annotations

import pytest
from helpers.archs import ideal_arch

from simulator.api import simulate
from simulator.compress import prune, quantize, share_weights, winograd
from simulator.compress.storage import sparse_layout
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.registry import arch_from_dict

STREAM = ["compiler.weight_residency=stream"]


def conv_net(cout: int = 64, cin: int = 64, size: int = 28):
    return workload_from_dict({"name": "c", "input": [cin, size, size], "layers": [
        {"name": "c", "type": "conv", "out_channels": cout, "kernel": 3, "padding": 1}]})


def with_datapath(arch, **datapath):
    data = arch.model_dump(mode="json")
    data["datapath"] = {**data["datapath"], **datapath}
    return arch_from_dict(data)


def test_a_dense_array_multiplies_pruned_zeros_unless_it_skips_them():
    # 3x3, 64 -> 64 on 28 x 28, one ideal core: 784 x 18 x 2 = 28,224 cycles dense
    dense = simulate(ideal_arch(), conv_net()).layers[0]
    pruned_wl = prune(conv_net(), 0.25)
    pruned = simulate(ideal_arch(), pruned_wl)
    assert pruned.layers[0].cycles == dense.cycles == 28_224
    assert pruned.layers[0].macs == dense.macs
    assert any("multiply their zeros" in w for w in pruned.warnings)
    # skipping zero weights: a quarter of the work, of the MACs and of their energy
    skipping = simulate(with_datapath(ideal_arch(), zero_skipping="weights"), pruned_wl)
    (layer,) = skipping.layers
    assert layer.cycles == 28_224 // 4
    assert layer.macs == dense.macs // 4
    assert layer.energy_breakdown_pj["mac"] == pytest.approx(
        dense.energy_breakdown_pj["mac"] / 4)
    assert not any("multiply their zeros" in w for w in skipping.warnings)


def test_pruned_weights_travel_sparse_only_with_a_sparse_decoder():
    # a 1x1 FC-like conv with a large weight matrix, streamed from DRAM: bpu decodes the
    # sparse format (RK3399Pro's "sparse coefficient decompression"), so its DRAM weight
    # bytes are the sparse layout's; without the decoder they travel dense
    wl = prune(workload_from_dict({"name": "fc", "input": [1024], "layers": [
        {"name": "fc", "type": "linear", "out_features": 1024}]}), 0.1)
    layer = wl.layers[0]
    sparse_bytes = sparse_layout(layer, 8).bits(8) / 8
    bpu = simulate(load_arch("bpu", STREAM), wl).layers[0]
    assert bpu.dram_bytes_by_operand["filter"] == pytest.approx(sparse_bytes, rel=0.01)
    plain = simulate(with_datapath(load_arch("bpu", STREAM), weight_decoders=[]), wl)
    assert plain.layers[0].dram_bytes_by_operand["filter"] == 1024 * 1024
    assert any("no sparse decoder" in w for w in plain.warnings)


def test_per_layer_bits_set_the_mac_rate_and_the_bytes():
    # bpu: int16 at 1/10 of the int8 rate. A conv whose activations are quantized to 16 bits
    # (weights 8) runs as int16 (the int16 datapath covers int16 x int8): 10 x the cycles of
    # int8 on one ideal-bandwidth core; 4-bit weights run on the int8 datapath but travel
    # packed: half the DRAM bytes (64 x 64 x 9 = 36,864 B of int8 weights, loaded once)
    data = ideal_arch().model_dump(mode="json")
    data["mac_rates"] = {"int8": 1.0, "int16": 0.1}
    data["compiler"]["weight_residency"] = "stream"
    arch = arch_from_dict(data)
    base = simulate(arch, conv_net()).layers[0]
    wide = simulate(arch, quantize(conv_net(), weight_bits=8, activation_bits=16)).layers[0]
    narrow = simulate(arch, quantize(conv_net(), weight_bits=4, activation_bits=8)).layers[0]
    assert wide.cycles == 10 * base.cycles
    assert narrow.cycles == base.cycles
    assert base.dram_bytes_by_operand["filter"] == 36_864
    assert narrow.dram_bytes_by_operand["filter"] == 36_864 / 2


def test_shared_weights_travel_as_indices_only_with_a_codebook_decoder():
    # 16 shared 8-bit values: 4-bit indices with a codebook decoder, else decoded to 8 bits
    wl = share_weights(workload_from_dict({"name": "fc", "input": [1024], "layers": [
        {"name": "fc", "type": "linear", "out_features": 1024}]}), 16, value_bits=8)
    plain = simulate(load_arch("bpu", STREAM), wl)
    assert plain.layers[0].dram_bytes_by_operand["filter"] == 1024 * 1024
    assert any("no codebook decoder" in w for w in plain.warnings)
    decoded = simulate(with_datapath(load_arch("bpu", STREAM), weight_decoders=["codebook"]), wl)
    assert decoded.layers[0].dram_bytes_by_operand["filter"] == pytest.approx(
        1024 * 1024 / 2 + 16, abs=64)


def test_winograd_runs_hard_wired_only_where_the_datapath_lists_it():
    # F(2x2, 3x3) on 3x3, 64 -> 64, 28 x 28: 14 x 14 = 196 output tiles, 16 element-wise GEMMs
    # (196 x 64) @ (64 x 64): on one ideal core 16 x 196 x 2 x 2 = 12,544 cycles (direct:
    # 28,224), MACs 2.25 x fewer; bpu has no Winograd unit: direct form, one warning line
    wl = winograd(conv_net(), "f2")
    fast = simulate(with_datapath(ideal_arch(), winograd=["f2"]), wl).layers[0]
    assert fast.cycles == 12_544
    assert fast.macs == wl.layers[0].macs == 64 * 64 * 196 * 16
    assert fast.energy_breakdown_pj["core_vector"] > 0          # the transforms' element ops
    direct = simulate(ideal_arch(), wl)
    assert direct.layers[0].cycles == 28_224
    assert direct.layers[0].macs == 28 * 28 * 64 * 64 * 9
    assert sum("Winograd" in w for w in direct.warnings) == 1


def test_a_narrower_accumulator_need_saves_nothing_on_32_bit_accumulators():
    # a layer's accumulator_bits is what its sums need (the share stage writes 24 where
    # 8 + 8 + ceil(log2 K) <= 24, docs/compression.md section 3); bpu's cores accumulate in
    # 32 bits whatever that need is, so a 24-bit need is the uncompressed run, cycle for cycle
    # and pJ for pJ (MACs and output buffers priced at 32 bits), while a 48-bit need widens them
    bpu = load_arch("bpu")
    dense = simulate(bpu, conv_net())
    narrow = conv_net()
    narrow.layers[0].accumulator_bits = 24
    shared = simulate(bpu, narrow)
    assert shared.totals.cycles == dense.totals.cycles
    assert shared.totals.energy_pj == pytest.approx(dense.totals.energy_pj, rel=1e-12)
    wide = conv_net()
    wide.layers[0].accumulator_bits = 48
    assert simulate(bpu, wide).totals.energy_pj > dense.totals.energy_pj
