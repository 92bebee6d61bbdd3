"""Step 2a of the compiler: which units' weights stay resident in the shared SRAM across runs.

`compiler.weight_residency: resident` models steady-state streaming inference: the weights that
stay in SRAM between frames are loaded once, with the model (the Edge TPU caches parameters in
its on-chip SRAM and streams only what does not fit). The plan (docs/models/tensorcore.md §3a):

1. byte counts come from a streaming compile of the same workload (tiling, and so every block
   transfer, does not depend on the allocation): per unit u, `S_u` = the weight bytes it loads
   from DRAM per run (more than its weights `W_u` when blocks are re-fetched per pixel tile);
   per activation tensor, the DMA bytes it moves if it lives in DRAM;
2. candidates (MAC units on the cores that stream weights) in decreasing `S_u / W_u` (DRAM
   bytes saved per byte of SRAM), ties in unit order; KV caches after every weight, admitted
   only when they spill no activation (`plan_residency`);
3. a candidate is admitted when `W_u` fits what is left of `size - staging` and `S_u` exceeds
   the extra activation spill traffic the smaller activation budget causes (the interval
   allocation re-evaluated for that budget). A rejected unit does not stop smaller later ones.

A run's DRAM bytes therefore never exceed streaming. A knapsack heuristic, not an optimum.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from simulator.kinds.tensorcore.compiler.allocation import SpillAllocator
from simulator.kinds.tensorcore.compiler.spill_search import SpillSearch


@dataclass
class ResidencyPlan:
    """Units whose weights are resident, their stored bytes (`weight_bytes_of`: every
    candidate unit's weight bytes, resident or not) and the total resident bytes."""

    resident_units: set[int] = field(default_factory=set)
    resident_weight_bytes: int = 0
    weight_bytes_of: dict[int, int] = field(default_factory=dict)


def plan_residency(weight_bytes_of: Mapping[int, int], weight_dram_bytes: Mapping[int, int],
                   allocator: SpillAllocator, spill_cost_bytes: Mapping[str, int],
                   room_bytes: int, kv_caches: frozenset[int] = frozenset()) -> ResidencyPlan:
    """Greedy residency plan (module docstring).

    `weight_bytes_of`: candidate unit -> its stored weight bytes W_u; `weight_dram_bytes`:
    unit -> weight bytes it loads from DRAM per run when streaming, S_u; `spill_cost_bytes`:
    tensor -> the DRAM bytes it costs per run when it lives in DRAM instead of the SRAM;
    `room_bytes`: size - staging (what weights and activations share).

    `kv_caches`: the candidates that are KV caches (decode attention's K x N operand). They
    come after every weight (the weights are the model's and do not depend on the context L;
    the caches take what the weights leave), in unit order (all of a step's caches have the
    same size, so the caches kept are the first ones that fit), and one is admitted only when
    it pushes no activation to DRAM. A cache grows with L: ranked among the weights, or
    traded against spills, it was admitted at some L and rejected at L + 1 and the step got
    cheaper as the context grew (GPT-2 small on bpu: 3,164 cycles cheaper at L = 149 than 148,
    47,005 at L = 298 than 297), where a decode step must never get cheaper as L grows
    (docs/llm.md, section 4). With these rules the set of caches kept only shrinks as L grows.

    The spill traffic of each candidate's budget comes from a SpillSearch (spill_search.py),
    which re-walks only the tensors whose decisions change; a budget seen before is not
    evaluated again; when every spill cost is non-negative an evaluation stops as soon as it
    shows that the candidate does not pay off. The decisions, and so the plan, are those of
    evaluating the allocation in full for every candidate (tested).
    """
    plan = ResidencyPlan(weight_bytes_of=dict(weight_bytes_of))
    candidates = sorted((u for u, w in weight_bytes_of.items() if w > 0),
                        key=lambda u: (u in kv_caches,
                                       -weight_dram_bytes.get(u, 0) / weight_bytes_of[u], u))
    monotone = all(c >= 0 for c in spill_cost_bytes.values())
    search = SpillSearch(allocator, spill_cost_bytes, room_bytes)
    current = search.total
    exact: dict[int, int] = {room_bytes: current}   # budget -> its spill traffic
    at_least: dict[int, int] = {}   # budget -> a lower bound (an evaluation cut short)
    for u in candidates:
        w = weight_bytes_of[u]
        if plan.resident_weight_bytes + w > room_bytes:
            continue
        saved = weight_dram_bytes.get(u, 0)
        budget = room_bytes - plan.resident_weight_bytes - w
        # admitted iff saved > trial - current, i.e. trial < current + saved: an evaluation
        # that reaches current + saved can stop (the candidate is rejected either way); a KV
        # cache only when it spills nothing more (trial <= current, so limit current + 1)
        limit = (current + 1 if u in kv_caches else current + saved) if monotone else None
        changes = None
        if budget in exact:
            trial = exact[budget]
        elif limit is not None and at_least.get(budget, limit - 1) >= limit:
            continue
        else:
            trial, changes = search.evaluate(budget, limit)
            if changes is None:   # cut short at the limit: rejected
                at_least[budget] = max(trial, at_least.get(budget, trial))
                continue
            exact[budget] = trial
        if saved > trial - current and (u not in kv_caches or trial <= current):
            if changes is None:   # known from an earlier evaluation: walk it to keep its run
                trial, changes = search.evaluate(budget)
            search.commit(budget, trial, changes)
            plan.resident_units.add(u)
            plan.resident_weight_bytes += w
            current = trial
    return plan
