"""DRAM tiling of one GEMM: every candidate tiling (tile sizes x loop order) with its traffic,
overheads and transfers, in closed form and vectorised over the candidates.

The GEMM (M x K) @ (K x N) -> (M x N) is cut into tiles (Tm, Tk, Tn) and walked by three nested
loops in one of the six orders. Operands: A (ifmap, indexed m,k), B (filter, k,n), C (ofmap, m,n).
Which candidate runs is the mapper's choice (mapper.py: least latency, energy, EDP or DRAM bytes);
this module only says what each candidate costs.

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
M tiles re-fetch halo rows. An operand whose whole tensor fits its buffer is fetched once
whatever the loop order, and partial sums that all fit the output buffer never spill to DRAM.

Candidate tile sizes: for the two spatial dimensions, `array dim * 2^i` below the dimension plus
the dimension itself (so tiles never add folds); for the temporal one, `2^i` plus the dimension.
Splitting the temporal dimension costs cycles (`overhead`): in SCALE-Sim mode each extra temporal
tile repeats every fold's fill/drain; in pipelined mode (TPUv1) a stationary tile whose shift
outlasts the rows streamed behind it exposes the difference.

Transfers for the stall model (double buffering): a run has S = trips_m * trips_k * trips_n
steps; before a step the tiles whose loop advanced transfer behind the previous step's compute.
Steps fall in three classes by which loop advanced (outer, middle, inner), with `counts` steps
of `class_bytes` each, so the stall sum is closed-form (mapper.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from itertools import permutations
from math import ceil

import numpy as np

ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations("mkn"))
INDEX = {"a": frozenset("mk"), "b": frozenset("kn"), "c": frozenset("mn")}
#: which GEMM dimension each dataflow streams in time, and which sit on array rows / cols
TEMPORAL = {"os": "k", "ws": "m", "is": "n"}
SPATIAL = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}


@dataclass(frozen=True)
class TilingProblem:
    """Everything the candidate tilings of one GEMM depend on (hashable, so they are cached).

    Sizes in bytes; `cap_*` are the bytes one tile may use (already halved when
    double-buffered; None: the operand needs no staging buffer). `conv_*` describe the input
    rows of a conv for halo accounting (for a plain matrix: wo=1, stride=1, r=1, rows=M).
    `overhead_mode`: 'scalesim' (each extra temporal tile repeats a fold's fill/drain of
    `fold_overhead_cycles`) or 'pipelined' (each stationary load of `shift_cycles` hides behind
    the `rate_slowdown * T_tile` cycles of the fold before it). `a_elem_bytes` is the width of
    an A element on the array side (im2col reads); `out_elem_bytes` the bytes per output element
    that reach DRAM. `force_*` pin a tile size or loop order (a user's mapping override; 0 or ''
    = free).
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
    rate_slowdown: float = 1.0
    accumulator_rows: bool = False  # C tiles live in cols-wide accumulator rows at acc width
    a_elem_bytes: float = 1.0
    force_m: int = 0
    force_k: int = 0
    force_n: int = 0
    force_order: str = ""


@dataclass(frozen=True, eq=False)
class Candidates:
    """Every candidate tiling of one problem: per tile-size arrays of length T (`tm`, `tk`,
    `tn`, trips, fits, overhead, steps, SRAM reads) and per (loop order, tile sizes) arrays of
    shape (O, T) (`orders` lists the O loop orders). Bytes and cycles are for one GEMM
    instance; SRAM figures are array-side reads per instance (`a_reads`, `b_reads`) and the
    partial-sum passes (`k_parts`)."""

    problem: TilingProblem
    orders: np.ndarray         # (O,): index into ORDERS
    tm: np.ndarray             # (T,)
    tk: np.ndarray
    tn: np.ndarray
    trips: np.ndarray          # (3, T): trips of the m, k, n loops
    fits: np.ndarray           # (T,)
    overhead: np.ndarray       # (T,)
    steps: np.ndarray          # (T,)
    a_reads: np.ndarray        # (T,)
    b_reads: np.ndarray        # (T,)
    k_parts: np.ndarray        # (T,)
    b_whole: np.ndarray        # (T,): one tile holds the whole B matrix
    feasible: np.ndarray       # (O, T)
    a_bytes: np.ndarray        # (O, T)
    b_bytes: np.ndarray
    c_write: np.ndarray
    c_read: np.ndarray
    first_bytes: np.ndarray
    last_write: np.ndarray
    b_event: np.ndarray
    counts: np.ndarray         # (3, O, T): steps whose outer / middle / inner loop advanced
    class_bytes: np.ndarray    # (3, O, T): bytes transferred before each such step
    fetches: np.ndarray        # (3, O, T): a fetches, b fetches, c visits

    def __len__(self) -> int:
        return self.feasible.size


def tile_sizes(dim: int, base: int, forced: int = 0) -> np.ndarray:
    """Tile sizes for one dimension: base * 2^i below dim, plus dim itself (or the forced one)."""
    if forced:
        return np.array([min(forced, dim)], dtype=np.int64)
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
_ORDER_LOOPS = np.array([["mkn".index(loop) for loop in order] for order in ORDERS])
#: in_index[x][o, p]: does the loop at position p of order o index operand x
_IN_INDEX = {x: np.array([[loop in INDEX[x] for loop in order] for order in ORDERS]
                         ).reshape(len(ORDERS), 3, 1) for x in "abc"}


@lru_cache(maxsize=32768)
def candidates(p: TilingProblem) -> Candidates:
    """Every candidate tiling of `p` with its closed-form traffic (see the module docstring)."""
    row_dim, col_dim = SPATIAL[p.dataflow]
    temporal = TEMPORAL[p.dataflow]
    dims = {"m": p.m, "k": p.k, "n": p.n}
    base = {row_dim: p.rows, col_dim: p.cols, temporal: 1}
    forced = {"m": p.force_m, "k": p.force_k, "n": p.force_n}
    cand = {d: tile_sizes(dims[d], base[d], forced[d]) for d in "mkn"}
    tm, tk, tn = (g.ravel() for g in np.meshgrid(cand["m"], cand["k"], cand["n"], indexing="ij"))
    trips = np.stack([-(-p.m // tm), -(-p.k // tk), -(-p.n // tn)])           # (3, T)
    trip_m, trip_k, trip_n = trips

    # per-pass bytes and tile bytes of each operand (arrays over tile sizes)
    rows_tile = _a_rows_in(tm.astype(float), p)
    m_full, m_rem = p.m // tm, p.m % tm
    rows_rem = _a_rows_in(m_rem.astype(float), p)
    a_pass = np.maximum(p.a_unique_bytes,
                        (m_full * rows_tile + (m_rem > 0) * rows_rem) * (p.a_unique_bytes / p.conv_rows))
    a_tile = rows_tile * (p.a_unique_bytes / p.conv_rows / p.k) * tk
    b_total = float(p.k * p.n) * p.b_elem_bytes
    b_tile = (tk * tn) * p.b_elem_bytes
    c_elems = float(p.m * p.n)
    k_split_in_array = p.dataflow in ("ws", "is") and p.k > p.rows
    if p.accumulator_rows:
        # TPUv1 accumulators: 4096 rows of 256 32-bit sums; a tile occupies whole rows
        c_tile = tm * (-(-tn // p.cols) * p.cols) * p.acc_elem_bytes
        c_full = p.m * (-(-p.n // p.cols) * p.cols) * p.acc_elem_bytes
    elif k_split_in_array:
        c_tile = (tm * tn) * p.acc_elem_bytes
        c_full = c_elems * p.acc_elem_bytes
    else:
        c_tile = (tm * tn) * np.where(trip_k > 1, p.acc_elem_bytes, p.out_elem_bytes)
        c_full = c_elems * p.acc_elem_bytes

    fits = c_tile <= p.cap_c
    if p.cap_a is not None:
        fits &= a_tile <= p.cap_a
    if p.cap_b is not None:
        fits &= b_tile <= p.cap_b
    # Feasible: every tile within max(buffer, that operand's tile in the all-smallest
    # candidate). When even the smallest tiles overflow a buffer they are modelled anyway
    # (`fits` is False and the engine warns); raising the cap this way keeps the feasible set
    # non-empty and growing with buffer size, so more SRAM never removes a candidate. The
    # all-smallest candidate is the first (tile sizes ascend in every dimension).
    feasible = c_tile <= max(p.cap_c, float(c_tile[0]))
    if p.cap_a is not None:
        feasible &= a_tile <= max(p.cap_a, float(a_tile[0]))
    if p.cap_b is not None:
        feasible &= b_tile <= max(p.cap_b, float(b_tile[0]))

    # cycles of splitting the temporal dimension (per instance)
    t_tile = {"m": tm, "k": tk, "n": tn}[temporal]
    t_trips = trips["mkn".index(temporal)]
    folds = ceil(dims[row_dim] / p.rows) * ceil(dims[col_dim] / p.cols)
    if p.overhead_mode == "pipelined":
        t_dim = dims[temporal]
        t_rem = t_dim % t_tile
        exposed_shift = ((t_dim // t_tile) * np.maximum(0.0, p.shift_cycles - t_tile * p.rate_slowdown)
                         + (t_rem > 0) * np.maximum(0.0, p.shift_cycles - t_rem * p.rate_slowdown))
        overhead = folds * exposed_shift
    else:
        # a slower precision repeats whole folds (multi-pass), a faster one packs the stream only
        overhead = (t_trips - 1) * (folds * float(p.fold_overhead_cycles) * max(1.0, p.rate_slowdown))

    # the loop orders: arrays of shape (orders, 3 positions, tiles)
    orders = np.arange(len(ORDERS)) if not p.force_order else \
        np.array([ORDERS.index(p.force_order)])
    trips_at = trips[_ORDER_LOOPS[orders]]
    nontrivial = trips_at > 1
    an = {}
    for x in "abc":
        inx = _IN_INDEX[x][orders]
        j = np.where(inx & nontrivial, _POS, -1).max(axis=1)                    # (O, T)
        jj = j[:, None, :]
        refetch = np.where(~inx & (_POS < jj), trips_at, 1).prod(axis=1)
        events = np.where(_POS <= jj, trips_at, 1).prod(axis=1)
        an[x] = [j, refetch, events]
    # An operand whose whole tensor fits its buffer is loaded once and stays, whatever the loop
    # order (nothing evicts it); likewise partial sums that all fit the output buffer never
    # spill. It still fills progressively on the first pass (same load events).
    if p.a_in_dram and p.cap_a is not None and p.a_unique_bytes <= p.cap_a:
        an["a"][1] = np.ones_like(an["a"][1])
        a_bytes = np.full(an["a"][1].shape, float(p.a_unique_bytes))
    elif p.a_in_dram:
        a_bytes = a_pass * an["a"][1]
    else:
        a_bytes = np.zeros(an["a"][1].shape)
    if p.b_in_dram and p.cap_b is not None and b_total <= p.cap_b:
        an["b"][1] = np.ones_like(an["b"][1])
    b_bytes = b_total * an["b"][1] if p.b_in_dram else np.zeros(a_bytes.shape)
    psums_on_chip = c_full <= p.cap_c
    visits = an["c"][1]
    ok = np.broadcast_to(feasible, visits.shape)
    if not (p.allow_psum_spill or psums_on_chip):
        ok = ok & (visits == 1)
    if psums_on_chip:
        c_read = np.zeros(visits.shape)
        c_write = np.full(visits.shape, c_elems * p.out_elem_bytes if p.c_to_dram else 0.0)
    else:
        c_read = (c_elems * p.acc_elem_bytes) * (visits - 1)
        c_write = (c_elems * p.out_elem_bytes + c_read) if p.c_to_dram else c_read

    # transfers: per load event, the last output write, and the three step classes
    ev_c = an["c"][2]
    a_event = a_bytes / an["a"][2]
    b_event = b_bytes / an["b"][2]
    c_total = c_write + c_read
    last_write = c_total / ev_c
    c_event = (c_total - last_write) / np.maximum(ev_c - 1, 1)
    t0, t1, t2 = trips_at[:, 0, :], trips_at[:, 1, :], trips_at[:, 2, :]
    counts = np.stack([t0 - 1, t0 * (t1 - 1), t0 * t1 * (t2 - 1)])
    ja, jb, jc = an["a"][0], an["b"][0], an["c"][0]
    class_bytes = np.stack([a_event * (pp <= ja) + b_event * (pp <= jb) + c_event * (pp <= jc)
                            for pp in range(3)])

    # array-side SRAM reads (per instance) and partial-sum passes, by dataflow
    a_im2col = p.m * p.k * p.a_elem_bytes
    if p.dataflow == "ws":
        a_reads = np.full(tm.shape, a_im2col * ceil(p.n / p.cols))
        b_reads = b_total * trip_m
        k_parts = np.full(tm.shape, float(ceil(p.k / p.rows)))
    elif p.dataflow == "os":
        a_reads = np.full(tm.shape, a_im2col * ceil(p.n / p.cols))
        b_reads = np.full(tm.shape, b_total * ceil(p.m / p.rows))
        k_parts = trip_k.astype(float)
    else:
        a_reads = a_im2col * trip_n
        b_reads = np.full(tm.shape, b_total * ceil(p.m / p.cols))
        k_parts = np.full(tm.shape, float(ceil(p.k / p.rows)))
    return Candidates(
        problem=p, orders=orders, tm=tm, tk=tk, tn=tn, trips=trips, fits=fits,
        overhead=overhead.astype(float), steps=(trip_m * trip_k * trip_n).astype(float),
        a_reads=a_reads, b_reads=b_reads, k_parts=k_parts,
        b_whole=(tk >= p.k) & (tn >= p.n), feasible=ok, a_bytes=a_bytes, b_bytes=b_bytes,
        c_write=c_write, c_read=c_read, first_bytes=a_event + b_event, last_write=last_write,
        b_event=b_event, counts=counts, class_bytes=class_bytes,
        fetches=np.stack([an["a"][1], an["b"][1], visits]))
