"""Roofline arithmetic (Williams et al. 2009; TPUv1 numbers from Jouppi et al. 2017)."""

import math

import pytest

from simulator.core.results import LayerResult
from simulator.core.roofline import (
    annotate,
    lower_bound_cycles,
    operational_intensity,
    roofs_for,
    weight_intensity,
)


def tpu_roofs():
    # 256 x 256 MACs at 700 MHz = 45.9 TMAC/s = 91.75 TOPS; DDR3 34 GB/s
    return roofs_for(256 * 256, 700e6, 34e9)


def test_tpu_ridge():
    roofs = tpu_roofs()
    assert roofs.peak_ops_per_s == pytest.approx(2 * 65536 * 700e6)
    # ridge = 91.75e12 / 34e9 = 2698.4 ops per byte, i.e. ~1349 MACs per byte: the paper's ~1350
    assert roofs.ridge_ops_per_byte == pytest.approx(2698.4, rel=1e-4)
    assert roofs.ridge_ops_per_byte / 2 == pytest.approx(1350, rel=0.01)


def test_bound_and_attainable():
    roofs = tpu_roofs()
    # an MLP at batch 200: 200 MACs per weight byte = 400 ops/byte < ridge -> memory bound
    assert roofs.bound(400) == "memory"
    assert roofs.attainable_ops_per_s(400) == pytest.approx(400 * 34e9)
    assert roofs.bound(5000) == "compute"
    assert roofs.attainable_ops_per_s(5000) == roofs.peak_ops_per_s


def test_intensity_helpers():
    assert operational_intensity(100, 50) == 2
    assert math.isinf(operational_intensity(100, 0))
    assert weight_intensity(1000, 10) == 100


def test_annotate_and_lower_bound():
    roofs = roofs_for(4, 1e9, 8e9)  # 8 GOP/s peak, 8 GB/s: ridge 1 op/byte
    layer = LayerResult(name="l", type="conv", cycles=1000, compute_cycles=800, stall_cycles=200,
                        stall_breakdown_cycles={"dram_bandwidth": 200}, macs=2000, ops=4000, dram_read_bytes=1000, dram_write_bytes=1000)
    annotate(layer, roofs, 1e9)
    assert layer.operational_intensity == 2.0
    assert layer.bound == "compute"
    assert layer.latency_s == pytest.approx(1e-6)
    assert layer.achieved_ops_per_s == pytest.approx(4e9)
    # compute bound: 4000 ops / 8e9 = 500 ns; DRAM: 2000 B / 8e9 = 250 ns -> 500 cycles
    assert lower_bound_cycles(4000, 2000, roofs, 1e9) == pytest.approx(500)
