"""Compiler step 4 alone: cores per unit and how a MAC pass splits over them."""

from __future__ import annotations

from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import MacSpec, build_units
from simulator.kinds.tensorcore.compiler.placement import CoreShare, core_shares, unit_cores


def conv(cin, h, cout, k=1, groups=1):
    return MacSpec(1, cin, h, h, cout, h, h, k, k, 1, 1, k // 2, groups)


def test_enough_output_channels_split_by_channels():
    # 128 output channels >= 2 cores x 32 columns: 64 channels each (whole array widths)
    assert core_shares(conv(64, 28, 128), [0, 1], 32, 32) == [
        CoreShare(0, 0, 784, 0, 64), CoreShare(1, 0, 784, 64, 128)]
    # 96 channels: ceil(96 / 2) = 48 -> rounded up to 64: core 0 gets 64, core 1 the last 32
    assert core_shares(conv(64, 28, 96), [0, 1], 32, 32) == [
        CoreShare(0, 0, 784, 0, 64), CoreShare(1, 0, 784, 64, 96)]


def test_few_output_channels_split_by_pixels():
    # 40 channels < 64: the 28 x 28 = 784 output pixels split 392 / 392
    assert core_shares(conv(64, 28, 40), [0, 1], 32, 32) == [
        CoreShare(0, 0, 392, 0, 40), CoreShare(1, 392, 784, 0, 40)]
    # depthwise puts pixels on the array rows: shares are whole multiples of 32 rows,
    # ceil(392 / 32) x 32 = 416 -> 0..416 and 416..784 (here 32 channels < 64: by pixels)
    dw = conv(32, 28, 32, k=3, groups=32)
    assert core_shares(dw, [0, 1], 32, 32) == [
        CoreShare(0, 0, 416, 0, 32), CoreShare(1, 416, 784, 0, 32)]


def test_grouped_conv_splits_whole_groups():
    # 4 groups of 32 output channels, 2 cores: 2 groups (64 channels) each
    assert core_shares(conv(128, 14, 128, k=3, groups=4), [0, 1], 32, 32) == [
        CoreShare(0, 0, 196, 0, 64), CoreShare(1, 0, 196, 64, 128)]


def test_pipeline_assigns_units_round_robin_skipping_views_and_the_vector_unit():
    layers = [{"name": "c1", "type": "conv", "out_channels": 16, "kernel": 1,
               "activation": "hardswish"},
              {"name": "c2", "type": "conv", "out_channels": 16, "kernel": 1},
              {"name": "f", "type": "flatten"},
              {"name": "fc", "type": "linear", "out_features": 10}]
    wl = workload_from_dict({"name": "t", "input": [16, 4, 4], "layers": layers})
    # bpu_no_hswish: c1 (core), its hardswish (vector unit), c2 (core), flatten (view), fc
    arch = load_arch("bpu_no_hswish", ["compiler.placement=pipeline"])
    units = build_units(arch, wl).units
    assert [u.engine if u.kind != "view" else "view" for u in units] == [
        "core", "vector", "core", "view", "core"]
    assert unit_cores(units, arch) == [[0], [], [1], [], [0]]
    split = load_arch("bpu_no_hswish")
    assert unit_cores(units, split) == [[0, 1], [], [0, 1], [], [0, 1]]
