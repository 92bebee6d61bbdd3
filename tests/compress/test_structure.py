"""Winograd and low rank as transforms: counts by hand, composition order, refusals."""

import pytest

from simulator.compress import low_rank, model_size, prune, prune_channels, quantize, winograd
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict


def net():
    return workload_from_dict({"name": "t", "input": [4, 8, 8], "layers": [
        {"name": "c1", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "c5", "type": "conv", "out_channels": 8, "kernel": 5, "padding": 2},
        {"name": "s2", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1, "stride": 2},
        {"name": "fc", "type": "linear", "in_features": 128, "out_features": 64}]})


def test_winograd_network_wide_takes_only_3x3_stride_1():
    w = winograd(net(), "f2")
    assert w.transforms[-1].layers == ["c1"]
    # c1: 8x8 output, 16 tiles x 16 products x 4 x 8 = 8192 (direct 64 x 36 x 8 = 18432)
    assert w.layer("c1").macs == 8192 and net().layer("c1").macs == 18432
    assert w.layer("c5").macs == net().layer("c5").macs
    # stored weights grow 16/9: 8 x 4 x 16 = 512 instead of 288 (dense bytes at 32 bits)
    assert model_size(w).layers[0].bytes.dense == 512 * 4


@pytest.mark.parametrize("layer,what", [("c5", "kernel 5x5"), ("s2", "stride 2x2"),
                                        ("fc", "not to a linear")])
def test_winograd_refusals(layer, what):
    with pytest.raises(NpusimError) as info:
        winograd(net(), "f4", layers=[layer])
    text = str(info.value)
    assert what in text and f"{layer}.winograd" in text and "\n" not in text


def test_winograd_order():
    # after unstructured pruning: refused (the filter transform fills in the zeros)
    with pytest.raises(NpusimError) as info:
        winograd(prune(net(), 0.5), "f2", layers=["c1"])
    assert "fills in pruned zeros" in str(info.value)
    with pytest.raises(NpusimError):                 # after weight quantization
        winograd(quantize(net(), 8), "f2", layers=["c1"])
    with pytest.raises(NpusimError):                 # twice
        winograd(winograd(net(), "f2"), "f4", layers=["c1"])
    with pytest.raises(NpusimError):
        winograd(net(), "f3")
    # pruning after Winograd prunes the transformed weights: allowed
    p = prune(winograd(net(), "f4"), 0.3)
    assert p.layer("c1").winograd == "f4" and p.layer("c1").weight_density == 0.3
    # structured pruning before or after Winograd: both fine, same result
    a = winograd(prune_channels(net(), 0.5, layers=["c1"]), "f2")
    b = prune_channels(winograd(net(), "f2"), 0.5, layers=["c1"])
    assert a.macs == b.macs and a.layer("c1").out_channels == 4
    # activation quantization before Winograd is fine
    assert winograd(quantize(net(), activation_bits=8), "f2").layer("c1").winograd == "f2"


def test_low_rank_linear_by_hand():
    w = low_rank(net(), 16, layers=["fc"])
    first, second = w.layer("fc_lr"), w.layer("fc")
    # 128 x 64 = 8192 weights -> 16 x (128 + 64) = 3072; MACs likewise; the bias stays on fc
    assert (first.weight_params, second.weight_params) == (128 * 16, 16 * 64)
    assert first.macs + second.macs == 3072 and first.extra_params == 0
    assert second.extra_params == 64 and second.in_features == 16
    assert [l.name for l in w.layers][-2:] == ["fc_lr", "fc"]


def test_low_rank_conv_by_hand():
    w = low_rank(net(), 2, layers=["c5"])
    first, second = w.layer("c5_lr"), w.layer("c5")
    # c5 reads c1's 8 channels: 5x5 conv 8 -> 8 (1600 weights) becomes a 5x5 conv 8 -> 2 (400)
    # and a 1x1 conv 2 -> 8 (16)
    assert net().layer("c5").weight_params == 1600
    assert first.weight_params == 400 and second.weight_params == 16
    assert first.output_shape == (2, 8, 8) and second.output_shape == (8, 8, 8)
    assert w.layer("s2").input_shape == (8, 8, 8)
    assert first.macs + second.macs == 64 * (400 + 16)


def test_low_rank_refusals():
    with pytest.raises(NpusimError) as info:         # above min(outputs, inputs) = min(64, 128)
        low_rank(net(), 65, layers=["fc"])
    assert "min(outputs, inputs) = 64" in str(info.value)
    with pytest.raises(NpusimError) as info:
        low_rank(prune(net(), 0.5), 8, layers=["fc"])
    assert "apply lowrank before" in str(info.value)
    grouped = workload_from_dict({"name": "g", "input": [8, 4, 4], "layers": [
        {"name": "g", "type": "conv", "out_channels": 8, "kernel": 3, "groups": 2}]})
    with pytest.raises(NpusimError):
        low_rank(grouped, 2, layers=["g"])
    with pytest.raises(NpusimError):
        low_rank(net(), 0)


def test_low_rank_network_wide_only_where_it_saves():
    # rank 16: fc saves (16 x 192 < 8192); c1 (8 x 36 weights) would not: skipped
    w = low_rank(net(), 16)
    assert w.transforms[-1].layers == ["fc"]
