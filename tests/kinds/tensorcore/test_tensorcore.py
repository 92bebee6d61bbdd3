"""Tensor-core engine (BPU style): hand-derived cycles, fusion, fallback ops, trace export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from helpers.archs import ideal_arch

from simulator.api import simulate
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import compile_program
from simulator.kinds.tensorcore.schedule import (
    schedule_reference,
    simulate_ops,
    simulate_ops_simpy,
)

INF = float("inf")


def net(*layers, input=(64, 28, 28), batch=1):
    return workload_from_dict({"name": "t", "input": list(input), "batch": batch,
                               "layers": list(layers)})


# ---- degenerate case: the event simulation reproduces the closed form exactly ---------------
# Dense conv on a 32x32 array (rows: reduction K = R*S*C, cols: output channels N, one output
# pixel per cycle): cycles = M * ceil(K/32) * ceil(N/32), M = Ho*Wo.
#   3x3, 64 -> 96 on 28x28, pad 1: M = 784, K = 576 -> 18 folds, N = 96 -> 3: 784*18*3 = 42336
#   1x1, 64 -> 40:                 M = 784, K = 64 -> 2, N = 40 -> 2:           784*2*2 = 3136
#   7x7 s2, 3 -> 64 on 224x224:    M = 112*112 = 12544, K = 147 -> 5, N = 2:  12544*5*2 = 125440
# Depthwise (rows: output pixels, cols: channels, taps in time): ceil(M/32)*ceil(C/32)*R*S
#   3x3 dw, 64 ch, 28x28, pad 1:   ceil(784/32) = 25, 2 channel folds, 9 taps: 25*2*9 = 450
# Grouped 3x3, 64 -> 64, 4 groups: per group K = 9*16 = 144 -> 5, N = 16 -> 1: 4*784*5 = 15680
# Linear 2048 -> 1000, batch 1:    M = 1, K = 2048 -> 64, N = 1000 -> 32:     1*64*32 = 2048
@pytest.mark.parametrize("layer,input,expected", [
    ({"type": "conv", "out_channels": 96, "kernel": 3, "padding": 1}, (64, 28, 28), 42336),
    ({"type": "conv", "out_channels": 40, "kernel": 1}, (64, 28, 28), 3136),
    ({"type": "conv", "out_channels": 64, "kernel": 7, "stride": 2, "padding": 3}, (3, 224, 224), 125440),
    ({"type": "conv", "out_channels": 64, "kernel": 3, "padding": 1, "groups": 64}, (64, 28, 28), 450),
    ({"type": "conv", "out_channels": 64, "kernel": 3, "padding": 1, "groups": 4}, (64, 28, 28), 15680),
    ({"type": "linear", "out_features": 1000}, (2048,), 2048),
])
def test_degenerate_case_gives_analytic_compute_cycles(layer, input, expected):
    wl = net({"name": "l", **layer}, input=input)
    result = simulate(ideal_arch(), wl)
    (l,) = result.layers
    assert l.analytic_compute_cycles_one_core == expected
    assert l.cycles == expected
    assert l.compute_cycles == expected and l.stall_cycles == 0


def test_degenerate_case_holds_with_small_buffers_that_force_k_splitting():
    # 3x3, 256 -> 64 on 14x14: K = 2304 -> 72 folds, N = 64 -> 2, M = 196: 196*72*2 = 28224.
    # A 32 KiB weight buffer (16 KiB halves) cannot hold 32 channels x 2304 taps: K is split
    # into chunks of a multiple of 32 channels (32*9 = 288 = 9 folds), which must add up.
    wl = net({"name": "l", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1},
             input=(256, 14, 14))
    result = simulate(ideal_arch(weight_buffer_bytes=32768), wl)
    assert result.layers[0].cycles == 28224


@pytest.mark.parametrize("placement", ["split", "pipeline"])
def test_the_scheduler_matches_the_simpy_event_simulation(placement):
    # the engine evaluates the max-plus recurrence in one pass; simpy processes (one per op,
    # waiting on events) must give every op the same times and the same binding predecessor
    arch = load_arch("bpu", [f"compiler.placement={placement}"])
    wl = net({"name": "c1", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1},
             {"name": "c2", "type": "conv", "out_channels": 128, "kernel": 3, "stride": 2,
              "padding": 1, "activation": "relu"},
             {"name": "p", "type": "maxpool", "kernel": 2},
             {"name": "s", "type": "activation", "function": "swish"})
    ops = compile_program(arch, arch.precision, wl).ops
    timing = simulate_ops(ops)
    events = simulate_ops_simpy(ops)
    reference = schedule_reference(ops)
    for i, t in timing.items():
        e = events[i]
        assert (t.ready, t.start, t.release, t.done) == (e.ready, e.start, e.release, e.done)
        assert (t.binding, t.via) == (e.binding, e.via)
        assert (t.start, t.done) == reference[i]


# ---- contention, splitting and placement ----------------------------------------------------
def test_two_cores_split_output_channels_or_rows_and_multicast_the_shared_operand():
    # 1x1, 64 -> 128 on 28x28 with unbounded bandwidth, pinned to a split by channels: each
    # core takes 64 channels: 784 * 2 * 2 = 3136 cycles (half of the one-core 6272); the input
    # tiles are multicast, so the SRAM reads the input once although both cores receive it.
    wl = net({"name": "l", "type": "conv", "out_channels": 128, "kernel": 1})
    (l,) = simulate(ideal_arch(cores=2), wl, mapping={"l": {"split": "channels"}}).layers
    assert l.cycles == 3136 and l.mapping["split"] == "channels"
    assert l.multicast_saved_sram_read_bytes == 64 * 28 * 28
    # split by rows: 392 pixels each, all 128 channels: 392 * 2 * 4 = 3136 cycles too; now
    # the weights (64 x 128 = 8,192 B) are the multicast operand
    (r,) = simulate(ideal_arch(cores=2), wl, mapping={"l": {"split": "rows"}}).layers
    assert r.cycles == 3136 and r.mapping["split"] == "rows"
    assert r.multicast_saved_sram_read_bytes == 64 * 128


def test_dram_bound_layer_is_charged_to_dram():
    # FC 4096 -> 4096: 16 MiB of int8 weights at 12.8 GB/s dwarf 32x32x2 MACs of compute.
    wl = net({"name": "fc", "type": "linear", "out_features": 4096}, input=(4096,))
    (l,) = simulate(load_arch("bpu"), wl).layers
    weights = 4096 * 4096
    assert l.dram_read_bytes >= weights
    assert l.cycles >= weights / load_arch("bpu").dram_bytes_per_cycle
    assert max(l.stall_breakdown_cycles, key=l.stall_breakdown_cycles.get) == "dram"


def test_pipeline_placement_charges_what_each_layer_occupies_and_reports_the_span():
    layers = [{"name": f"c{i}", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1,
               "activation": "relu"} for i in range(4)]
    wl = net(*layers, input=(64, 56, 56))
    split = simulate(load_arch("bpu"), wl)
    pipe = simulate(load_arch("bpu", ["compiler.placement=pipeline"]), wl)
    # split placement: a barrier between layers, so they do not overlap and their cycles sum
    # to the run's span
    assert split.totals.overlap_cycles == 0
    assert split.totals.cycles == sum(l.cycles for l in split.layers)
    # pipeline placement: consecutive layers on different cores overlap by rows. Each layer
    # is charged the cycles it occupies (the union of its ops' [start, done] intervals), so
    # no layer beats its own compute or DRAM time and utilization stays <= 1 ...
    bpc = load_arch("bpu").dram_bytes_per_cycle
    for l in pipe.layers:
        own = max(l.busy_cycles.get("core0", 0), l.busy_cycles.get("core1", 0))
        assert own <= l.cycles <= l.finish_cycle - l.start_cycle
        assert l.cycles >= (l.dram_read_bytes + l.dram_write_bytes) / bpc - 1
        assert 0 < l.utilization <= 1
    # ... their sum exceeds the run's span by the overlap, and the run ends with its last op
    assert pipe.totals.overlap_cycles > 0
    assert pipe.totals.cycles == sum(l.cycles for l in pipe.layers) - pipe.totals.overlap_cycles
    assert pipe.totals.cycles == max(l.finish_cycle for l in pipe.layers)
    assert any(b.start_cycle < a.finish_cycle for a, b in zip(pipe.layers, pipe.layers[1:]))


# ---- fusion and fallback ---------------------------------------------------------------------
def test_fusion_keeps_conv_relu_pool_in_the_core():
    wl = net({"name": "c", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1},
             {"name": "r", "type": "activation", "function": "relu"},
             {"name": "p", "type": "maxpool", "kernel": 2}, input=(64, 56, 56))
    fused = simulate(load_arch("bpu"), wl)
    unfused = simulate(load_arch("bpu", ["compiler.fusion=false"]), wl)
    assert fused.layers[1].fused_into == "c" and fused.layers[2].fused_into == "c"
    assert fused.layers[1].cycles == 0
    # fused: the output routed back is the pooled map only (64*28*28); unfused the conv and
    # relu outputs (64*56*56 each) go to SRAM and come back once more each
    # (within rounding: tiles move whole bytes, fractional shares are rounded up)
    assert unfused.totals.sram_write_bytes - fused.totals.sram_write_bytes == pytest.approx(
        64 * 56 * 56 * 2, abs=64)
    assert unfused.totals.sram_read_bytes - fused.totals.sram_read_bytes == pytest.approx(
        64 * 56 * 56 * 2, abs=64)
    assert fused.totals.cycles < unfused.totals.cycles


def test_unsupported_activation_runs_on_the_vector_unit_with_a_round_trip():
    wl = net({"name": "c", "type": "conv", "out_channels": 64, "kernel": 1,
              "activation": "hardswish"}, input=(64, 56, 56))
    hard = simulate(load_arch("bpu"), wl).layers[0]
    soft = simulate(load_arch("bpu_no_hswish"), wl).layers[0]
    assert "vector" not in hard.energy_breakdown_pj
    # 64*56*56 = 200704 elements x 5 ops (hardswish) / 32 ops per cycle = 31360 vector cycles
    assert soft.busy_cycles["vector"] == 31360
    assert soft.stall_breakdown_cycles.get("vector_unit", 0) > 0
    # the map goes to SRAM, out to the vector unit, back to SRAM: 2 extra writes of 200704 B
    assert soft.sram_write_bytes == pytest.approx(hard.sram_write_bytes + 200704, abs=64)
    assert soft.cycles > hard.cycles
    assert soft.energy_breakdown_pj["vector"] > 0


def test_a_hard_wired_relu_is_free_on_a_depthwise_layer_as_on_any_other():
    # depthwise 3x3 on 192 x 28 x 28 (MobileNetV2's b5_dw): the array drains 32 x 32 outputs
    # every 9 cycles, faster than the 32-lane element path could take them; a hard-wired
    # ReLU6 is applied as results drain, so it adds no cycles (it used to be charged on the
    # element path: 2,781 -> 3,613 cycles) but one element op's energy per output
    dw = {"name": "dw", "type": "conv", "out_channels": 192, "kernel": 3, "padding": 1,
          "groups": 192}
    plain = simulate(load_arch("bpu"), net(dw, input=(192, 28, 28))).layers[0]
    relu6 = simulate(load_arch("bpu"), net(dict(dw, activation="relu6"),
                                            input=(192, 28, 28))).layers[0]
    assert relu6.cycles == plain.cycles
    assert "core_vector" not in plain.energy_breakdown_pj
    assert relu6.energy_breakdown_pj["core_vector"] > 0


def test_swish_and_softmax_cost_their_vector_work():
    # swish is hard-wired nowhere on bpu: the conv writes its pre-activation map and the vector
    # unit applies x * sigmoid(x) at 8 element ops per element (core/activations.py):
    # 64 x 56 x 56 = 200,704 elements x 8 / 32 ops per cycle = 50,176 cycles
    conv = {"name": "c", "type": "conv", "out_channels": 64, "kernel": 1}
    relu = simulate(load_arch("bpu"), net(dict(conv, activation="relu"), input=(64, 56, 56)))
    swish = simulate(load_arch("bpu"), net(dict(conv, activation="swish"), input=(64, 56, 56)))
    (r,), (sw,) = relu.layers, swish.layers
    assert sw.busy_cycles["vector"] == 50_176
    assert sw.stall_breakdown_cycles.get("vector_unit", 0) > 0
    assert sw.cycles > r.cycles + 50_176 / 2 and sw.energy_pj > r.energy_pj
    assert sw.energy_breakdown_pj["vector"] > 0
    # softmax is a two-pass reduction: the vector unit reads each row twice (statistics, then
    # normalisation); 8 ops per element: 16,384 scores x 8 / 32 = 4,096 cycles
    wl = net({"name": "fc", "type": "linear", "out_features": 128, "tokens": 128,
              "in_features": 64},
             {"name": "sm", "type": "activation", "function": "softmax"}, input=(128, 64))
    sm = simulate(load_arch("bpu"), wl).layers[1]
    assert sm.busy_cycles["vector"] == pytest.approx(4_096, abs=2)
    assert sm.sram_bytes_by_operand["input"] == 2 * 128 * 128


def test_host_fallback_goes_through_dram():
    wl = net({"name": "c", "type": "conv", "out_channels": 64, "kernel": 1,
              "activation": "hardswish"}, input=(64, 56, 56))
    bridge = simulate(load_arch("bpu_no_hswish"), wl).layers[0]
    host = simulate(load_arch("bpu_no_hswish", ["vector_unit.location=host"]), wl).layers[0]
    assert host.dram_read_bytes > bridge.dram_read_bytes + 200704 - 1


def test_unknown_op_in_arch_is_a_one_line_error():
    with pytest.raises(NpusimError, match="hardwired_ops"):
        load_arch("bpu", ["core.hardwired_ops=[conv, hardswsh]"])
    with pytest.raises(NpusimError, match="placement"):
        load_arch("bpu", ["compiler.placement=diagonal"])


# ---- trace export ----------------------------------------------------------------------------
def test_trace_file_is_valid_chrome_trace_json(tmp_path):
    wl_file = tmp_path / "w.yaml"
    wl_file.write_text("name: t\ninput: [32, 28, 28]\nlayers:\n"
                       "  - {name: c, type: conv, out_channels: 64, kernel: 3, padding: 1, activation: relu}\n"
                       "  - {name: p, type: maxpool, kernel: 2}\n")
    out = tmp_path / "trace.json"
    proc = subprocess.run([sys.executable, "-m", "simulator", "run", "bpu", str(wl_file),
                           "--trace", str(out), "-q"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    events = data["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {"core0", "core1", "dram", "port0"} <= names
    spans = [e for e in events if e["ph"] == "X"]
    assert spans and all(e["dur"] >= 0 and e["ts"] >= 0 and isinstance(e["tid"], int) for e in spans)
    tids = {e["tid"] for e in events if e["ph"] == "M" and e["name"] == "thread_name"}
    assert {e["tid"] for e in spans} <= tids


# ---- weight residency: the SRAM trade-off between resident weights and activations -----------
def test_weight_residency_trades_sram_between_weights_and_activations():
    # conv a: 3 -> 64, 3x3 on 112x112: weights 3*64*9 = 1,728 B; output 64*112*112 = 802,816 B
    # conv b: 64 -> 64, 1x1: weights 4,096 B; its output is the network output (DRAM).
    # SRAM = staging 262,144 + 802,816 + 2,000: room for a's output plus 2,000 B.
    wl = net({"name": "a", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1},
             {"name": "b", "type": "conv", "out_channels": 64, "kernel": 1}, input=(3, 112, 112))

    def run(residency: str, sram_bytes: int):
        return simulate(load_arch("bpu", [f"compiler.weight_residency={residency}",
                                          f"sram.size_bytes={sram_bytes}"]), wl)

    tight = 262_144 + 802_816 + 2_000
    stream, res = run("stream", tight), run("resident", tight)
    # Both weights save their own size per frame (each fits the staging area: loaded once), so
    # the greedy goes in layer order: a's 1,728 B leave 802,816 + 272 B, a's output still fits
    # -> admitted; b's 4,096 B would push a's output (802,816 B stored + read back) to DRAM,
    # costing more than the 4,096 B saved -> b keeps streaming.
    a, b = res.layers
    assert res.totals.engine_totals["weight_preload_bytes"] == 1_728
    assert getattr(a, "weights_resident", False) and not getattr(b, "weights_resident", False)
    assert b.dram_bytes_by_operand["filter"] == 4_096
    assert res.totals.dram_write_bytes == stream.totals.dram_write_bytes == 802_816  # b's output only
    assert res.totals.dram_read_bytes == stream.totals.dram_read_bytes - 1_728
    # the one-time preload is reported apart from the frame: 1,728 B at 12.8 GB/s / 1.2 GHz
    # = 10.67 B/cycle -> ceil(162) cycles, not part of the frame's cycles
    assert res.totals.engine_totals["weight_preload_cycles"] == 162
    # with 2 MiB both fit next to a's output: 1,728 + 4,096 = 5,824 B resident
    roomy = run("resident", 2 * 1024 * 1024)
    assert roomy.totals.engine_totals["weight_preload_bytes"] == 5_824
    assert roomy.totals.dram_read_bytes == stream.totals.dram_read_bytes - 5_824
