"""How long a class waits for its reports: `npusim run tpu_v1 resnet50 --report DIR` and
`npusim sweep-report STORE --plots DIR` on the bundled sweep, as whole processes.

    python benchmarks/bench_report.py            # best of 3 each
    python benchmarks/bench_report.py --runs 5

Prints CPU time (user + system of the child process: less sensitive than wall time to other
jobs on the machine, though a heavily loaded machine inflates it too) and wall time, best of
N, against issue 13's targets: --report under 3 s, sweep-report --plots under 4 s; --report
--png for information. The sweep store is computed once beforehand (not timed).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS_S = {"report": 3.0, "sweep_plots": 4.0}


def timed(args: list[str]) -> tuple[float, float]:
    """(CPU seconds of the child, wall seconds) of `python -m simulator ARGS`."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT, check=True,
                   stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def best(args: list[str], runs: int) -> tuple[float, float]:
    samples = [timed(args) for _ in range(runs)]
    return min(s[0] for s in samples), min(s[1] for s in samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="runs per command (best is kept)")
    args = parser.parse_args(argv)
    env_note = f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}"
    with tempfile.TemporaryDirectory() as tmp:
        tmp_path = Path(tmp)
        rows = []
        cpu, wall = best(["run", "tpu_v1", "resnet50", "--report", str(tmp_path / "r"), "-q"],
                         args.runs)
        rows.append(("npusim run tpu_v1 resnet50 --report DIR", cpu, wall, TARGETS_S["report"]))
        cpu, wall = best(["run", "tpu_v1", "resnet50", "--report", str(tmp_path / "r2"),
                          "--png", "-q"], args.runs)
        rows.append(("npusim run tpu_v1 resnet50 --report DIR --png", cpu, wall, None))
        store = tmp_path / "tpu_sram_pe.sqlite"
        subprocess.run([sys.executable, "-m", "simulator", "sweep", "tpu_sram_pe", "-o",
                        str(store), "-q"], cwd=ROOT, check=True)
        cpu, wall = best(["sweep-report", str(store), "--plots", str(tmp_path / "p")],
                         args.runs)
        rows.append(("npusim sweep-report tpu_sram_pe.sqlite --plots DIR", cpu, wall,
                     TARGETS_S["sweep_plots"]))
    print(f"report speed, best of {args.runs} ({env_note})")
    print(f"{'command':52} {'CPU s':>6} {'wall s':>7} {'target':>7}")
    for name, cpu, wall, target in rows:
        if target is None:  # for information: no target
            print(f"{name:52} {cpu:6.2f} {wall:7.2f}")
            continue
        verdict = "ok" if cpu < target else "SLOW"
        print(f"{name:52} {cpu:6.2f} {wall:7.2f} {target:6.1f}  {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
