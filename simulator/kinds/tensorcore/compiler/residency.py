"""Step 2a of the compiler: which units' weights stay resident in the shared SRAM across runs.

`compiler.weight_residency: resident` models steady-state streaming inference: the weights that
stay in SRAM between frames are loaded once, with the model (the Edge TPU caches parameters in
its on-chip SRAM and streams only what does not fit). The plan (docs/models/tensorcore.md §3a):

1. byte counts come from a streaming compile of the same workload (tiling, and so every block
   transfer, does not depend on the allocation): per unit u, `S_u` = the weight bytes it loads
   from DRAM per run (more than its weights `W_u` when blocks are re-fetched per pixel tile);
   per activation tensor, the DMA bytes it moves if it lives in DRAM;
2. candidates (MAC units on the cores that stream weights) in decreasing `S_u / W_u` (DRAM
   bytes saved per byte of SRAM), ties in unit order;
3. a candidate is admitted when `W_u` fits what is left of `size - staging` and `S_u` exceeds
   the extra activation spill traffic the smaller activation budget causes (the interval
   allocation re-evaluated for that budget). A rejected unit does not stop smaller later ones.

A run's DRAM bytes therefore never exceed streaming. A knapsack heuristic, not an optimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.kinds.tensorcore.compiler.allocation import SpillAllocator


@dataclass
class ResidencyPlan:
    """Units whose weights are resident, their stored bytes (`weight_bytes_of`: every
    candidate unit's weight bytes, resident or not) and the total resident bytes."""

    resident_units: set[int] = field(default_factory=set)
    resident_weight_bytes: int = 0
    weight_bytes_of: dict[int, int] = field(default_factory=dict)


def plan_residency(weight_bytes_of: Mapping[int, int], weight_dram_bytes: Mapping[int, int],
                   allocator: SpillAllocator, spill_cost_bytes: Mapping[str, int],
                   room_bytes: int) -> ResidencyPlan:
    """Greedy residency plan (module docstring).

    `weight_bytes_of`: candidate unit -> its stored weight bytes W_u; `weight_dram_bytes`:
    unit -> weight bytes it loads from DRAM per run when streaming, S_u; `spill_cost_bytes`:
    tensor -> the DRAM bytes it costs per run when it lives in DRAM instead of the SRAM;
    `room_bytes`: size - staging (what weights and activations share).

    The spill traffic of a budget is evaluated with the allocator (O(tensors) each). Budgets
    at or above the allocator's peak spill nothing (no evaluation); a budget seen before is
    not evaluated again; when every spill cost is non-negative the evaluation stops as soon as
    it shows that the candidate does not pay off. The decisions, and so the plan, are those of
    evaluating the allocation in full for every candidate.
    """
    plan = ResidencyPlan(weight_bytes_of=dict(weight_bytes_of))
    candidates = sorted((u for u, w in weight_bytes_of.items() if w > 0),
                        key=lambda u: (-weight_dram_bytes.get(u, 0) / weight_bytes_of[u], u))
    monotone = all(c >= 0 for c in spill_cost_bytes.values())
    exact: dict[int, int] = {}        # budget -> its spill traffic
    at_least: dict[int, int] = {}     # budget -> a lower bound on it (an evaluation cut short)

    def spill_bytes(budget: int, limit: int | None = None) -> int:
        if budget in exact:
            return exact[budget]
        if limit is not None and budget in at_least and at_least[budget] >= limit:
            return at_least[budget]
        value = allocator.spill_cost(budget, spill_cost_bytes, limit if monotone else None)
        if monotone and limit is not None and value >= limit:
            at_least[budget] = max(value, at_least.get(budget, value))
        else:
            exact[budget] = value
        return value

    current = spill_bytes(room_bytes)
    for u in candidates:
        w = weight_bytes_of[u]
        if plan.resident_weight_bytes + w > room_bytes:
            continue
        saved = weight_dram_bytes.get(u, 0)
        # admitted iff saved > trial - current, i.e. trial < current + saved: an evaluation
        # that reaches current + saved can stop (the candidate is rejected either way)
        trial = spill_bytes(room_bytes - plan.resident_weight_bytes - w, current + saved)
        if saved > trial - current:
            plan.resident_units.add(u)
            plan.resident_weight_bytes += w
            current = trial
    return plan
