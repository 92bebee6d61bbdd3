"""Speed and headline figures of the tensor-core engine (run: python benchmarks/bench_tensorcore.py).

Prints the wall time of simulating each bundled network on `bpu` (the issue asks for ResNet-50
in under 10 s), the number of simulated ops (events), and the figures docs/models/tensorcore.md
quotes: fusion on/off on ResNet-50 and the MobileNetV2 / V3-Large orderings.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.api import simulate
from simulator.arch import load_arch
from simulator.engines.tensorcore import TensorCoreEngine
from simulator.workload import load_workload


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
        engine = TensorCoreEngine(arch)
        engine.simulate(wl)
        print(f"{name:20s} {seconds:6.2f} s wall  {len(engine.ops):6d} ops  "
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

    print("\n== MobileNetV2 vs MobileNetV3-Large (cycles per image) ==")
    cases = [("bpu", [], 1), ("bpu_no_hswish", [], 1),
             ("bpu", ["dram.bandwidth_gbps=25.6"], 4), ("bpu_no_hswish", ["dram.bandwidth_gbps=25.6"], 4)]
    for arch_name, sets, batch in cases:
        cyc = {}
        for name in ("mobilenet_v2", "mobilenet_v3_large"):
            r, _ = timed(load_arch(arch_name, sets), load_workload(name, batch=batch))
            cyc[name] = r.totals.cycles / batch
            vec = r.totals.stall_breakdown_cycles.get("vector_unit", 0) / batch
            dram = (r.totals.dram_read_bytes + r.totals.dram_write_bytes) / batch / 1e6
            print(f"{arch_name:14s} {' '.join(sets) or 'default':26s} batch {batch}  {name:19s} "
                  f"{cyc[name]:>10,.0f} cycles  DRAM {dram:5.2f} MB/image  vector-unit stall {vec:>9,.0f}")
        faster = "V3" if cyc["mobilenet_v3_large"] < cyc["mobilenet_v2"] else "V2"
        print(f"  -> {faster} is faster")


if __name__ == "__main__":
    main()
