"""Compiler step 5 alone: program order from integer sequence numbers."""

from __future__ import annotations

import pytest

from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import compile_program
from simulator.kinds.tensorcore.compiler.mapper import MapperOptions
from simulator.kinds.tensorcore.compiler.order import (
    COMPUTE,
    LOAD_BEFORE_ROUTE,
    ROUTE_INPUT,
    ROUTE_OUT,
    TICKS_PER_STEP,
    ProgramOrder,
    program_order,
    step_seq,
)
from simulator.kinds.tensorcore.ops import Op


def test_an_op_is_placed_after_its_dependencies_and_not_below_the_floor():
    order = ProgramOrder()
    assert order.place(500, []) == 500
    assert order.place(500, [499]) == 500       # already after its dependency
    assert order.place(500, [500, 720]) == 721  # one tick after the latest dependency
    order.floor = 2000
    assert order.place(500, [720]) == 2000       # a barrier raised the floor


def test_phases_of_a_tile_step():
    # step 3 of a pass starting at 10,000: the input route one step ahead (3 - 1 + 0.1 steps),
    # its DMA load one more step ahead, the compute and the route out in the step itself
    start = 10_000
    assert step_seq(start, 3, ROUTE_INPUT) == 10_000 + 2_100
    assert step_seq(start, 3, ROUTE_INPUT) + LOAD_BEFORE_ROUTE == 10_000 + 1_100
    assert step_seq(start, 3, COMPUTE) == 10_000 + 3_200
    assert step_seq(start, 3, ROUTE_OUT) == 10_000 + 3_300
    assert TICKS_PER_STEP == 1000


def test_program_order_sorts_by_sequence_number_then_emission():
    ops = [Op(0, "compute", 0, ("core0",), 1, seq=5), Op(1, "route_in", 0, ("port0",), 1, seq=3),
           Op(2, "route_in", 0, ("port1",), 1, seq=5)]
    assert [op.id for op in program_order(ops)] == [1, 0, 2]


@pytest.mark.parametrize("placement", ["split", "pipeline"])
def test_sequence_numbers_give_a_total_topological_order(placement):
    # a small network with a residual add, a pool and a vector-unit fallback, both placements
    layers = [{"name": "c1", "type": "conv", "out_channels": 32, "kernel": 3, "padding": 1,
               "activation": "relu"},
              {"name": "c2", "type": "conv", "out_channels": 32, "kernel": 3, "padding": 1},
              {"name": "a", "type": "add", "inputs": ["c2", "c1"], "activation": "relu"},
              {"name": "h", "type": "activation", "function": "hardswish"},
              {"name": "p", "type": "maxpool", "kernel": 2}]
    wl = workload_from_dict({"name": "t", "input": [32, 40, 40], "layers": layers})
    arch = load_arch("bpu_no_hswish", [f"compiler.placement={placement}",
                                       "compiler.weight_residency=stream"])
    ops = compile_program(arch, arch.precision, wl).ops
    keys = [(op.seq, op.id) for op in ops]
    assert keys == sorted(keys) and len(set(keys)) == len(keys)   # a total order
    assert all(isinstance(op.seq, int) for op in ops)
    position = {op.id: i for i, op in enumerate(ops)}
    by_id = {op.id: op for op in ops}
    for op in ops:
        for d in op.deps:
            # every dependency comes earlier, with a smaller sequence number
            assert position[d] < position[op.id] and by_id[d].seq < op.seq


def test_the_first_pass_is_software_pipelined():
    # 3x3 conv 64 -> 64 on 64 x 64 on one core, input from DRAM: 16 tiles of 4 rows (ids in emission
    # order). Requested sequence numbers for tile t: input load t*1000 - 1900, input route
    # t*1000 - 900, compute t*1000 + 200, route out +300, store +400 (the output is the
    # network output, in DRAM); weights (one block, loaded and routed once) at -1850 / -850.
    # Nothing sorts below the initial floor 0, and an op sits one tick after its latest
    # dependency, so:
    #   loads of tile 0 (input, weights) and of tile 1's input: 0 (asked -1900, -1850, -900)
    #   routes of tile 0: 1 (after their loads); route of tile 1: 100
    #   compute 0: 200; tile 2's input load: 201 (asked 100, but its slot is the one tile 0
    #   used: it waits for compute 0); route out 0: 300, store 0: 400
    #   route of tile 2: 1100; compute 1: 1200
    # so while tile t computes, tile t+1 is routed and tile t+2 loaded.
    wl = workload_from_dict({"name": "t", "input": [64, 64, 64], "layers": [
        {"name": "c", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}]})
    arch = load_arch("bpu", ["cores=1", "compiler.weight_residency=stream"])
    # tiles of 4 output rows (4 x 64 = 256 pixels), all 64 channels (pinned: the tiler's
    # fewest-bytes choice; the mapper may choose otherwise, see test_compiler_mapper.py)
    pin = MapperOptions(overrides={"c": {"tile_pixels": 256, "tile_channels": 64,
                                         "tile_input_channels": 64,
                                         "loop_order": "channels_outer"}})
    ops = compile_program(arch, arch.precision, wl, mapper=pin).ops
    assert [(op.label, op.seq) for op in ops[:12]] == [
        ("load c in", 0), ("load c w", 0), ("load c in", 0), ("c in", 1), ("c w", 1),
        ("c in", 100), ("c conv", 200), ("load c in", 201), ("c out", 300),
        ("store c out", 400), ("c in", 1100), ("c conv", 1200)]
    assert step_seq(0, 2, ROUTE_INPUT) + LOAD_BEFORE_ROUTE == 100
