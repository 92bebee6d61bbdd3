"""Sweep speed: 10,000 design points of ResNet-50 on the systolic (TPUv1-like) engine, the
tiling search included.

Target (issue 12): 10,000 points in under 60 s on 2 cores. Prints the per-point cost split
(engine vs sweep overhead, measured in this process, wall and CPU time) and the end-to-end
rate of `run_sweep` with a process pool into a fresh SQLite file. The space: array rows x cols
(16 x 16 values), unified buffer (8 sizes), DRAM bandwidth (5 values) = 10,240 points, trimmed
to `--points`. On a shared machine wall times vary with the load; CPU times less.

    python benchmarks/bench_sweep.py [--points 10000] [--workers 2]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from resource import RUSAGE_CHILDREN, RUSAGE_SELF

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from simulator.dse.runner import WorkerContext, evaluate_task, run_sweep  # noqa: E402
from simulator.dse.spec import SweepFile, build_sweep  # noqa: E402


def make_sweep(points: int):
    """rows x cols x unified-buffer sizes x DRAM bandwidth, trimmed to `points` design points."""
    rows = [16 * i for i in range(2, 18)]                      # 32..272 in steps of 16
    spec = SweepFile(name="bench", base="tpu_v1", workloads=["resnet50"], vary={
        "array.rows": rows, "array.cols": rows,
        "memory.unified_buffer_bytes": {"start": 262144, "stop": 33554432, "num": 8, "log": True},
        "dram.bandwidth_gbps": [17, 34, 68, 136, 272],
    })
    sweep = build_sweep(spec)
    sweep.points = sweep.points[:points]
    return sweep


def _cpu(after: resource.struct_rusage, before: resource.struct_rusage) -> float:
    return (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    t0 = time.perf_counter()
    sweep = make_sweep(args.points)
    print(f"sweep file validated: {len(sweep.points)} points in {time.perf_counter() - t0:.2f} s")

    # per-point cost in this process (warm), split into the engine and the sweep's own work
    from simulator.api import simulate
    engine_s: list[float] = []
    engine_cpu: list[float] = []

    def timed_simulate(arch, workload):
        start, cpu = time.perf_counter(), time.process_time()
        result = simulate(arch, workload)
        engine_s.append(time.perf_counter() - start)
        engine_cpu.append(time.process_time() - cpu)
        return result

    ctx = WorkerContext(sweep.base_arch, sweep.workloads, timed_simulate, sweep.source)
    # 4 runs of 10 consecutive points across the space, as a pool worker gets them
    # (runner.POOL_CHUNK): neighbours differ in DRAM bandwidth and share tiling candidates
    every = sweep.tasks()
    step = max(10, len(every) // 4)
    tasks = [t for start in range(0, len(every), step) for t in every[start:start + 10]][:40]
    evaluate_task(ctx, tasks[0])  # warm caches (energy/area tables, imports)
    engine_s.clear()
    engine_cpu.clear()
    totals = []
    for task in tasks:
        start = time.perf_counter()
        row = evaluate_task(ctx, task)
        totals.append(time.perf_counter() - start)
        assert row["status"] == "ok", row["error"]
    overhead = [t - e for t, e in zip(totals, engine_s)]
    print(f"one point, in process ({len(tasks)} points, 4 runs of 10 neighbours): "
          f"{statistics.median(totals) * 1e3:.1f} ms median = engine "
          f"{statistics.median(engine_s) * 1e3:.1f} ms + sweep overhead "
          f"{statistics.median(overhead) * 1e3:.2f} ms (arch validation, area, result JSON); "
          f"engine CPU {statistics.median(engine_cpu) * 1e3:.1f} ms")

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "bench.sqlite"
        parent, children = resource.getrusage(RUSAGE_SELF), resource.getrusage(RUSAGE_CHILDREN)
        summary = run_sweep(sweep, store, workers=args.workers)
        parent_s, workers_s = (_cpu(resource.getrusage(RUSAGE_SELF), parent),
                               _cpu(resource.getrusage(RUSAGE_CHILDREN), children))
        size_mb = store.stat().st_size / 1e6
    print(f"run_sweep, {args.workers} workers: {summary.computed} points in "
          f"{summary.elapsed_s:.1f} s = {summary.points_per_s:.1f} points/s "
          f"({summary.errors} errors, {summary.invalid} invalid); store {size_mb:.0f} MB")
    if summary.computed and args.workers > 1:
        per = 1e3 / summary.computed
        print(f"CPU per point: workers {workers_s * per:.1f} ms + main process (store) "
              f"{parent_s * per:.2f} ms (wall times follow the machine's load; CPU less)")
    print(f"time for 10,000 points: {10000 / summary.points_per_s:.1f} s "
          f"(target < 60 s on 2 cores)")


if __name__ == "__main__":
    main()
