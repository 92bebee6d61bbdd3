"""Speed and headline figures of the tensor-core engine (run: python benchmarks/bench_tensorcore.py).

Prints, in order (docs/models/tensorcore.md §6 quotes them):
1. speed: CPU and wall time of simulating ResNet-50, MobileNetV2/V3 and the LSTM LM on `bpu`
   (issue 12's targets: ResNet-50 under 0.5 s, the LSTM LM under 2 s), and pipeline placement;
2. the staircase: 3x3 convs of 8..256 filters on a 64 x 56 x 56 map in the middle of a network;
3. INT8 vs FP16 on ResNet-50, MobileNetV2 and V3-Large (bpu, bpu_no_hswish; both residencies);
4. MobileNetV3 vs V2 and what activations cost (ReLU on a depthwise layer, swish, hardswish);
5. fusion on/off, the shared-SRAM sensitivity, every bundled workload;
6. the weight-residency planner on generated networks of 1k to 10k layers.
`--quick` prints only 1 and 2.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.api import simulate
from simulator.core.arch import Precision
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload
from simulator.kinds.tensorcore.compiler import compile_program

FP16 = Precision(weight_bits=16, activation_bits=16, accumulator_bits=32, number_format="fp")


def timed(arch, workload, **kw):
    """(result, CPU seconds, wall seconds) of one simulation."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = simulate(arch, workload, **kw)
    return result, time.process_time() - cpu, time.perf_counter() - wall


def speed() -> None:
    print("== speed (bpu; CPU s is the figure to compare, wall s depends on the machine's load) ==")
    for name, sets, target in (("resnet50", [], 0.5), ("mobilenet_v2", [], None),
                               ("mobilenet_v3_large", [], None), ("lstm_lm", [], 2.0),
                               ("resnet50", ["compiler.placement=pipeline"], None),
                               ("lstm_lm", ["compiler.placement=pipeline"], None)):
        wl, arch = load_workload(name), load_arch("bpu", sets)
        best = None
        for _ in range(3):
            result, cpu, wall = timed(arch, wl)
            best = (cpu, wall) if best is None or cpu < best[0] else best
        # instructions, from the compiler's Program (engines keep no state between runs)
        ops = len(compile_program(arch, wl.precision or arch.precision, wl).ops)
        note = f"  (target < {target} s: {'met' if best[0] < target else 'NOT met'})" if target else ""
        placement = "pipeline" if sets else "split"
        print(f"{name:19s} {placement:8s} {best[0]:5.2f} s CPU {best[1]:5.2f} s wall  "
              f"{ops:6,d} ops  {result.totals.cycles:>12,d} cycles{note}")


def staircase() -> None:
    print("\n== staircase: 3x3 convs of F filters on a 64 x 56 x 56 map a stem conv left in the "
          "SRAM (bpu) ==")
    layers = [{"name": "stem", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}]
    # each conv's output is read by a global pool: an output no layer reads goes to DRAM
    for f in range(8, 257, 8):
        layers += [{"name": f"f{f}", "type": "conv", "out_channels": f, "kernel": 3,
                    "padding": 1, "inputs": ["stem"]},
                   {"name": f"p{f}", "type": "globalavgpool", "inputs": [f"f{f}"]}]
    result = simulate("bpu", workload_from_dict({"name": "stair", "input": [64, 56, 56],
                                                 "layers": layers}))
    prev = None
    for l in (l for l in result.layers if l.name.startswith("f")):
        m = l.mapping
        step = "" if prev is None else f"{l.cycles / prev - 1:+7.1%}"
        print(f"F={l.name[1:]:>3s} {l.cycles:>8,d} cycles {step:>8s}   split {m['split']:8s} "
              f"tiles {m['tile_pixels']:>4d} px x {m['tile_channels']:>3d} ch x "
              f"{m['tile_input_channels']:>3d} in, {m['loop_order']}")
        prev = l.cycles


def precision_study() -> None:
    print("\n== INT8 vs FP16 (bpu: fp16 MACs at 1/30 of int8, RK3399Pro's ratio) ==")
    for arch_name in ("bpu", "bpu_no_hswish"):
        for residency in ("resident", "stream"):
            sets = [f"compiler.weight_residency={residency}"]
            cells = []
            for name in ("resnet50", "mobilenet_v2", "mobilenet_v3_large"):
                wl = load_workload(name)
                a = simulate(load_arch(arch_name, sets), wl).totals.cycles
                b = simulate(load_arch(arch_name, sets),
                             wl.model_copy(update={"precision": FP16})).totals.cycles
                cells.append(f"{name} {a:,} -> {b:,} ({b / a:.1f}x)")
            print(f"{arch_name:14s} {residency:8s} " + "   ".join(cells))


def mobilenets() -> None:
    print("\n== MobileNetV3-Large vs V2, batch 1 ==")
    for arch_name in ("bpu", "bpu_no_hswish"):
        for residency in ("resident", "stream"):
            arch = load_arch(arch_name, [f"compiler.weight_residency={residency}"])
            v2 = simulate(arch, "mobilenet_v2").totals
            v3 = simulate(arch, "mobilenet_v3_large").totals
            vec = v3.stall_breakdown_cycles.get("vector_unit", 0)
            print(f"{arch_name:14s} {residency:8s} V2 {v2.cycles:>9,d}  V3 {v3.cycles:>9,d}  "
                  f"V3/V2 {v3.cycles / v2.cycles:.3f}  (V3 vector-unit stall {vec:,}; DRAM "
                  f"V2 {(v2.dram_read_bytes + v2.dram_write_bytes) / 1e6:.2f} MB, V3 "
                  f"{(v3.dram_read_bytes + v3.dram_write_bytes) / 1e6:.2f} MB)")
    print("\n== what activations cost (bpu) ==")
    dw = {"name": "dw", "type": "conv", "out_channels": 192, "kernel": 3, "padding": 1,
          "groups": 192}
    for act in (None, "relu6"):
        layer = dict(dw, **({"activation": act} if act else {}))
        r = simulate("bpu", workload_from_dict({"name": "t", "input": [192, 28, 28],
                                                "layers": [layer]})).layers[0]
        print(f"depthwise 3x3 on 192 x 28 x 28, activation {act or 'none':6s} {r.cycles:>7,d} "
              "cycles")
    conv = {"name": "c", "type": "conv", "out_channels": 64, "kernel": 1}
    base = None
    for arch_name, act in (("bpu", None), ("bpu", "relu"), ("bpu", "hardswish"),
                           ("bpu_no_hswish", "hardswish"), ("bpu", "swish"), ("bpu", "gelu")):
        layer = dict(conv, **({"activation": act} if act else {}))
        r = simulate(arch_name, workload_from_dict({"name": "t", "input": [64, 56, 56],
                                                    "layers": [layer]}))
        base = base or r.totals.cycles
        print(f"1x1 conv 64 -> 64 on 56 x 56 + {act or 'none':9s} on {arch_name:13s} "
              f"{r.totals.cycles:>7,d} cycles ({r.totals.cycles / base - 1:+.0%}), energy "
              f"{r.totals.energy_pj / 1e6:.2f} uJ")


def fusion_and_sram() -> None:
    print("\n== fusion on vs off, ResNet-50 on bpu ==")
    for fusion in ("true", "false"):
        t = simulate(load_arch("bpu", [f"compiler.fusion={fusion}"]), "resnet50").totals
        print(f"fusion={fusion:5s} {t.cycles:>10,d} cycles  SRAM r+w "
              f"{(t.sram_read_bytes + t.sram_write_bytes) / 1e6:6.1f} MB  DRAM r+w "
              f"{(t.dram_read_bytes + t.dram_write_bytes) / 1e6:5.1f} MB  energy "
              f"{t.energy_pj / 1e6:7.1f} uJ")
    print("\n== sensitivity to the shared SRAM size (resident, batch 1; cycles, preload MB) ==")
    for mib in (2, 4, 6, 8, 16):
        sets = [f"sram.size_bytes={mib * 2**20}"]
        row = []
        for arch_name, name in (("bpu", "mobilenet_v2"), ("bpu", "mobilenet_v3_large"),
                                ("bpu_no_hswish", "mobilenet_v3_large"), ("bpu", "resnet50")):
            t = simulate(load_arch(arch_name, sets), name).totals
            row.append(f"{t.cycles:>9,d} ({t.engine_totals['weight_preload_bytes'] / 1e6:4.1f})")
        print(f"{mib:2d} MiB  V2 {row[0]}  V3 {row[1]}  V3 no-hswish {row[2]}  ResNet-50 {row[3]}")
    print("\n== every bundled workload on bpu at its own batch (resident) ==")
    for name in ("alexnet", "vgg16", "googlenet", "resnet50", "mobilenet_v2",
                 "mobilenet_v3_large", "squeezenet", "tpu_mlp0", "lstm_lm", "eie_benchmarks"):
        wl = load_workload(name)
        r, cpu, _ = timed(load_arch("bpu"), wl)
        t = r.totals
        print(f"{name:19s} batch {wl.batch:3d}  {cpu:5.2f} s  {t.cycles:>12,d} cycles  "
              f"{t.latency_s * 1e3:8.3f} ms  utilization {t.utilization:.3f}  "
              f"DRAM {(t.dram_read_bytes + t.dram_write_bytes) / 1e6:7.2f} MB  "
              f"preload {t.engine_totals['weight_preload_bytes'] / 1e6:5.2f} MB  "
              f"energy {t.energy_pj / 1e6:8.1f} uJ")


def _chain(n: int):
    """n convs on 28x28, alternating 1x1 and 3x3, 64 or 128 channels."""
    layers = [{"name": f"c{i}", "type": "conv", "out_channels": 128 if i % 3 == 0 else 64,
               "kernel": 3 if i % 2 else 1, "padding": 1 if i % 2 else 0, "activation": "relu"}
              for i in range(n)]
    return workload_from_dict({"name": f"chain{n}", "input": [64, 28, 28], "layers": layers})


def _late_peak(n: int):
    """n 1x1 convs of 16-160 channels on 8x8, then a 128 x 56 x 56 map just before the output:
    the activation peak is at the end of the network."""
    import random
    rnd = random.Random(1)
    layers = [{"name": f"c{i}", "type": "conv", "out_channels": rnd.randint(16, 160),
               "kernel": 1} for i in range(n)]
    layers += [{"name": "big", "type": "conv", "out_channels": 128, "kernel": 1,
                "input": [64, 56, 56]},
               {"name": "last", "type": "conv", "out_channels": 16, "kernel": 1}]
    return workload_from_dict({"name": f"late_peak{n}", "input": [64, 8, 8], "layers": layers})


def residency_planning_speed() -> None:
    """CPU time of the weight-residency plan alone (given the streaming compile's byte counts)."""
    from simulator.kinds.tensorcore.compiler import SpillAllocator, build_units, compile_program
    from simulator.kinds.tensorcore.compiler.allocation import make_tensors
    from simulator.kinds.tensorcore.compiler.program import residency_plan

    print("\n== weight-residency planning on generated networks (CPU s) ==")
    for label, make, sets in (("chain, bpu", _chain, []),
                              ("late peak, 2 MiB SRAM", _late_peak, ["sram.size_bytes=2097152"])):
        arch = load_arch("bpu", sets)
        for n in (1000, 3000, 10000):
            wl = make(n)
            streaming = compile_program(arch, arch.precision, wl, residency="stream",
                                        count_only=True).traffic
            units = build_units(arch, wl)
            allocator = SpillAllocator(make_tensors(wl, units, 1.0, arch.sram.banks).values())
            start = time.process_time()
            plan = residency_plan(arch, arch.precision, wl, units.units, allocator, streaming)
            seconds = time.process_time() - start
            print(f"{label:22s} {n:6d} layers  {len(plan.weight_bytes_of):6d} candidates  "
                  f"{len(plan.resident_units):4d} resident  plan {seconds:7.3f} s")


def main() -> None:
    speed()
    staircase()
    if "--quick" in sys.argv:
        return
    precision_study()
    mobilenets()
    fusion_and_sram()
    residency_planning_speed()


if __name__ == "__main__":
    main()
