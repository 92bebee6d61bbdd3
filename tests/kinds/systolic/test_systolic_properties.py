"""Invariants of the systolic engine, checked with hypothesis on random small layers/arrays."""

import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.api import simulate
from simulator.core.roofline import lower_bound_cycles, roofs_for
from simulator.core.workload import workload_from_dict
from simulator.kinds.base import RunOptions
from simulator.kinds.registry import arch_from_dict
from simulator.kinds.systolic.engine import SystolicEngine
from simulator.kinds.systolic.mapper import LATENCY_TOLERANCE

SETTINGS = settings(max_examples=int(__import__("os").environ.get("NPUSIM_HYPOTHESIS_EXAMPLES", 60)), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def archs(draw):
    rows, cols = draw(st.integers(1, 8)), draw(st.integers(1, 8))
    dataflow = draw(st.sampled_from(["os", "ws", "is"]))
    bw = draw(st.floats(0.2, 40))
    if draw(st.booleans()):
        sizes = [draw(st.integers(32, 1 << 15)) for _ in range(3)]
        memory = {"style": "split", "ifmap_sram_bytes": sizes[0], "filter_sram_bytes": sizes[1],
                  "ofmap_sram_bytes": sizes[2], "double_buffered": draw(st.booleans())}
        pipelined = False
    else:
        memory = {"style": "unified", "unified_buffer_bytes": draw(st.integers(64, 1 << 16)),
                  "accumulator_bytes": draw(st.integers(64, 1 << 14)),
                  "weight_fifo_tiles": draw(st.integers(1, 4)),
                  "weight_shift_cycles": draw(st.integers(1, 16))}
        pipelined = draw(st.booleans())
    return {"name": "h", "kind": "systolic", "clock_mhz": 1000,
            "array": {"rows": rows, "cols": cols, "dataflow": dataflow,
                      "pipelined_folds": pipelined},
            "memory": memory, "dram": {"bandwidth_gbps": bw, "latency_ns": draw(st.sampled_from([0, 50]))}}


@st.composite
def workloads(draw):
    c, h = draw(st.integers(1, 8)), draw(st.integers(4, 12))
    k = draw(st.integers(1, 3))
    groups = draw(st.sampled_from([1, c]))
    f = groups * draw(st.integers(1, 4)) if groups > 1 else draw(st.integers(1, 12))
    layers = [
        {"name": "c1", "type": "conv", "input": [c, h, h], "out_channels": f, "kernel": k,
         "stride": draw(st.integers(1, 2)), "padding": k // 2, "groups": groups,
         "activation": draw(st.sampled_from([None, "relu"]))},
        {"name": "c2", "type": "conv", "out_channels": f, "kernel": 1},
        {"name": "add", "type": "add", "inputs": ["c1", "c2"]},
        {"name": "pool", "type": "maxpool", "kernel": 2, "stride": 2, "ceil_mode": True},
        {"name": "fc", "type": "linear", "out_features": draw(st.integers(1, 40))},
    ]
    return workload_from_dict({"name": "h", "batch": draw(st.integers(1, 3)), "layers": layers})


def _scaled_memory(arch: dict, factor: int) -> dict:
    mem = dict(arch["memory"])
    for key in ("ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes",
                "unified_buffer_bytes", "accumulator_bytes"):
        if key in mem:
            mem[key] *= factor
    if "weight_fifo_tiles" in mem:
        mem["weight_fifo_tiles"] *= factor
    return {**arch, "memory": mem}


@SETTINGS
@given(archs(), workloads())
def test_every_layer_respects_the_roofline_lower_bound(arch_dict, wl):
    arch = arch_from_dict(arch_dict)
    result = simulate(arch, wl)
    # the workloads run at the arch's native precision: peak = rows x cols MACs per cycle
    roofs = roofs_for(arch.array.rows * arch.array.cols, arch.clock_hz,
                      arch.dram.bandwidth_gbps * 1e9)
    for layer, spec in zip(result.layers, wl.layers):
        # compute bound from MACs (2 ops each) and DRAM bound from the layer's own traffic
        bound = lower_bound_cycles(2 * layer.macs, layer.dram_bytes, roofs, arch.clock_hz)
        assert layer.cycles >= math.floor(bound), (layer.name, layer.cycles, bound)
        # vector layers: the vector unit's rate bounds them too
        if not layer.macs:
            assert layer.cycles >= math.floor(spec.vector_ops / arch.vector_rate)


def _options(arch, objective):
    return RunOptions(precision=arch.precision, objective=objective)


@SETTINGS
@given(archs(), workloads(), st.sampled_from([2, 4, 16]))
def test_more_sram_never_increases_dram_traffic_under_the_dram_objective(arch_dict, wl, factor):
    # objective dram: the tiler's choice does not depend on bandwidth and every tiling that fits
    # a buffer fits a bigger one, so DRAM traffic can only fall (the latency objective may
    # trade bytes for cycles, docs/models.md 3.5)
    small_arch = arch_from_dict(arch_dict)
    big_arch = arch_from_dict(_scaled_memory(arch_dict, factor))
    options = _options(small_arch, "dram")
    small_fixed = SystolicEngine(small_arch).run_whole_batch(wl, options).layers
    big_fixed = SystolicEngine(big_arch).run_whole_batch(wl, options).layers
    for a, b in zip(small_fixed, big_fixed):
        assert b.dram_bytes <= a.dram_bytes + 1, (a.name, a.dram_bytes, b.dram_bytes)
    # the network, with the engine free to split the batch into sub-batches
    small = simulate(small_arch, wl, objective="dram")
    big = simulate(big_arch, wl, objective="dram")
    assert big.totals.dram_read_bytes + big.totals.dram_write_bytes <= \
        small.totals.dram_read_bytes + small.totals.dram_write_bytes + len(wl.layers)


@SETTINGS
@given(archs(), workloads(), st.sampled_from([2, 4, 16]))
def test_more_sram_never_increases_latency(arch_dict, wl, factor):
    # objective latency: a bigger buffer only adds candidate tilings and removes traffic, so
    # the fastest tiling of every layer never slows down; the mapper takes one within
    # LATENCY_TOLERANCE of the fastest (then the least traffic), so a layer may move by that
    small_arch = arch_from_dict(arch_dict)
    big_arch = arch_from_dict(_scaled_memory(arch_dict, factor))
    options = _options(small_arch, "latency")
    slack = 1 + LATENCY_TOLERANCE
    small_fixed = SystolicEngine(small_arch).run_whole_batch(wl, options).layers
    big_fixed = SystolicEngine(big_arch).run_whole_batch(wl, options).layers
    for a, b in zip(small_fixed, big_fixed):
        assert b.cycles <= a.cycles * slack + 1, (a.name, a.cycles, b.cycles)
    # with the sub-batch search free, the choice among sub-batch sizes takes one within the
    # tolerance of the fastest too, on top of the layers' own choices: two tolerances
    small = simulate(small_arch, wl)
    big = simulate(big_arch, wl)
    assert big.totals.cycles <= small.totals.cycles * slack ** 2 + len(wl.layers)


@SETTINGS
@given(archs(), workloads(), st.floats(1.01, 20), st.sampled_from(["latency", "dram"]))
def test_more_dram_bandwidth_never_increases_latency(arch_dict, wl, factor, objective):
    slow_arch = arch_from_dict(arch_dict)
    fast_arch = arch_from_dict({**arch_dict, "dram": {
        **arch_dict["dram"], "bandwidth_gbps": arch_dict["dram"]["bandwidth_gbps"] * factor}})
    # dram: the same tiling at both bandwidths, so cycles can only fall (exactly); latency:
    # the fastest candidate can only get faster and the chosen one is within the tolerance.
    # Layer by layer on the fixed schedule (the whole batch): with the sub-batch search free,
    # the two runs may split the batch differently and a layer's figures are then not
    # comparable (one of 3 sub-batches vs the whole batch)
    slack = 1.0 if objective == "dram" else 1 + LATENCY_TOLERANCE
    options = _options(slow_arch, objective)
    slow_fixed = SystolicEngine(slow_arch).run_whole_batch(wl, options).layers
    fast_fixed = SystolicEngine(fast_arch).run_whole_batch(wl, options).layers
    for a, b in zip(slow_fixed, fast_fixed):
        assert b.cycles <= a.cycles * slack + (0 if objective == "dram" else 1), \
            (a.name, a.cycles, b.cycles)
        if objective == "dram":
            assert b.dram_bytes == a.dram_bytes
    # the network with the sub-batch search free: the choice among sub-batch sizes adds its
    # own tolerance (latency) on top of the layers' (see the SRAM test above)
    slow = simulate(slow_arch, wl, objective=objective)
    fast = simulate(fast_arch, wl, objective=objective)
    assert fast.totals.cycles <= slow.totals.cycles * slack ** 2 + len(wl.layers)


@SETTINGS
@given(archs(), workloads())
def test_macs_conserved_and_utilization_bounded(arch_dict, wl):
    result = simulate(arch_from_dict(arch_dict), wl)
    # lowering: sum over GEMMs of m*k*n*groups*steps equals the layer's MAC count
    for layer, spec in zip(result.layers, wl.layers):
        assert layer.macs == sum(g.m * g.k * g.n * g.groups * g.steps for g in spec.gemms())
    conv = wl.layers[0]
    _, ho, wo = conv.output_shape
    kh = conv.kernel if isinstance(conv.kernel, int) else conv.kernel[0]
    assert result.layers[0].macs == wl.batch * ho * wo * conv.out_channels * kh * kh * conv.in_channels // conv.groups
    assert result.totals.macs == wl.macs
    for layer in result.layers:
        assert 0 <= layer.utilization <= 1 + 1e-9


@st.composite
def tallies(draw):
    """Float tallies, many of them just above or below a whole number (where rounding to 6
    decimals decides the ceiling)."""
    base = draw(st.one_of(st.integers(-(1 << 60), 1 << 60).map(float),
                          st.floats(-1e18, 1e18, allow_nan=False)))
    step = draw(st.sampled_from([0.0, 1e-7, 4.999999e-7, 5e-7, 5.000001e-7, 1e-6, 1.000001e-6,
                                 0.5, 1 - 1e-6, 1 - 5e-7]))
    value = float(math.floor(base)) + step if draw(st.booleans()) else base
    for _ in range(draw(st.integers(0, 2))):
        value = math.nextafter(value, draw(st.sampled_from([math.inf, -math.inf])))
    return value


@SETTINGS
@given(tallies())
def test_whole_is_the_ceiling_after_rounding_to_6_decimals(value):
    """accounting.whole skips the (slow) decimal rounding where it cannot matter; it must give
    what the rule says everywhere."""
    from simulator.kinds.systolic.accounting import whole

    assert whole(value) == math.ceil(round(value, 6))
    assert type(whole(value)) is int
