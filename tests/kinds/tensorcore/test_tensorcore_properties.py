"""Invariants of the tensor-core event simulation on small random conv layers (hypothesis).

1. No layer beats its own lower bounds: cycles >= max(compute bound, bridge bound, DRAM bound),
   where compute = the busiest core's compute cycles, bridge = port-bytes / (ports x bytes per
   cycle per port), DRAM = DRAM bytes / DRAM bytes per cycle (split placement: a layer's ops all
   run inside its own window, so each serialised resource's busy time fits in it).
2. Halving the bridge bandwidth never makes a layer faster, for the same mapping: every
   resource serves its ops in a fixed program order, so start times are max-plus functions of
   the durations (monotone). The residency plan depends on bytes only, not on bandwidths, so
   this holds in both modes. (The mapper itself may choose differently at another bandwidth:
   test_tensorcore_invariants.py covers what holds then.)
3. Resident weights never increase per-frame DRAM traffic versus streaming: the planner admits
   a layer's weights only when the weight bytes it saves exceed the activation spills it causes.
Both weight-residency modes are exercised; small SRAM sizes make the trade-off bite.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler.mapper import OVERRIDE_KEYS


def pinned_mapping(result) -> dict:
    """The mappings a run chose, as overrides that make another run map every layer alike."""
    return {l.name: {k: l.mapping[k] for k in OVERRIDE_KEYS}
            for l in result.layers if "split" in getattr(l, "mapping", {})}


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
RESIDENCY = st.sampled_from(["stream", "resident"])
# 8 MiB (bpu), 512 KiB and 300 KiB of shared SRAM (staging 256 KiB): the last two leave 256 KiB
# and 44 KiB to share between resident weights and activations
SRAM_BYTES = st.sampled_from([8388608, 524288, 307200])
SETTINGS = settings(max_examples=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(small_net(), ARCH_VARIANTS, st.sampled_from([1, 2]), st.booleans(), RESIDENCY, SRAM_BYTES)
def test_cycles_never_beat_compute_bridge_or_dram_bound(wl, arch_name, cores, fusion, residency,
                                                        sram_bytes):
    arch = load_arch(arch_name, [f"cores={cores}", f"compiler.fusion={str(fusion).lower()}",
                                 f"compiler.weight_residency={residency}",
                                 f"sram.size_bytes={sram_bytes}"])
    result = simulate(arch, wl)
    for layer in result.layers:
        if layer.cycles == 0:
            continue
        bounds = layer.bound_cycles
        assert layer.cycles >= bounds["compute"]
        assert layer.cycles + 1e-6 >= bounds["bridge"]
        assert layer.cycles + 1e-6 >= bounds["dram"]


@SETTINGS
@given(small_net(), st.sampled_from(["split", "pipeline"]), st.sampled_from([64, 16, 3]), RESIDENCY,
       SRAM_BYTES)
def test_halving_bridge_bandwidth_never_makes_a_layer_faster(wl, placement, port_bw, residency,
                                                             sram_bytes):
    common = [f"compiler.placement={placement}", f"compiler.weight_residency={residency}",
              f"sram.size_bytes={sram_bytes}"]
    fast = load_arch("bpu", common + [f"bridge.bytes_per_cycle_per_port={port_bw}"])
    slow = load_arch("bpu", common + [f"bridge.bytes_per_cycle_per_port={port_bw / 2}"])
    a = simulate(fast, wl)
    b = simulate(slow, wl, mapping=pinned_mapping(a))
    assert b.totals.cycles >= a.totals.cycles
    for fast_layer, slow_layer in zip(a.layers, b.layers):
        # every layer's completion is monotone; in split placement so is each layer's span
        assert slow_layer.finish_cycle is None or slow_layer.finish_cycle >= fast_layer.finish_cycle
        if placement == "split":
            assert slow_layer.cycles >= fast_layer.cycles


@SETTINGS
@given(small_net(), ARCH_VARIANTS, st.sampled_from(["split", "pipeline"]), st.booleans(),
       SRAM_BYTES)
def test_resident_weights_never_increase_per_frame_dram_traffic(wl, arch_name, placement, fusion,
                                                                sram_bytes):
    common = [f"compiler.placement={placement}", f"compiler.fusion={str(fusion).lower()}",
              f"sram.size_bytes={sram_bytes}"]
    stream = simulate(load_arch(arch_name, common + ["compiler.weight_residency=stream"]), wl)
    res = simulate(load_arch(arch_name, common + ["compiler.weight_residency=resident"]), wl)
    dram = lambda r: r.totals.dram_read_bytes + r.totals.dram_write_bytes  # noqa: E731
    assert dram(res) <= dram(stream)
    preload = res.totals.engine_totals["weight_preload_bytes"]
    # the resident region fits next to the staging area; streaming preloads nothing
    assert 0 <= preload <= sram_bytes - 262144
    assert stream.totals.engine_totals["weight_preload_bytes"] == 0
    # a resident layer loads no weights per frame
    for layer in res.layers:
        if getattr(layer, "weights_resident", False):
            assert layer.dram_bytes_by_operand.get("filter", 0) == 0
    # resident weights still travel SRAM -> cores every frame: same weight bytes routed
    routed = lambda r: sum(l.sram_bytes_by_operand.get("weights", 0) for l in r.layers)  # noqa: E731
    assert routed(res) == routed(stream)
