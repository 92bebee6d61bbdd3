"""Huffman coding: the code, the default distributions, histograms measured on real weights, and
the transform's rules."""

import math

import numpy as np
import pytest

from simulator.compress import huffman, model_size, prune, quantize, share_weights
from simulator.compress.huffman_code import (
    code_lengths,
    coded_stream_bits,
    default_index_distribution,
    default_weight_distribution,
    entropy_bits,
    table_bits,
    weight_histogram,
)
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict


def test_code_lengths_textbook():
    # dyadic probabilities 1/2, 1/4, 1/8, 1/8 get lengths 1, 2, 3, 3 (mean 1.75 = entropy)
    assert code_lengths([4, 2, 1, 1]) == [1, 2, 3, 3]
    assert code_lengths([0, 5, 0]) == [0, 1, 0]          # a lone symbol still needs one bit
    assert code_lengths([0, 0]) == [0, 0]
    # five equal symbols: lengths 2, 2, 2, 3, 3 (12 bits per 5)
    assert sorted(code_lengths([1] * 5)) == [2, 2, 2, 3, 3]


def test_coded_bits_exact_for_counts():
    data, table, mean = coded_stream_bits([4, 2, 1, 1], 8)
    assert data == 4 * 1 + 2 * 2 + 3 + 3 == 14 and mean == pytest.approx(1.75)
    assert table == 4 * 2                                # 4 lengths of up to 3 -> 2 bits each
    assert table_bits([1, 2, 3, 3, 0, 0, 0, 0]) == 8 * 2


def test_default_index_distribution_is_the_geometric_run_law():
    # density 0.5, 2-bit indices (R = 4): per non-zero, symbol s has 0.5^(s+1) / (1 - 0.5^4)
    # and there are 0.5^4 / (1 - 0.5^4) paddings (symbol 3)
    probs = default_index_distribution(2, 0.5)
    per = [0.5 ** (s + 1) / (1 - 0.5 ** 4) for s in range(4)]
    per[3] += 0.5 ** 4 / (1 - 0.5 ** 4)
    np.testing.assert_allclose(probs, np.array(per) / sum(per))
    assert default_index_distribution(4, 1.0)[0] == 1.0     # dense: every index is 0


def test_default_weight_distribution_shape():
    probs = default_weight_distribution(32, 0.09, 1_000_000)
    assert sum(probs) == pytest.approx(1.0)
    assert probs == pytest.approx(probs[::-1])          # symmetric
    middle = probs[14:18]
    assert max(middle) == 0.0                           # the pruned gap around zero is empty
    # padding zeros land on the level nearest zero
    padded = default_weight_distribution(32, 0.09, 1_000_000, zero_fraction=0.2)
    assert max(padded[15], padded[16]) == pytest.approx(0.2)
    # dense 2-level (binary) weights: half and half
    assert default_weight_distribution(2, 1.0, 1000) == pytest.approx([0.5, 0.5])


def test_weight_histogram_from_values():
    # at most `levels` distinct values: each its own symbol
    assert weight_histogram(np.array([-1.0, 1.0, 1.0, 0.5]), 4) == [1, 1, 2, 0]
    # more: a linear codebook over [min, max]; values 0..9 on 4 levels at 0, 3, 6, 9
    assert weight_histogram(np.arange(10.0), 4) == [2, 3, 3, 2]


def test_huffman_needs_quantized_weights_and_is_last():
    w = workload_from_dict({"name": "t", "layers": [
        {"name": "fc", "type": "linear", "input": [256], "out_features": 64}]})
    with pytest.raises(NpusimError) as info:
        huffman(w)
    assert "quantize or share" in str(info.value)
    h = huffman(share_weights(prune(w, 0.2), 16))
    assert h.layers[0].huffman.source == "default"
    for later in (lambda x: prune(x, 0.1), lambda x: quantize(x, 2),
                  lambda x: share_weights(x, 4), huffman):
        with pytest.raises(NpusimError) as info:
            later(h)
        assert "\n" not in str(info.value)


def test_huffman_histogram_checks():
    w = quantize(workload_from_dict({"name": "t", "layers": [
        {"name": "fc", "type": "linear", "input": [256], "out_features": 64}]}), 2)
    with pytest.raises(NpusimError) as info:              # 5 counts for 4 levels
        huffman(w, weight_histogram=[1, 1, 1, 1, 1])
    assert "fc.huffman.weight_histogram" in str(info.value)
    with pytest.raises(NpusimError):                      # dense layer: no indices
        huffman(w, ["fc"], index_histogram=[1, 2])


def test_huffman_from_real_weights():
    rng = np.random.default_rng(3)
    matrix = rng.normal(size=(64, 256)) * (rng.random((64, 256)) < 0.1)
    w = share_weights(prune(workload_from_dict({"name": "t", "layers": [
        {"name": "fc", "type": "linear", "input": [256], "out_features": 64}]}),
        float(np.count_nonzero(matrix) / matrix.size)), 16)
    h = huffman(w, weights={"fc": matrix})
    coding = h.layers[0].huffman
    layer = model_size(h).layers[0]
    # the histograms describe exactly the stored entries: non-zeros plus measured padding
    assert sum(coding.weight_histogram) == sum(coding.index_histogram)
    assert sum(coding.index_histogram) == pytest.approx(layer.nonzeros + layer.padding, rel=0.05)
    assert coding.source == "weights"
    with pytest.raises(NpusimError) as info:              # wrong size
        huffman(w, weights={"fc": matrix[:10]})
    assert "elements" in str(info.value)
    with pytest.raises(NpusimError) as info:              # density far from the layer's
        huffman(w, weights={"fc": rng.normal(size=(64, 256))})
    assert "density" in str(info.value)


def test_default_huffman_beats_fixed_length_and_entropy_bounds():
    probs = default_weight_distribution(32, 0.09, 37_748_736)
    data, _, mean = coded_stream_bits(probs, 1_000_000)
    assert entropy_bits(probs) <= mean < entropy_bits(probs) + 1
    assert mean < math.log2(32)
