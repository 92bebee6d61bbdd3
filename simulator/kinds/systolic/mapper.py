"""The mapper: of a GEMM's candidate tilings (tiling.py), the one that minimises the run's
objective, with its cycles, DRAM bytes and SRAM traffic.

Objectives (RunOptions.objective, default the arch's `mapping_objective`):

| objective | ranks by | then |
|---|---|---|
| latency | cycles of the GEMM (compute + tiling overhead + DRAM stalls, closed form below), within LATENCY_TOLERANCE (0.2 %) of the fastest | DRAM bytes, cycles, tiling overhead, steps |
| dram | DRAM bytes | cycles, tiling overhead, steps |
| energy | energy the choice moves (DRAM + SRAM traffic, priced from the run's table) | cycles, tiling overhead, steps |
| edp | (that energy + the GEMM's fixed MAC and register energy) x cycles | cycles, tiling overhead, steps |

Candidates that overflow a buffer rank last (they are modelled only when nothing fits).

Cycles of `reps` back-to-back instances of a double-buffered tile pipeline (Stalls, docs/models.md
section 3.6): each of the S steps computes c = busy / S cycles (busy = compute + tiling overhead)
while the next step's tiles transfer (d = bytes / DRAM bytes per cycle); a step whose transfer
outlasts c costs d instead. With the three step classes of tiling.py:

    cycles = latency + d_first + reps * (c + sum_p count_p * max(c, d_p))
             + (reps - 1) * (max(c, d_first_repeat + d_last) - c) + d_last + first_exposed

Under latency a candidate's cycles only fall when DRAM bandwidth rises and the candidate set only
grows when a buffer grows, so the fastest candidate's cycles never rise with more bandwidth or
more SRAM, and the chosen one is within LATENCY_TOLERANCE of it. Under `dram` the choice does not
depend on bandwidth, so DRAM bytes never rise with more SRAM and cycles never rise with more
bandwidth (the properties the other objectives give up: a faster tiling may move more bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from simulator.kinds.systolic.tiling import ORDERS, Candidates, TilingProblem, candidates

OBJECTIVES = ("latency", "energy", "edp", "dram")
#: the latency objective treats candidates within this fraction of the fastest as equally fast
#: and takes the one with the least DRAM traffic: a few cycles of exposed transfer are not
#: worth re-fetching an operand thirty times (a tie, within the model's own accuracy)
LATENCY_TOLERANCE = 0.002


@dataclass(frozen=True)
class Prices:
    """pJ per byte of each traffic the tiling choice changes (from the run's energy table), and
    the energy of one instance it does not change (MACs, registers: for EDP)."""

    dram: float
    a_sram: float
    b_sram: float
    c_sram: float
    out_sram: float
    write_ratio: float
    fixed_pj: float = 0.0


@dataclass(frozen=True)
class GemmContext:
    """What a GEMM's choice depends on besides its tiling problem (hashable, so choices cache).

    inst_compute: compute cycles of one instance; reps = groups * steps instances run back to
    back; steps > 1 instances share weights (LSTM time steps), which a tile holding the whole
    matrix keeps on chip; first_exposed: cycles exposed once per GEMM (the first stationary
    load of a pipelined array); unified: TPU-style buffers (SRAM roles: unified buffer, weight
    FIFO, accumulators)."""

    inst_compute: float
    reps: int
    groups: int
    steps: int
    bytes_per_cycle: float
    latency_cycles: float
    first_exposed: float
    objective: str
    unified: bool
    prices: Prices | None = None


@dataclass(frozen=True)
class Choice:
    """The chosen tiling of one GEMM and what it costs over all its instances."""

    problem: TilingProblem
    tm: int
    tk: int
    tn: int
    order: str
    trips: tuple[int, int, int]      # m, k, n trips
    fetches: tuple[int, int, int]    # a fetches, b fetches, c visits
    fits: bool
    overhead_cycles: float           # per instance
    cycles: float                    # all instances, first_exposed included
    a_dram: float                    # all instances
    b_dram: float
    c_dram_write: float
    c_dram_read: float
    sram: dict                       # role -> (read bytes, write bytes), all instances
    k_parts: int
    candidates: int
    terms: dict                      # the closed form's terms for the chosen candidate

    @property
    def dram_bytes(self) -> float:
        return self.a_dram + self.b_dram + self.c_dram_write + self.c_dram_read

    def as_dict(self) -> dict:
        m, k, n = self.trips
        return {"tile_m": self.tm, "tile_k": self.tk, "tile_n": self.tn,
                "loop_order": self.order, "trips": {"m": m, "k": k, "n": n},
                "a_fetches": self.fetches[0], "b_fetches": self.fetches[1],
                "c_visits": self.fetches[2], "fits": self.fits}


def _sram(c: Candidates, ctx: GemmContext, b_factor: np.ndarray) -> dict:
    """Per instance, (read, write) bytes of each SRAM role for every candidate: `a` (the buffer
    A streams from), `b` (B's buffer), `c` (partial sums: accumulators or the ofmap SRAM) and,
    on a unified buffer, `out` (final outputs written into the unified buffer).
    Array side (docs/models.md 3.8) plus every DRAM fill and drain."""
    p = c.problem
    c_elems = float(p.m * p.n)
    psum_writes = (c_elems * p.acc_elem_bytes) * c.k_parts
    psum_reads = (c_elems * p.acc_elem_bytes) * (c.k_parts - 1)
    out = {"a": (c.a_reads, c.a_bytes), "b": (c.b_reads, c.b_bytes * b_factor)}
    if ctx.unified:
        out["c"] = (psum_reads + c_elems * p.acc_elem_bytes, psum_writes)
        out["out"] = (c.c_write, c_elems * p.out_elem_bytes)
    else:
        writes = np.where(c.k_parts > 1, psum_writes, c_elems * p.out_elem_bytes)
        out["c"] = (psum_reads + c.c_write, writes + c.c_read)
    return out


def evaluate(c: Candidates, ctx: GemmContext) -> dict[str, np.ndarray]:
    """Cycles, DRAM bytes and (when priced) energy of every candidate over all instances,
    arrays of shape (orders, tile sizes)."""
    bw = ctx.bytes_per_cycle
    reps = ctx.reps
    step = (ctx.inst_compute + c.overhead) / c.steps                        # (T,)
    body = step + (c.counts * np.maximum(step, c.class_bytes / bw)).sum(axis=0)
    if ctx.steps > 1:
        b_shared = c.b_whole & (c.fetches[1] > 0)
        b_factor = np.where(b_shared, ctx.groups / reps, 1.0)
        first_repeat = c.first_bytes - np.where(b_shared, c.b_event, 0.0)
    else:
        b_factor = np.ones(body.shape)
        first_repeat = c.first_bytes
    dram = reps * (c.a_bytes + c.c_write + c.c_read + c.b_bytes * b_factor)
    cycles = c.first_bytes / bw + reps * body + c.last_write / bw + ctx.first_exposed
    if reps > 1:
        cycles = cycles + (reps - 1) * (np.maximum(step, (first_repeat + c.last_write) / bw)
                                        - step)
    if ctx.latency_cycles:
        cycles = cycles + np.where(dram > 0, ctx.latency_cycles, 0.0)
    out = {"cycles": cycles, "dram": dram, "b_factor": b_factor}
    if ctx.objective in ("energy", "edp") and ctx.prices is not None:
        pr = ctx.prices
        pj = dram * pr.dram
        for role, (rd, wr) in _sram(c, ctx, b_factor).items():
            price = {"a": pr.a_sram, "b": pr.b_sram, "c": pr.c_sram, "out": pr.out_sram}[role]
            pj = pj + (reps * price) * (rd + pr.write_ratio * wr)
        out["energy"] = pj
    return out


def _rank(values: dict[str, np.ndarray], c: Candidates, objective: str, fixed_pj: float) -> int:
    """Flat index (order-major) of the best candidate for `objective`."""
    shape = c.feasible.shape
    flat = lambda x: np.broadcast_to(x, shape).ravel()  # noqa: E731
    feasible = c.feasible.ravel()
    cycles = np.round(values["cycles"].ravel(), 6)
    dram = np.round(values["dram"].ravel(), 3)
    if objective == "latency":
        # near ties (within LATENCY_TOLERANCE of the fastest) go to the least DRAM traffic
        best = cycles[feasible].min() if feasible.any() else cycles.min()
        near = cycles <= best * (1 + LATENCY_TOLERANCE)
        keys = [~(near & feasible), dram, cycles]
    elif objective == "dram":
        keys = [~feasible, dram, cycles]
    else:
        energy = values.get("energy")
        if energy is None:
            raise ValueError(f"objective {objective!r} needs energy prices")
        energy = energy.ravel()
        primary = energy if objective == "energy" else (energy + fixed_pj) * values["cycles"].ravel()
        keys = [~feasible, np.round(primary, 9 if objective == "energy" else 3), cycles]
    # ties (e.g. a DRAM-bound GEMM, where split tiles hide their fill/drain): the least tiling
    # overhead, then the fewest steps
    keys += [flat(np.round(c.overhead, 6)), flat(c.steps), flat(c.orders[:, None])]
    return int(np.lexsort(keys[::-1])[0])


@lru_cache(maxsize=65536)
def choose(problem: TilingProblem, ctx: GemmContext) -> Choice:
    """The candidate of `problem` that minimises `ctx.objective` (see the module docstring)."""
    c = candidates(problem)
    values = evaluate(c, ctx)
    fixed = ctx.prices.fixed_pj * ctx.reps if ctx.prices is not None else 0.0
    o, t = divmod(_rank(values, c, ctx.objective, fixed), len(c.tm))

    def at(x) -> float:
        x = np.asarray(x)
        if x.ndim == 0:
            return float(x)
        return float(x[t] if x.ndim == 1 else x[o, t])

    reps = ctx.reps
    b_factor = at(values["b_factor"])
    sram = {role: (at(rd) * reps, at(wr) * reps)
            for role, (rd, wr) in _sram(c, ctx, values["b_factor"]).items()}
    bw = ctx.bytes_per_cycle
    step = (ctx.inst_compute + at(c.overhead)) / at(c.steps)
    first, last, b_event = at(c.first_bytes), at(c.last_write), at(c.b_event)
    repeat = first - (b_event if b_factor < 1.0 else 0.0)
    terms = {
        "latency": ctx.latency_cycles if at(values["dram"]) > 0 else 0.0,
        "d_first": first / bw, "reps": float(reps), "c": step, "d_last": last / bw,
        "first_exposed": ctx.first_exposed,
        "between": max(step, (repeat + last) / bw) - step}
    for p_ in range(3):
        terms[f"n{p_}"] = float(c.counts[p_, o, t])
        terms[f"d{p_}"] = float(c.class_bytes[p_, o, t]) / bw
    terms.update(a_per_instance=at(c.a_bytes), b_per_instance=at(c.b_bytes),
                 b_instances=b_factor * reps, c_write_per_instance=at(c.c_write),
                 c_read_per_instance=at(c.c_read))
    return Choice(
        problem=problem, tm=int(c.tm[t]), tk=int(c.tk[t]), tn=int(c.tn[t]),
        order=ORDERS[int(c.orders[o])],
        trips=(int(c.trips[0, t]), int(c.trips[1, t]), int(c.trips[2, t])),
        fetches=(int(c.fetches[0, o, t]), int(c.fetches[1, o, t]), int(c.fetches[2, o, t])),
        fits=bool(c.fits[t]), overhead_cycles=at(c.overhead),
        cycles=at(values["cycles"]), a_dram=reps * at(c.a_bytes),
        b_dram=reps * at(c.b_bytes) * b_factor,
        c_dram_write=reps * at(c.c_write), c_dram_read=reps * at(c.c_read),
        sram=sram, k_parts=int(at(c.k_parts)), candidates=len(c), terms=terms)


#: the closed form of `evaluate` for one candidate, over `Choice.terms`
CYCLES_EXPRESSION = ("latency + d_first + reps * (c + n0 * max(c, d0) + n1 * max(c, d1) "
                     "+ n2 * max(c, d2)) + (reps - 1) * between + d_last + first_exposed")


def least_traffic(problem: TilingProblem) -> Choice:
    """The least-DRAM-traffic tiling of one instance (unlimited bandwidth, no context): the
    traffic-only choice, kept for tests and for `objective: dram` on a single GEMM."""
    ctx = GemmContext(inst_compute=0.0, reps=1, groups=1, steps=1,
                      bytes_per_cycle=float("inf"), latency_cycles=0.0, first_exposed=0.0,
                      objective="dram", unified=problem.accumulator_rows)
    return choose(problem, ctx)
