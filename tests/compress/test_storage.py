"""Stored sizes by hand: the sparse format (entries, padding zeros, pointers) and the model size
at each Deep Compression stage, including the paper's own weight-sharing example."""

import pytest

from simulator.compress import huffman, model_size, prune, quantize, share_weights
from simulator.compress.storage import expected_padding, sparse_layout
from simulator.core.workload import workload_from_dict
from simulator.kinds.sparse.csc import expected_padding_per_slice


def fc(inputs: int, outputs: int, **extra):
    layer = {"name": "fc", "type": "linear", "input": [inputs], "out_features": outputs,
             "bias": False, **extra}
    return workload_from_dict({"name": "t", "layers": [layer]})


def test_model_size_stages_by_hand():
    # 8 -> 16 linear, 128 weights at 32 bits: dense 4096 bits = 512 B
    w = huffman(share_weights(quantize(prune(fc(8, 16), 0.25), 8), 16),
                weight_histogram=[16, 8, 4, 4], index_histogram=[20, 8, 4])
    (layer,) = model_size(w).layers
    # density 0.25: 32 non-zeros. CSC: 8 columns of 16 rows; no run can reach 16 zeros, so no
    # padding; 9 pointers of ceil(log2(32 + 1)) = 6 bits = 54 bits (CSR: 17 x 6 = 102, larger)
    assert (layer.format, layer.nonzeros, layer.padding, layer.pointer_bits) == ("csc", 32, 0, 54)
    # P: 32 x (32 + 4) + 54 = 1206 bits -> 151 B
    assert layer.bytes.pruned == 151
    # P+Q: 16 shared 8-bit values: 32 x (4 + 4) + 54 + 16 x 8 = 438 bits -> 55 B (dense would
    # be 128 x 4 + 128 = 640 bits)
    assert layer.bytes.quantized == 55 and layer.codebook_bits == 128
    # H: weights 16/8/4/4 get codes of 1/2/3/3 bits: 16 + 16 + 12 + 12 = 56 bits, plus a table
    # of 16 lengths x 2 bits = 32; indices 20/8/4 -> 1/2/2 bits: 20 + 16 + 8 = 44, + 16 x 2
    # = 32; total 56 + 32 + 44 + 32 + 54 + 128 = 346 bits -> 44 B
    assert layer.bytes.huffman == 44
    assert layer.huffman_weight_bits == pytest.approx(56 / 32)
    assert layer.huffman_index_bits == pytest.approx(44 / 32)
    assert model_size(w).ratios["huffman"] == pytest.approx(512 / 44)


def test_dense_storage_when_sparse_does_not_pay():
    # density 0.5 with 4-bit shared weights and 4-bit indices: sparse 64 x 8 + 63 + 128 = 703
    # bits, dense 128 x 4 + 128 = 640 bits (80 B): the layer stays dense at P+Q
    (layer,) = model_size(share_weights(quantize(prune(fc(8, 16), 0.5), 8), 16)).layers
    assert layer.bytes.quantized == 80 and layer.format == "dense"
    assert layer.bytes.pruned == (64 * 36 + 63 + 7) // 8    # at 32 bits sparse still wins
    assert layer.stage_formats == {"dense": "dense", "pruned": "csc", "quantized": "dense",
                                   "huffman": "dense"}
    # Deep Compression's convention keeps it sparse: 64 x 8 + 63 + 128 = 703 bits -> 88 B
    w = share_weights(quantize(prune(fc(8, 16), 0.5), 8), 16)
    (kept,) = model_size(w, smallest_format=False).layers
    assert kept.bytes.quantized == 88 and kept.format == "csc"


def test_deep_compression_sharing_example():
    # Han et al. ICLR 2016, Fig. 3 and Eq. 1: 16 weights of 32 bits sharing 4 values:
    # 16 x 32 / (4 x 32 + 16 x 2) = 3.2
    size = model_size(share_weights(fc(4, 4), 4))
    assert size.totals.dense == 64 and size.totals.quantized == (4 * 32 + 16 * 2) // 8
    assert size.ratios["quantized"] == pytest.approx(3.2)


def test_quantized_dense_layer():
    # 1000 weights at 4 bits: 500 B; ternary (2 bits) 250 B; binary 125 B; from 4000 B of fp32
    for bits, expected in ((4, 500), (2, 250), (1, 125)):
        size = model_size(quantize(fc(100, 10), bits))
        assert size.totals.dense == 4000 and size.totals.pruned == 4000
        assert size.totals.quantized == size.totals.huffman == expected


def test_padding_zeros_by_hand():
    # one column of 40 rows, 4-bit indices (R = 16): a non-zero at row 0, then rows 1..35 zero,
    # one at 36: a run of 35 zeros needs floor(35 / 16) = 2 padding entries
    import numpy as np

    from simulator.compress.huffman_code import index_histogram
    column = np.zeros((40, 1))
    column[[0, 36], 0] = 1.0
    counts, padding = index_histogram(column, 4)
    assert padding == 2
    # indices: 0 (row 0), 15, 15 (the two paddings), 35 - 32 = 3 (row 36)
    assert counts[0] == 1 and counts[15] == 2 and counts[3] == 1 and sum(counts) == 4


@pytest.mark.parametrize("length,density,bits", [(16, 0.1, 4), (100, 0.09, 4), (1000, 0.04, 5),
                                                 (37, 0.5, 2), (4096, 0.25, 4)])
def test_expected_padding_closed_form(length, density, bits):
    # the closed form against the position-by-position sum of the sparse engine (kinds/sparse)
    assert expected_padding(length, density, bits) == pytest.approx(
        expected_padding_per_slice(length, density, bits), rel=1e-9, abs=1e-12)


def test_expected_padding_matches_random_masks():
    import numpy as np

    from simulator.compress.huffman_code import index_histogram
    rng = np.random.default_rng(7)
    mask = rng.random((400, 2000)) < 0.09             # 2000 columns of 400 rows
    _, padding = index_histogram(mask, 4)
    expected = 2000 * expected_padding(400, 0.09, 4)
    assert padding == pytest.approx(expected, rel=0.03)


def test_orientation_is_the_smaller_one():
    # a 10-output classifier over 4096 inputs: CSC needs 4097 pointers, CSR 11
    w = prune(fc(4096, 10), 0.1)
    layer = w.layers[0]
    auto = sparse_layout(layer, 4)
    csc = sparse_layout(layer, 4, orientation="csc")
    csr = sparse_layout(layer, 4, orientation="csr")
    assert auto.orientation == "csr" and auto.bits(4) == min(csc.bits(4), csr.bits(4))
    # CSC: 4096 non-zeros (columns of 10 rows never pad), 4097 pointers of ceil(log2 4097) = 13
    assert (csc.columns, csc.nonzeros, csc.padding) == (4096, 4096, 0)
    assert csc.pointer_bits == 4097 * 13 and csr.columns == 10


def test_reference_network_for_shape_changing_transforms():
    from simulator.compress import prune_channels
    w = workload_from_dict({"name": "t", "input": [4, 8, 8], "layers": [
        {"name": "a", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "b", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1}]})
    small = prune_channels(w, 0.5, layers=["a"])
    # a: 4 x 9 x 8 = 288 -> 4 x 9 x 4 = 144; b: 8 x 9 x 8 = 576 -> 4 x 9 x 8 = 288
    size = model_size(small, reference=w)
    assert size.reference_bytes == (288 + 576) * 4 and size.totals.dense == (144 + 288) * 4
    assert size.ratios["dense"] == pytest.approx(2.0)


def test_bias_reported_apart():
    size = model_size(fc(10, 5, bias=True))
    assert size.totals.dense == 200 and size.extra_bytes == 20
