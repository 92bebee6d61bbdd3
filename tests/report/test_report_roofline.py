"""The data behind the roofline plots is computed by simulator.core.roofline (not by the plotting
code); these tests check it numerically against hand derivations."""

from __future__ import annotations

import math

import pytest
from helpers.report_fixtures import layer, synthetic_result
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.roofline import weight_bytes_for
from simulator.core.roofline_plot import roofline_plot_data

# Made-up TPUv1-like machine: peak = 2 ops/MAC * 256*256 MACs * 700e6 Hz = 91.7504e12 ops/s.
PEAK = 2 * 256 * 256 * 700e6
# Ridge = 91.7504e12 / 34e9 = 2698.54 ops per DRAM byte.
RIDGE_OPS_PER_BYTE = PEAK / 34e9
# TPU-paper axis: ridge = peak MACs/s / DRAM B/s = 45.8752e12 / 34e9 = 1349.27 MACs/weight byte.
RIDGE_MACS_PER_WEIGHT_BYTE = PEAK / 2 / 34e9


def test_ridge_values_by_hand():
    assert RIDGE_OPS_PER_BYTE == pytest.approx(2698.5, abs=0.1)
    data = roofline_plot_data(synthetic_result())
    assert data.ridge_x == pytest.approx(2698.54, rel=1e-5)
    tpu = roofline_plot_data(synthetic_result(), "macs_per_weight_byte")
    assert tpu.ridge_x == pytest.approx(1349.27, rel=1e-5)
    assert tpu.ridge_x == pytest.approx(RIDGE_MACS_PER_WEIGHT_BYTE)


def test_roofs_meet_at_the_ridge_and_have_the_right_slopes():
    data = roofline_plot_data(synthetic_result())
    by_kind = {r.kind: r for r in data.roofs}
    assert set(by_kind) == {"compute", "dram"}  # no SRAM roof unless the result has one
    dram, compute = by_kind["dram"], by_kind["compute"]
    # DRAM roof: y = x * 34e9; it ends at (ridge, peak), where the compute roof starts
    assert dram.ys[0] == pytest.approx(dram.xs[0] * 34e9)
    assert (dram.xs[-1], dram.ys[-1]) == pytest.approx((RIDGE_OPS_PER_BYTE, PEAK))
    assert compute.xs[0] == pytest.approx(RIDGE_OPS_PER_BYTE)
    assert compute.ys == pytest.approx((PEAK, PEAK))
    # on the TPU axis the bandwidth roof is 2 ops/MAC * x * 34e9 (68e9 ops/s at 1 MAC/B)
    tpu = {r.kind: r for r in roofline_plot_data(synthetic_result(), "macs_per_weight_byte").roofs}
    assert tpu["dram"].slope_ops_per_unit == pytest.approx(68e9)


def test_sram_roof_when_the_result_has_one():
    # SRAM 700 GB/s: ridge = 91.7504e12 / 700e9 = 131.07 ops/byte
    data = roofline_plot_data(synthetic_result(sram_bytes_per_s=700e9))
    sram = [r for r in data.roofs if r.kind == "sram"]
    assert len(sram) == 1
    assert sram[0].ridge_x == pytest.approx(131.07, rel=1e-4)
    assert sram[0].ys[0] == pytest.approx(sram[0].xs[0] * 700e9)
    assert data.x_range[0] <= sram[0].ridge_x  # visible
    # the SRAM roof is about DRAM-side intensity only; the TPU axis has none
    tpu = roofline_plot_data(synthetic_result(sram_bytes_per_s=700e9), "macs_per_weight_byte")
    assert all(r.kind != "sram" for r in tpu.roofs)


def test_points_by_hand():
    data = roofline_plot_data(synthetic_result())
    points = {p.name: p for p in data.points}
    # the pool has no ops: not plotted
    assert set(points) == {"conv1", "fc"} and data.skipped == ("<script>alert(1)</script>",)
    # conv1: 2 * 118,013,952 ops / 100,000 DRAM bytes = 2360.28 ops/B, just below the ridge
    conv = points["conv1"]
    assert conv.x == pytest.approx(2360.27904)
    assert conv.bound == "memory"
    assert conv.attainable_ops_per_s == pytest.approx(2360.27904 * 34e9)
    # achieved = ops / latency = 236,027,904 / (2000 cycles / 700 MHz) = 82.61e12 ops/s
    assert conv.achieved_ops_per_s == pytest.approx(236_027_904 / (2000 / 700e6))
    assert conv.macs == 118_013_952
    # fc: 4,096,000 ops / 2,048,000 B = 2 ops/B; attainable 68 GOP/s
    fc = points["fc"]
    assert fc.x == pytest.approx(2.0)
    assert fc.attainable_ops_per_s == pytest.approx(68e9)
    assert fc.achieved_ops_per_s <= fc.attainable_ops_per_s
    # network: 240,123,904 ops / 2,148,000 B = 111.79 ops/B
    assert data.network.x == pytest.approx(240_123_904 / 2_148_000)
    result = synthetic_result()
    assert data.network.achieved_ops_per_s == pytest.approx(result.totals.ops / result.totals.latency_s)


def test_tpu_axis_points_by_hand():
    data = roofline_plot_data(synthetic_result(), "macs_per_weight_byte")
    points = {p.name: p for p in data.points}
    # conv1: 118,013,952 MACs / 9,408 weight bytes = 12,544 MACs/B (each weight used 12544x)
    assert points["conv1"].x == pytest.approx(12_544)
    assert points["conv1"].bound == "compute"
    # fc at batch 1: every weight byte used once
    assert points["fc"].x == pytest.approx(1.0)
    assert points["fc"].attainable_ops_per_s == pytest.approx(68e9)
    # network: 120,061,952 MACs / 2,057,408 weight bytes = 58.36
    assert data.network.x == pytest.approx(120_061_952 / 2_057_408)
    assert "MACs per weight byte" in data.x_label


def test_infinite_intensity_is_drawn_at_the_edge():
    # an element-wise layer with ops but no DRAM traffic (activations stay on chip)
    onchip = layer("add1", "add", 0, 100, 0, 0, 0)
    onchip.ops = 50_000
    result = synthetic_result([layer("fc", "linear", 2_048_000, 40, 42_160, 2_048_000, 2_048_000),
                               onchip])
    data = roofline_plot_data(result)
    add = next(p for p in data.points if p.name == "add1")
    assert add.x_clipped and add.x == data.x_range[1] and add.bound == "compute"
    assert math.isfinite(add.x)


def test_unknown_axis_and_missing_roofline():
    with pytest.raises(ValueError):
        roofline_plot_data(synthetic_result(), "flops_per_watt")
    result = synthetic_result()
    result.roofline = {}
    with pytest.raises(ValueError):
        roofline_plot_data(result)


def test_weight_bytes_for_workload_layers():
    from simulator.io.load import load_workload

    net = load_workload("resnet50")
    conv1, fc = net.layer("conv1"), net.layer(net.layers[-1].name)
    # conv1: 64 filters x 7 x 7 x 3 channels = 9408 weights; 1 byte each at int8, 2 at int16
    assert weight_bytes_for(conv1, 8) == 9408
    assert weight_bytes_for(conv1, 16) == 18_816
    # int4 packs two weights per byte
    assert weight_bytes_for(conv1, 4) == 4704
    # fc: 2048 x 1000
    assert weight_bytes_for(fc, 8) == 2_048_000


def test_simulate_fills_weight_bytes_for_the_tpu_axis():
    from simulator.api import simulate
    from simulator.core.workload import workload_from_dict

    net = workload_from_dict({"name": "tiny", "input": [16, 8, 8], "layers": [
        {"name": "c", "type": "conv", "out_channels": 32, "kernel": 3, "padding": 1},
        {"name": "p", "type": "maxpool", "kernel": 2, "stride": 2},
        {"name": "fc", "type": "linear", "out_features": 10}]})
    result = simulate("tpu_v1", net)
    wb = {l.name: l.weight_bytes for l in result.layers}
    # conv 32 x 3 x 3 x 16 = 4608 int8 weights; pool none; fc 32*4*4 x 10 = 5120
    assert wb == {"c": 4608, "p": 0, "fc": 5120}
    data = roofline_plot_data(result, "macs_per_weight_byte")
    conv = next(p for p in data.points if p.name == "c")
    # conv MACs = 8*8 outputs x 32 filters x 144 = 294,912; / 4608 B = 64 (one use per pixel)
    assert conv.x == pytest.approx(64.0)


layer_strategy = st.tuples(
    st.integers(1, 10**9),            # macs
    st.integers(1, 10**7),            # compute cycles
    st.integers(0, 10**7),            # stall cycles
    st.integers(0, 10**9),            # DRAM read bytes
    st.integers(0, 10**8))            # weight bytes


@settings(max_examples=60, deadline=None)
@given(st.lists(layer_strategy, min_size=1, max_size=8),
       st.floats(1e9, 1e12), st.sampled_from(["ops_per_dram_byte", "macs_per_weight_byte"]))
def test_invariants(specs, dram_bw, axis):
    layers = [layer(f"l{i}", "conv", m, c, s, d, w) for i, (m, c, s, d, w) in enumerate(specs)]
    result = synthetic_result(layers, dram_bytes_per_s=dram_bw)
    data = roofline_plot_data(result, axis)
    lo, hi = data.x_range
    assert lo < data.ridge_x < hi
    for p in data.points:
        assert lo <= p.x <= hi
        assert p.attainable_ops_per_s <= data.peak_ops_per_s * (1 + 1e-12)
        # below the ridge a point is memory-bound and its roof is the bandwidth diagonal
        if not p.x_clipped:
            assert (p.bound == "memory") == (p.x < data.ridge_x)
    # every roof ends on the compute ceiling
    for roof in data.roofs:
        assert roof.ys[-1] == pytest.approx(data.peak_ops_per_s)
    assert {p.name for p in data.points} | set(data.skipped) == {l.name for l in layers}
