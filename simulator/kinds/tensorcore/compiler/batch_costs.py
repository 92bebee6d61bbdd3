"""The mapper's closed forms (costs.py) over many tilings of one problem at once (numpy).

`figures(coster, tilings)` is the cycles, tiles, DRAM bytes and energy of `coster(t)` for
each tiling (what mapper.py ranks by) without building a `PassCost` per candidate: the same
formulas as
`PassCoster.__call__` and `PassCoster._total`, term by term in the same order, on float64
arrays over the candidates, so that every value is the same float (IEEE 754 rounds each
+ - * / alike in numpy and Python; the integers involved stay far below 2**53). Python's
`max(a, b)` (a unless b > a) is `_pymax`, `min(1.0, x)` a `where`; sums over the cores add
left to right as `costs._total_of` does. The parts that depend on one share and one tile size
come from the coster's caches (`m_part`, `n_part`, `compute`, `first_w`), so that they are
computed once whichever path asks. tests/kinds/tensorcore/compiler/test_compiler_batch_costs.py
checks the values against the scalar coster, bit for bit.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from simulator.kinds.tensorcore.compiler.costs import PassCoster
from simulator.kinds.tensorcore.compiler.tiling import Tiling


def _pymax(a, b):
    """Python's max(a, b) elementwise: a unless b > a."""
    return np.where(b > a, b, a)


def _fold_max(values: list):
    """Python's max(values) elementwise: the first of the largest."""
    best = values[0]
    for v in values[1:]:
        best = _pymax(best, v)
    return best


def _fold_sum(values: list):
    """costs._total_of elementwise: 0 + values[0] + values[1] + ..."""
    total = 0
    for v in values:
        total = total + v
    return total


class Figures(NamedTuple):
    """The figures of a candidate's PassCost the mapper ranks by (mapper._value, _rank)."""

    cycles: float
    tiles: int
    dram_bytes: float
    energy_pj: float


#: fewer candidates than this are costed one by one (numpy's fixed cost per batch, about
#: 0.25 ms, is then more than the scalar coster's ~25 us per candidate)
SCALAR_BELOW = 12


def figures(coster: PassCoster, tilings: list[Tiling],
            scalar_below: int = SCALAR_BELOW) -> list[Figures]:
    """Each tiling's PassCost figures (module docstring), as Python numbers (fewer tilings
    than `scalar_below`: from the scalar coster)."""
    if len(tilings) < scalar_below:
        return [Figures(c.cycles, c.tiles, c.dram_bytes, c.energy_pj)
                for c in map(coster, tilings)]
    with np.errstate(all="ignore"):
        cycles, tiles, dram, energy = _figures(coster, tilings)
    n = len(tilings)
    return [Figures(*f) for f in zip(*(np.broadcast_to(a, (n,)).tolist()
                                       for a in (cycles, tiles, dram, energy)))]


def _figures(c: PassCoster, tilings: list[Tiling]) -> tuple:
    spec, ctx, target = c.spec, c.ctx, c.target
    mts = [t.mt for t in tilings]
    nts = [t.nt for t in tilings]
    kcs = [t.kc for t in tilings]
    outer = np.array([t.channels_outer for t in tilings], dtype=bool)
    kc = np.array(kcs, dtype=np.int64)
    dense = c.dense
    k_tiles = -(-c.k_all // kc) if dense else np.ones(len(tilings), dtype=np.int64)
    k_one = k_tiles == 1
    n_all, m_all = spec.cout, spec.m
    per_core = []
    for idx in range(len(c.shares)):
        m_parts = {mt: c.m_part(idx, mt) for mt in set(mts)}
        n_parts = {nt: c.n_part(idx, nt) for nt in set(nts)}
        m_cols = list(zip(*[m_parts[mt] for mt in mts]))
        n_rows = [n_parts[nt] for nt in nts]
        n_cols = list(zip(*n_rows))
        m_tiles = np.array(m_cols[0], dtype=np.int64)
        in_rb = np.array(m_cols[1], dtype=np.float64)
        first_rb = np.array(m_cols[2], dtype=np.float64)
        last_m = np.array(m_cols[3], dtype=np.int64)
        n_tiles = np.array(n_cols[0], dtype=np.int64)
        last_n = np.array(n_cols[2], dtype=np.int64)
        if dense:
            once = in_rb * spec.cin
            repeat = np.where(outer, np.where((m_tiles == 1) & k_one, 1, n_tiles),
                              np.where(k_one, 1, n_tiles))
            in_routed = once * repeat
            in_ch = kc    # input_channels of a dense pass: the chunk
        else:
            in_routed = in_rb * np.array(n_cols[1], dtype=np.int64)
            in_ch = np.array([_input_channels(spec, r[3]) for r in n_rows], dtype=np.int64)
        w_share, out, extra = c.fixed[idx]
        w_routed = w_share * np.where(outer, np.where(k_one, 1, m_tiles),
                                      np.where((n_tiles == 1) & k_one, 1, m_tiles))
        by_sizes: dict[tuple, int] = {}    # (mt, nt, kc) -> cycles (both loop orders)
        cycles = []
        for t in tilings:
            key = (t.mt, t.nt, t.kc)
            value = by_sizes.get(key)
            if value is None:
                value = by_sizes[key] = c.compute(idx, t)
            cycles.append(value)
        compute = np.array(cycles, dtype=np.int64)
        first_in = first_rb * in_ch
        first_ws = {key: c.first_w(idx, *key) for key in set(zip(nts, kcs))}
        first_w = np.array([first_ws[key] for key in zip(nts, kcs)], dtype=np.float64)
        last_out = ctx.out_bytes * last_m / m_all * last_n / n_all
        per_core.append((compute, in_routed, w_routed, out, extra, first_in, first_w,
                         last_out, m_tiles * n_tiles * k_tiles, n_tiles))
    route_bw, dma_bw, hop, latency = c.route_bw, c.dma_bw, c.hop, c.latency
    ins = [p[1] for p in per_core]
    ws = [p[2] for p in per_core]
    in_read = _fold_max(ins) if c.in_once else _fold_sum(ins)
    w_read = _fold_max(ws) if c.w_once else _fold_sum(ws)
    out_total = _fold_sum([p[3] for p in per_core])
    dram = (in_read if ctx.in_dram else 0.0) + ctx.extra_dram_bytes \
        + (out_total if ctx.out_dram else 0.0)
    if ctx.weights in ("dram", "tensor_dram"):
        dram = dram + w_read
    elif ctx.weights == "dram_once":
        dram = dram + c.w_all
    ports: list = [0.0] * c.nports
    for slot, (_, i, w, o, e, *_) in zip(c.port_slot, per_core):
        ports[slot] = ports[slot] + i + w + o + e
    ports[c.dma_slot] = ports[c.dma_slot] + dram
    compute_max = _fold_max([p[0] for p in per_core])
    port_max = _fold_max(ports)
    first_in = [p[5] for p in per_core] if ctx.in_dram else [0.0]
    first_w = [p[6] for p in per_core] if c.w_dma else [0.0]
    first_dma = (_fold_max(first_in) if c.in_once else _fold_sum(first_in)) \
        + (_fold_max(first_w) if c.w_once else _fold_sum(first_w))
    fill = np.where(first_dma != 0, first_dma / dma_bw + latency, 0.0) \
        + _fold_max([p[5] + p[6] for p in per_core]) / route_bw + hop
    last_out = _fold_max([p[7] for p in per_core])
    drain = last_out / route_bw + hop + (last_out / dma_bw + latency if ctx.out_dram else 0.0)
    chain = 0.0
    slow = ctx.in_dram or c.w_dma
    for compute, i, w, _, e, _, _, _, tiles, _ in per_core:
        step = compute / tiles + (i + w + e) / tiles / route_bw + hop
        if slow:
            step = _pymax(step, dram / tiles / dma_bw + latency + (i + w) / tiles / route_bw
                          + hop)
        chain = _pymax(chain, tiles * step / target.slots)
    tiles = _fold_max([p[8] for p in per_core])
    tail = compute_max / tiles + hop
    steady = _pymax(compute_max, chain)
    transfers = _pymax(port_max / route_bw,
                       dram / dma_bw + np.where(dram != 0, latency, 0.0)) + tail
    if ctx.weights == "dram_once":
        n_tiles = _fold_max([p[9] for p in per_core])
        runs = np.where(outer, n_tiles, 1)
        share = (n_tiles * k_tiles + 2 * runs) / tiles
        window = np.where(share < 1.0, share, 1.0)        # min(1.0, share)
        first = np.array([spec.weight_bytes(min(nt, spec.cout), min(k, c.k_all), c.wb)
                          for nt, k in zip(nts, kcs)], dtype=np.float64)
        burst = (c.w_all - first) / dma_bw
        steady = _pymax(steady, compute_max + _pymax(0.0, burst - window * compute_max))
    cycles = _pymax(fill + steady, transfers) + drain
    energy = np.zeros(len(tilings))
    prices = c.prices
    if prices is not None:
        sram_rw = in_read + w_read + out_total + dram
        energy = (c.fixed_pj + prices.shared_sram * sram_rw
                  + prices.bridge * _fold_sum(ports) + prices.dram * dram
                  + prices.core_input * _fold_sum(ins) + prices.core_weight * 2 * _fold_sum(ws)
                  + prices.core_output * out_total)
    return cycles, tiles, dram, energy


def _input_channels(spec, nt: int) -> int:
    """tiling.input_channels of a grouped or depthwise pass (it does not read the chunk)."""
    if spec.depthwise:
        return max(1, nt * spec.cin // spec.cout)
    return max(1, nt // spec.cout_g) * spec.cin_g
