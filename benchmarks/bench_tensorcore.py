"""Speed and headline figures of the tensor-core engine (run: python benchmarks/bench_tensorcore.py).

Prints the wall time of simulating each bundled network on `bpu` (the issue asks for ResNet-50
in under 10 s), the number of simulated ops (events), and the figures docs/models/tensorcore.md
quotes: fusion on/off on ResNet-50, the MobileNetV2 / V3-Large orderings in both weight-residency
modes, ResNet-50's partial residency and the sensitivity of these to the shared SRAM size.
Last, the time of the weight-residency planner on generated networks of 1k to 10k layers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload
from simulator.kinds.tensorcore.compiler import Compiler


def timed(arch, workload):
    start = time.perf_counter()
    result = simulate(arch, workload)
    return result, time.perf_counter() - start


def main() -> None:
    print("== speed (bpu, split placement, fusion on) ==")
    for name in ("resnet50", "mobilenet_v2", "mobilenet_v3_large"):
        wl = load_workload(name)
        arch = load_arch("bpu")
        result, seconds = timed(arch, wl)
        ops = Compiler(arch, wl.precision or arch.precision, wl).compile()
        print(f"{name:20s} {seconds:6.2f} s wall  {len(ops):6d} ops  "
              f"{result.totals.cycles:>10,d} cycles  {result.totals.latency_s * 1e3:7.3f} ms  "
              f"utilization {result.totals.utilization:.3f}")
    for placement in ("pipeline",):
        result, seconds = timed(load_arch("bpu", [f"compiler.placement={placement}"]), "resnet50")
        print(f"resnet50 ({placement})  {seconds:6.2f} s wall  {result.totals.cycles:>10,d} cycles")

    print("\n== fusion on vs off, ResNet-50 on bpu ==")
    rows = {}
    for fusion in ("true", "false"):
        r, _ = timed(load_arch("bpu", [f"compiler.fusion={fusion}"]), "resnet50")
        t = r.totals
        rows[fusion] = t
        bridge = sum(l.bridge_bytes for l in r.layers)
        print(f"fusion={fusion:5s} cycles {t.cycles:>10,d}  SRAM r+w {(t.sram_read_bytes + t.sram_write_bytes) / 1e6:8.2f} MB  "
              f"DRAM r+w {(t.dram_read_bytes + t.dram_write_bytes) / 1e6:7.2f} MB  bridge {bridge / 1e6:8.2f} MB  "
              f"energy {t.energy_pj / 1e6:8.1f} uJ")
    on, off = rows["true"], rows["false"]
    print(f"fusion saves {(off.sram_read_bytes + off.sram_write_bytes - on.sram_read_bytes - on.sram_write_bytes) / 1e6:.2f} MB SRAM, "
          f"{(off.dram_read_bytes + off.dram_write_bytes - on.dram_read_bytes - on.dram_write_bytes) / 1e6:.2f} MB DRAM, "
          f"{(off.cycles - on.cycles) / off.cycles:.1%} of the cycles")

    print("\n== weight residency, batch 1 (cycles and DRAM bytes per frame) ==")
    for arch_name in ("bpu", "bpu_no_hswish"):
        for residency in ("resident", "stream"):
            sets = [f"compiler.weight_residency={residency}"]
            cyc = {}
            for name in ("mobilenet_v2", "mobilenet_v3_large") + (("resnet50",) if arch_name == "bpu" else ()):
                r, _ = timed(load_arch(arch_name, sets), name)
                t = r.totals
                cyc[name] = t.cycles
                vec = t.stall_breakdown_cycles.get("vector_unit", 0)
                print(f"{arch_name:14s} {residency:9s} {name:19s} {t.cycles:>10,d} cycles "
                      f"{t.latency_s * 1e3:6.3f} ms  DRAM {(t.dram_read_bytes + t.dram_write_bytes) / 1e6:6.2f} MB/frame "
                      f"(weights {t.dram_bytes_by_operand.get('filter', 0) / 1e6:6.2f})  "
                      f"preload {t.engine_totals['weight_preload_bytes'] / 1e6:5.2f} MB  "
                      f"activation SRAM {t.engine_totals['activation_sram_budget_bytes'] / 2**20:4.2f} MiB  "
                      f"vector-unit stall {vec:>8,d}  energy {t.energy_pj / 1e6:7.1f} uJ")
            faster = "V3" if cyc["mobilenet_v3_large"] < cyc["mobilenet_v2"] else "V2"
            print(f"  -> {faster} is faster")

    print("\n== sensitivity to the shared SRAM size (bpu, resident, batch 1; cycles) ==")
    for mib in (2, 4, 6, 8, 16):
        sets = [f"sram.size_bytes={mib * 2**20}"]
        row = []
        for arch_name, name in (("bpu", "mobilenet_v2"), ("bpu", "mobilenet_v3_large"),
                                ("bpu_no_hswish", "mobilenet_v3_large"), ("bpu", "resnet50")):
            r, _ = timed(load_arch(arch_name, sets), name)
            row.append(f"{arch_name}/{name} {r.totals.cycles:>9,d} "
                       f"(preload {r.totals.engine_totals['weight_preload_bytes'] / 1e6:4.1f} MB)")
        print(f"{mib:2d} MiB  " + "  ".join(row))

    print("\n== batch 4, 64-bit LPDDR4 (25.6 GB/s), stream (cycles per image) ==")
    for arch_name in ("bpu", "bpu_no_hswish"):
        cyc = {}
        for name in ("mobilenet_v2", "mobilenet_v3_large"):
            r, _ = timed(load_arch(arch_name, ["dram.bandwidth_gbps=25.6", "compiler.weight_residency=stream"]),
                         load_workload(name, batch=4))
            cyc[name] = r.totals.cycles / 4
            print(f"{arch_name:14s} {name:19s} {cyc[name]:>10,.0f} cycles/image")
        print(f"  -> {'V3' if cyc['mobilenet_v3_large'] < cyc['mobilenet_v2'] else 'V2'} is faster")

    print("\n== every bundled workload on bpu at its own batch (resident) ==")
    for name in ("alexnet", "vgg16", "googlenet", "resnet50", "mobilenet_v2",
                 "mobilenet_v3_large", "squeezenet", "tpu_mlp0", "lstm_lm", "eie_benchmarks"):
        wl = load_workload(name)
        r, seconds = timed(load_arch("bpu"), wl)
        t = r.totals
        print(f"{name:19s} batch {wl.batch:3d}  {seconds:5.2f} s wall  {t.cycles:>12,d} cycles  "
              f"{t.latency_s * 1e3:8.3f} ms  utilization {t.utilization:.3f}  "
              f"DRAM {(t.dram_read_bytes + t.dram_write_bytes) / 1e6:7.2f} MB  "
              f"preload {t.engine_totals['weight_preload_bytes'] / 1e6:5.2f} MB  "
              f"energy {t.energy_pj / 1e6:8.1f} uJ")

    residency_planning_speed()


def _chain(n: int):
    """n convs on 28x28, alternating 1x1 and 3x3, 64 or 128 channels: activations of the
    same size everywhere."""
    layers = [{"name": f"c{i}", "type": "conv", "out_channels": 128 if i % 3 == 0 else 64,
               "kernel": 3 if i % 2 else 1, "padding": 1 if i % 2 else 0, "activation": "relu"}
              for i in range(n)]
    return workload_from_dict({"name": f"chain{n}", "input": [64, 28, 28], "layers": layers})


def _late_peak(n: int):
    """n 1x1 convs of 16-160 channels on 8x8 (every weight size different), then a 128 x 56 x
    56 map just before the output: the activation peak is at the end of the network."""
    import random
    rnd = random.Random(1)
    layers = [{"name": f"c{i}", "type": "conv", "out_channels": rnd.randint(16, 160),
               "kernel": 1} for i in range(n)]
    layers += [{"name": "big", "type": "conv", "out_channels": 128, "kernel": 1,
                "input": [64, 56, 56]},
               {"name": "last", "type": "conv", "out_channels": 16, "kernel": 1}]
    return workload_from_dict({"name": f"late_peak{n}", "input": [64, 8, 8], "layers": layers})


def residency_planning_speed() -> None:
    """CPU time of the weight-residency plan alone (given the streaming compile's byte counts),
    and of a whole run of the 1k-layer chain."""
    from simulator.kinds.tensorcore.compiler import SpillAllocator, build_units, compile_program
    from simulator.kinds.tensorcore.compiler.allocation import make_tensors
    from simulator.kinds.tensorcore.compiler.program import residency_plan

    print("\n== weight-residency planning on generated networks (CPU s) ==")
    for label, make, sets in (("chain, bpu", _chain, []),
                              ("late peak, 2 MiB SRAM", _late_peak, ["sram.size_bytes=2097152"])):
        arch = load_arch("bpu", sets)
        for n in (1000, 3000, 10000):
            wl = make(n)
            streaming = compile_program(arch, arch.precision, wl, residency="stream").traffic
            units = build_units(arch, wl)
            allocator = SpillAllocator(make_tensors(wl, units, 1.0, arch.sram.banks).values())
            start = time.process_time()
            plan = residency_plan(arch, arch.precision, wl, units.units, allocator, streaming)
            seconds = time.process_time() - start
            print(f"{label:22s} {n:6d} layers  {len(plan.weight_bytes_of):6d} candidates  "
                  f"{len(plan.resident_units):4d} resident  plan {seconds:7.3f} s")
    start = time.perf_counter()
    result = simulate(load_arch("bpu"), _chain(1000))
    print(f"whole run of the 1k-layer chain (resident): {time.perf_counter() - start:.2f} s wall, "
          f"{result.totals.cycles:,d} cycles")


if __name__ == "__main__":
    main()
