"""A fake, deterministic evaluation function and tiny files for the sweep tests.

The fake stands in for an engine so the store / resume / Pareto machinery can be tested fast
and without depending on an engine's numbers. Each call appends one line to `log_path` (so tests
can count evaluations across processes).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from simulator.core.results import LayerResult, RunResult

TINY_WORKLOAD = """\
name: tiny
input: [8, 8, 8]
layers:
  - {name: c1, type: conv, out_channels: 16, kernel: 3, padding: 1}
  - {name: dw, type: conv, out_channels: 16, kernel: 3, padding: 1, groups: 16}
  - {name: fc, type: linear, in_features: 1024, out_features: 10}
"""

TINY_ARCH = """\
name: tiny_systolic
kind: systolic
clock_mhz: 1000
array: {rows: 4, cols: 4, dataflow: ws}
memory: {style: split, ifmap_sram_bytes: 1024, filter_sram_bytes: 1024, ofmap_sram_bytes: 1024}
dram: {bandwidth_gbps: 10}
"""


def write_files(directory: Path, sweep_body: str) -> Path:
    """Write the tiny arch, workload and a sweep file into `directory`; return the sweep path."""
    (directory / "tiny_arch.yaml").write_text(TINY_ARCH)
    (directory / "tiny.yaml").write_text(TINY_WORKLOAD)
    path = directory / "sweep.yaml"
    path.write_text(sweep_body)
    return path


def fake_evaluate(arch, workload, log_path: str | None = None, sleep_s: float = 0.0) -> RunResult:
    """Cycles = ceil(MACs / PEs) per layer; DRAM bytes fall with SRAM size. Deterministic."""
    if log_path:
        sram = arch.memory.ifmap_sram_bytes
        with open(log_path, "a") as fh:  # O_APPEND: whole short lines, safe across processes
            fh.write(f"{arch.array.rows}x{arch.array.cols}:{sram}:{workload.name}\n")
    if sleep_s:
        time.sleep(sleep_s)
    pes = arch.array.rows * arch.array.cols
    sram = arch.memory.ifmap_sram_bytes
    layers = []
    for layer in workload.layers:
        macs = layer.macs
        cycles = -(-macs // pes) + arch.array.rows
        dram = max(0, 4096 - sram) + layer.params
        layers.append(LayerResult(name=layer.name, type=layer.type, cycles=cycles,
                                  compute_cycles=cycles, macs=macs, ops=2 * macs,
                                  energy_pj=macs * 0.5 + dram * 160.0,
                                  energy_breakdown_pj={"mac": macs * 0.5, "dram": dram * 160.0},
                                  dram_read_bytes=dram,
                                  utilization=macs / (cycles * pes)))
    return RunResult.from_layers(arch={"name": arch.name}, workload=workload.summary(),
                                 layers=layers, peak_macs_per_cycle=pes, clock_hz=arch.clock_hz,
                                 roofline={}, version=f"fake-{os.getpid() * 0}")


#: a small sweep over a tiny systolic arch (used by the sweep and sweep-report tests)
SWEEP = """\
name: tiny_sweep
base: tiny_arch.yaml
workloads: [tiny.yaml]
vary:
  array.rows: {start: 2, stop: 16, factor: 2}          # 2, 4, 8, 16
  memory.ifmap_sram_bytes: [512, 2048, 8192]
link:
  array.cols: array.rows
constraints: ["area_mm2 <= 0.05"]
objectives: [latency, energy, area]
"""
