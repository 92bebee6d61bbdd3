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
                         post_per_out: float) -> int:
    """A core's compute cycles over its tiles (exact: as mac_pass times them)."""
    k_all = spec.cin if spec.groups == 1 else spec.cin_g
    ms = _sizes(share.m, tiling.mt)
    ns = _sizes(share.n, tiling.nt)
    ks = _sizes(k_all, tiling.kc) if spec.groups == 1 else [(k_all, 1)]
    last_k = ks[-1][0]
    rows, cols, lanes = target.rows, target.cols, target.element_lanes
    mac = target.mac
    total = 0
    for m, cm in ms:
        for n, cn in ns:
            post = math.ceil(post_per_out * m * n / lanes) if post_per_out else 0
            for k, ck in ks:
                c = mac.cycles(spec.array_cycles(m, n, k, rows, cols))
                if post and k == last_k:
                    # the last chunk also drains the fused pool / add through the element path
                    total += cm * cn * ((ck - 1) * c + max(c, post))
                else:
                    total += cm * cn * ck * c
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


def pass_cost(spec: MacSpec, target: Target, shares: list[CoreShare], tiling: Tiling,
              ctx: PassContext, prices: Prices | None, fixed_pj: float,
              memo: dict | None = None) -> PassCost:
    """The closed-form cost of running the pass as `shares` x `tiling` (module docstring);
    `memo` caches row sums across the candidates of one pass."""
    memo = {} if memo is None else memo
    arch = target.arch
    ab, wb = target.activation_bytes, ctx.rhs_bytes
    k_all = spec.cin if spec.groups == 1 else spec.cin_g
    k_tiles = -(-k_all // tiling.kc) if spec.groups == 1 else 1
    multicast = arch.bridge.multicast
    by_rows = len({s.n_lo for s in shares}) == 1 and len(shares) > 1
    n_all, m_all = spec.cout, spec.m
    per_core = []
    row_bytes = spec.w * ab
    for share in shares:
        m_tiles = -(-share.m // tiling.mt)
        n_tiles = -(-share.n // tiling.nt)
        in_rows = _row_sum(spec, share.m_lo, share.m_hi, tiling.mt, memo)
        # input routes (module docstring): dense blocks depend on pixels and the chunk
        if spec.groups == 1:
            once = in_rows * row_bytes * spec.cin
            if tiling.channels_outer:
                repeat = 1 if (m_tiles == 1 and k_tiles == 1) else n_tiles
            else:
                repeat = 1 if k_tiles == 1 else n_tiles
            in_routed = once * repeat
        else:
            chans = 0
            for a in range(share.n_lo, share.n_hi, tiling.nt):
                c0, c1 = spec.in_channels(a, min(share.n_hi, a + tiling.nt), 0, k_all)
                chans += c1 - c0
            in_routed = in_rows * row_bytes * chans
        w_share = spec.weight_bytes(share.n, k_all, wb)
        if tiling.channels_outer:
            w_routed = w_share * (1 if k_tiles == 1 else m_tiles)
        else:
            w_routed = w_share * (1 if (n_tiles == 1 and k_tiles == 1) else m_tiles)
        frac = (share.m / m_all) * (share.n / n_all)
        out = ctx.out_bytes * frac
        extra = ctx.extra_bytes * frac
        key = ("compute", share.m, share.n, tiling.mt, tiling.nt, tiling.kc)
        compute = memo.get(key)
        if compute is None:
            compute = memo[key] = share_compute_cycles(spec, target, share, tiling,
                                                       ctx.post_per_out)
        first_in = _row_sum(spec, share.m_lo, min(share.m_hi, share.m_lo + tiling.mt),
                            tiling.mt, memo) * row_bytes * input_channels(
                                spec, min(tiling.nt, share.n), tiling.kc)
        first_w = spec.weight_bytes(min(tiling.nt, share.n), min(tiling.kc, k_all), wb)
        last_out = ctx.out_bytes * ((share.m - 1) % tiling.mt + 1) / m_all \
            * ((share.n - 1) % tiling.nt + 1) / n_all
        per_core.append((share.core, compute, in_routed, w_routed, out, extra, first_in,
                         first_w, last_out, m_tiles * n_tiles * k_tiles))
    ins = [c[2] for c in per_core]
    ws = [c[3] for c in per_core]
    # multicast: the weights of a split by rows, the dense input of a split by channels
    in_read = max(ins) if (multicast and not by_rows and spec.groups == 1) else sum(ins)
    w_read = max(ws) if (multicast and by_rows) else sum(ws)
    out_total = sum(c[4] for c in per_core)
    dram = (in_read if ctx.in_dram else 0.0) + ctx.extra_dram_bytes \
        + (out_total if ctx.out_dram else 0.0)
    if ctx.weights in ("dram", "tensor_dram"):
        dram += w_read
    elif ctx.weights == "dram_once":
        dram += spec.weight_bytes(n_all, k_all, wb)
    # bytes per bridge port: client c uses port c mod P; the DMA is client `cores`
    ports: dict[int, float] = {}
    nports = arch.bridge.ports
    for core, _, i, w, o, e, *_ in per_core:
        ports[core % nports] = ports.get(core % nports, 0.0) + i + w + o + e
    dma_port = target.cores % nports
    ports[dma_port] = ports.get(dma_port, 0.0) + dram
    route_bw = min(target.port_bytes_per_cycle, target.bank_bytes_per_cycle)
    dma_bw = min(target.dram_bytes_per_cycle, route_bw)
    compute_max = max(c[1] for c in per_core)
    port_max = max(ports.values())
    # pipeline fill: the first tile's operands (DMA loads in sequence on the DRAM interface,
    # routes in parallel on the cores' ports); drain: the last tile out (and to DRAM)
    w_dma = ctx.weights in ("dram", "dram_once", "tensor_dram")
    first_in = [c[6] for c in per_core] if ctx.in_dram else [0.0]
    first_w = [c[7] for c in per_core] if w_dma else [0.0]
    # a multicast block is loaded once for every core
    first_dma = (max(first_in) if (multicast and not by_rows and spec.groups == 1)
                 else sum(first_in)) + (max(first_w) if (multicast and by_rows) else sum(first_w))
    fill = (first_dma / dma_bw + target.dram_latency_cycles if first_dma else 0.0) \
        + max(c[6] + c[7] for c in per_core) / route_bw + arch.bridge.hop_latency_cycles
    last_out = max(c[8] for c in per_core)
    drain = last_out / route_bw + arch.bridge.hop_latency_cycles + (
        last_out / dma_bw + target.dram_latency_cycles if ctx.out_dram else 0.0)
    # the double-buffered chain of a tile step: a route into a buffer slot waits for the
    # compute that last read the slot, so with `slots` slots a step takes at least
    # (its compute + its routes + the hop latency) / slots, and from DRAM also its DMA load
    # and the DRAM latency (small tiles are latency-bound, not bandwidth-bound)
    chain = 0.0
    for core, compute, i, w, o, e, first_in, first_w, last_out, tiles in per_core:
        step = compute / tiles + (i + w + e) / tiles / route_bw + arch.bridge.hop_latency_cycles
        if ctx.in_dram or ctx.weights in ("dram", "dram_once", "tensor_dram"):
            step = max(step, dram / tiles / dma_bw + target.dram_latency_cycles
                       + (i + w) / tiles / route_bw + arch.bridge.hop_latency_cycles)
        chain = max(chain, tiles * step / target.slots)
    # each resource's own path: the cores start after the fill, the DRAM interface and the
    # bridge ports start at once and are followed by the last tile's compute
    tiles = max(c[9] for c in per_core)
    tail = compute_max / tiles + arch.bridge.hop_latency_cycles
    steady = max(compute_max, chain)
    transfers = max(port_max / route_bw, dram / dma_bw + (target.dram_latency_cycles
                                                          if dram else 0.0)) + tail
    if ctx.weights == "dram_once":
        # weights loaded once come in bursts: each block when first used, at most two steps
        # ahead, so only the compute of the steps that bring new blocks (the first pixel tile
        # of each channel block, channels outer; the first pixel tile, pixels outer) and of
        # the two steps before each such run can hide their DMA
        n_tiles = max(-(-s.n // tiling.nt) for s in shares)
        runs = n_tiles if tiling.channels_outer else 1
        window = min(1.0, (n_tiles * k_tiles + 2 * runs) / tiles)
        first = spec.weight_bytes(min(tiling.nt, n_all), min(tiling.kc, k_all), wb)
        burst = (spec.weight_bytes(n_all, k_all, wb) - first) / dma_bw
        steady = max(steady, compute_max + max(0.0, burst - window * compute_max))
    cycles = max(fill + steady, transfers) + drain
    routed = sum(ins) + sum(ws)
    energy = 0.0
    if prices is not None:
        sram_rw = in_read + w_read + out_total + dram
        energy = (fixed_pj + prices.shared_sram * sram_rw + prices.bridge * sum(ports.values())
                  + prices.dram * dram + prices.core_input * sum(ins)
                  + prices.core_weight * 2 * sum(ws) + prices.core_output * out_total)
    return PassCost(cycles, compute_max, port_max, in_read + w_read, dram, routed,
                    max(c[9] for c in per_core), energy, fill, drain, steady, transfers)
