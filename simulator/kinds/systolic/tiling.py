"""DRAM tiling of one GEMM for given buffer sizes: tile sizes, loop order, traffic, stalls.

The GEMM (M x K) @ (K x N) -> (M x N) is cut into tiles (Tm, Tk, Tn) and walked by three nested
loops in one of the six orders. Operands: A (ifmap, indexed m,k), B (filter, k,n), C (ofmap, m,n).

Reuse rule (the usual loop-nest analysis, e.g. Timeloop, Parashar et al., ISPASS 2019): a tile
stays in its buffer while the loops inside the innermost loop that indexes it run; it is
fetched again whenever a loop at or outside that position advances. Hence

    fetches(X) = |X| * prod(trip counts of the loops outside X's innermost (non-trivial) index
                            loop that do not index X)

For C the same count gives the visits of each output: visits > 1 means partial sums leave the
buffer and come back (written and read at accumulator width; the final write at output width).

Buffers: a tile of X must fit X's buffer (half of it when double-buffered). Operands that are
not in DRAM (activations resident in a TPU unified buffer) take no staging space and no traffic.
A's DRAM footprint is the real input tensor, not its im2col expansion: an M tile of a conv needs
the input rows under its output rows, halo included ((rows_out - 1) * stride + R rows), so small
M tiles re-fetch halo rows.

An operand whose whole tensor fits its buffer is fetched once whatever the loop order, and
partial sums that all fit the output buffer never spill to DRAM.

Choice: the candidate with the least DRAM traffic; ties go to the least tiling overhead (extra
fill/drain or exposed stationary loads), then to the fewest steps. The choice never depends on
DRAM bandwidth, so more bandwidth can only shorten a run, and every tiling that fits a buffer also
fits a bigger one, so more SRAM never adds traffic.

Stalls (double buffering): each step computes for c = compute / steps cycles while the next
step's tiles transfer; a step is stalled when its transfer outlasts the previous step's compute.
Steps fall in three classes by which loop advanced, so the sum is closed-form:

    cycles = latency + d_first + sum_p count_p * max(c, d_p) + c + d_last_write
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from math import ceil

import numpy as np

ORDERS: tuple[tuple[str, str, str], ...] = tuple(permutations("mkn"))
INDEX = {"a": frozenset("mk"), "b": frozenset("kn"), "c": frozenset("mn")}
#: which GEMM dimension each dataflow streams in time, and which sit on array rows / cols
TEMPORAL = {"os": "k", "ws": "m", "is": "n"}
SPATIAL = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}


@dataclass(frozen=True)
class TilingProblem:
    """Everything the tiling of one GEMM depends on (hashable, so results are cached).

    Sizes in bytes; `cap_*` are the bytes one tile may use (already halved when
    double-buffered; None: the operand needs no staging buffer). `conv_*` describe the input
    rows of a conv for halo accounting (for a plain matrix: wo=1, stride=1, r=1, rows=M).
    `overhead_mode`: 'scalesim' (each extra temporal tile repeats a fold's fill/drain of
    `fold_overhead_cycles`) or 'pipelined' (each stationary load of `shift_cycles` hides behind
    the previous fold's `rate_slowdown * rows` streamed rows).
    """

    m: int
    k: int
    n: int
    rows: int
    cols: int
    dataflow: str
    a_unique_bytes: float
    b_elem_bytes: float
    out_elem_bytes: float
    acc_elem_bytes: float
    a_in_dram: bool
    b_in_dram: bool
    c_to_dram: bool
    cap_a: float | None
    cap_b: float | None
    cap_c: float
    allow_psum_spill: bool
    conv_wo: int = 1
    conv_stride: int = 1
    conv_r: int = 1
    conv_rows: int = 0
    overhead_mode: str = "scalesim"
    fold_overhead_cycles: int = 0
    shift_cycles: int = 0
    rate_slowdown: int = 1
    accumulator_rows: bool = False  # C tiles live in cols-wide accumulator rows at acc width


@dataclass(frozen=True)
class Tiling:
    """The chosen tiling and its DRAM traffic (bytes for one GEMM instance)."""

    tm: int
    tk: int
    tn: int
    order: str
    trips: tuple[int, int, int]
    a_dram_read_bytes: float
    b_dram_read_bytes: float
    c_dram_write_bytes: float
    c_dram_read_bytes: float
    a_fetches: int
    b_fetches: int
    c_visits: int
    overhead_cycles: float
    fits: bool
    # transfer bytes for the stall model
    first_bytes: float
    last_write_bytes: float
    class_counts: tuple[int, int, int]
    class_bytes: tuple[float, float, float]

    @property
    def steps(self) -> int:
        return self.trips[0] * self.trips[1] * self.trips[2]

    @property
    def dram_bytes(self) -> float:
        return (self.a_dram_read_bytes + self.b_dram_read_bytes + self.c_dram_write_bytes
                + self.c_dram_read_bytes)

    def as_dict(self) -> dict:
        return {"m": self.tm, "k": self.tk, "n": self.tn, "loop_order": self.order,
                "trips": list(self.trips), "a_fetches": self.a_fetches,
                "b_fetches": self.b_fetches, "c_visits": self.c_visits, "fits": self.fits}


def _candidates(dim: int, base: int) -> np.ndarray:
    """Tile sizes for one dimension: base * 2^i below dim, plus dim itself."""
    values = {dim}
    size = base
    while size < dim:
        values.add(size)
        size *= 2
    return np.array(sorted(values), dtype=np.int64)


def _a_rows_in(t: np.ndarray, p: TilingProblem) -> np.ndarray:
    """Input rows an M tile of t output positions needs (fractional rows when t < Wo)."""
    out_rows = t / p.conv_wo
    full = np.minimum(p.conv_rows, (out_rows - 1.0) * p.conv_stride + p.conv_r)
    return np.where(out_rows < 1.0, p.conv_r * out_rows, full)


_POS = np.arange(3).reshape(1, 3, 1)
#: in_index[x][o, p]: does the loop at position p of order o index operand x
_IN_INDEX = {x: np.array([[loop in INDEX[x] for loop in order] for order in ORDERS]
                         ).reshape(len(ORDERS), 3, 1) for x in "abc"}


def _order_analysis(trips_at: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For every order (axis 0) and candidate (axis 1): per operand the innermost non-trivial
    index position j (-1: a single tile), the refetch factor and the number of load events."""
    nontrivial = trips_at > 1
    out = {}
    for x in "abc":
        inx = _IN_INDEX[x]
        j = np.where(inx & nontrivial, _POS, -1).max(axis=1)              # (orders, N)
        jj = j[:, None, :]
        refetch = np.where(~inx & (_POS < jj), trips_at, 1).prod(axis=1)
        events = np.where(_POS <= jj, trips_at, 1).prod(axis=1)
        out[x] = (j, refetch, events)
    return out


@lru_cache(maxsize=16384)
def choose_tiling(p: TilingProblem) -> Tiling:
    """Least-DRAM-traffic tiling of one GEMM (see module docstring)."""
    row_dim, col_dim = SPATIAL[p.dataflow]
    temporal = TEMPORAL[p.dataflow]
    dims = {"m": p.m, "k": p.k, "n": p.n}
    base = {row_dim: p.rows, col_dim: p.cols, temporal: 1}
    cand = {d: _candidates(dims[d], base[d]) for d in "mkn"}
    tm, tk, tn = (g.ravel() for g in np.meshgrid(cand["m"], cand["k"], cand["n"], indexing="ij"))
    trips = {"m": -(-p.m // tm), "k": -(-p.k // tk), "n": -(-p.n // tn)}

    # per-pass bytes and tile bytes of each operand
    rows_tile = _a_rows_in(np.minimum(tm, p.m).astype(float), p)
    m_full, m_rem = p.m // tm, p.m % tm
    rows_rem = _a_rows_in(m_rem.astype(float), p)
    a_pass = np.maximum(p.a_unique_bytes,
                        (m_full * rows_tile + (m_rem > 0) * rows_rem) / p.conv_rows * p.a_unique_bytes)
    a_tile = rows_tile / p.conv_rows * p.a_unique_bytes * np.minimum(tk, p.k) / p.k
    b_total = float(p.k * p.n) * p.b_elem_bytes
    b_tile = tk * tn * p.b_elem_bytes
    c_elems = float(p.m * p.n)
    k_split_in_array = p.dataflow in ("ws", "is") and p.k > p.rows
    if p.accumulator_rows:
        # TPUv1 accumulators: 4096 rows of 256 32-bit sums; a tile occupies whole rows
        c_tile = tm * (-(-tn // p.cols) * p.cols) * p.acc_elem_bytes
    else:
        c_width = np.where((trips["k"] > 1) | k_split_in_array, p.acc_elem_bytes,
                           p.out_elem_bytes)
        c_tile = tm * tn * c_width

    fits = c_tile <= p.cap_c
    if p.cap_a is not None:
        fits &= a_tile <= p.cap_a
    if p.cap_b is not None:
        fits &= b_tile <= p.cap_b
    # Feasible: every tile within max(buffer, that operand's tile in the all-smallest
    # candidate). When even the smallest tiles overflow a buffer we model them anyway (`fits`
    # is False and the engine warns); raising the effective cap this way keeps the feasible set
    # non-empty and growing with buffer size, so more SRAM can never add traffic.
    smallest = int(np.flatnonzero((tm == tm.min()) & (tk == tk.min()) & (tn == tn.min()))[0])
    feasible = c_tile <= max(p.cap_c, float(c_tile[smallest]))
    if p.cap_a is not None:
        feasible &= a_tile <= max(p.cap_a, float(a_tile[smallest]))
    if p.cap_b is not None:
        feasible &= b_tile <= max(p.cap_b, float(b_tile[smallest]))

    # overhead of splitting the temporal dimension
    t_tile = {"m": tm, "k": tk, "n": tn}[temporal]
    t_trips = trips[temporal]
    folds = ceil(dims[row_dim] / p.rows) * ceil(dims[col_dim] / p.cols)
    if p.overhead_mode == "pipelined":
        t_full, t_rem = dims[temporal] // t_tile, dims[temporal] % t_tile
        exposed_shift = (t_full * np.maximum(0, p.shift_cycles - t_tile * p.rate_slowdown)
                         + (t_rem > 0) * np.maximum(0, p.shift_cycles - t_rem * p.rate_slowdown))
        overhead = folds * exposed_shift.astype(float)
    else:
        overhead = folds * (t_trips - 1) * float(p.fold_overhead_cycles) * p.rate_slowdown

    # all six loop orders at once: arrays of shape (orders, candidates)
    trips_at = np.stack([np.stack([trips[loop] for loop in order]) for order in ORDERS])
    an = _order_analysis(trips_at)
    # An operand whose whole tensor fits its buffer is loaded once and stays, whatever the loop
    # order (nothing evicts it); likewise partial sums that all fit the output buffer never
    # spill. Without this, e.g. a batch-1 FC layer on an OS array would keep its 9 KB input
    # "tile-resident" only by splitting K into 8-deep chunks, repeating a fold's fill/drain
    # thousands of times for no traffic saved.
    resident = {"a": p.a_in_dram and p.cap_a is not None and p.a_unique_bytes <= p.cap_a,
                "b": p.b_in_dram and p.cap_b is not None and b_total <= p.cap_b}
    for x in "ab":
        if resident[x]:
            # still filled progressively on the first pass (same load events), never refetched
            j, refetch, events = an[x]
            an[x] = (j, np.ones_like(refetch), events)
    if p.accumulator_rows:
        c_full = p.m * (-(-p.n // p.cols) * p.cols) * p.acc_elem_bytes
    else:
        c_full = c_elems * p.acc_elem_bytes
    psums_on_chip = c_full <= p.cap_c
    visits = an["c"][1]
    ok = feasible[None, :] if (p.allow_psum_spill or psums_on_chip) else \
        feasible[None, :] & (visits == 1)
    ok = np.broadcast_to(ok, visits.shape)
    if not p.a_in_dram:
        a_bytes = np.zeros(visits.shape)
    elif resident["a"]:
        a_bytes = np.full(visits.shape, float(p.a_unique_bytes))
    else:
        a_bytes = a_pass * an["a"][1]
    b_bytes = b_total * an["b"][1] if p.b_in_dram else np.zeros(visits.shape)
    psum = np.zeros(visits.shape) if psums_on_chip else c_elems * (visits - 1) * p.acc_elem_bytes
    c_write = (c_elems * p.out_elem_bytes + psum) if p.c_to_dram else psum
    c_read = psum
    total = a_bytes + b_bytes + c_write + c_read
    # exposed transfer of a run: the first tiles and the last output tile
    exposed = ((a_tile if p.a_in_dram else 0.0) + (np.minimum(b_tile, b_total) if p.b_in_dram else 0.0)
               + (np.minimum(tm, p.m) * np.minimum(tn, p.n) * p.out_elem_bytes if p.c_to_dram else 0.0))
    steps = trips["m"] * trips["k"] * trips["n"]
    shape = visits.shape
    order_index = np.broadcast_to(np.arange(len(ORDERS))[:, None], shape)
    # lexicographic: feasible first, then traffic, tiling overhead, exposed bytes, steps, order
    keys = (order_index.ravel(), np.broadcast_to(steps, shape).ravel(),
            np.broadcast_to(np.round(exposed, 3), shape).ravel(),
            np.broadcast_to(np.round(overhead, 3), shape).ravel(), np.round(total, 3).ravel(),
            np.where(ok, 0, 1).ravel())
    flat = int(np.lexsort(keys)[0])
    oi, i = divmod(flat, shape[1])
    order = ORDERS[oi]
    t3 = tuple(int(trips[loop][i]) for loop in order)
    j = {x: int(an[x][0][oi, i]) for x in "abc"}
    ev = {x: int(an[x][2][oi, i]) for x in "abc"}
    a_b, b_b = float(a_bytes[oi, i]), float(b_bytes[oi, i])
    c_w, c_r = float(c_write[oi, i] if np.ndim(c_write) else c_write), float(c_read[oi, i])
    per_event = {"a": a_b / ev["a"], "b": b_b / ev["b"]}
    c_total = c_w + c_r
    last_write = c_total / ev["c"] if ev["c"] else 0.0
    c_event = (c_total - last_write) / (ev["c"] - 1) if ev["c"] > 1 else 0.0
    counts = (t3[0] - 1, t3[0] * (t3[1] - 1), t3[0] * t3[1] * (t3[2] - 1))
    class_bytes = []
    for pos in range(3):
        nbytes = sum(per_event[x] for x in "ab" if pos <= j[x])
        if pos <= j["c"]:
            nbytes += c_event
        class_bytes.append(nbytes)
    return Tiling(tm=int(tm[i]), tk=int(tk[i]), tn=int(tn[i]), order="".join(order), trips=t3,
                  a_dram_read_bytes=a_b, b_dram_read_bytes=b_b, c_dram_write_bytes=c_w,
                  c_dram_read_bytes=c_r, a_fetches=int(an["a"][1][oi, i]),
                  b_fetches=int(an["b"][1][oi, i]), c_visits=int(visits[oi, i]),
                  overhead_cycles=float(overhead[i]), fits=bool(fits[i]),
                  first_bytes=per_event["a"] + per_event["b"], last_write_bytes=last_write,
                  class_counts=counts, class_bytes=tuple(class_bytes))


def pipeline_cycles(t: Tiling, compute_cycles: float, bytes_per_cycle: float,
                    latency_cycles: float = 0.0, reps: int = 1,
                    first_bytes_repeat: float | None = None) -> float:
    """Cycles of `reps` back-to-back runs of a double-buffered tile pipeline.

    `compute_cycles` (one run) is spread evenly over the steps; a step whose transfer
    (d = bytes / bandwidth) exceeds the compute of the step it hides behind costs d instead of c.
    Between runs the next run's first tiles (`first_bytes_repeat`, default the same as the first
    run's) and the previous run's last output transfer hide behind the last step's compute.
    """
    c = compute_cycles / t.steps
    if first_bytes_repeat is None:
        first_bytes_repeat = t.first_bytes
    body = c
    for count, nbytes in zip(t.class_counts, t.class_bytes):
        if count:
            body += count * max(c, nbytes / bytes_per_cycle)
    between = max(c, (first_bytes_repeat + t.last_write_bytes) / bytes_per_cycle) - c
    return (latency_cycles + t.first_bytes / bytes_per_cycle + reps * body
            + (reps - 1) * between + t.last_write_bytes / bytes_per_cycle)
