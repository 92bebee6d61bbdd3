"""Whole-network behaviour of the tensor-core engine on the bundled workloads.

Figures quoted in comments are the model's (python benchmarks/bench_tensorcore.py prints them);
the assertions check orderings and hand-derived byte counts, not the figures themselves.
"""

from __future__ import annotations

from functools import lru_cache

from simulator.api import simulate
from simulator.io.load import load_arch, load_workload

STREAM = ["compiler.weight_residency=stream"]


@lru_cache(maxsize=None)
def _run(arch: str, name: str, sets: tuple[str, ...] = (), batch: int = 1):
    return simulate(load_arch(arch, list(sets)), load_workload(name, batch=batch))


def _dram(result) -> int:
    return result.totals.dram_read_bytes + result.totals.dram_write_bytes


def test_fusion_saves_sram_dram_traffic_and_time_on_resnet50():
    on = _run("bpu", "resnet50").totals
    off = _run("bpu", "resnet50", ("compiler.fusion=false",)).totals
    # unfused, every conv output goes through the SRAM once more for its relu / add pass, and
    # the larger live set leaves less room next to the resident weights
    assert off.sram_read_bytes + off.sram_write_bytes > 1.2 * (on.sram_read_bytes + on.sram_write_bytes)
    assert off.dram_read_bytes + off.dram_write_bytes > on.dram_read_bytes + on.dram_write_bytes
    assert off.cycles > on.cycles


def test_mobilenet_orderings_in_steady_state_with_resident_weights():
    # bpu defaults (weight_residency: resident, 8 MiB shared SRAM, batch 1). Steady-state video:
    # all weights of both networks fit next to their activations, so they are loaded once with
    # the model and a frame moves only the image in and the logits out.
    v2 = _run("bpu", "mobilenet_v2")
    v3_hard = _run("bpu", "mobilenet_v3_large")
    v3_soft = _run("bpu_no_hswish", "mobilenet_v3_large")
    # Everything resident: preload = the int8 weights (V2 3,469,760 B, V3-Large 5,451,272 B,
    # the bundled workloads' weight_params x 1 B), so per frame DRAM = input 3x224x224 =
    # 150,528 B (plus conv1 halo re-reads) + 1,000 B of logits, far below the weights.
    for r, wl in ((v2, "mobilenet_v2"), (v3_hard, "mobilenet_v3_large")):
        params = sum(l.weight_params for l in load_workload(wl).layers)
        assert r.totals.engine_totals["weight_preload_bytes"] == params
        assert r.totals.dram_write_bytes == 1000
        assert 150_528 <= r.totals.dram_read_bytes < 200_000
    # Measured: V2 298,141 cycles; V3-Large hard-wired 295,704 (0.8 % faster: 28 % fewer MACs,
    # but its narrow 16/24/40-channel layers fill a 32x32 array worse, so its closed-form
    # compute is only 14 % lower, and per-frame weight routing SRAM -> cores is bridge-bound in
    # both); V3-Large without hardswish / SE hard-wired 532,949 (247 k cycles on the vector
    # unit and its SRAM round trips).
    assert v3_hard.totals.cycles < v2.totals.cycles < v3_soft.totals.cycles


def test_mobilenet_streaming_every_frame_favours_v2():
    # weight_residency: stream (cold start, or SRAM time-shared between models): each frame
    # reloads every weight from a 12.8 GB/s DRAM. V3-Large moves 5.6 MB per frame to V2's
    # 3.6 MB (5.45 MB vs 3.47 MB of weights) and is slower even hard-wired (753,539 vs 571,188
    # cycles), so the published ordering needs resident weights (or batching).
    v2 = _run("bpu", "mobilenet_v2", tuple(STREAM))
    v3_hard = _run("bpu", "mobilenet_v3_large", tuple(STREAM))
    v3_soft = _run("bpu_no_hswish", "mobilenet_v3_large", tuple(STREAM))
    assert _dram(v3_hard) > 1.4 * _dram(v2)
    assert v2.totals.cycles < v3_hard.totals.cycles < v3_soft.totals.cycles
    assert v3_hard.totals.engine_totals["weight_preload_bytes"] == 0


def test_resnet50_weights_only_partly_resident():
    # 25,502,912 B of int8 weights; the resident region is at most size - staging =
    # 8,388,608 - 262,144 = 8,126,464 B, shared with the activations, so at least
    # 25,502,912 - 8,126,464 = 17,376,448 B still stream every frame.
    res = _run("bpu", "resnet50")
    stream = _run("bpu", "resnet50", tuple(STREAM))
    preload = res.totals.engine_totals["weight_preload_bytes"]
    assert 0 < preload <= 8_126_464
    assert res.totals.dram_read_bytes >= 25_502_912 - preload
    # A resident layer loads no weights per frame; a streamed one loads exactly what it loads
    # in stream mode (tiling does not depend on residency). Activations may spill more (less
    # SRAM left to them), but only where the weight bytes saved are larger.
    saved_filter = spill_ifmap_ofmap = 0
    for r_layer, s_layer in zip(res.layers, stream.layers):
        s_filter = s_layer.dram_bytes_by_operand.get("filter", 0)
        r_filter = r_layer.dram_bytes_by_operand.get("filter", 0)
        if getattr(r_layer, "weights_resident", False):
            assert r_filter == 0 and s_filter >= r_layer.weight_preload_bytes
            saved_filter += s_filter
        else:
            assert r_filter == s_filter
        spill_ifmap_ofmap += r_layer.dram_bytes - r_filter - (s_layer.dram_bytes - s_filter)
    assert saved_filter > spill_ifmap_ofmap
    assert _dram(res) == _dram(stream) - saved_filter + spill_ifmap_ofmap
    assert res.totals.cycles < stream.totals.cycles
