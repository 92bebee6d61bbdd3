"""Compiler step 3: the mapper chooses each MAC pass's split and tiles by comparing costs
(docs/models/tensorcore.md §3, step 3)."""

from __future__ import annotations

import pytest
from helpers.archs import ideal_arch

from simulator.api import simulate
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.io.tables import energy_table_for
from simulator.kinds.tensorcore.compiler import compile_program
from simulator.kinds.tensorcore.compiler.mapper import MapperOptions

CONV = {"type": "conv", "kernel": 3, "padding": 1}


def stair(filters: int) -> object:
    """A 3x3 conv of `filters` filters reading a 64 x 56 x 56 map that a stem conv left in the
    shared SRAM, its output consumed by a global pool (a layer in the middle of a network)."""
    return workload_from_dict({"name": "s", "input": [64, 56, 56], "layers": [
        {"name": "stem", "out_channels": 64, **CONV},
        {"name": "x", "out_channels": filters, **CONV},
        {"name": "g", "type": "globalavgpool"}]})


def test_72_filters_split_by_rows_not_by_channels():
    # 3x3, 64 -> 72 on 56 x 56 on bpu's two 32 x 32 cores (K = 576 -> 18 row folds):
    #   by channels (whole array widths): 64 + 8 channels, the busier core 3136 x 18 x 2
    #     = 112,896 cycles;
    #   by rows: 1,568 pixels each, all 72 channels (3 column folds): 1568 x 18 x 3 = 84,672.
    # The compiler used to split by channels whenever it had 2 x 32 of them (+87 % from 64 to
    # 72 filters); the mapper compares the closed forms.
    prog = compile_program(load_arch("bpu"), load_arch("bpu").precision, stair(72))
    (mapping,) = [m for u, m in prog.mappings.items() if prog.units[u].layer == 1]
    assert mapping.split == "rows"
    assert mapping.cost.compute_cycles == 84_672
    pinned = compile_program(load_arch("bpu"), load_arch("bpu").precision, stair(72),
                             mapper=MapperOptions(overrides={"x": {"split": "channels"}}))
    (by_channels,) = [m for u, m in pinned.mappings.items() if pinned.units[u].layer == 1]
    assert by_channels.cost.compute_cycles == 112_896
    assert by_channels.cost.cycles > mapping.cost.cycles


def test_the_staircase_is_flat_inside_a_step_and_steps_at_the_array_width():
    # 3x3 convs of 8..256 filters on bpu: the closed form per core is
    # 1568 x 18 x ceil(F / 32) (split by rows), so the latency should rise by 28,224 cycles
    # every 32 filters and stay put in between (issue: flat within a few percent inside a step,
    # a jump at the array width, monotone)
    # (each conv is read by a global pool, so that its 56 x 56 x F map is an intermediate in
    # the SRAM, not a network output written to DRAM; the pooled F bytes are)
    layers = [{"name": "stem", "out_channels": 64, **CONV}]
    for f in range(8, 257, 8):
        layers += [{"name": f"f{f}", "out_channels": f, "inputs": ["stem"], **CONV},
                   {"name": f"g{f}", "type": "globalavgpool", "inputs": [f"f{f}"]}]
    wl = workload_from_dict({"name": "stair", "input": [64, 56, 56], "layers": layers})
    cycles = {int(l.name[1:]): l.cycles for l in simulate("bpu", wl).layers
              if l.name.startswith("f")}
    steps = {}
    for f, c in cycles.items():
        steps.setdefault((f - 1) // 32, []).append(c)
    for step, values in steps.items():
        floor = 1568 * 18 * (step + 1)
        assert floor <= min(values) and max(values) <= 1.04 * floor, (step, values)
        assert max(values) <= 1.02 * min(values), (step, values)
    lows = [min(v) for _, v in sorted(steps.items())]
    highs = [max(v) for _, v in sorted(steps.items())]
    assert all(lo > hi for lo, hi in zip(lows[1:], highs))          # steps at 32, 64, ...
    ordered = [cycles[f] for f in sorted(cycles)]
    # monotone up to the fill / drain of the chosen tiles (at most 1 % of a step)
    assert all(b >= 0.99 * a for a, b in zip(ordered, ordered[1:]))


def test_the_closed_form_compute_is_what_the_cores_do():
    # the mapper's compute per core is exact (tiles x array cycles, edge tiles included)
    for layer, inp in ((dict(CONV, out_channels=96), (64, 28, 28)),
                       (dict(CONV, out_channels=64, groups=64), (64, 28, 28)),
                       ({"type": "conv", "out_channels": 40, "kernel": 1}, (200, 14, 14)),
                       ({"type": "linear", "out_features": 1000}, (1280,))):
        wl = workload_from_dict({"name": "t", "input": list(inp),
                                 "layers": [{"name": "l", **layer}]})
        (l,) = simulate(load_arch("bpu"), wl).layers
        prog = compile_program(load_arch("bpu"), load_arch("bpu").precision, wl)
        (mapping,) = prog.mappings.values()
        assert mapping.cost.compute_cycles == max(l.busy_cycles.get("core0", 0),
                                                  l.busy_cycles.get("core1", 0))


def test_the_energy_objective_finds_a_cheaper_mapping():
    # ResNet-50's l2b0_down (1x1, 256 -> 512, stride 2): latency picks pixel tiles of 84 over
    # 3 x 32 input channels (routes the input more often), energy picks fewer, larger reads;
    # the run's energy falls and its cycles rise a little
    wl = "resnet50"
    fast = simulate("bpu", wl)
    frugal = simulate("bpu", wl, objective="energy")
    assert frugal.totals.energy_pj < 0.97 * fast.totals.energy_pj
    assert frugal.totals.cycles > fast.totals.cycles
    a = next(l for l in fast.layers if l.name == "l2b0_down")
    b = next(l for l in frugal.layers if l.name == "l2b0_down")
    assert a.mapping["objective"] == "latency" and b.mapping["objective"] == "energy"
    assert b.energy_pj < a.energy_pj
    assert (a.mapping["tile_pixels"], a.mapping["tile_input_channels"]) != (
        b.mapping["tile_pixels"], b.mapping["tile_input_channels"])


def test_overrides_pin_the_mapping_and_bad_ones_are_one_line_errors():
    wl = stair(64)
    pin = {"split": "channels", "tile_pixels": 112, "tile_channels": 32,
           "tile_input_channels": 64, "loop_order": "pixels_outer"}
    x = simulate("bpu", wl, mapping={"x": pin}).layers[1]
    assert {k: x.mapping[k] for k in pin} == pin
    assert x.mapping["pinned"] == sorted(pin)
    bad = [({"x": {"tile_rows": 4}}, "mapping.x.tile_rows"),
           ({"x": {"tile_channels": 4096}}, "mapping.x.tile_channels"),
           ({"x": {"split": "rows", "tile_pixels": 1568, "tile_channels": 64}},
            "mapping.x.tile_pixels"),
           ({"x": {"split": "diagonal"}}, "mapping.x.split"),
           ({"x": {"loop_order": "sideways"}}, "mapping.x.loop_order"),
           ({"nope": {"split": "rows"}}, "mapping.nope"),
           ({"g": {"split": "rows"}}, "mapping.g")]
    for mapping, field in bad:
        with pytest.raises(NpusimError) as err:
            simulate("bpu", wl, mapping=mapping)
        line = str(err.value)
        assert "\n" not in line and field in line, line


def test_one_core_has_no_split_and_objectives_are_validated():
    wl = workload_from_dict({"name": "t", "input": [64, 28, 28],
                             "layers": [{"name": "l", "out_channels": 64, **CONV}]})
    (l,) = simulate(ideal_arch(), wl).layers
    assert l.mapping["split"] == "none" and l.mapping["cores"] == [0]
    arch = load_arch("bpu")
    with pytest.raises(NpusimError, match="objective"):
        compile_program(arch, arch.precision, wl, mapper=MapperOptions(objective="speed"))
    with pytest.raises(NpusimError, match="energy table"):
        compile_program(arch, arch.precision, wl, mapper=MapperOptions(objective="energy"))
    table = energy_table_for(arch)
    compile_program(arch, arch.precision, wl,
                    mapper=MapperOptions(objective="edp", energy=table))
