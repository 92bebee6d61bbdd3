"""Speed and memory of the sparse (EIE) engine (issue 13 item 4, issue 15's memory item).

Run: python benchmarks/bench_sparse.py [--quick]

Prints, best of 3 (wall and CPU seconds; CPU time is the figure to quote on a shared, busy
machine, where wall time also counts the waits for a core):
- each EIE benchmark layer alone, with an empty layout memo (matrix drawn, layout built);
- the nine layers in one engine run, cold (empty memo) and warm (layouts memoized);
- the commands `npusim run eie eie_benchmarks` and
  `npusim sparse-study eie eie_benchmarks --vary queue_depth=1,2,4,8,16` as fresh processes
  (interpreter start and imports included);
- the nine layers with `explain` (every figure recorded as a formula) against without;
- the GPT-2 small ONNX export's linear layers on EIE (engine only; needs the onnx extra);
- the memory behaviour: a 100,000 x 100,000 linear layer at density 0.1 (refused in one line),
  VGG-6 at density 0.5 (51 M non-zeros), a batch of 10^6 (a closed form) and a weights file
  whose .npy header declares 10^18 elements (refused from its header), peak resident memory of
  a fresh process.
Targets: nine layers under 2 s, the queue-depth study under 3 s.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.core.workload import workload_from_dict  # noqa: E402
from simulator.io.load import load_arch, load_workload  # noqa: E402
from simulator.kinds.base import RunOptions  # noqa: E402
from simulator.kinds.sparse import layouts  # noqa: E402
from simulator.kinds.sparse.engine import SparseEngine  # noqa: E402

RUN = ["run", "eie", "eie_benchmarks"]
STUDY = ["sparse-study", "eie", "eie_benchmarks", "--vary", "queue_depth=1,2,4,8,16"]
HUGE = ("name: huge\nlayers:\n  - {name: fc_huge, type: linear, input: [100000], "
        "out_features: 100000, weight_density: 0.1, activation_density: 0.3}\n")
BATCH = ("name: batch\nbatch: 1000000\nlayers:\n  - {name: fc, type: linear, input: [4096], "
         "out_features: 4096, weight_density: 0.09, activation_density: 0.35}\n")
HEADER = ("name: header\nlayers:\n  - {name: fc, type: linear, input: [96], out_features: 64, "
          "weights_file: huge.npy}\n")
HALF = ("name: half\nlayers:\n  - {name: VGG-6-half, type: linear, input: [25088], "
        "out_features: 4096, weight_density: 0.5, activation_density: 0.183}\n")


def best_of(repeats: int, action: Callable[[], object],
            before: Callable[[], None] = lambda: None) -> tuple[float, float, object]:
    """(best wall s, best CPU s, last result) of `action`, calling `before` untimed each time."""
    walls, cpus, result = [], [], None
    for _ in range(repeats):
        before()
        wall, cpu = time.perf_counter(), time.process_time()
        result = action()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def command(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the child, exit status) of `python -m simulator ARGS`."""
    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - wall
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime)
    return wall, cpu, done.returncode


def peak_memory(args: list[str]) -> tuple[float, float, int, str]:
    """(wall s, peak resident MiB, exit status, stderr's last line) of one fresh CLI process."""
    # VmHWM (Linux) restarts at exec; ru_maxrss would keep the forking parent's high mark
    probe = ("import resource, sys\nfrom pathlib import Path\nfrom simulator.cli.main import main\n"
             "code = main(sys.argv[1:])\nstatus = Path('/proc/self/status')\n"
             "hwm = [l.split()[1] for l in status.read_text().splitlines() if l.startswith('VmHWM')]"
             " if status.exists() else []\n"
             "print(hwm[0] if hwm else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "
             "file=sys.stderr)\nsys.exit(code)\n")
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe, *args], cwd=ROOT, text=True,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - wall
    lines = done.stderr.strip().splitlines()
    peak_kib = int(lines[-1]) if lines and lines[-1].isdigit() else 0
    message = lines[-2] if len(lines) > 1 else ""
    return wall, peak_kib / 1024, done.returncode, message


def verdict(seconds: float, target: float) -> str:
    return f"target < {target:g} s: {'ok' if seconds < target else 'MISSED'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip the per-layer table and "
                        "the VGG-6 memory case")
    opts = parser.parse_args()
    arch = load_arch("eie")
    workload = load_workload("eie_benchmarks")
    data = workload.model_dump(exclude_none=True)
    options = RunOptions(precision=workload.precision or arch.precision)

    if not opts.quick:
        print(f"{'layer (cold memo)':18s} {'matrix':>12s} {'wall s':>8s} {'cpu s':>8s} "
              f"{'cycles':>8s}")
        for layer in data["layers"]:
            single = workload_from_dict({**data, "layers": [layer]}, workload.source)
            wall, cpu, result = best_of(3, lambda: SparseEngine(arch).run(single, options).layers[0],
                                        layouts.MEMO.clear)
            shape = "x".join(str(d) for d in result.engine_fields()["matrix_shape"])
            print(f"{layer['name']:18s} {shape:>12s} {wall:8.3f} {cpu:8.3f} {result.cycles:8d}")

    wall, cpu, _ = best_of(3, lambda: SparseEngine(arch).run(workload, options), layouts.MEMO.clear)
    print(f"\nnine layers, engine, cold memo: {wall:.2f} s wall, {cpu:.2f} s CPU  "
          f"({verdict(cpu, 2.0)} CPU, {verdict(wall, 2.0)} wall)")
    wall, cpu, _ = best_of(3, lambda: SparseEngine(arch).run(workload, options))
    print(f"nine layers, engine, warm memo: {wall:.2f} s wall, {cpu:.2f} s CPU "
          f"(memo: {layouts.MEMO.info()['bytes'] / 2**20:.0f} MiB)")

    wall, cpu, _ = best_of(3, lambda: SparseEngine(arch).run(
        workload, RunOptions(precision=options.precision, explain=True)))
    print(f"nine layers, engine, warm memo, explain: {wall:.2f} s wall, {cpu:.2f} s CPU")
    onnx_file = ROOT / "tests" / "data" / "onnx" / "gpt2_small.onnx"
    try:
        gpt2 = load_workload(str(onnx_file))
    except Exception as exc:        # the onnx extra is optional
        print(f"GPT-2 small on EIE: skipped ({type(exc).__name__})")
    else:
        wall, cpu, run = best_of(3, lambda: SparseEngine(arch).run(gpt2, options),
                                 layouts.MEMO.clear)
        ran = sum(1 for l in run.layers if "executed_on" not in l.engine_fields())
        print(f"GPT-2 small (ONNX, {len(gpt2.layers)} layers, {ran} on EIE), engine, cold "
              f"memo: {wall:.2f} s wall, {cpu:.2f} s CPU")

    for label, args, target in (("npusim " + " ".join(RUN), RUN, 2.0),
                                ("npusim " + " ".join(STUDY), STUDY, 3.0)):
        runs = [command(args) for _ in range(3)]
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        status = {r[2] for r in runs}
        print(f"\n{label}\n  fresh process: {wall:.2f} s wall, {cpu:.2f} s CPU, exit {status}  "
              f"({verdict(cpu, target)} CPU, {verdict(wall, target)} wall)")

    with tempfile.TemporaryDirectory() as tmp:
        import numpy as np
        with open(Path(tmp) / "huge.npy", "wb") as fp:
            np.lib.format.write_array_header_1_0(
                fp, {"descr": "<f8", "fortran_order": False, "shape": (10**9, 10**9)})
        cases = [("100k x 100k linear at density 0.1", HUGE),
                 ("batch 10^6 through a 4096 x 4096 layer", BATCH),
                 (".npy header declaring 10^18 elements", HEADER)]
        if not opts.quick:
            cases.append(("VGG-6 at density 0.5 (51 M non-zeros)", HALF))
        print("\nmemory (fresh process, peak resident):")
        for i, (label, text) in enumerate(cases):
            path = Path(tmp) / f"case{i}.yaml"
            path.write_text(text)
            wall, peak_mib, status, message = peak_memory(["run", "eie", str(path)])
            print(f"  {label}: exit {status}, {wall:.2f} s wall, peak {peak_mib:.0f} MiB")
            if status == 2:
                print(f"    {message}")


if __name__ == "__main__":
    main()
