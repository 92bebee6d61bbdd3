"""The systolic mapper: the objective it minimises, the staircase it produces, the mapping it
reports and the overrides it accepts (issue 12 item 1)."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.registry import arch_from_dict


def conv(inp, filters, **extra):
    return workload_from_dict({"name": "s", "layers": [
        {"name": "c", "type": "conv", "input": list(inp), "out_channels": filters, "kernel": 3,
         "padding": 1, **extra}]})


@pytest.mark.parametrize("inp", [(64, 56, 56), (32, 112, 112)])
def test_output_channel_staircase_on_edge_32x32_is_flat_with_steps_at_the_array_width(inp):
    # OS on 32x32: filters sit on the 32 array columns, so compute = folds x per fold with
    # folds = ceil(M / 32) x ceil(F / 32): the same for 8..32 filters, twice that for 40..64,
    # and so on. On edge_32x32 these layers are compute-bound (64x56x56: 62.5 k compute cycles
    # vs 23-56 k cycles of DRAM traffic at 10 B/cycle), so latency follows the folds: flat
    # inside a step (within 5 %: only the exposed first and last transfers grow with the
    # filters), up by one step height at every multiple of 32. The latency objective keeps the
    # whole reduction in one tile (a K split would repeat every fold's fill/drain).
    arch = load_arch("edge_32x32")
    cycles = {f: simulate(arch, conv(inp, f)).layers[0].cycles for f in range(8, 257, 8)}
    steps = [[cycles[f] for f in range(32 * i + 8, 32 * i + 33, 8)] for i in range(8)]
    for i, plateau in enumerate(steps):
        assert max(plateau) / min(plateau) <= 1.05, (i, plateau)
    for i in range(7):
        assert min(steps[i + 1]) > max(steps[i])
        # step heights follow the column folds: step i+1 costs (i+2)/(i+1) x step i, +-10 %
        ratio = (sum(steps[i + 1]) / 4) / (sum(steps[i]) / 4)
        assert ratio == pytest.approx((i + 2) / (i + 1), rel=0.1)


def test_energy_objective_finds_a_different_lower_energy_mapping():
    # 3x3 conv 64 -> 8 on 56x56 (edge_32x32): latency prefers 32-row M tiles (the smallest
    # first transfer, compute-bound anyway) and re-fetches every tile's halo rows; the energy
    # objective takes long M tiles and moves 2.4x fewer DRAM bytes (20 pJ/bit): less energy,
    # more cycles. EDP lies in between. The dram objective minimises bytes.
    arch = load_arch("edge_32x32")
    wl = conv((64, 56, 56), 8)
    runs = {obj: simulate(arch, wl, objective=obj).layers[0]
            for obj in ("latency", "energy", "edp", "dram")}
    lat, energy = runs["latency"], runs["energy"]
    assert lat.mapping["objective"] == "latency" and energy.mapping["objective"] == "energy"
    assert (lat.mapping["tile_m"], lat.mapping["tile_k"]) != \
        (energy.mapping["tile_m"], energy.mapping["tile_k"])
    assert energy.energy_pj < 0.7 * lat.energy_pj
    assert lat.cycles < energy.cycles
    assert runs["dram"].dram_bytes <= min(r.dram_bytes for r in runs.values())
    edp = {k: r.energy_pj * r.cycles for k, r in runs.items()}
    assert edp["edp"] <= min(edp.values()) * (1 + 1e-9)
    # the arch's mapping_objective is the default
    as_field = simulate(load_arch("edge_32x32", ["mapping_objective=energy"]), wl).layers[0]
    assert as_field.mapping == energy.mapping


def test_cli_objective_flag(capsys):
    assert main(["run", "edge_32x32", "alexnet", "--objective", "energy", "--format", "json",
                 "-q", "-o", "/dev/null"]) == 0


def test_mapping_override_is_honoured_and_reported():
    arch = load_arch("edge_32x32")
    wl = conv((64, 56, 56), 8)
    chosen = simulate(arch, wl).layers[0].mapping
    forced = simulate(arch, wl, mapping={"c": {"tile_m": 256, "loop_order": "k-m-n"}}).layers[0]
    assert forced.mapping["tile_m"] == 256 and forced.mapping["loop_order"] == "kmn"
    assert forced.mapping["tile_k"] == chosen["tile_k"] or forced.mapping["tile_k"] > 0
    # what the mapper chose, given back as an override, reproduces the run
    keys = {k: chosen[k] for k in ("tile_m", "tile_k", "tile_n", "loop_order")}
    again = simulate(arch, wl, mapping={"c": keys}).layers[0]
    assert again.cycles == simulate(arch, wl).layers[0].cycles


@pytest.mark.parametrize("override, field, words", [
    ({"c": {"tile_q": 4}}, "mapping.c.tile_q", "unknown mapping key"),
    ({"c": {"dataflow": "ws"}}, "mapping.c.dataflow", "array.dataflow"),
    ({"c": {"tile_m": 48}}, "mapping.c.tile_m", "multiple of the array's 32"),
    ({"c": {"tile_k": 0}}, "mapping.c.tile_k", "positive integer"),
    ({"c": {"loop_order": "mmk"}}, "mapping.c.loop_order", "permutation"),
    ({"nope": {"tile_m": 32}}, "mapping.nope", "no such layer"),
])
def test_bad_overrides_are_one_line_errors_naming_layer_and_key(override, field, words):
    with pytest.raises(NpusimError) as err:
        simulate(load_arch("edge_32x32"), conv((64, 56, 56), 8), mapping=override)
    text = err.value.one_line()
    assert field in text and words in text and "\n" not in text


def test_tiles_of_a_layer_without_gemm_are_refused():
    wl = workload_from_dict({"name": "p", "layers": [
        {"name": "pool", "type": "maxpool", "input": [4, 8, 8], "kernel": 2}]})
    with pytest.raises(NpusimError, match="no GEMM to tile"):
        simulate(load_arch("edge_32x32"), wl, mapping={"pool": {"tile_m": 32}})


def test_sub_batch_override_runs_the_batch_in_those_sub_batches():
    # a 4x4 TPU-like chip; batch 4 of a 3x3 conv split into 2 sub-batches of 2 (each layer
    # then reports twice the batch-2 figures)
    arch = arch_from_dict({
        "name": "tinytpu", "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": 4, "cols": 4, "dataflow": "ws", "pipelined_folds": True},
        "memory": {"style": "unified", "unified_buffer_bytes": 1 << 20,
                   "accumulator_bytes": 1 << 16, "weight_fifo_tiles": 4,
                   "weight_shift_cycles": 4},
        "dram": {"bandwidth_gbps": 10, "latency_ns": 0}})
    net = {"name": "w", "layers": [{"name": "c1", "type": "conv", "input": [16, 16, 16],
                                    "out_channels": 16, "kernel": 3, "padding": 1}]}
    four = simulate(arch, workload_from_dict({**net, "batch": 4}),
                    mapping={"c1": {"sub_batch": 2}}).layers[0]
    two = simulate(arch, workload_from_dict({**net, "batch": 2})).layers[0]
    assert four.sub_batches == 2 and four.mapping["sub_batch"] == 2
    assert four.cycles == 2 * two.cycles
    with pytest.raises(NpusimError, match="does not divide"):
        simulate(arch, workload_from_dict({**net, "batch": 4}), mapping={"c1": {"sub_batch": 3}})
