"""Quantization (16 down to 1 bit), the accumulator rule, and weight sharing."""

import pytest

from simulator.compress import accumulator_bits_for, model_size, quantize, share_weights
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict


def net(precision=None):
    data = {"name": "t", "input": [512, 14, 14], "layers": [
        {"name": "c", "type": "conv", "out_channels": 512, "kernel": 3, "padding": 1},
        {"name": "pool", "type": "globalavgpool"},
        {"name": "fc", "type": "linear", "out_features": 10}]}
    if precision:
        data["precision"] = precision
    return workload_from_dict(data)


def test_accumulator_rule_examples():
    # N + M + ceil(log2 K), rounded up to 16/24/32/48/64
    assert accumulator_bits_for(8, 8, 4608) == 32       # 8 + 8 + 13 = 29 (TPUv1: 32)
    assert accumulator_bits_for(1, 1, 4608) == 16       # binary: 15
    assert accumulator_bits_for(16, 16, 4608) == 48     # 45
    assert accumulator_bits_for(4, 4, 4608) == 24       # 21
    assert accumulator_bits_for(8, 8, 9) == 24          # depthwise 3x3: 20
    assert accumulator_bits_for(2, 8, 1) == 16


def test_quantize_sets_bits_and_accumulator():
    q = quantize(net(), weight_bits=4, activation_bits=8)
    c, pool, fc = q.layers
    assert (c.weight_bits, c.activation_bits) == (4, 8)
    # K = 3 x 3 x 512 = 4608: 4 + 8 + 13 = 25 -> 32; fc K = 512: 4 + 8 + 9 = 21 -> 24
    assert c.accumulator_bits == 32 and fc.accumulator_bits == 24
    assert pool.weight_bits is None and pool.activation_bits == 8 and pool.accumulator_bits is None
    assert q.macs == net().macs


def test_accumulator_waits_for_both_widths():
    q = quantize(net(), weight_bits=4)
    assert q.layers[0].accumulator_bits is None          # activations unknown (the arch's)
    assert quantize(q, activation_bits=4).layers[0].accumulator_bits == 24   # 4 + 4 + 13 = 21
    p = quantize(net({"weight_bits": 8, "activation_bits": 8}), weight_bits=2)
    assert p.layers[0].accumulator_bits == 24            # ternary x int8: 2 + 8 + 13 = 23


@pytest.mark.parametrize("bits", [0, 17, 32, 3.5, True, -1])
def test_quantize_refuses_nonsense_widths(bits):
    with pytest.raises(NpusimError) as info:
        quantize(net(), weight_bits=bits)
    assert "weight_bits" in str(info.value) and "\n" not in str(info.value)


def test_requantizing_up_is_refused():
    q = quantize(net(), weight_bits=4)
    with pytest.raises(NpusimError) as info:
        quantize(q, weight_bits=8)
    assert "restores nothing" in str(info.value) and "c.weight_bits" in str(info.value)
    assert quantize(q, weight_bits=2).layers[0].weight_bits == 2


def test_quantize_storage():
    # conv 512 x 512 x 9 = 2,359,296 weights, fc 5120: 4 bits -> half a byte each
    size = model_size(quantize(net(), weight_bits=4))
    assert size.totals.dense == (2359296 + 5120) * 4
    assert size.totals.quantized == (2359296 + 5120) // 2


def test_share_weights_storage_and_codebook():
    s = share_weights(net(), 16)
    c = s.layers[0]
    assert (c.codebook_entries, c.codebook_bits) == (16, 32)     # float model: 32-bit values
    size = model_size(s)
    # 4-bit indices plus 16 x 32-bit codebook per layer
    assert size.layers[0].bytes.quantized == 2359296 // 2 + 64
    assert size.layers[1].bytes.quantized == 5120 // 2 + 64


def test_share_after_quantize_and_refusals():
    q = quantize(net(), weight_bits=4)
    s = share_weights(q, 16)
    assert s.layers[0].codebook_bits == 4
    with pytest.raises(NpusimError) as info:          # 4-bit weights have 16 values at most
        share_weights(q, 32)
    assert "c.codebook_entries" in str(info.value)
    with pytest.raises(NpusimError):                  # k < 2
        share_weights(net(), 1)
    with pytest.raises(NpusimError):                  # more entries than an earlier sharing
        share_weights(share_weights(net(), 8), 16)
    with pytest.raises(NpusimError):                  # quantizing below the codebook's width
        quantize(share_weights(net(), 256), weight_bits=4)
    eie = share_weights(net(), 16, value_bits=16)     # EIE: 16-bit codebook values
    assert eie.layers[0].codebook_bits == 16


def test_shared_accumulator_uses_codebook_width():
    s = share_weights(net({"weight_bits": 16, "activation_bits": 16}), 16)
    # the MACs run at the 16-bit codebook values: 16 + 16 + 13 = 45 -> 48
    assert s.layers[0].accumulator_bits == 48
