"""Hand-derived checks of the systolic engine on tiny arrays (every number derived in a comment)."""

import math

import pytest

from simulator.api import simulate
from simulator.core.arch import Precision
from simulator.core.energy import price
from simulator.core.workload import workload_from_dict
from simulator.io.tables import load_energy_table
from simulator.kinds.base import RunOptions
from simulator.kinds.registry import arch_from_dict
from simulator.kinds.systolic.engine import SystolicEngine
from simulator.kinds.systolic.mapper import least_traffic
from simulator.kinds.systolic.mapping import map_gemm
from simulator.kinds.systolic.tiling import TilingProblem


def split_arch(rows=4, cols=4, dataflow="os", sram=1 << 20, bw=10.0, **extra):
    return arch_from_dict({
        "name": "tiny", "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "memory": {"style": "split", "ifmap_sram_bytes": sram, "filter_sram_bytes": sram,
                   "ofmap_sram_bytes": sram},
        "dram": {"bandwidth_gbps": bw, "latency_ns": 0}, **extra})


def unified_arch(rows=4, cols=4, ub=1 << 20, acc=1 << 16, fifo=4, shift=4, bw=10.0, **extra):
    return arch_from_dict({
        "name": "tinytpu", "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": rows, "cols": cols, "dataflow": "ws", "pipelined_folds": True},
        "memory": {"style": "unified", "unified_buffer_bytes": ub, "accumulator_bytes": acc,
                   "weight_fifo_tiles": fifo, "weight_shift_cycles": shift},
        "dram": {"bandwidth_gbps": bw, "latency_ns": 0}, **extra})


def one_layer(layer, batch=1, precision=None):
    data = {"name": "w", "batch": batch, "layers": [layer]}
    if precision:
        data["precision"] = precision
    return workload_from_dict(data)


# ---- mapping (SCALE-Sim conventions) --------------------------------------------------------
def test_mapping_by_dataflow_on_4x4():
    # GEMM M=10, K=6, N=5 on a 4x4 array
    # WS: Sr=K=6 -> 2 row folds, Sc=N=5 -> 2 col folds, T=M=10; per fold 10+2*4+4-2 = 20
    ws = map_gemm(10, 6, 5, 4, 4, "ws")
    assert (ws.folds, ws.per_fold_cycles, ws.scalesim_cycles) == (4, 20, 79)
    # OS: Sr=M=10 -> 3, Sc=N=5 -> 2, T=K=6; per fold 6+4+4-2 = 12; 6*12-1 = 71
    os_ = map_gemm(10, 6, 5, 4, 4, "os")
    assert (os_.folds, os_.per_fold_cycles, os_.scalesim_cycles) == (6, 12, 71)
    # IS: Sr=K=6 -> 2, Sc=M=10 -> 3, T=N=5; per fold 5+8+4-2 = 15; 6*15-1 = 89
    is_ = map_gemm(10, 6, 5, 4, 4, "is")
    assert (is_.folds, is_.per_fold_cycles, is_.scalesim_cycles) == (6, 15, 89)
    # mapping efficiency OS: 10*5 useful PE-folds of 6*16
    assert os_.mapping_efficiency == pytest.approx(50 / 96)


def test_depthwise_runs_one_gemm_per_group_and_shows_poor_utilization():
    # 8 channels, 3x3 depthwise on 6x6 (pad 1) -> per group M=36, K=9, N=1
    wl = one_layer({"name": "dw", "type": "conv", "input": [8, 6, 6], "out_channels": 8,
                    "kernel": 3, "padding": 1, "groups": 8})
    r = simulate(split_arch(dataflow="os"), wl).layers[0]
    # OS per group: Sr=36 -> 9 row folds, Sc=1 -> 1; per fold 9+4+4-2 = 15 -> 135 cycles;
    # 8 groups back to back: 8*135 - 1 = 1079
    assert r.compute_cycles == 1079
    assert r.folds == 72
    # MACs 8*36*9 = 2592; utilization <= 2592 / (1079*16) = 0.150
    assert r.macs == 2592
    assert r.utilization <= 2592 / (1079 * 16) + 1e-12
    # mapping efficiency: 36 of 9*16 PE-slots per group (one filter column of four)
    assert r.mapping_efficiency == pytest.approx(36 / 144)


# ---- TPU specifics ----------------------------------------------------------------------------
def test_pipelined_fc_at_batch_1_is_weight_load_bound():
    # linear 8 -> 8 at batch 1 on a 4x4 WS array with 4-cycle weight shift:
    # folds = ceil(8/4) * ceil(8/4) = 4, each streams M=1 row: compute = 4*1 + (4+4-2) = 10
    # each weight tile shift (4 cycles) hides behind only 1 streamed row: 4 * (4-1) = 12
    # exposed, plus the first shift (4): weight_load = 16
    wl = one_layer({"name": "fc", "type": "linear", "input": [8], "in_features": 8, "out_features": 8,
                    "bias": False})
    r = simulate(unified_arch(), wl).layers[0]
    assert r.compute_cycles == 10
    assert r.stall_breakdown_cycles["weight_load"] == 16
    # weights come from DRAM (64 B), the network input (8 B) too, the output (8 B) goes back
    assert r.dram_bytes_by_operand == {"filter": 64, "ifmap": 8, "ofmap": 8}
    assert r.cycles >= r.compute_cycles + 16


def test_pipelined_conv_with_many_rows_hides_weight_shift():
    # 1x1 conv, 4 -> 4 channels on 8x8: M = 64 rows, K = 4, N = 4: one fold streams 64 rows,
    # so the 4-cycle shift hides; only the first shift is exposed.
    # compute = 1*64 + (4+4-2) = 70
    wl = one_layer({"name": "c", "type": "conv", "input": [4, 8, 8], "out_channels": 4,
                    "kernel": 1})
    r = simulate(unified_arch(), wl).layers[0]
    assert r.compute_cycles == 70
    assert r.stall_breakdown_cycles["weight_load"] == 4


def test_activations_stay_in_unified_buffer_when_they_fit():
    layers = [{"name": "c1", "type": "conv", "input": [4, 8, 8], "out_channels": 4, "kernel": 1},
              {"name": "c2", "type": "conv", "out_channels": 4, "kernel": 1},
              {"name": "c3", "type": "conv", "out_channels": 4, "kernel": 1}]
    wl = workload_from_dict({"name": "chain", "layers": layers})
    r = simulate(unified_arch(), wl)
    # each activation tensor is 4*8*8 = 256 B (int8): c1 reads the network input from DRAM,
    # c2 reads nothing, c3 writes the network output; every layer fetches its 16 B of weights
    assert [l.dram_read_bytes for l in r.layers] == [256 + 16, 16, 16]
    assert [l.dram_write_bytes for l in r.layers] == [0, 0, 256]
    # 300-byte buffer: during c2 both c1's output (its input) and c2's output are live,
    # 512 B > 300 B. The tensor whose next use lies farthest goes to DRAM (Belady's rule):
    # c1's output is read now, c2's output only by c3, so c2's output spills (written by c2,
    # read back by c3) and c1's output stays on chip
    small = simulate(unified_arch(ub=300), wl)
    assert [l.dram_write_bytes for l in small.layers] == [0, 256, 256]
    assert [l.dram_bytes_by_operand.get("ifmap", 0) for l in small.layers] == [256, 0, 256]
    # 512 B fit both: back to the on-chip case
    exact = simulate(unified_arch(ub=512), wl)
    assert [l.dram_write_bytes for l in exact.layers] == [0, 0, 256]


def test_precision_slows_tpu_mac_rate_and_scales_bytes():
    wl8 = one_layer({"name": "fc", "type": "linear", "input": [16], "out_features": 16},
                    batch=64)
    arch = unified_arch()
    engine = SystolicEngine(arch)
    run8, run816, run16 = (engine.run(wl8, RunOptions(precision=p)) for p in (
        Precision(), Precision(weight_bits=16, activation_bits=8),
        Precision(weight_bits=16, activation_bits=16)))
    # TPUv1: 8b x 16b at half speed, 16b x 16b at quarter speed
    assert (run8.peak_macs_per_cycle, run816.peak_macs_per_cycle,
            run16.peak_macs_per_cycle) == (16, 8, 4)
    r8, r16 = run8.layers[0], run16.layers[0]
    # streaming 64 rows per fold x 16 folds: 1024 (int8) vs 4096 (int16), + skew 6
    assert (r8.compute_cycles, r16.compute_cycles) == (16 * 64 + 6, 4 * 16 * 64 + 6)
    assert r16.dram_bytes_by_operand["filter"] == 2 * r8.dram_bytes_by_operand["filter"]
    # 16 x 16 bit MACs: mult 0.2 x 2^1.977 = 0.787 pJ vs 0.2 pJ (log-log), same 32-bit add
    table = load_energy_table()
    mac8, mac16 = (price(run.counts[0].actions, table)[0]["mac"] for run in (run8, run16))
    assert mac16 - mac8 == pytest.approx(r8.macs * (table.mult_pj(16, 16) - 0.2))


# ---- memory traffic and stalls ------------------------------------------------------------
def test_split_layer_with_everything_fitting_moves_compulsory_bytes():
    # 1x1 conv 8 -> 6 channels on 5x5, int8: input 200 B, weights 48 B, output 150 B
    wl = one_layer({"name": "c", "type": "conv", "input": [8, 5, 5], "out_channels": 6,
                    "kernel": 1})
    r = simulate(split_arch(), wl).layers[0]
    assert r.dram_bytes_by_operand == {"ifmap": 200, "filter": 48, "ofmap": 150}


def _literal_traffic(t, m, k, n, whole_fits=frozenset()):
    """Walk the loop nest literally: one resident tile per operand, fetched when it changes;
    an operand in `whole_fits` has a buffer that holds the whole tensor, so a tile once fetched
    stays (for C: partial sums stay on chip and each output is written once, at the end)."""
    size = {"m": m, "k": k, "n": n}
    tile = {"m": t.tm, "k": t.tk, "n": t.tn}
    ranges = {d: [(s, min(s + tile[d], size[d])) for s in range(0, size[d], tile[d])] for d in "mkn"}
    resident = {"a": None, "b": None}
    kept: dict = {"a": set(), "b": set()}
    seen_c: dict = {}
    traffic = {"a": 0, "b": 0, "c_write": 0, "c_read": 0}
    last_c = None
    o = t.order
    for i0 in ranges[o[0]]:
        for i1 in ranges[o[1]]:
            for i2 in ranges[o[2]]:
                idx = dict(zip(o, (i0, i1, i2)))
                for x, dims in (("a", "mk"), ("b", "kn")):
                    key = tuple(idx[d] for d in dims)
                    if x in whole_fits:
                        if key not in kept[x]:
                            kept[x].add(key)
                            traffic[x] += math.prod(idx[d][1] - idx[d][0] for d in dims)
                    elif resident[x] != key:
                        resident[x] = key
                        traffic[x] += math.prod(idx[d][1] - idx[d][0] for d in dims)
                c_key = (idx["m"], idx["n"])
                if "c" in whole_fits:
                    continue
                if c_key != last_c:
                    if last_c is not None:
                        traffic["c_write"] += math.prod(r[1] - r[0] for r in last_c)
                    if c_key in seen_c:
                        traffic["c_read"] += math.prod(r[1] - r[0] for r in c_key)
                    seen_c[c_key] = True
                    last_c = c_key
    if "c" in whole_fits:
        traffic["c_write"] = m * n
    else:
        traffic["c_write"] += math.prod(r[1] - r[0] for r in last_c)
    return traffic


@pytest.mark.parametrize("caps", [(1e9, 1e9, 1e9), (16, 16, 1e9), (16, 16, 16), (8, 32, 16),
                                  (64, 4, 8)])
def test_tiling_traffic_matches_a_literal_loop_walk(caps):
    # GEMM 8x8x8 on a 2x2 OS array, 1-byte operands and partial sums, no conv halo: the
    # closed-form reuse count must equal walking the chosen loop nest tile by tile.
    cap_a, cap_b, cap_c = caps
    p = TilingProblem(m=8, k=8, n=8, rows=2, cols=2, dataflow="os", a_unique_bytes=64,
                      b_elem_bytes=1, out_elem_bytes=1, acc_elem_bytes=1, a_in_dram=True,
                      b_in_dram=True, c_to_dram=True, cap_a=cap_a, cap_b=cap_b, cap_c=cap_c,
                      allow_psum_spill=True, conv_rows=8)
    t = least_traffic(p)
    assert t.fits
    # each operand is 8 x 8 x 1 B = 64 B; a buffer of >= 64 B holds all of it
    whole = frozenset(x for x, cap in zip("abc", caps) if cap >= 64)
    walk = _literal_traffic(t, 8, 8, 8, whole)
    assert t.a_dram == walk["a"]
    assert t.b_dram == walk["b"]
    assert t.c_dram_write == walk["c_write"]
    assert t.c_dram_read == walk["c_read"]
    # compulsory traffic is 3 x 64 B; with everything fitting it is reached
    if cap_a >= 64 and cap_b >= 64:
        assert t.dram_bytes == 192
    assert t.dram_bytes >= 192


def test_tiny_buffers_force_refetch():
    # 4-byte buffers: a tile holds at most 4 elements of each operand, so the 8x8x8 GEMM
    # cannot move every operand only once (that needs a whole 8-row panel resident)
    p = TilingProblem(m=8, k=8, n=8, rows=2, cols=2, dataflow="os", a_unique_bytes=64,
                      b_elem_bytes=1, out_elem_bytes=1, acc_elem_bytes=1, a_in_dram=True,
                      b_in_dram=True, c_to_dram=True, cap_a=4, cap_b=4, cap_c=4,
                      allow_psum_spill=True, conv_rows=8)
    t = least_traffic(p)
    assert t.fits and t.dram_bytes > 192


def test_dram_bound_layer_stalls_for_bandwidth():
    # FC 1024 -> 1024 at batch 1 on split 4x4, 1 GB/s at 1 GHz = 1 B/cycle: 1 MiB of weights
    # take >= 1,048,576 cycles; compute (OS: Sr=1, Sc=1024 -> 256 folds of 1024+6) = 263,935
    wl = one_layer({"name": "fc", "type": "linear", "input": [1024], "out_features": 1024})
    r = simulate(split_arch(bw=1.0), wl).layers[0]
    assert r.compute_cycles == 256 * (1024 + 6) - 1
    assert r.cycles >= 1024 * 1024 + 1024 + 1024
    # the layer's own traffic (1 MiB weights + 1 KiB in + 1 KiB out = 1,050,624 B) forces
    # 1,050,624 cycles: everything beyond compute up to that floor is a DRAM stall; only what
    # the tile pipeline adds beyond the floor may have another cause
    floor = r.dram_bytes
    assert floor == 1024 * 1024 + 1024 + 1024
    assert r.stall_breakdown_cycles["dram_bandwidth"] >= floor - r.compute_cycles
    assert r.cycles <= floor * 1.001
    assert r.bound == "memory"


def test_vector_layers_cost_cycles_and_traffic():
    # maxpool 2x2 s2 on 4x8x8: 4*4*4 = 64 outputs x 4 compares = 256 ops; vector rate = cols = 4
    wl = workload_from_dict({"name": "p", "layers": [
        {"name": "pool", "type": "maxpool", "input": [4, 8, 8], "kernel": 2}]})
    r = simulate(split_arch(), wl).layers[0]
    assert r.compute_cycles == 64
    # split SRAMs: read 256 B, write 64 B through DRAM; 320 B at 10 B/cycle = 32 < 64 cycles
    assert (r.dram_read_bytes, r.dram_write_bytes) == (256, 64)
    assert r.cycles == 64
    assert r.energy_breakdown_pj["vector"] > 0


# ---- energy ---------------------------------------------------------------------------------
def test_energy_components_add_up_and_use_the_table():
    wl = one_layer({"name": "c", "type": "conv", "input": [8, 5, 5], "out_channels": 6,
                    "kernel": 1})
    arch = split_arch()
    r = simulate(arch, wl).layers[0]
    table = load_energy_table()
    macs = 25 * 8 * 6
    # MAC: int8 mult 0.2 + int32 add 0.1 pJ (Horowitz ISSCC 2014)
    assert r.energy_breakdown_pj["mac"] == pytest.approx(macs * 0.3)
    # registers: 8 + 8 + 32 bits per MAC at 1 pJ / 32 bits
    assert r.energy_breakdown_pj["register"] == pytest.approx(macs * 48 / 32)
    # DRAM: 398 B x 8 bits x 20 pJ/bit
    assert r.energy_breakdown_pj["dram"] == pytest.approx(398 * 8 * 20.0)
    assert set(r.energy_breakdown_pj) >= {"sram:ifmap_sram", "sram:filter_sram", "sram:ofmap_sram"}
    movement = r.energy_pj - r.energy_breakdown_pj["mac"]
    assert sum(r.energy_by_operand_pj.values()) == pytest.approx(movement)
    # 1 MiB SRAM: 100 pJ per 64-bit access = 12.5 pJ/byte
    per_byte = table.sram_pj_per_byte(1 << 20)
    assert per_byte == pytest.approx(12.5)
    assert r.energy_breakdown_pj["sram:filter_sram"] == pytest.approx(
        per_byte * r.sram_bytes_by_operand["filter"])


def test_engine_fields_present():
    wl = workload_from_dict({"name": "n", "layers": [
        {"name": "c", "type": "conv", "input": [3, 16, 16], "out_channels": 8, "kernel": 3,
         "padding": 1, "activation": "relu"},
        {"name": "p", "type": "maxpool", "kernel": 2},
        {"name": "fc", "type": "linear", "out_features": 10}]})
    r = simulate(split_arch(dataflow="ws"), wl)
    for l in r.layers:
        assert {"dataflow", "folds", "mapping_efficiency"} <= set(l.engine_fields())
    mapping = r.layers[0].engine_fields()["mapping"]
    assert mapping["loop_order"] in ("mkn", "mnk", "kmn", "knm", "nmk", "nkm")
    assert {"dataflow", "tile_m", "tile_k", "tile_n", "sub_batch", "objective"} <= set(mapping)


def test_batch1_fc_on_os_array_is_dram_bound_not_fill_drain_bound():
    # AlexNet FC6 (9216 -> 4096, int8, batch 1) on SCALE-Sim's default 32x32 OS array with
    # 64 KiB SRAMs (32 KiB per double-buffered half) and 10 B/cycle of DRAM.
    # The 9,216 B input fits its buffer whole, so it is fetched once whatever the loop order,
    # and the 37,748,736 B of weights stream once: DRAM time = (9216 + 37,748,736 + 4096) / 10
    # = 3,776,205 cycles. Compute (SCALE-Sim OS): folds = ceil(1/32) * ceil(4096/32) = 128,
    # per fold 9216 + 32 + 32 - 2 = 9278 -> 1,187,583 cycles, which hides under the transfers.
    # (A traffic-only tiler that kept the input "resident" by splitting K into 8-deep tiles
    # paid a fold's fill/drain 128 x 1151 times: 10.3 M cycles.)
    arch = split_arch(rows=32, cols=32, dataflow="os", sram=65536, bw=10.0)
    r = simulate(arch, one_layer({"name": "fc6", "type": "linear", "input": [9216],
                                  "out_features": 4096, "bias": False})).layers[0]
    assert r.dram_bytes == 9216 + 37_748_736 + 4096
    assert r.compute_cycles == 1_187_583
    assert 3_776_205 <= r.cycles <= 3_776_205 * 1.01


def test_unified_buffer_runs_a_batch_that_spills_in_sub_batches():
    # Two 3x3 convs 16 -> 16 channels on 16x16, int8: each activation is 16*16*16 = 4 KiB per
    # image. c2's output is the network's and streams to DRAM as it is produced; c1's output
    # (4 KiB x batch) is read by c2 and stays in the unified buffer while it fits. A 12 KiB
    # buffer holds it at batch 2 (8 KiB) but not at batch 4 (16 KiB), when c1's output spills
    # to DRAM (written, then read back). Two sub-batches of 2 keep it
    # on chip and re-stream the 2 x 2,304 B of weights once more: fewer bytes, so the engine
    # runs 2 sub-batches of 2 (4 of 1 would re-stream the weights 3 more times), and every
    # layer reports exactly twice the batch-2 figures.
    arch = unified_arch(rows=4, cols=4, ub=12 * 1024, acc=1 << 16)
    net = {"name": "w", "layers": [
        {"name": "c1", "type": "conv", "input": [16, 16, 16], "out_channels": 16, "kernel": 3,
         "padding": 1},
        {"name": "c2", "type": "conv", "out_channels": 16, "kernel": 3, "padding": 1}]}
    four = simulate(arch, workload_from_dict({**net, "batch": 4}))
    two = simulate(arch, workload_from_dict({**net, "batch": 2}))
    for a, b in zip(four.layers, two.layers):
        assert a.engine_fields()["sub_batches"] == 2
        assert a.cycles == 2 * b.cycles and a.dram_bytes == 2 * b.dram_bytes
    # input 4 x 4 KiB read once, 2 x 2,304 B of weights per sub-batch, output 16 KiB written
    assert four.totals.dram_read_bytes + four.totals.dram_write_bytes == \
        16384 + 2 * 2 * 2304 + 16384
    whole = SystolicEngine(arch).run_whole_batch(workload_from_dict({**net, "batch": 4}),
                                                 RunOptions(precision=arch.precision)).layers
    assert sum(r.dram_bytes for r in whole) > four.totals.dram_read_bytes + \
        four.totals.dram_write_bytes
    assert whole[0].engine_fields()["activations_out"] == "dram"
