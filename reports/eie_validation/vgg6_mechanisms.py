"""What could make VGG-6 take the paper's 34.4 us? Each candidate mechanism, modelled, on VGG-6
and on the AlexNet layers it must not break (issue 12 item 5; docs/models/sparse.md).

Run: python reports/eie_validation/vgg6_mechanisms.py   (writes vgg6_mechanisms.md next to it)

Mechanisms (EIE: Han et al., ISCA 2016; the authors' cycle simulator: github.com/RalphMao/
EIE-simulator, src/*.cpp):
- pointer placement: the model's default (pointers beyond the pointer SRAM in free Spmat words),
  an ideal pointer SRAM that holds them all, and streaming them from DRAM;
- a column overhead: the pointer read of a column not overlapped with the previous column's
  entries (w = entries + 1 instead of max(entries, 1));
- the leading-non-zero detection of the authors' simulator, which scans the input one group of
  64 (one value per PE) at a time and spends a cycle moving to the next group unless the
  group's last value was a non-zero it just broadcast (nzfetch.cpp);
- a word-aligned Spmat layout (every column slice starting a new 64-bit word);
- the input vector: the activation density at which the model meets each paper figure
  (bisection), to compare with Table III's average density.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from simulator.api import simulate  # noqa: E402
from simulator.core.workload import workload_from_dict  # noqa: E402
from simulator.io.load import load_arch, load_workload  # noqa: E402
from simulator.kinds.sparse.csc import words_spanned  # noqa: E402
from simulator.kinds.sparse.layouts import random_layout  # noqa: E402
from simulator.kinds.sparse.matrices import layer_rng, random_activation_positions  # noqa: E402
from simulator.kinds.sparse.queue import simulate_queues  # noqa: E402
from simulator.kinds.sparse.spmv import count_product, placement_of  # noqa: E402

OUT = Path(__file__).with_name("vgg6_mechanisms.md")
PAPER_ACTUAL = {"Alex-6": 30.3, "Alex-7": 12.2, "Alex-8": 9.9, "VGG-6": 34.4}
NAMES = list(PAPER_ACTUAL)
MHZ = 800


def _subset(names, **changes):
    wl = load_workload("eie_benchmarks")
    data = wl.model_dump(exclude_none=True)
    data["layers"] = [dict(l, **changes.get(l["name"], {})) for l in data["layers"]
                      if l["name"] in names]
    return workload_from_dict(data, wl.source)


def _engine_us(overrides=(), **changes) -> dict[str, float]:
    result = simulate(load_arch("eie", list(overrides)), _subset(NAMES, **changes))
    return {l.name: l.cycles / MHZ for l in result.layers}


def _setup(arch, layer):
    gemm = layer.gemms()[0]
    layout = random_layout(gemm.n, gemm.k, layer.weight_density, arch.row_density_cv, arch.seed,
                           layer.name, 0, arch.pes, arch.index_bits, arch.activation_registers,
                           layer.name)
    active = random_activation_positions(gemm.k, layer.activation_density,
                                         layer_rng(arch.seed, layer.name, 1))
    return layout, active


def _column_overhead_us() -> dict[str, float]:
    """w = entries + 1: the pointer read never overlaps the previous column's entries."""
    arch = load_arch("eie")
    out = {}
    for layer in _subset(NAMES).layers:
        layout, active = _setup(arch, layer)
        work = layout.entries[:, :, active] + 1
        steps = np.moveaxis(work, 1, 2).reshape(-1, arch.pes)
        out[layer.name] = simulate_queues(steps, arch.queue_depth).cycles / MHZ
    return out


def _lnzd_us() -> dict[str, float]:
    """The model's per-column work, with the authors' group-of-64 leading-non-zero scan:
    b_t >= b_(t-1) + 1 + (groups left behind between broadcasts t-1 and t whose last value is
    zero), the exact recurrence of queue.py otherwise (a plain loop: this is a script)."""
    arch = load_arch("eie")
    out = {}
    for layer in _subset(NAMES).layers:
        layout, active = _setup(arch, layer)
        placement = placement_of(arch, layout)
        e = layout.entries[:, :, active]
        words = words_spanned(layout.offset[:, :, active], e, arch.entries_per_word)
        sram = placement.sram_reads[:, active][:, None, :]
        spill = placement.spmat_words[:, active][:, None, :]
        work = np.maximum(np.maximum(e, -(-sram // arch.pointer_banks)), words + spill)
        steps = np.moveaxis(work, 1, 2).reshape(-1, arch.pes)
        k, p = layout.cols, arch.pes
        nonzero = np.zeros(-(-k // p) * p, dtype=bool)
        nonzero[active] = True
        ends_zero = np.concatenate([[0], np.cumsum(~nonzero[p - 1::p])])
        group = active // p
        gaps = ends_zero[group] - ends_zero[np.concatenate([[0], group[:-1]])]
        gaps = np.tile(gaps, layout.batches)
        finish = np.zeros(p, dtype=np.int64)
        slowest: list[int] = []
        b = -1
        for t in range(steps.shape[0]):
            ready = slowest[t - arch.queue_depth] if t >= arch.queue_depth else 0
            b = max(b + 1 + int(gaps[t]), ready)
            finish = np.maximum(finish, b + 1) + steps[t]
            slowest.append(int(finish.max()))
        out[layer.name] = int(finish.max()) / MHZ
        assert count_product(arch, layout, placement, active).cycles <= finish.max()
    return out


def _aligned_storage() -> tuple[int, int]:
    """Spmat bytes per PE (max) of VGG-6 with every column slice starting a new word, and the
    bytes of its pointers (25,089 x 2 B) that must also fit somewhere."""
    arch = load_arch("eie")
    layer = _subset(["VGG-6"]).layers[0]
    layout, _ = _setup(arch, layer)
    words = -(-layout.entries // arch.entries_per_word)
    per_pe = words.sum(axis=(0, 2)) * (arch.spmat_word_bits // 8)
    return int(per_pe.max()), layout.batches * (layout.cols + 1) * arch.pointer_bits // 8


def _density_for(name: str, target_us: float) -> float:
    """Activation density at which the model's actual time meets `target_us` (bisection)."""
    lo, hi = 0.05, 1.0
    for _ in range(14):
        mid = (lo + hi) / 2
        us = _engine_us(**{n: {"activation_density": mid} for n in NAMES})[name]
        lo, hi = (mid, hi) if us < target_us else (lo, mid)
    return (lo + hi) / 2


def main() -> None:
    wl = load_workload("eie_benchmarks")
    stated = {l.name: l.activation_density for l in wl.layers}
    rows = {
        "npusim (pointers beyond the pointer SRAM in free Spmat words, pipelined)": _engine_us(),
        "an ideal pointer SRAM that holds every pointer": _engine_us(["pointer_sram_bytes=65536"]),
        "pointers beyond the pointer SRAM streamed from DRAM": _engine_us(["pointer_overflow=dram"]),
        "column overhead: pointer read never overlapped (w = entries + 1)": _column_overhead_us(),
        "the authors' LNZD: one cycle per group of 64 inputs ending in a zero": _lnzd_us(),
    }
    lines = [
        "# VGG-6: which mechanism gives the paper's 34.4 us?",
        "",
        "Regenerate with `python reports/eie_validation/vgg6_mechanisms.py`. Arch `eie`, "
        "workload `eie_benchmarks` (seed 0), actual latency in us; paper: EIE Table IV. A "
        "mechanism must move VGG-6 to 34.4 us without moving the AlexNet layers away from "
        "theirs.",
        "",
        "| mechanism | " + " | ".join(f"{n} (paper {PAPER_ACTUAL[n]})" for n in NAMES) + " |",
        "|---|" + "---|" * len(NAMES),
    ]
    for label, us in rows.items():
        cells = [f"{us[n]:.1f} ({us[n] / PAPER_ACTUAL[n] - 1:+.0%})" for n in NAMES]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    aligned, pointer_bytes = _aligned_storage()
    lines += [
        "",
        f"Word-aligned column slices: VGG-6 would need {aligned:,} B of Spmat per PE (128 KB = "
        f"131,072 B) before its {pointer_bytes:,} B of pointers: it does not fit, so it cannot "
        "be how the paper ran VGG-6 on chip; where it fits it changes no time (the arithmetic "
        "unit, one entry per cycle, is the busiest resource).",
        "",
        "## The input vector",
        "",
        "The activation density at which the model's actual time equals the paper's, next to "
        "Table III's (the average over inputs):",
        "",
        "| layer | paper actual us | Table III density | density that gives it | ratio |",
        "|---|---|---|---|---|",
    ]
    for name in NAMES:
        needed = _density_for(name, PAPER_ACTUAL[name])
        lines.append(f"| {name} | {PAPER_ACTUAL[name]} | {stated[name]:.1%} | {needed:.1%} | "
                     f"{needed / stated[name]:.2f} |")
    lines += [
        "",
        "For Alex-8 the bisection lands near the density of the input vector the authors "
        "simulated (42.9 %; with their 25.7 %-dense matrix and that vector the model meets the "
        "paper within 1 %, authors_data.md). Their simulator runs one input vector per layer "
        "(script/layer_dump2.py: the first image of a batch), so Table IV's times are one "
        "image's, not Table III's average density's. For VGG-6 the same reading needs an "
        "image with about a quarter of its 25,088 pool5 inputs non-zero; part of the gap may "
        "instead be balance (a real matrix balancing worse than the random one), which the "
        "published densities cannot tell apart: only the real VGG-6 matrix and vector can.",
    ]
    OUT.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
