"""Step 3 of the compiler: tile a MAC pass to the core buffers and order its tiles.

Tiles fit one slot (half, with ping-pong) of each core buffer (docs/models/tensorcore.md §3,
steps 3 and 3b): input tile = input rows (with halo) x width x channel chunk, weight tile =
channels x K chunk, output tile = pixels x channels at accumulator width. Among the candidate
channel tiles (the largest that fits, powers of two of the array width, even splits of the
share) and reduction chunks, and the two loop orders (channels outer: weights stay, inputs
re-routed per channel tile; pixels outer: inputs stay, weights re-routed per pixel tile), the
tiler picks the fewest routed bytes, then the fewest tiles.

Oversized layers are tiled, not rejected: when not even `kc_unit` input channels (the chunk
that fills whole row folds, rows / gcd(rows, R·S)) of an array width fit the weight slot, the
reduction splits into smaller chunks, down to one input channel (partial sums accumulate in the
output buffer); when even one input channel of an array width does not fit, the channel tile
drops below the array width. Only a layer whose smallest tile does not fit is rejected.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from simulator.core.errors import NpusimError
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.placement import CoreShare
from simulator.kinds.tensorcore.compiler.target import Target

#: at most this many reduction-chunk candidates are compared
MAX_K_CANDIDATES = 6
#: channel tiles that split a share evenly into 1..MAX_PARTS parts are candidates
MAX_PARTS = 8
#: pixel tiles that split a share evenly into these many parts are candidates (besides the
#: largest that fits): smaller first tiles shorten the pipeline fill
PIXEL_PARTS = (2, 3, 4, 6)


class Tiling(NamedTuple):
    """Tile sizes of a MAC pass: `mt` output pixels x `nt` output channels over `kc` input
    channels (grouped/depthwise: a group's channels), and the loop order (a named tuple: the
    mapper builds a few hundred candidates per pass)."""

    mt: int
    nt: int
    kc: int
    channels_outer: bool


class TileStep(NamedTuple):
    """One tile of a core's share: output pixels `m` x output channels `n` over reduction
    chunk `k` (each [lo, hi)); `first_k`/`last_k`: the first/last chunk of the reduction (the
    accumulator is fresh / finished and routed out). A named tuple: a pass makes one per tile
    and core, and a tuple is the cheapest immutable record to build."""

    m: tuple[int, int]
    n: tuple[int, int]
    k: tuple[int, int]
    first_k: bool
    last_k: bool


def k_chunks(spec: MacSpec, target: Target, n_share: int) -> list[int]:
    """Candidate reduction chunks (input channels per tile) of a dense pass."""
    rows, cols = target.rows, target.cols
    kc_unit = rows // math.gcd(rows, spec.taps)
    # the whole reduction if one array width of channels fits, else the largest chunk of a
    # multiple of kc_unit channels (so that every chunk but the last fills whole row folds:
    # sum of ceil(K_chunk / rows) == ceil(K / rows)) and smaller ones
    fit_raw = int(target.weight_half_bytes // (min(cols, n_share) * spec.taps * target.weight_bytes))
    fit = fit_raw // kc_unit * kc_unit
    kcs = [spec.cin] if fit_raw >= spec.cin else []
    k = min(fit, (spec.cin - 1) // kc_unit * kc_unit)
    while k >= kc_unit and len(kcs) < MAX_K_CANDIDATES:
        kcs.append(k)
        k = k // 2 // kc_unit * kc_unit
    if not kcs:
        # not even kc_unit channels of an array width fit (large kernels: 11x11 needs
        # kc_unit = 32 channels x 121 taps x 32 columns = 124 KB): chunks that do not fill
        # whole row folds, each paying its own last partial fold; down to one input channel
        k = min(max(1, fit_raw), spec.cin - 1)
        while k >= 1 and len(kcs) < MAX_K_CANDIDATES:
            kcs.append(k)
            k //= 2
    return kcs


def choose_tiling(spec: MacSpec, target: Target, m_share: int, n_share: int,
                  extra_row_bytes: float, name: str) -> Tiling:
    """The tiling that routes the fewest bytes, then has the fewest tiles, among
    `tiling_candidates` (the mapper ranks the same candidates by its objective instead)."""
    return min(tiling_candidates(spec, target, m_share, n_share, extra_row_bytes, name),
               key=lambda c: c[:2])[2]


def tiling_candidates(spec: MacSpec, target: Target, m_share: int, n_share: int,
                      extra_row_bytes: float, name: str) -> list[tuple[float, int, Tiling]]:
    """(routed bytes, tiles, Tiling) of every candidate tiling (`candidate_tilings`)."""
    return [(routed_bytes(spec, target, m_share, n_share, tiling),
             tile_count(spec, m_share, n_share, tiling), tiling)
            for tiling in candidate_tilings(spec, target, m_share, n_share, extra_row_bytes,
                                            name)]


def candidate_tilings(spec: MacSpec, target: Target, m_share: int, n_share: int,
                      extra_row_bytes: float, name: str) -> list[Tiling]:
    """Every candidate tiling of a pass whose largest core share is m_share pixels x n_share
    channels, both loop orders.

    `extra_row_bytes`: input-buffer bytes per row taken by the other operands of fused
    add/mul post-ops. Raises a one-line NpusimError naming layer `name` when not even the
    smallest tile fits (module docstring)."""
    rows, cols = target.rows, target.cols
    wb, ab = target.weight_bytes, target.activation_bytes
    wbh, ibh, obh = target.weight_half_bytes, target.input_half_bytes, target.output_half_bytes
    rwin = spec.dilation * (spec.r - 1) + 1
    chan_unit = cols if spec.groups == 1 or spec.depthwise else spec.cout_g * max(1, cols // spec.cout_g)
    chan_unit = min(chan_unit, n_share)
    kcs = k_chunks(spec, target, n_share) if spec.groups == 1 else [spec.cin_g]
    out: list[Tiling] = []
    for kc in kcs:
        if spec.depthwise:
            w_per_chan = spec.taps * wb
        elif spec.groups > 1:
            w_per_chan = spec.cin_g * spec.taps * wb
        else:
            w_per_chan = kc * spec.taps * wb
        nt_max = min(n_share, int(wbh // w_per_chan) // chan_unit * chan_unit)
        if nt_max < 1 and spec.groups == 1:
            # fewer output channels than the array width (idle columns): the smallest tile
            nt_max = min(n_share, int(wbh // w_per_chan))
        if nt_max < 1 and spec.groups > 1 and not spec.depthwise:
            # not even one group's weights fit (an attention product over a long context):
            # tiles of part of a group, dividing it evenly so that no tile straddles two
            fit = int(wbh // w_per_chan)
            nts = {spec.cout_g // d for d in range(2, min(spec.cout_g, 1 << 16) + 1)
                   if spec.cout_g % d == 0 and spec.cout_g // d <= fit}
            nts = set(sorted(nts, reverse=True)[:3])
        elif nt_max < 1:
            continue
        else:
            # candidate channel tiles: the largest that fits, powers of two of the unit and
            # even splits of the share (rounded up to the unit)
            nts = {nt_max}
            k = chan_unit
            while k < nt_max:
                nts.add(k)
                k *= 2
            for parts in range(1, MAX_PARTS + 1):
                cand = -(-(-(-n_share // parts)) // chan_unit) * chan_unit
                if cand <= nt_max:
                    nts.add(cand)
        for nt in sorted(nts, reverse=True):
            in_ch = input_channels(spec, nt, kc)
            wbytes = spec.weight_bytes(nt, kc, wb)
            if wbytes > wbh and spec.weights_from_dram is not None:
                continue
            row_bytes = spec.w * in_ch * ab
            max_in_rows = int((ibh - extra_row_bytes) // row_bytes) if row_bytes else 0
            max_in_rows = min(max_in_rows, spec.batch * spec.h + rwin)
            if max_in_rows < min(rwin, spec.batch * spec.h):
                continue
            span = (max_in_rows - rwin) // spec.stride + 1
            if spec.depthwise:
                mt_max = (span - 1) * spec.wo + 1
                mt_max = mt_max // rows * rows if mt_max >= rows else mt_max
            else:
                mt_max = span * spec.wo
            mt_max = min(mt_max, m_share, int(obh // (nt * target.accumulator_bytes)))
            if not spec.depthwise and mt_max >= spec.wo and mt_max < m_share:
                mt_max = mt_max // spec.wo * spec.wo  # whole output rows: no re-read halo
            if mt_max < 1:
                continue
            for mt in pixel_tiles(spec, rows, m_share, mt_max):
                out.append(Tiling(mt, nt, kc, True))
                out.append(Tiling(mt, nt, kc, False))
    if not out:
        raise NpusimError(f"layer {name} does not fit the core buffers even as its smallest "
                          f"tile (one output row of one output channel over one input "
                          f"channel's {spec.r}x{spec.s} window)", field="core",
                          fix="increase core.input_buffer_bytes / weight_buffer_bytes / "
                              "output_buffer_bytes")
    return out


def fit_problem(spec: MacSpec, target: Target, m_share: int, n_share: int, tiling: Tiling,
                extra_row_bytes: float) -> tuple[str, str] | None:
    """Why `tiling` cannot run a share of m_share pixels x n_share channels, as (mapping key,
    reason), or None when every tile fits its buffer slot."""
    k_all = spec.cin if spec.groups == 1 else spec.cin_g
    if tiling.kc < 1 or tiling.kc > k_all or (spec.groups > 1 and tiling.kc != k_all):
        return "tile_input_channels", (f"must be {k_all} (a group's channels)" if spec.groups > 1
                                       else f"must be 1..{k_all}")
    if not 1 <= tiling.nt <= n_share:
        return "tile_channels", f"must be 1..{n_share} (a core's share)"
    if not 1 <= tiling.mt <= m_share:
        return "tile_pixels", f"must be 1..{m_share} (a core's share)"
    wbytes = spec.weight_bytes(tiling.nt, tiling.kc, target.weight_bytes)
    if wbytes > target.weight_half_bytes:
        return "tile_channels", (f"needs {wbytes:,.0f} B of weights, more than a "
                                 f"{target.weight_half_bytes:,} B weight-buffer slot")
    acc = tiling.mt * tiling.nt * target.accumulator_bytes
    if acc > target.output_half_bytes:
        return "tile_pixels", (f"needs {acc:,.0f} B of accumulators, more than a "
                               f"{target.output_half_bytes:,} B output-buffer slot")
    out_rows = -(-tiling.mt // spec.wo) + (1 if tiling.mt % spec.wo else 0)
    in_rows = min(spec.batch * spec.h, (out_rows - 1) * spec.stride
                  + spec.dilation * (spec.r - 1) + 1)
    in_bytes = in_rows * spec.w * input_channels(spec, tiling.nt, tiling.kc) \
        * target.activation_bytes + extra_row_bytes
    if in_bytes > target.input_half_bytes:
        return "tile_pixels", (f"needs {in_bytes:,.0f} B of input rows, more than a "
                               f"{target.input_half_bytes:,} B input-buffer slot")
    return None


def pixel_tiles(spec: MacSpec, rows: int, m_share: int, mt_max: int) -> list[int]:
    """Candidate pixel tiles up to the largest that fits, `mt_max`: it, and the even splits of
    the share into PIXEL_PARTS parts that stay below it (in whole output rows, or whole
    array-row multiples for depthwise), so that the mapper can trade a shorter pipeline fill
    (smaller first tile) against more tiles. The tiler's own pick is always the largest."""
    tiles = {mt_max}
    unit = rows if spec.depthwise else (spec.wo if mt_max >= spec.wo else 1)
    for parts in PIXEL_PARTS:
        mt = -(-m_share // parts)
        mt = -(-mt // unit) * unit
        if mt < mt_max:
            tiles.add(mt)
    return sorted(tiles, reverse=True)


def input_channels(spec: MacSpec, nt: int, kc: int) -> int:
    """Input channels an input tile holds for nt output channels over chunk kc."""
    if spec.depthwise:
        return max(1, nt * spec.cin // spec.cout)
    if spec.groups > 1:
        return max(1, nt // spec.cout_g) * spec.cin_g
    return kc


def tile_count(spec: MacSpec, m_share: int, n_share: int, tiling: Tiling) -> int:
    """Tiles of a core's share: pixel x channel x reduction tiles."""
    k_tiles = -(-spec.cin // tiling.kc) if spec.groups == 1 else 1
    return -(-m_share // tiling.mt) * -(-n_share // tiling.nt) * k_tiles


def routed_bytes(spec: MacSpec, target: Target, m_share: int, n_share: int,
                 tiling: Tiling) -> float:
    """Approximate SRAM -> core bytes of a share under `tiling`: the input (with the halo
    re-read per pixel tile) and the weights, each re-routed when the other loop varies under
    it (the tiler's own ranking; the mapper's cost model counts exactly, costs.py)."""
    ab, wb = target.activation_bytes, target.weight_bytes
    rwin = spec.dilation * (spec.r - 1) + 1
    m_tiles = -(-m_share // tiling.mt)
    n_tiles = -(-n_share // tiling.nt)
    k_tiles = -(-spec.cin // tiling.kc) if spec.groups == 1 else 1
    in_all = m_share / max(1, spec.ho * spec.wo * spec.batch) * spec.batch * spec.h * spec.w \
        * spec.cin * ab * (1 + (rwin - spec.stride) * m_tiles / max(1, spec.batch * spec.h))
    w_all = n_share * spec.cin_g * spec.taps * wb
    if spec.groups > 1:
        in_all *= n_share / spec.cout
    if tiling.channels_outer:
        traffic = n_tiles * in_all if spec.groups == 1 else in_all
        return traffic + w_all * (1 if k_tiles == 1 else m_tiles)
    traffic = in_all * (1 if (k_tiles == 1 or spec.groups > 1) else n_tiles)
    return traffic + w_all * (1 if (n_tiles == 1 and k_tiles == 1) else m_tiles)


def tile_steps(spec: MacSpec, share: CoreShare, tiling: Tiling) -> list[TileStep]:
    """A core's tiles in loop order (channels outer or pixels outer; reduction innermost)."""
    k_all = spec.cin if spec.groups == 1 else spec.cin_g
    m_blocks = [(a, min(share.m_hi, a + tiling.mt)) for a in range(share.m_lo, share.m_hi, tiling.mt)]
    n_blocks = [(a, min(share.n_hi, a + tiling.nt)) for a in range(share.n_lo, share.n_hi, tiling.nt)]
    k_blocks = [(a, min(k_all, a + tiling.kc)) for a in range(0, k_all, tiling.kc)] \
        if spec.groups == 1 else [(0, k_all)]
    steps = []
    outer, inner = (n_blocks, m_blocks) if tiling.channels_outer else (m_blocks, n_blocks)
    for a in outer:
        for b in inner:
            mb, nb = (b, a) if tiling.channels_outer else (a, b)
            for ki, kb in enumerate(k_blocks):
                steps.append(TileStep(mb, nb, kb, ki == 0, ki == len(k_blocks) - 1))
    return steps
