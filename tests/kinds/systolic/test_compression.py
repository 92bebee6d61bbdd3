"""What a systolic chip makes of compressed layers (issue 16 item 2): a dense array multiplies
pruned zeros, quantization shrinks bytes (and helps memory-bound layers), codebook and Huffman
weights shrink DRAM bytes only with a decoder on the chip, Winograd runs as element-wise GEMMs
with its transforms on the vector unit; each unused compression is one warning line."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.compress import huffman, prune, quantize, share_weights, winograd
from simulator.compress.size import model_size
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch


def fc_net():
    # AlexNet's FC6 alone at batch 1 (9216 -> 4096): memory-bound on tpu_v1 (37.7 MB of int8
    # weights at 34 GB/s, 4 ops per weight byte)
    return workload_from_dict({"name": "fc", "precision": {"weight_bits": 8,
                                                           "activation_bits": 8},
                               "layers": [{"name": "fc6", "type": "linear", "input": [9216],
                                           "out_features": 4096, "bias": False}]})


def test_unstructured_pruning_gives_no_speed_up_on_a_dense_array():
    dense = simulate("tpu_v1", fc_net())
    pruned = simulate("tpu_v1", prune(fc_net(), 0.1))
    assert pruned.layers[0].cycles == dense.layers[0].cycles
    assert pruned.layers[0].dram_bytes == dense.layers[0].dram_bytes
    assert pruned.totals.energy_breakdown_pj["mac"] == dense.totals.energy_breakdown_pj["mac"]
    # one warning line per unused compression, naming the layers
    lines = [w for w in pruned.warnings if "pruned weights" in w]
    assert len(lines) == 2 and all("fc6" in w for w in lines)


def test_zero_skipping_and_a_sparse_decoder_make_pruning_pay():
    arch = load_arch("tpu_v1", ["datapath.zero_skipping=weights",
                                "datapath.weight_decoders=[sparse]"])
    dense = simulate(arch, fc_net()).layers[0]
    pruned_wl = prune(fc_net(), 0.1)
    pruned = simulate(arch, pruned_wl).layers[0]
    # the weights travel in the sparse format model_size gives at 8-bit symbols
    stored = model_size(pruned_wl, baseline_bits=8).layers[0].bytes.pruned
    assert pruned.dram_bytes_by_operand["filter"] == stored < dense.dram_bytes / 5
    assert pruned.cycles < dense.cycles / 4
    assert pruned.energy_breakdown_pj["mac"] == pytest.approx(dense.energy_breakdown_pj["mac"] * 0.1)
    assert pruned.mapping["weights_stored"] == "csc" or pruned.mapping["weights_stored"] == "csr"


def test_quantization_helps_a_memory_bound_layer():
    dense = simulate("tpu_v1", fc_net()).layers[0]
    four = simulate("tpu_v1", quantize(fc_net(), weight_bits=4)).layers[0]
    # 4-bit weights: half the bytes, and the layer is DRAM-bound, so about half the time
    assert four.dram_bytes_by_operand["filter"] == 9216 * 4096 // 2
    assert four.cycles == pytest.approx(dense.cycles / 2, rel=0.02)


def test_codebook_and_huffman_need_a_decoder():
    shared = share_weights(fc_net(), 16, value_bits=8)
    plain = simulate("tpu_v1", shared)
    decoded = simulate(load_arch("tpu_v1", ["datapath.weight_decoders=[codebook]"]), shared)
    # without a decoder the weights move decoded at the 8-bit value width, one warning line
    assert plain.layers[0].dram_bytes_by_operand["filter"] == 9216 * 4096
    assert sum("codebook" in w for w in plain.warnings) == 1
    # with it: 4-bit indices plus the 16 x 8-bit codebook
    assert decoded.layers[0].dram_bytes_by_operand["filter"] == 9216 * 4096 // 2 + 16
    assert not any("codebook" in w for w in decoded.warnings)
    coded = huffman(shared)
    both = simulate(load_arch("tpu_v1", ["datapath.weight_decoders=[codebook,huffman]"]), coded)
    stored = model_size(coded, baseline_bits=8).layers[0].bytes.huffman
    assert both.layers[0].dram_bytes_by_operand["filter"] == stored
    assert stored < 9216 * 4096 // 2


def test_winograd_runs_as_elementwise_gemms_with_transforms_on_the_vector_unit():
    net = workload_from_dict({"name": "w", "layers": [
        {"name": "c", "type": "conv", "input": [64, 56, 56], "out_channels": 64, "kernel": 3,
         "padding": 1}]})
    f2 = winograd(net, "f2")
    direct = simulate("tpu_v1", net).layers[0]
    soft = simulate("tpu_v1", f2).layers[0]
    layer = f2.layers[0]
    # 2.25x fewer MACs; transforms at 256 element operations per cycle after the array
    assert soft.macs * 2.25 == direct.macs
    assert soft.stall_breakdown_cycles["vector_unit"] == layer.winograd_transform_ops / 256
    wired = simulate(load_arch("tpu_v1", ["datapath.winograd=[f2]"]), f2)
    assert "vector_unit" not in wired.layers[0].stall_breakdown_cycles
    assert wired.layers[0].cycles < soft.cycles
