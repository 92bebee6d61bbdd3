"""Speed of the compression study (issue 16: "its run of ResNet-50 and AlexNet under eight
compression settings on three chips finishes in under 10 s").

Run: python benchmarks/bench_compress.py [--quick] [--chips tpu_v1 eie bpu]

Prints (wall and CPU seconds; CPU time is the figure to quote on a shared, busy machine, where
wall time also counts the waits for a core):
- the study in this process, cold (empty engine memos: EIE layouts, systolic mappings) and the
  best of 3 warm: planning (compression and model size of every variant) and each chip's runs
  apart, then the whole;
- `npusim compress-study` as a fresh process (interpreter start and imports included), with
  and without the figure (--plot study.png).
Target: the cold study under 10 s.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from simulator.dse import compress_study as cs  # noqa: E402
from simulator.kinds.sparse import layouts  # noqa: E402
from simulator.kinds.systolic import mapper  # noqa: E402

TARGET_S = 10.0
NETWORKS = ["alexnet", "resnet50"]


def clear_memos() -> None:
    layouts.MEMO.clear()
    mapper.clear_cache()


def timed(action):
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def study_once(chips: list[str]) -> dict[str, tuple[float, float]]:
    """Plan, then each chip's sweep, then the rows: (wall, CPU) seconds by stage."""
    figures: dict[str, tuple[float, float]] = {}
    wall, cpu, plan = timed(lambda: cs.plan(NETWORKS, chips))
    figures["plan (compress + model size)"] = (wall, cpu)
    runs = 0
    for chip in chips:
        one = cs.StudyPlan(plan.settings, [c for c in plan.chips if c.label == chip],
                           plan.workloads, {chip: plan.sweeps[chip]},
                           [v for v in plan.variants if v.row.chip == chip])
        runs += len(plan.sweeps[chip].workloads)
        wall, cpu, _ = timed(lambda: cs.run_study(one))
        figures[f"{chip} ({len(plan.sweeps[chip].workloads)} runs)"] = (wall, cpu)
    figures["total"] = (sum(w for w, _ in figures.values()), sum(c for _, c in figures.values()))
    return figures


def command(args: list[str]) -> tuple[float, float, int]:
    """(wall s, CPU s of the child, exit status) of `python -m simulator ARGS`."""
    start = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "simulator", *args], cwd=ROOT,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - wall
    end = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode:
        print(done.stderr.strip().splitlines()[-1])
    return wall, (end.ru_utime - start.ru_utime) + (end.ru_stime - start.ru_stime), done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="one warm repeat, no CLI runs")
    parser.add_argument("--chips", nargs="+", default=list(cs.DEFAULT_CHIPS))
    args = parser.parse_args()
    print(f"compression study: {' + '.join(NETWORKS)} x {len(cs.DEFAULT_SETTINGS)} settings x "
          f"{len(args.chips)} chips ({', '.join(args.chips)})")
    clear_memos()
    cold = study_once(args.chips)
    warm: dict[str, tuple[float, float]] = {}
    for _ in range(1 if args.quick else 3):
        for key, (wall, cpu) in study_once(args.chips).items():
            best = warm.get(key, (float("inf"), float("inf")))
            warm[key] = (min(best[0], wall), min(best[1], cpu))
    print(f"{'stage':34s} {'cold wall':>10s} {'cold CPU':>9s} {'warm wall':>10s} "
          f"{'warm CPU':>9s}")
    for key in cold:
        print(f"{key:34s} {cold[key][0]:9.2f}s {cold[key][1]:8.2f}s {warm[key][0]:9.2f}s "
              f"{warm[key][1]:8.2f}s")
    verdict = "within" if cold["total"][0] < TARGET_S else "OVER"
    print(f"cold study: {cold['total'][0]:.2f} s wall, {cold['total'][1]:.2f} s CPU: {verdict} "
          f"the {TARGET_S:.0f} s target")
    if not args.quick:
        chips = ["--chips", *args.chips]
        wall, cpu, status = command(["compress-study", *chips, "-q"])
        print(f"npusim compress-study (fresh process): {wall:.2f} s wall, {cpu:.2f} s CPU, "
              f"exit {status}")
        with tempfile.TemporaryDirectory() as tmp:
            plot = str(Path(tmp) / "study.png")
            wall, cpu, status = command(["compress-study", *chips, "-q", "--plot", plot])
        print(f"npusim compress-study --plot study.png (fresh process): {wall:.2f} s wall, "
              f"{cpu:.2f} s CPU, exit {status}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
