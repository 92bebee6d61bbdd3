"""The mapper's closed forms: what a MAC pass costs under one split across cores and one tiling.

For a candidate (core shares, tiling) of a pass, counted the way `mac_pass` emits it
(docs/models/tensorcore.md §3, step 3):

* **compute per core**: the sum of its tiles' array cycles at the precision's rate (and the
  element path's cycles for fused pools / adds on the last reduction chunk), exact: the tiles
  fall into at most 2 x 2 x 2 shapes (full and edge blocks of pixels, channels, reduction);
* **routed bytes per core** (SRAM -> core buffers): an input block is routed when it differs
  from the one the core holds (dense: it depends on pixels and the reduction chunk; grouped and
  depthwise: on pixels and the channels' groups), a weight block likewise (output channels and
  chunk); plus the fused operands and the output tile routed back;
* **multicast**: blocks that every core needs in the same step (the weights in a split by
  rows, the dense input in a split by channels) are read from the SRAM and DRAM once;
* **DRAM bytes**: input blocks of a tensor in DRAM (a DMA load per route), weights from DRAM
  (once when the unit's weights fit the staging area, else per route; none when resident or
  on chip), fused operands in DRAM, the output when its tensor lives in DRAM;
* **latency estimate**: the pipeline fill (the first tile's DMA loads and routes) + the
  busiest of compute per core, bytes per bridge port, DMA bytes + the drain (the last
  tile routed out and stored), each at its bandwidth;
* **energy estimate**: the counted bytes priced per byte by the run's energy table (shared
  SRAM, bridge, core buffers, DRAM) plus the mapping-independent MAC and accumulator energy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.core.actions import DramAccess, Macs, SramAccess, WireTransfer
from simulator.core.energy import EnergyTable, Pricer
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.placement import CoreShare
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.tiling import Tiling, input_channels

#: SRAM access width the energy is priced at (as the engine prices it)
_ACCESS_BITS = 64


@dataclass(frozen=True)
class PassContext:
    """Where a pass's operands live (from the allocation of the compile that maps it).

    `weights`: `dram` (streamed per route), `dram_once` (the unit's weights fit the staging
    area: each block loaded once), `sram` (resident, or an on-chip activation operand),
    `tensor_dram` (an activation operand living in DRAM)."""

    in_dram: bool
    out_dram: bool
    weights: str
    out_bytes: float
    extra_bytes: float
    extra_dram_bytes: float
    post_per_out: float
    rhs_bytes: float = 1.0         # bytes per element of the stationary operand


@dataclass(frozen=True)
class PassCost:
    """A candidate's closed-form figures (module docstring); cycles are estimates, bytes
    exact for the emission."""

    cycles: float
    compute_cycles: int
    port_bytes: float
    sram_read_bytes: float
    dram_bytes: float
    routed_bytes: float
    tiles: int
    energy_pj: float
    fill_cycles: float
    drain_cycles: float
    steady_cycles: float = 0.0     # the cores' part after the fill
    transfer_cycles: float = 0.0   # the DRAM interface's or the busiest port's own path


@dataclass(frozen=True)
class Prices:
    """Energy per byte of each movement and per MAC, from the run's energy table (asked of
    the one pricer, so the mapper ranks with the engine's own prices)."""

    shared_sram: float
    bridge: float
    dram: float
    core_input: float
    core_weight: float
    core_output: float

    @classmethod
    def of(cls, table: EnergyTable, target: Target) -> "Prices":
        arch = target.arch
        pricer = Pricer(table)

        def sram(size: float) -> float:
            return pricer.action_pj(SramAccess(component="x", size_bytes=size,
                                               width_bits=_ACCESS_BITS, read_bytes=1))

        return cls(sram(arch.sram.bank_bytes),
                   pricer.action_pj(WireTransfer(component="bridge", nbytes=1,
                                                 pj_per_byte=arch.bridge.energy_pj_per_byte)),
                   pricer.action_pj(DramAccess(nbytes=1)),
                   sram(arch.core.input_buffer_bytes), sram(arch.core.weight_buffer_bytes),
                   sram(arch.core.output_buffer_bytes))

    @staticmethod
    def mac_pj(table: EnergyTable, target: Target) -> float:
        return Pricer(table).action_pj(Macs(component="mac", count=1,
                                            precision=target.mac.executed))


def _sizes(n: int, size: int) -> list[tuple[int, int]]:
    """(block size, count) of n items in blocks of `size`: full blocks and the remainder."""
    full, rest = divmod(n, size)
    return ([(size, full)] if full else []) + ([(rest, 1)] if rest else [])


def share_compute_cycles(spec: MacSpec, target: Target, share: CoreShare, tiling: Tiling,
                         post_per_out: float, memo: dict | None = None) -> int:
    """A core's compute cycles over its tiles (exact: as mac_pass times them). `memo` keeps
    the cycles of each tile shape's reduction across calls for the same spec, target and
    post ops (a share's tiles fall into at most 2 x 2 pixel x channel shapes)."""
    memo = {} if memo is None else memo
    total = 0
    for m, cm in _sizes(share.m, tiling.mt):
        for n, cn in _sizes(share.n, tiling.nt):
            key = ("tile", m, n, tiling.kc)
            cycles = memo.get(key)
            if cycles is None:
                cycles = memo[key] = _tile_cycles(spec, target, m, n, tiling.kc, post_per_out)
            total += cm * cn * cycles
    return total


def _tile_cycles(spec: MacSpec, target: Target, m: int, n: int, kc: int,
                 post_per_out: float) -> int:
    """Cycles of one m x n output tile over the whole reduction in chunks of kc."""
    k_all = spec.cin if spec.groups == 1 else spec.cin_g
    ks = _sizes(k_all, kc) if spec.groups == 1 else [(k_all, 1)]
    last_k = ks[-1][0]
    post = math.ceil(post_per_out * m * n / target.element_lanes) if post_per_out else 0
    total = 0
    for k, ck in ks:
        c = target.mac.cycles(spec.array_cycles(m, n, k, target.rows, target.cols))
        if post and k == last_k:
            # the last chunk also drains the fused pool / add through the element path
            total += (ck - 1) * c + max(c, post)
        else:
            total += ck * c
    return total


def _row_sum(spec: MacSpec, lo: int, hi: int, mt: int, memo: dict) -> int:
    """Input rows read by the pixel blocks of [lo, hi) in tiles of mt (halos included)."""
    key = (lo, hi, mt)
    total = memo.get(key)
    if total is None:
        total = 0
        wo = spec.wo
        for a in range(lo, hi, mt):
            r0, r1 = spec.in_rows(a // wo, (min(hi, a + mt) - 1) // wo)
            total += r1 - r0
        memo[key] = total
    return total


class PassCoster:
    """`pass_cost` of the tilings of one problem (spec, core shares, operand places): the parts
    of the closed forms that do not depend on the tiling are computed once, those that depend
    on one share and one tile size (pixel tile, channel tile) once per pair; each candidate
    then evaluates the formulas of `pass_cost` in the same order (the same floats)."""

    def __init__(self, spec: MacSpec, target: Target, shares: list[CoreShare],
                 ctx: PassContext, prices: Prices | None, fixed_pj: float,
                 memo: dict | None = None) -> None:
        self.memo = {} if memo is None else memo
        self.spec, self.target, self.shares, self.ctx = spec, target, shares, ctx
        self.prices, self.fixed_pj = prices, fixed_pj
        arch = target.arch
        self.wb = ctx.rhs_bytes
        self.dense = spec.groups == 1
        self.k_all = spec.cin if self.dense else spec.cin_g
        multicast = arch.bridge.multicast
        by_rows = len({s.n_lo for s in shares}) == 1 and len(shares) > 1
        # multicast: the weights of a split by rows, the dense input of a split by channels
        self.in_once = multicast and not by_rows and self.dense
        self.w_once = multicast and by_rows
        self.row_bytes = spec.w * target.activation_bytes
        self.hop = arch.bridge.hop_latency_cycles
        self.route_bw = min(target.port_bytes_per_cycle, target.bank_bytes_per_cycle)
        self.dma_bw = min(target.dram_bytes_per_cycle, self.route_bw)
        self.latency = target.dram_latency_cycles
        self.w_dma = ctx.weights in ("dram", "dram_once", "tensor_dram")
        self.w_all = spec.weight_bytes(spec.cout, self.k_all, self.wb)
        # bytes per bridge port: client c uses port c mod P; the DMA is client `cores`; the
        # ports in the order they are first used (the order their bytes are summed in)
        nports = arch.bridge.ports
        order: list[int] = []
        for p in [s.core % nports for s in shares] + [target.cores % nports]:
            if p not in order:
                order.append(p)
        self.port_slot = [order.index(s.core % nports) for s in shares]
        self.dma_slot = order.index(target.cores % nports)
        self.nports = len(order)
        n_all, m_all = spec.cout, spec.m
        self.fixed: list[tuple[float, float, float]] = []
        for share in shares:
            frac = (share.m / m_all) * (share.n / n_all)
            self.fixed.append((spec.weight_bytes(share.n, self.k_all, self.wb),
                               ctx.out_bytes * frac, ctx.extra_bytes * frac))
        #: (pixels, channels) of each share
        self.sizes = [(share.m, share.n) for share in shares]
        self._m_parts: dict[tuple[int, int], tuple] = {}
        self._n_parts: dict[tuple[int, int], tuple] = {}
        self._first_w: dict[tuple[int, int, int], float] = {}

    def m_part(self, idx: int, mt: int) -> tuple:
        """(pixel tiles, input bytes of all its pixel blocks per channel, the first block's,
        the last block's pixels) of share idx in pixel tiles of mt."""
        key = (idx, mt)
        part = self._m_parts.get(key)
        if part is None:
            share, spec, memo = self.shares[idx], self.spec, self.memo
            in_rows = _row_sum(spec, share.m_lo, share.m_hi, mt, memo)
            first = _row_sum(spec, share.m_lo, min(share.m_hi, share.m_lo + mt), mt, memo)
            part = self._m_parts[key] = (-(-share.m // mt), in_rows * self.row_bytes,
                                         first * self.row_bytes, (share.m - 1) % mt + 1)
        return part

    def n_part(self, idx: int, nt: int) -> tuple:
        """(channel tiles, input channels of all its channel blocks (grouped), the last
        block's channels, the first block's channels) of share idx in channel tiles of nt."""
        key = (idx, nt)
        part = self._n_parts.get(key)
        if part is None:
            share, spec = self.shares[idx], self.spec
            chans = 0
            if not self.dense:
                for a in range(share.n_lo, share.n_hi, nt):
                    c0, c1 = spec.in_channels(a, min(share.n_hi, a + nt), 0, self.k_all)
                    chans += c1 - c0
            part = self._n_parts[key] = (-(-share.n // nt), chans, (share.n - 1) % nt + 1,
                                         min(nt, share.n))
        return part

    def compute(self, idx: int, tiling: Tiling) -> int:
        """Share idx's compute cycles under `tiling` (share_compute_cycles, memoised: they
        depend on the share's size and the tile sizes, not on the loop order)."""
        m, n = self.sizes[idx]
        key = ("compute", m, n, tiling.mt, tiling.nt, tiling.kc)
        compute = self.memo.get(key)
        if compute is None:
            compute = self.memo[key] = share_compute_cycles(
                self.spec, self.target, self.shares[idx], tiling, self.ctx.post_per_out,
                self.memo)
        return compute

    def first_w(self, idx: int, nt: int, kc: int) -> float:
        """Weight bytes of share idx's first tile."""
        key = (idx, nt, kc)
        first = self._first_w.get(key)
        if first is None:
            n_first = min(nt, self.shares[idx].n)
            first = self._first_w[key] = self.spec.weight_bytes(n_first, min(kc, self.k_all),
                                                                 self.wb)
        return first

    def __call__(self, tiling: Tiling) -> PassCost:
        """The closed-form cost of running the pass as the shares x `tiling` (module
        docstring)."""
        spec, ctx = self.spec, self.ctx
        mt, nt, kc, channels_outer = tiling.mt, tiling.nt, tiling.kc, tiling.channels_outer
        dense = self.dense
        k_tiles = -(-self.k_all // kc) if dense else 1
        n_all, m_all = spec.cout, spec.m
        per_core = []
        for idx, share in enumerate(self.shares):
            m_tiles, in_rb, first_rb, last_m = self.m_part(idx, mt)
            n_tiles, chans, last_n, n_first = self.n_part(idx, nt)
            # input routes (module docstring): dense blocks depend on pixels and the chunk
            if dense:
                once = in_rb * spec.cin
                if channels_outer:
                    repeat = 1 if (m_tiles == 1 and k_tiles == 1) else n_tiles
                else:
                    repeat = 1 if k_tiles == 1 else n_tiles
                in_routed = once * repeat
            else:
                in_routed = in_rb * chans
            w_share, out, extra = self.fixed[idx]
            if channels_outer:
                w_routed = w_share * (1 if k_tiles == 1 else m_tiles)
            else:
                w_routed = w_share * (1 if (n_tiles == 1 and k_tiles == 1) else m_tiles)
            compute = self.compute(idx, tiling)
            first_in = first_rb * input_channels(spec, n_first, kc)
            first_w = self.first_w(idx, nt, kc)
            last_out = ctx.out_bytes * last_m / m_all * last_n / n_all
            per_core.append((compute, in_routed, w_routed, out, extra, first_in, first_w,
                             last_out, m_tiles * n_tiles * k_tiles))
        return self._total(per_core, tiling, k_tiles)

    def _total(self, per_core: list[tuple], tiling: Tiling, k_tiles: int) -> PassCost:
        """The pass's figures from its cores' (see `pass_cost`)."""
        spec, target, ctx = self.spec, self.target, self.ctx
        route_bw, dma_bw, hop, latency = self.route_bw, self.dma_bw, self.hop, self.latency
        ins = [c[1] for c in per_core]
        ws = [c[2] for c in per_core]
        in_read = max(ins) if self.in_once else _total_of(ins)
        w_read = max(ws) if self.w_once else _total_of(ws)
        out_total = _total_of([c[3] for c in per_core])
        dram = (in_read if ctx.in_dram else 0.0) + ctx.extra_dram_bytes \
            + (out_total if ctx.out_dram else 0.0)
        if ctx.weights in ("dram", "tensor_dram"):
            dram += w_read
        elif ctx.weights == "dram_once":
            dram += self.w_all
        ports = [0.0] * self.nports
        for slot, (_, i, w, o, e, *_) in zip(self.port_slot, per_core):
            ports[slot] = ports[slot] + i + w + o + e
        ports[self.dma_slot] = ports[self.dma_slot] + dram
        compute_max = max(c[0] for c in per_core)
        port_max = max(ports)
        # pipeline fill: the first tile's operands (DMA loads in sequence on the DRAM
        # interface, routes in parallel on the cores' ports); drain: the last tile out (and to
        # DRAM); a multicast block is loaded once for every core
        first_in = [c[5] for c in per_core] if ctx.in_dram else [0.0]
        first_w = [c[6] for c in per_core] if self.w_dma else [0.0]
        first_dma = (max(first_in) if self.in_once else _total_of(first_in)) \
            + (max(first_w) if self.w_once else _total_of(first_w))
        fill = (first_dma / dma_bw + latency if first_dma else 0.0) \
            + max(c[5] + c[6] for c in per_core) / route_bw + hop
        last_out = max(c[7] for c in per_core)
        drain = last_out / route_bw + hop + (
            last_out / dma_bw + latency if ctx.out_dram else 0.0)
        # the double-buffered chain of a tile step: a route into a buffer slot waits for the
        # compute that last read the slot, so with `slots` slots a step takes at least
        # (its compute + its routes + the hop latency) / slots, and from DRAM also its DMA
        # load and the DRAM latency (small tiles are latency-bound, not bandwidth-bound)
        chain = 0.0
        slow = ctx.in_dram or self.w_dma
        for compute, i, w, _, e, _, _, _, tiles in per_core:
            step = compute / tiles + (i + w + e) / tiles / route_bw + hop
            if slow:
                step = max(step, dram / tiles / dma_bw + latency + (i + w) / tiles / route_bw
                           + hop)
            chain = max(chain, tiles * step / target.slots)
        # each resource's own path: the cores start after the fill, the DRAM interface and
        # the bridge ports start at once and are followed by the last tile's compute
        tiles = max(c[8] for c in per_core)
        tail = compute_max / tiles + hop
        steady = max(compute_max, chain)
        transfers = max(port_max / route_bw, dram / dma_bw + (latency if dram else 0.0)) + tail
        if ctx.weights == "dram_once":
            # weights loaded once come in bursts: each block when first used, at most two
            # steps ahead, so only the compute of the steps that bring new blocks (the first
            # pixel tile of each channel block, channels outer; the first pixel tile, pixels
            # outer) and of the two steps before each such run can hide their DMA
            nt, kc, k_all, wb = tiling.nt, tiling.kc, self.k_all, self.wb
            n_tiles = max(-(-s.n // nt) for s in self.shares)
            runs = n_tiles if tiling.channels_outer else 1
            window = min(1.0, (n_tiles * k_tiles + 2 * runs) / tiles)
            first = spec.weight_bytes(min(nt, spec.cout), min(kc, k_all), wb)
            burst = (self.w_all - first) / dma_bw
            steady = max(steady, compute_max + max(0.0, burst - window * compute_max))
        cycles = max(fill + steady, transfers) + drain
        routed = _total_of(ins) + _total_of(ws)
        energy = 0.0
        prices = self.prices
        if prices is not None:
            sram_rw = in_read + w_read + out_total + dram
            energy = (self.fixed_pj + prices.shared_sram * sram_rw
                      + prices.bridge * _total_of(ports) + prices.dram * dram
                      + prices.core_input * _total_of(ins) + prices.core_weight * 2 * _total_of(ws)
                      + prices.core_output * out_total)
        return PassCost(cycles, compute_max, port_max, in_read + w_read, dram, routed,
                        tiles, energy, fill, drain, steady, transfers)


def _total_of(values: list) -> float:
    """0 + values[0] + values[1] + ... in that order (what `sum` did before Python 3.12
    compensated float sums; written out so that every Python and the batch costs add alike)."""
    total = 0
    for v in values:
        total = total + v
    return total


def pass_cost(spec: MacSpec, target: Target, shares: list[CoreShare], tiling: Tiling,
              ctx: PassContext, prices: Prices | None, fixed_pj: float,
              memo: dict | None = None) -> PassCost:
    """The closed-form cost of running the pass as `shares` x `tiling` (module docstring);
    `memo` caches row sums and compute cycles across the candidates of one pass (a
    `PassCoster` also keeps the per-share parts across candidates)."""
    return PassCoster(spec, target, shares, ctx, prices, fixed_pj, memo)(tiling)
