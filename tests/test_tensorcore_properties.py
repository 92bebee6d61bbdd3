"""Invariants of the tensor-core event simulation on small random conv layers (hypothesis).

1. No layer beats its own lower bounds: cycles >= max(compute bound, bridge bound, DRAM bound),
   where compute = the busiest core's compute cycles, bridge = port-bytes / (ports x bytes per
   cycle per port), DRAM = DRAM bytes / DRAM bytes per cycle (split placement: a layer's ops all
   run inside its own window, so each serialised resource's busy time fits in it).
2. Halving the bridge bandwidth never makes a layer faster: every resource serves its ops in a
   fixed program order, so start times are max-plus functions of the durations (monotone).
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api import simulate
from simulator.arch import load_arch
from simulator.workload import workload_from_dict


@st.composite
def small_net(draw):
    cin = draw(st.integers(1, 80))
    size = draw(st.integers(4, 24))
    kernel = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.sampled_from([1, 2]))
    depthwise = draw(st.booleans()) and cin > 1
    cout = cin if depthwise else draw(st.integers(1, 160))
    conv = {"name": "c", "type": "conv", "out_channels": cout, "kernel": kernel,
            "stride": stride, "padding": kernel // 2, "groups": cin if depthwise else 1}
    if draw(st.booleans()):
        conv["activation"] = draw(st.sampled_from(["relu", "hardswish"]))
    layers = [conv]
    if draw(st.booleans()):
        layers.append({"name": "p", "type": "maxpool", "kernel": 2})
    if draw(st.booleans()):
        layers.append({"name": "c2", "type": "conv", "out_channels": draw(st.integers(1, 96)),
                       "kernel": 1})
    return workload_from_dict({"name": "r", "input": [cin, size, size],
                               "batch": draw(st.integers(1, 2)), "layers": layers})


ARCH_VARIANTS = st.sampled_from(["bpu", "bpu_no_hswish"])
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(small_net(), ARCH_VARIANTS, st.sampled_from([1, 2]), st.booleans())
def test_cycles_never_beat_compute_bridge_or_dram_bound(wl, arch_name, cores, fusion):
    arch = load_arch(arch_name, [f"cores={cores}", f"compiler.fusion={str(fusion).lower()}"])
    result = simulate(arch, wl)
    for layer in result.layers:
        if layer.cycles == 0:
            continue
        bounds = layer.bound_cycles
        assert layer.cycles >= bounds["compute"]
        assert layer.cycles + 1e-6 >= bounds["bridge"]
        assert layer.cycles + 1e-6 >= bounds["dram"]
        assert layer.compute_cycles + layer.stall_cycles == layer.cycles
        assert sum(layer.stall_breakdown_cycles.values()) == layer.stall_cycles


@SETTINGS
@given(small_net(), st.sampled_from(["split", "pipeline"]), st.sampled_from([64, 16, 3]))
def test_halving_bridge_bandwidth_never_makes_a_layer_faster(wl, placement, port_bw):
    fast = load_arch("bpu", [f"compiler.placement={placement}",
                             f"bridge.bytes_per_cycle_per_port={port_bw}"])
    slow = load_arch("bpu", [f"compiler.placement={placement}",
                             f"bridge.bytes_per_cycle_per_port={port_bw / 2}"])
    a, b = simulate(fast, wl), simulate(slow, wl)
    assert b.totals.cycles >= a.totals.cycles
    for fast_layer, slow_layer in zip(a.layers, b.layers):
        # every layer's completion is monotone; in split placement so is each layer's span
        assert slow_layer.finish_cycle is None or slow_layer.finish_cycle >= fast_layer.finish_cycle
        if placement == "split":
            assert slow_layer.cycles >= fast_layer.cycles
