#!/usr/bin/env python
"""Time LLM generations: the issue-14 target is a Llama-2-7B-like prefill + decode run (prompt
512, 128 generated tokens) in under 1 s of simulation on tpu_v1.

For each case prints the simulation time (wall and CPU; interpreter start and imports excluded,
the engines' caches cleared before every run), how many decode contexts were simulated for the
127 decode steps, the error bound of the interpolation, and the figures (TTFT, time per output
token, tokens/s). `--exact` also times simulating every decode step, the brute force that the
interpolation replaces.

    python benchmarks/bench_llm.py [--repeat N] [--exact] [--slow]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's simulator

from simulator.io.llm import load_llm  # noqa: E402
from simulator.io.load import load_arch  # noqa: E402
from simulator.kinds.systolic import mapper as systolic_mapper  # noqa: E402
from simulator.kinds.systolic import mapping as systolic_mapping  # noqa: E402
from simulator.llm.generation import simulate_generation  # noqa: E402

CASES = [  # (arch, model, prompt, generate, batch)
    ("tpu_v1", "llama2_7b", 512, 128, 1),   # the target
    ("tpu_v1", "llama2_7b", 512, 128, 8),
    ("tpu_v1", "gpt2_small", 512, 128, 1),
    ("tpu_v1", "llama3_2_1b", 512, 128, 1),
    ("bpu", "gpt2_small", 128, 32, 1),
    ("bpu", "gpt2_small", 128, 32, 8),
]
#: `--slow`: the target case on the tensor cores (about 30 s of CPU: the units of a 7B
#: prefill and of two decode steps that repeat no earlier unit are emitted and timed)
SLOW_CASES = [("bpu", "llama2_7b", 512, 128, 1)]


def clear_caches() -> None:
    systolic_mapper.clear_cache()
    systolic_mapping.map_gemm.cache_clear()


def timed(arch, model, prompt, generate, batch, exact=False):
    clear_caches()
    wall, cpu = time.perf_counter(), time.process_time()
    result = simulate_generation(arch, model, prompt=prompt, generate=generate, batch=batch,
                                 exact=exact)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--exact", action="store_true",
                        help="also time every decode step simulated (slow)")
    parser.add_argument("--slow", action="store_true",
                        help="also time Llama-2-7B-like on bpu (once, about 30 s)")
    args = parser.parse_args()
    timed(load_arch("tpu_v1"), load_llm("gpt2_small"), 16, 2, 1)  # import everything once
    print(f"{'case':<42} {'wall s':>7} {'cpu s':>6} {'sims':>5} {'bound':>8} {'TTFT':>9} "
          f"{'TPOT':>9} {'tok/s':>8}")
    cases = [(c, args.repeat) for c in CASES] + [(c, 1) for c in SLOW_CASES if args.slow]
    for (arch_name, model_name, prompt, generate, batch), repeat in cases:
        arch, model = load_arch(arch_name), load_llm(model_name)
        runs = [timed(arch, model, prompt, generate, batch) for _ in range(repeat)]
        wall = statistics.median(r[0] for r in runs)
        cpu = statistics.median(r[1] for r in runs)
        r = runs[0][2]
        d = r.decode
        bound = max(v for v in d.error_bound.values() if v is not None)
        label = f"{model_name} on {arch_name}, P={prompt} G={generate} B={batch}"
        print(f"{label:<42} {wall:7.3f} {cpu:6.3f} {len(d.simulated_contexts) + 1:5d} "
              f"{100 * bound:7.3f}% {r.totals.time_to_first_token_s * 1e3:7.2f}ms "
              f"{d.time_per_output_token_s * 1e3:7.3f}ms {r.totals.tokens_per_s:8.1f}")
        if args.exact:
            wall_x, cpu_x, rx = timed(arch, model, prompt, generate, batch, exact=True)
            err = rx.decode.total_latency_s and (d.total_latency_s / rx.decode.total_latency_s - 1)
            print(f"{'  every step (brute force)':<42} {wall_x:7.3f} {cpu_x:6.3f} "
                  f"{rx.decode.steps + 1:5d} {'':>8} {'':>9} "
                  f"{rx.decode.time_per_output_token_s * 1e3:7.3f}ms   (interpolated total off "
                  f"by {100 * err:+.4f}%)")
    print("sims: simulations of the phase workloads (1 prefill + the decode contexts); bound: "
          "the largest relative error bound of the decode totals")


if __name__ == "__main__":
    main()
