"""Speed of the sparse (EIE) engine per EIE benchmark layer (goal: Alex-6 < 1 s).

Run: python benchmarks/bench_sparse.py   (prints best-of-3 wall and CPU seconds per layer; CPU
time is the figure to quote on a shared, busy machine)
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload
from simulator.kinds.base import RunOptions
from simulator.kinds.sparse.engine import SparseEngine


def main() -> None:
    arch = load_arch("eie")
    workload = load_workload("eie_benchmarks")
    data = workload.model_dump(exclude_none=True)
    options = RunOptions(precision=workload.precision or arch.precision)
    print(f"{'layer':10s} {'matrix':>14s} {'wall s':>8s} {'cpu s':>8s} {'cycles':>9s}")
    for layer in data["layers"]:
        single = workload_from_dict({**data, "layers": [layer]}, workload.source)
        times, cpu = [], []
        for _ in range(3):
            engine = SparseEngine(arch)
            start, start_cpu = time.perf_counter(), time.process_time()
            result = engine.run(single, options).layers[0]
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
        shape = "x".join(str(d) for d in result.engine_fields()["matrix_shape"])
        print(f"{layer['name']:10s} {shape:>14s} {min(times):8.3f} {min(cpu):8.3f} {result.cycles:9d}")
    start = time.perf_counter()
    SparseEngine(arch).run(workload, options)
    print(f"all nine layers: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
