"""DRAM tiling of GEMMs: every candidate tiling (tile sizes x loop order) with its traffic,
overheads and transfers, in closed form and vectorised over the candidates of all the GEMMs of
a run at once (one pass of numpy operations for a whole network).

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
from itertools import permutations
from typing import NamedTuple, Sequence

import numpy as np

ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations("mkn"))
INDEX = {"a": frozenset("mk"), "b": frozenset("kn"), "c": frozenset("mn")}
#: which GEMM dimension each dataflow streams in time, and which sit on array rows / cols
TEMPORAL = {"os": "k", "ws": "m", "is": "n"}
SPATIAL = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}


class TilingProblem(NamedTuple):
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
    """Every candidate tiling of several problems. Per tile-size arrays of length N (all the
    problems' tile-size combinations, problem by problem: `seg` says whose, `starts` where each
    problem begins) and per (loop order, tile sizes) arrays of shape (6, N). Bytes and cycles are
    for one GEMM instance; SRAM figures are array-side reads per instance (`a_reads`,
    `b_reads`) and the partial-sum passes (`k_parts`)."""

    problems: tuple[TilingProblem, ...]
    seg: np.ndarray            # (N,): problem index of each tile-size combination
    starts: np.ndarray         # (P,): first index of each problem
    tm: np.ndarray             # (N,)
    tk: np.ndarray
    tn: np.ndarray
    trips: np.ndarray          # (3, N): trips of the m, k, n loops
    fits: np.ndarray           # (N,)
    overhead: np.ndarray       # (N,)
    steps: np.ndarray          # (N,)
    a_reads: np.ndarray        # (N,)
    b_reads: np.ndarray        # (N,)
    k_parts: np.ndarray        # (N,)
    b_whole: np.ndarray        # (N,): one tile holds the whole B matrix
    order_ok: np.ndarray       # (6, N): the loop order is allowed (a user may force one)
    feasible: np.ndarray       # (6, N)
    a_bytes: np.ndarray        # (6, N)
    b_bytes: np.ndarray
    c_write: np.ndarray
    c_read: np.ndarray
    first_bytes: np.ndarray
    last_write: np.ndarray
    b_event: np.ndarray
    counts: np.ndarray         # (3, 6, N): steps whose outer / middle / inner loop advanced
    class_bytes: np.ndarray    # (3, 6, N): bytes transferred before each such step
    fetches: np.ndarray        # (3, 6, N): a fetches, b fetches, c visits
    c_elems: np.ndarray        # (N,): M x N of the candidate's problem
    acc_elem: np.ndarray       # (N,)
    out_elem: np.ndarray       # (N,)
    #: candidates of each problem (allowed orders x tile-size combinations), counted before
    #: `candidates(..., ranked_only=True)` drops the ones that cannot be chosen
    problem_candidates: tuple[int, ...]

    def candidate_counts(self) -> list[int]:
        """Candidates of each problem (allowed orders x tile-size combinations)."""
        return list(self.problem_candidates)


def tile_sizes(dim: int, base: int, forced: int = 0) -> list[int]:
    """Tile sizes for one dimension: base * 2^i below dim, plus dim itself (or the forced one)."""
    if forced:
        return [min(forced, dim)]
    values = []
    size = base
    while size < dim:
        values.append(size)
        size *= 2
    values.append(dim)
    return values


def _a_rows_in(t: np.ndarray, wo: np.ndarray, rows: np.ndarray, stride: np.ndarray,
               r: np.ndarray) -> np.ndarray:
    """Input rows an M tile of t output positions needs (fractional rows when t < Wo)."""
    out_rows = t / wo
    full = np.minimum(rows, (out_rows - 1.0) * stride + r)
    return np.where(out_rows < 1.0, r * out_rows, full)


_ORDER_LOOPS = np.array([["mkn".index(loop) for loop in order] for order in ORDERS])
#: the one loop (0 m, 1 k, 2 n) that does not index each operand
_OTHER = {x: next(i for i, d in enumerate("mkn") if d not in index) for x, index in INDEX.items()}


def _innermost_table() -> dict[str, np.ndarray]:
    """The reuse rule (module docstring) per operand, loop order and pattern of non-trivial
    loops (bit 4: m, 2: k, 1: n has more than one trip): `[x][o, pattern]` is the position of
    the innermost non-trivial loop indexing x (-1: none, x is loaded once)."""
    out = {}
    for x, index in INDEX.items():
        j = np.full((len(ORDERS), 8), -1)
        for o, order in enumerate(ORDERS):
            for pattern in range(8):
                nontrivial = {d for d, bit in zip("mkn", (4, 2, 1)) if pattern & bit}
                j[o, pattern] = max((p for p, loop in enumerate(order)
                                     if loop in index and loop in nontrivial), default=-1)
        out[x] = j
    return out


_INNERMOST = _innermost_table()
#: the position of each loop (0 m, 1 k, 2 n) in each order, (6, 1)
_POSITION = [np.array([[order.index(d)] for order in ORDERS]) for d in "mkn"]
_INF = float("inf")


def _innermost(x: str, pattern: np.ndarray) -> np.ndarray:
    """(6, N): per loop order, the position of operand x's innermost non-trivial index loop
    (-1: none) for each candidate's pattern of non-trivial loops."""
    return np.take(_INNERMOST[x], pattern, axis=1)


def _fetches(x: str, innermost: np.ndarray, trips: np.ndarray, resident) -> np.ndarray:
    """(6, N): fetches of each of x's tiles (the reuse rule): again on every trip of the loop
    that does not index x when that loop runs outside x's innermost index loop, unless x is
    resident (its whole tensor stays in its buffer)."""
    refetched = (_POSITION[_OTHER[x]] < innermost) & np.logical_not(resident)
    return 1 + (trips[_OTHER[x]] - 1) * refetched


def ranked_columns(allowed_feasible: np.ndarray, seg: np.ndarray,
                   starts: np.ndarray) -> np.ndarray:
    """(N,) the tile-size combinations the mapper can choose: those with a feasible candidate
    in an allowed loop order, or all of a problem's when it has none. Every objective
    (mapper._best) ranks an allowed order first and a feasible candidate next (under latency
    the fastest feasible one is `near` by definition), so where a problem has an allowed
    feasible candidate the choice and every candidate that ties with it on a key lie in these
    columns; keeping all the orders of a kept column keeps the flat order (order-major) of the
    kept entries, so ties still go to the same one."""
    column = allowed_feasible.any(axis=0)
    has_any = np.logical_or.reduceat(column, starts)
    return column | ~has_any[seg]


def candidates(problems: Sequence[TilingProblem], ranked_only: bool = False) -> Candidates:
    """Every candidate tiling of every problem with its closed-form traffic (see the module
    docstring). The problems must share the array and its mode (dataflow, rows, cols, overhead
    mode, accumulator rows): the GEMMs of one run do.

    `ranked_only`: only the tile-size combinations that can be the mapper's choice
    (`ranked_columns`): where a problem has a candidate in an allowed loop order that is
    feasible, the others are dropped before their traffic is computed. `candidate_counts()`
    still counts every candidate."""
    p0 = problems[0]
    df, rows, cols = p0.dataflow, p0.rows, p0.cols
    row_dim, col_dim = SPATIAL[df]
    temporal = TEMPORAL[df]
    base = {row_dim: rows, col_dim: cols, temporal: 1}
    sizes = [(tile_sizes(p.m, base["m"], p.force_m), tile_sizes(p.k, base["k"], p.force_k),
              tile_sizes(p.n, base["n"], p.force_n)) for p in problems]
    lens = np.array([[len(d) for d in three] for three in sizes])         # (P, 3)
    lengths = lens.prod(axis=1)
    seg = np.repeat(np.arange(len(problems)), lengths)
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    # each problem's combinations with m outermost: index = (i_m * len_k + i_k) * len_n + i_n
    index = np.arange(len(seg)) - starts[seg]
    i_n, i_mk = index % lens[seg, 2], index // lens[seg, 2]
    i_k, i_m = i_mk % lens[seg, 1], i_mk // lens[seg, 1]

    def tiles_of(q: int, i: np.ndarray) -> np.ndarray:
        values = np.array([v for three in sizes for v in three[q]], dtype=np.int64)
        return values[(np.cumsum(lens[:, q]) - lens[:, q])[seg] + i]

    tm, tk, tn = tiles_of(0, i_m), tiles_of(1, i_k), tiles_of(2, i_n)

    # the problems' fields, one row per field, repeated for each of their candidates
    M, K, N = np.array([(p.m, p.k, p.n) for p in problems], dtype=np.int64).T[:, seg]
    a_in, b_in, c_out, spill_ok = np.array([
        (p.a_in_dram, p.b_in_dram, p.c_to_dram, p.allow_psum_spill) for p in problems],
        dtype=bool).T[:, seg]
    (a_unique, b_elem, out_elem, acc_elem, a_elem, cap_a, cap_b, cap_c, conv_wo, conv_rows,
     conv_stride, conv_r, slowdown, shift, fold_overhead) = np.array([
        (p.a_unique_bytes, p.b_elem_bytes, p.out_elem_bytes, p.acc_elem_bytes, p.a_elem_bytes,
         _INF if p.cap_a is None else p.cap_a, _INF if p.cap_b is None else p.cap_b, p.cap_c,
         p.conv_wo, p.conv_rows, p.conv_stride, p.conv_r, p.rate_slowdown, p.shift_cycles,
         p.fold_overhead_cycles) for p in problems], dtype=float).T[:, seg]
    trip_m, trip_k, trip_n = -(-M // tm), -(-K // tk), -(-N // tn)

    # per-pass bytes and tile bytes of each operand
    rows_tile = _a_rows_in(tm.astype(float), conv_wo, conv_rows, conv_stride, conv_r)
    a_per_row = a_unique / conv_rows
    a_tile = rows_tile * (a_per_row / K) * tk
    b_total = (K * N) * b_elem
    b_tile = (tk * tn) * b_elem
    c_elems = (M * N).astype(float)
    if p0.accumulator_rows:
        # TPUv1 accumulators: 4096 rows of 256 32-bit sums; a tile occupies whole rows
        c_tile = tm * (-(-tn // cols) * cols) * acc_elem
        c_full = M * (-(-N // cols) * cols) * acc_elem
    else:
        k_split = (K > rows) if df in ("ws", "is") else np.zeros(len(K), bool)
        c_tile = (tm * tn) * np.where(k_split | (trip_k > 1), acc_elem, out_elem)
        c_full = c_elems * acc_elem

    fits = (c_tile <= cap_c) & (a_tile <= cap_a) & (b_tile <= cap_b)
    # Feasible: every tile within max(buffer, that operand's tile in the problem's all-smallest
    # candidate, its first). When even the smallest tiles overflow a buffer they are modelled
    # anyway (`fits` is False and the engine warns); raising the cap this way keeps the feasible
    # set non-empty and growing with buffer size, so more SRAM never removes a candidate.
    first = starts[seg]
    feasible = ((c_tile <= np.maximum(cap_c, c_tile[first]))
                & (a_tile <= np.maximum(cap_a, a_tile[first]))
                & (b_tile <= np.maximum(cap_b, b_tile[first])))

    # the loop orders a user allows (a forced order), and which candidates are feasible: C's
    # visits (partial sums leave the buffer when > 1) decide whether they may spill
    forced_order = [ORDERS.index(p.force_order) if p.force_order else -1 for p in problems]
    if any(o >= 0 for o in forced_order):
        wanted = np.array(forced_order)[seg]
        order_ok = (wanted < 0) | (np.arange(len(ORDERS))[:, None] == wanted)
    else:
        order_ok = np.ones((len(ORDERS), len(seg)), bool)
    trips = np.stack([trip_m, trip_k, trip_n])
    pattern = (trip_m > 1) * 4 + (trip_k > 1) * 2 + (trip_n > 1)
    psums_on_chip = c_full <= cap_c
    visits = _fetches("c", _innermost("c", pattern), trips, False)
    ok = feasible & (spill_ok | psums_on_chip | (visits == 1))
    problem_candidates = tuple(np.add.reduceat(order_ok.sum(axis=0), starts).tolist())
    if ranked_only:
        keep = ranked_columns(order_ok & ok, seg, starts)
        if not keep.all():
            keep = np.flatnonzero(keep)  # indices: one gather per array
            (seg, tm, tk, tn, M, K, N, a_in, b_in, c_out, a_unique, b_elem, out_elem, acc_elem,
             a_elem, cap_a, cap_b, conv_wo, conv_rows, conv_stride, conv_r, slowdown, shift,
             fold_overhead, trip_m, trip_k, trip_n, rows_tile, a_per_row, b_total, c_elems,
             fits, pattern, psums_on_chip, trips, order_ok, visits, ok) = (
                x[..., keep] for x in (
                    seg, tm, tk, tn, M, K, N, a_in, b_in, c_out, a_unique, b_elem, out_elem,
                    acc_elem, a_elem, cap_a, cap_b, conv_wo, conv_rows, conv_stride, conv_r,
                    slowdown, shift, fold_overhead, trip_m, trip_k, trip_n, rows_tile,
                    a_per_row, b_total, c_elems, fits, pattern, psums_on_chip, trips,
                    order_ok, visits, ok))
            starts = np.searchsorted(seg, np.arange(len(problems)))

    # A's bytes per pass over the input (halo rows of every M tile)
    m_rem = M % tm
    rows_rem = _a_rows_in(m_rem.astype(float), conv_wo, conv_rows, conv_stride, conv_r)
    a_pass = np.maximum(a_unique, ((M // tm) * rows_tile + (m_rem > 0) * rows_rem) * a_per_row)

    # cycles of splitting the temporal dimension (per instance)
    dims = {"m": M, "k": K, "n": N}
    tiles = {"m": tm, "k": tk, "n": tn}
    t_tile, t_dim = tiles[temporal], dims[temporal]
    folds = -(-dims[row_dim] // rows) * -(-dims[col_dim] // cols)
    if p0.overhead_mode == "pipelined":
        t_rem = t_dim % t_tile
        exposed = ((t_dim // t_tile) * np.maximum(0.0, shift - t_tile * slowdown)
                   + (t_rem > 0) * np.maximum(0.0, shift - t_rem * slowdown))
        overhead = folds * exposed
    else:
        # a slower precision repeats whole folds (multi-pass), a faster one packs the stream only
        overhead = ((-(-t_dim // t_tile)) - 1) * folds * fold_overhead \
            * np.maximum(1.0, slowdown)

    # the six loop orders (6, N): prefix[q], the product of the trips of an order's q outermost
    # loops; counts[q] = prefix[q + 1] - prefix[q], the steps whose loop at position q advanced
    # (t0 - 1, t0 * (t1 - 1), t0 * t1 * (t2 - 1))
    trips_at = trips[_ORDER_LOOPS]                                              # (6, 3, N)
    prefix = np.empty((4,) + trips_at[:, 0].shape, dtype=np.int64)
    prefix[0] = 1
    np.multiply(trips_at[:, 0], 1, out=prefix[1])
    np.multiply(prefix[1], trips_at[:, 1], out=prefix[2])
    np.multiply(prefix[2], trips_at[:, 2], out=prefix[3])
    counts = np.diff(prefix, axis=0)
    # An operand whose whole tensor fits its buffer is loaded once and stays, whatever the loop
    # order (nothing evicts it); likewise partial sums that all fit the output buffer never
    # spill. It still fills progressively on the first pass (same load events).
    a_resident = a_in & (a_unique <= cap_a)
    b_resident = b_in & (b_total <= cap_b)
    fetched = {"a": None, "b": None, "c": visits}
    events, inside = {}, {}
    for x, resident in (("a", a_resident), ("b", b_resident), ("c", False)):
        # loads happen when a loop at or outside x's innermost non-trivial index loop j
        # advances (inside[x][q]: position q is at or outside j)
        j = _innermost(x, pattern)                                              # (6, N)
        if fetched[x] is None:
            fetched[x] = _fetches(x, j, trips, resident)
        inside[x] = [j >= q for q in range(3)]
        events[x] = 1 + counts[0] * inside[x][0] + counts[1] * inside[x][1] \
            + counts[2] * inside[x][2]
    a_bytes = np.where(a_in, np.where(a_resident, a_unique, a_pass * fetched["a"]), 0.0)
    b_bytes = np.where(b_in, b_total * fetched["b"], 0.0)
    c_read = np.where(psums_on_chip, 0.0, (c_elems * acc_elem) * (visits - 1))
    c_write = np.where(c_out, c_elems * out_elem + c_read, c_read)

    # transfers: per load event, the last output write, and the three step classes
    ev_c = events["c"]
    a_event = a_bytes / events["a"]
    b_event = b_bytes / events["b"]
    c_total = c_write + c_read
    last_write = c_total / ev_c
    c_event = (c_total - last_write) / np.maximum(ev_c - 1, 1)
    class_bytes = np.stack([a_event * inside["a"][q] + b_event * inside["b"][q]
                            + c_event * inside["c"][q] for q in range(3)])

    # array-side SRAM reads (per instance) and partial-sum passes, by dataflow
    a_im2col = (M * K) * a_elem
    if df == "ws":
        a_reads = a_im2col * -(-N // cols)
        b_reads = b_total * trip_m
        k_parts = (-(-K // rows)).astype(float)
    elif df == "os":
        a_reads = a_im2col * -(-N // cols)
        b_reads = b_total * -(-M // rows)
        k_parts = trip_k.astype(float)
    else:
        a_reads = a_im2col * trip_n
        b_reads = b_total * -(-M // cols)
        k_parts = (-(-K // rows)).astype(float)
    return _read_only(Candidates(
        problems=tuple(problems), seg=seg, starts=starts, tm=tm, tk=tk, tn=tn, trips=trips,
        fits=fits, overhead=overhead.astype(float),
        steps=(trip_m * trip_k * trip_n).astype(float), a_reads=a_reads, b_reads=b_reads,
        k_parts=k_parts, b_whole=(tk >= K) & (tn >= N), order_ok=order_ok, feasible=ok,
        a_bytes=a_bytes, b_bytes=b_bytes, c_write=c_write, c_read=c_read,
        first_bytes=a_event + b_event, last_write=last_write, b_event=b_event, counts=counts.astype(float),
        class_bytes=class_bytes, fetches=np.stack([fetched["a"], fetched["b"], visits]),
        c_elems=c_elems, acc_elem=acc_elem, out_elem=out_elem,
        problem_candidates=problem_candidates))


def _read_only(c: Candidates) -> Candidates:
    """`c` with every array read-only: the mapper caches candidates across runs
    (mapper._candidates), so a ranking that wrote into one would corrupt the next run."""
    for value in vars(c).values():
        if isinstance(value, np.ndarray):
            value.flags.writeable = False
    return c
