"""The mapper: of a GEMM's candidate tilings (tiling.py), the one that minimises the run's
objective, with its cycles, DRAM bytes and SRAM traffic. `choose_many` ranks the candidates of
all the GEMMs of a run in one vectorised pass (a choice is cached by its problem and context).

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

from collections import OrderedDict
from operator import attrgetter
from typing import NamedTuple, Sequence

import numpy as np

from simulator.kinds.systolic.tiling import ORDERS, Candidates, TilingProblem, candidates

OBJECTIVES = ("latency", "energy", "edp", "dram")
#: the latency objective treats candidates within this fraction of the fastest as equally fast
#: and takes the one with the least DRAM traffic: a few cycles of exposed transfer are not
#: worth re-fetching an operand thirty times (a tie, within the model's own accuracy)
LATENCY_TOLERANCE = 0.002
#: choices kept (per process) for repeated (problem, context) pairs: sweeps and sub-batches
CACHE_SIZE = 32768


class Prices(NamedTuple):
    """pJ per byte of each traffic the tiling choice changes (from the run's energy table), and
    the energy of one instance it does not change (MACs, registers: for EDP)."""

    dram: float
    a_sram: float
    b_sram: float
    c_sram: float
    out_sram: float
    write_ratio: float
    fixed_pj: float = 0.0


class GemmContext(NamedTuple):
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


class Choice(NamedTuple):
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
    context: GemmContext
    #: per instance, for `terms`: moves DRAM bytes, first and last transfer bytes, B's bytes
    #: per load event, compute per step, B's share of instances, A, B, C write and C read
    #: bytes, steps and bytes of each step class
    pipeline: tuple

    @property
    def terms(self) -> dict[str, float]:
        """The closed form's terms (`CYCLES_EXPRESSION`) and DRAM bytes of the chosen candidate."""
        ctx = self.context
        bw, reps = ctx.bytes_per_cycle, ctx.reps
        moves_dram, first, last, b_event, step, b_factor, a, b, c_write, c_read, *per_class = \
            self.pipeline
        repeat = first - (b_event if b_factor < 1.0 else 0.0)
        terms = {"latency": ctx.latency_cycles if moves_dram else 0.0,
                 "d_first": first / bw, "reps": float(reps), "c": step, "d_last": last / bw,
                 "first_exposed": ctx.first_exposed,
                 "between": max(step, (repeat + last) / bw) - step,
                 "a_per_instance": a, "b_per_instance": b, "b_instances": b_factor * reps,
                 "c_write_per_instance": c_write, "c_read_per_instance": c_read}
        for q in range(3):
            terms[f"n{q}"] = float(per_class[q])
            terms[f"d{q}"] = per_class[3 + q] / bw
        return terms

    @property
    def dram_bytes(self) -> float:
        return self.a_dram + self.b_dram + self.c_dram_write + self.c_dram_read

    def as_dict(self) -> dict:
        m, k, n = self.trips
        return {"tile_m": self.tm, "tile_k": self.tk, "tile_n": self.tn,
                "loop_order": self.order, "trips": {"m": m, "k": k, "n": n},
                "a_fetches": self.fetches[0], "b_fetches": self.fetches[1],
                "c_visits": self.fetches[2], "fits": self.fits}


#: the closed form of `evaluate` for one candidate, over `Choice.terms`
CYCLES_EXPRESSION = ("latency + d_first + reps * (c + n0 * max(c, d0) + n1 * max(c, d1) "
                     "+ n2 * max(c, d2)) + (reps - 1) * between + d_last + first_exposed")


def _sram(c: Candidates, unified: bool, b_factor: np.ndarray) -> dict:
    """Per instance, (read, write) bytes of each SRAM role for every candidate: `a` (the buffer
    A streams from), `b` (B's buffer), `c` (partial sums: accumulators or the ofmap SRAM) and,
    on a unified buffer, `out` (final outputs written into the unified buffer).
    Array side (docs/models.md 3.8) plus every DRAM fill and drain."""
    psum = c.c_elems * c.acc_elem
    psum_writes = psum * c.k_parts
    psum_reads = psum * (c.k_parts - 1)
    out = {"a": (c.a_reads, c.a_bytes), "b": (c.b_reads, c.b_bytes * b_factor)}
    if unified:
        out["c"] = (psum_reads + psum, psum_writes)
        out["out"] = (c.c_write, c.c_elems * c.out_elem)
    else:
        writes = np.where(c.k_parts > 1, psum_writes, c.c_elems * c.out_elem)
        out["c"] = (psum_reads + c.c_write, writes + c.c_read)
    return out


def _context_arrays(contexts: Sequence[GemmContext], seg: np.ndarray) -> dict[str, np.ndarray]:
    fields = ("inst_compute", "reps", "groups", "steps", "first_exposed")
    out = {f: np.array([getattr(x, f) for x in contexts], dtype=float)[seg] for f in fields}
    if contexts[0].prices is not None:
        for f in ("dram", "a_sram", "b_sram", "c_sram", "out_sram", "fixed_pj"):
            out[f] = np.array([getattr(x.prices, f) for x in contexts])[seg]
    return out


def _bandwidth_free(c: Candidates, contexts: Sequence[GemmContext]) -> dict[str, np.ndarray]:
    """The terms of `evaluate` that depend neither on DRAM bandwidth nor on its latency (cached
    by `_prepared`: a sweep over bandwidth re-ranks with them): per-step compute, B's sharing
    across steps, DRAM bytes and, when priced, energy."""
    ctx0 = contexts[0]
    x = _context_arrays(contexts, c.seg)
    reps = x["reps"]
    step = (x["inst_compute"] + c.overhead) / c.steps                          # (N,)
    shared = (x["steps"] > 1) & c.b_whole & (c.fetches[1] > 0)
    b_factor = np.where(shared, x["groups"] / reps, 1.0)
    first_repeat = c.first_bytes - np.where(shared, c.b_event, 0.0)
    dram = reps * (c.a_bytes + c.c_write + c.c_read + c.b_bytes * b_factor)
    out = {"reps": reps, "reps_between": reps - 1, "step": step, "b_factor": b_factor,
           "dram": dram, "moves_dram": dram > 0, "first_exposed": x["first_exposed"],
           "repeat_bytes": first_repeat + c.last_write}
    if ctx0.objective in ("energy", "edp") and ctx0.prices is not None:
        ratio = ctx0.prices.write_ratio
        pj = dram * x["dram"]
        for role, (rd, wr) in _sram(c, ctx0.unified, b_factor).items():
            pj = pj + (reps * x[f"{role}_sram"]) * (rd + ratio * wr)
        out["energy"] = pj
        out["fixed"] = x["fixed_pj"] * reps
    for value in out.values():
        value.flags.writeable = False
    return out


def evaluate(c: Candidates, contexts: Sequence[GemmContext],
             free: dict[str, np.ndarray] | None = None) -> dict[str, np.ndarray]:
    """Cycles, DRAM bytes and (when priced) energy of every candidate over all its GEMM's
    instances: arrays of shape (orders, candidates). The contexts share the run's bandwidth,
    latency, objective and buffer style; `free` is `_bandwidth_free(c, contexts)` if known."""
    ctx0 = contexts[0]
    x = _bandwidth_free(c, contexts) if free is None else free
    bw = ctx0.bytes_per_cycle
    step = x["step"]
    body = step + (c.counts * np.maximum(step, c.class_bytes / bw)).sum(axis=0)
    cycles = (c.first_bytes / bw + x["reps"] * body + c.last_write / bw + x["first_exposed"]
              + x["reps_between"] * (np.maximum(step, x["repeat_bytes"] / bw) - step))
    if ctx0.latency_cycles:
        cycles += np.where(x["moves_dram"], ctx0.latency_cycles, 0.0)
    return {**x, "cycles": cycles}


def _best(values: dict[str, np.ndarray], c: Candidates, objective: str) -> np.ndarray:
    """Flat index (order-major: order * N + candidate) of the best candidate of every problem."""
    allowed, feasible = c.order_ok, c.feasible
    cycles = np.round(values["cycles"], 6)
    # a user's forced loop order first; without one every order is allowed (a constant key)
    keys: list = [] if allowed.all() else [~allowed]
    if objective == "latency":
        # near ties (within LATENCY_TOLERANCE of the problem's fastest) go to the least DRAM
        usable = allowed & feasible
        best = np.minimum.reduceat(np.where(usable, cycles, np.inf).min(axis=0), c.starts)
        if np.isinf(best).any():       # nothing fits: the fastest of the allowed ones
            fastest = np.where(allowed, cycles, np.inf).min(axis=0)
            best = np.where(np.isinf(best), np.minimum.reduceat(fastest, c.starts), best)
        near = cycles <= best[c.seg] * (1 + LATENCY_TOLERANCE)
        keys += [~(near & feasible), (values["dram"], 3), cycles]
    elif objective == "dram":
        keys += [~feasible, (values["dram"], 3), cycles]
    else:
        energy = values.get("energy")
        if energy is None:
            raise ValueError(f"objective {objective!r} needs energy prices")
        if objective == "edp":
            primary = ((energy + values["fixed"]) * values["cycles"], 3)
        else:
            primary = (energy, 9)
        keys += [~feasible, primary, cycles]
    # ties (e.g. a DRAM-bound GEMM, where split tiles hide their fill/drain): the least tiling
    # overhead, then the fewest steps, then the order's index (the lowest flat index)
    keys += [(c.overhead, 6), c.steps]
    return lexmin_per_segment(keys, c.seg, c.starts, len(ORDERS))


def lexmin_per_segment(keys: Sequence, seg: np.ndarray, starts: np.ndarray,
                       blocks: int) -> np.ndarray:
    """The flat index of the least entry of every segment in the lexicographic order of `keys`
    (first key first; NaN after every number; ties to the lowest index), in segment order:
    what a stable `np.lexsort` of (segment, *keys) puts first in each segment. The flat layout
    is `blocks` blocks (loop orders) of the same N entries, `seg` (N,) the segment of each
    entry, `starts` where each segment begins in it. A key is an array of shape (blocks, N),
    or (N,) when it is the same in every block, or (array, decimals): that array rounded.

    Filters key by key instead of sorting: an entry stays alive while it holds its segment's
    least value. The first key filters the whole layout; the next ones only the live entries
    (gathered entry-major, so that each segment's live entries stay contiguous), and rounding
    applies to those only; once every segment has one live entry the rest cannot change it."""
    n = len(seg)
    t = o = bounds = None          # live entries (entry, block) and where each segment begins
    for key in keys:
        decimals = None
        if isinstance(key, tuple):
            key, decimals = key
        if t is None:
            values = key if decimals is None else np.round(key, decimals)
            column = np.fmin.reduce(values, axis=0) if values.ndim == 2 else values
            least = np.fmin.reduceat(column, starts)[seg]  # fmin skips NaN
            keep = values == least
            if values.dtype.kind == "f":  # an all-NaN segment keeps its live entries
                keep |= np.isnan(least)
            t, o = np.nonzero(np.broadcast_to(keep, (blocks, n)).T)
        else:
            values = key[o, t] if key.ndim == 2 else key[t]
            if decimals is not None:
                values = np.round(values, decimals)
            least = np.fmin.reduceat(values, bounds)[seg[t]]
            keep = values == least
            if values.dtype.kind == "f":
                keep |= np.isnan(least)
            t, o = t[keep], o[keep]
        bounds = np.searchsorted(t, starts)   # every segment keeps a live entry
        if len(t) == len(starts):
            break
    if t is None:
        return starts.copy()
    return np.minimum.reduceat(o * n + t, bounds)


_CACHE: OrderedDict[tuple[TilingProblem, GemmContext], Choice] = OrderedDict()


def choose_many(jobs: Sequence[tuple[TilingProblem, GemmContext]]) -> list[Choice]:
    """The best candidate of every (problem, context) pair, for its context's objective. Pairs
    seen before come from a per-process cache; the rest are ranked together, grouped by what
    must be shared (array mode, bandwidth, objective)."""
    out: list[Choice | None] = [None] * len(jobs)
    missing: dict[tuple, dict[tuple[TilingProblem, GemmContext], list[int]]] = {}
    for i, job in enumerate(jobs):
        hit = _CACHE.get(job)
        if hit is not None:
            _CACHE.move_to_end(job)
            out[i] = hit
            continue
        problem, ctx = job
        group = (problem.dataflow, problem.rows, problem.cols, problem.overhead_mode,
                 problem.accumulator_rows, ctx.bytes_per_cycle, ctx.latency_cycles,
                 ctx.objective, ctx.unified, ctx.prices is None)
        missing.setdefault(group, {}).setdefault(job, []).append(i)
    for pending in missing.values():
        for (job, indices), choice in zip(pending.items(), _choose_group(list(pending))):
            _CACHE[job] = choice
            for i in indices:
                out[i] = choice
    while len(_CACHE) > CACHE_SIZE:
        _CACHE.popitem(last=False)
    return out  # type: ignore[return-value]


def choose(problem: TilingProblem, ctx: GemmContext) -> Choice:
    """The best candidate of one GEMM (see `choose_many`)."""
    return choose_many([(problem, ctx)])[0]


def clear_cache() -> None:
    _CACHE.clear()
    _CANDIDATES.clear()
    _PREPARED.clear()


#: the candidate tilings of recent groups of problems: a sweep that changes only what the
#: ranking reads (DRAM bandwidth and latency, clock, objective, energy) re-ranks the same
#: candidates; `Candidates` arrays are never written after they are built
_CANDIDATES: OrderedDict[tuple[TilingProblem, ...], Candidates] = OrderedDict()
CANDIDATES_CACHE_SIZE = 8
#: the same candidates with their bandwidth-free terms (`_bandwidth_free`), by the problems and
#: every context field but the DRAM bandwidth and latency: a sweep over those re-ranks with them
_PREPARED: OrderedDict[tuple, tuple[Candidates, dict[str, np.ndarray]]] = OrderedDict()
PREPARED_CACHE_SIZE = 4
_BANDWIDTH_FREE_FIELDS = attrgetter(*(f for f in GemmContext._fields
                                      if f not in ("bytes_per_cycle", "latency_cycles")))


def _lru(cache: OrderedDict, key, build, size: int):
    value = cache.get(key)
    if value is None:
        value = cache[key] = build()
        while len(cache) > size:
            cache.popitem(last=False)
    else:
        cache.move_to_end(key)
    return value


def _candidates(problems: tuple[TilingProblem, ...]) -> Candidates:
    """The candidates that can be chosen (`tiling.ranked_columns`): ranking only those gives
    the choice ranking all of them gives (tested), on about a third of the entries."""
    return _lru(_CANDIDATES, problems, lambda: candidates(problems, ranked_only=True),
                CANDIDATES_CACHE_SIZE)


def _prepared(problems: tuple[TilingProblem, ...], contexts: Sequence[GemmContext]
              ) -> tuple[Candidates, dict[str, np.ndarray]]:
    def build() -> tuple[Candidates, dict[str, np.ndarray]]:
        c = _candidates(problems)
        return c, _bandwidth_free(c, contexts)

    key = (problems, tuple(map(_BANDWIDTH_FREE_FIELDS, contexts)))
    return _lru(_PREPARED, key, build, PREPARED_CACHE_SIZE)


def _choose_group(jobs: Sequence[tuple[TilingProblem, GemmContext]]) -> list[Choice]:
    problems = tuple(p for p, _ in jobs)
    return rank(jobs, *_prepared(problems, [x for _, x in jobs]))


def rank(jobs: Sequence[tuple[TilingProblem, GemmContext]], c: Candidates,
         free: dict[str, np.ndarray] | None = None) -> list[Choice]:
    """The best of candidates `c` (of the jobs' problems, in order) for every job."""
    contexts = [x for _, x in jobs]
    values = evaluate(c, contexts, free)
    best = _best(values, c, contexts[0].objective)
    o_idx, t_idx = np.divmod(best, len(c.seg))

    def pick(x: np.ndarray) -> list:
        return (x[t_idx] if x.ndim == 1 else x[o_idx, t_idx]).tolist()

    tm, tk, tn, fits, overhead, k_parts, step, cycles, moves_dram, b_factor, first, last, \
        b_event, a_bytes, b_bytes, c_write, c_read = map(pick, (
            c.tm, c.tk, c.tn, c.fits, c.overhead, c.k_parts, values["step"], values["cycles"],
            values["moves_dram"], values["b_factor"], c.first_bytes, c.last_write, c.b_event,
            c.a_bytes, c.b_bytes, c.c_write, c.c_read))
    roles = {role: (pick(rd), pick(wr))
             for role, (rd, wr) in _sram(c, contexts[0].unified, values["b_factor"]).items()}
    trips = c.trips[:, t_idx].T.tolist()
    fetches = c.fetches[:, o_idx, t_idx].T.tolist()
    counts = c.counts[:, o_idx, t_idx].T.tolist()
    class_bytes = c.class_bytes[:, o_idx, t_idx].T.tolist()
    orders = o_idx.tolist()
    per_problem = c.candidate_counts()
    choices = []
    for j, (problem, ctx) in enumerate(jobs):
        reps = ctx.reps
        choices.append(Choice(
            problem=problem, tm=tm[j], tk=tk[j], tn=tn[j], order=ORDERS[orders[j]],
            trips=tuple(trips[j]), fetches=tuple(fetches[j]), fits=fits[j],
            overhead_cycles=overhead[j], cycles=cycles[j], a_dram=reps * a_bytes[j],
            b_dram=reps * b_bytes[j] * b_factor[j], c_dram_write=reps * c_write[j],
            c_dram_read=reps * c_read[j],
            sram={role: (rd[j] * reps, wr[j] * reps) for role, (rd, wr) in roles.items()},
            k_parts=int(k_parts[j]), candidates=per_problem[j], context=ctx,
            pipeline=(moves_dram[j], first[j], last[j], b_event[j], step[j], b_factor[j],
                      a_bytes[j], b_bytes[j], c_write[j], c_read[j], *counts[j],
                      *class_bytes[j])))
    return choices


def least_traffic(problem: TilingProblem) -> Choice:
    """The least-DRAM-traffic tiling of one instance (unlimited bandwidth, no context): the
    traffic-only choice, kept for tests and for `objective: dram` on a single GEMM."""
    ctx = GemmContext(inst_compute=0.0, reps=1, groups=1, steps=1,
                      bytes_per_cycle=float("inf"), latency_cycles=0.0, first_exposed=0.0,
                      objective="dram", unified=problem.accumulator_rows)
    return choose(problem, ctx)
