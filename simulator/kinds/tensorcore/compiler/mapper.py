"""Step 3 of the compiler: the mapping of each MAC pass, chosen by comparing costs.

For every MAC unit the mapper enumerates the splits across its cores (`split_options`: by
output rows, by output channels) and, for each, the tilings that fit the core buffers
(`tiling.candidate_tilings`: channel tiles, reduction chunks, pixel tiles, both loop orders),
prices each candidate with its closed forms (costs.py: compute per core, bytes per bridge
port, DRAM bytes, pipeline fill and drain, energy) and keeps the best under the run's
objective (docs/models/tensorcore.md §3, step 3):

| objective | minimises | then |
|---|---|---|
| `latency` (default) | estimated cycles | DRAM bytes, energy, tiles |
| `energy` | estimated energy | cycles |
| `edp` | energy x cycles | cycles |
| `dram` | DRAM bytes | cycles, tiles |

A user may pin any part of the choice per layer (`RunOptions.mapping`, `--mapping`): `split`
(`rows`, `channels`, `none`), `tile_pixels`, `tile_channels`, `tile_input_channels`,
`loop_order` (`channels_outer`, `pixels_outer`); the mapper then ranks only what agrees with the
pinned keys, and a value that cannot run (a tile that does not fit its buffer slot, a split the
layer does not have) is a one-line error naming the layer and the key.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.core.energy import EnergyTable
from simulator.core.errors import NpusimError
from simulator.kinds.tensorcore.compiler.batch_costs import Figures, figures
from simulator.kinds.tensorcore.compiler.costs import PassContext, PassCost, PassCoster, Prices
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.placement import CoreShare, core_shares, split_options
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.tiling import Tiling, candidate_tilings, fit_problem

OBJECTIVES = ("latency", "energy", "edp", "dram")
#: the keys of a layer's `mapping` field a user may pin
OVERRIDE_KEYS = ("split", "tile_pixels", "tile_channels", "tile_input_channels", "loop_order")
LOOP_ORDERS = {"channels_outer": True, "pixels_outer": False}


@dataclass(frozen=True)
class MapperOptions:
    """What the mapper minimises and what the user pinned (by layer name)."""

    objective: str = "latency"
    energy: EnergyTable | None = None
    overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class PassMapping:
    """The chosen mapping of a MAC pass and its closed-form cost."""

    split: str
    cores: tuple[int, ...]
    shares: tuple[CoreShare, ...]
    tiling: Tiling
    cost: PassCost
    candidates: int
    objective: str
    pinned: tuple[str, ...] = ()

    def fields(self) -> dict[str, Any]:
        """The layer's reported `mapping` (the keys a user may pin, plus what they imply)."""
        return {"split": self.split, "cores": [s.core for s in self.shares],
                "tile_pixels": self.tiling.mt, "tile_channels": self.tiling.nt,
                "tile_input_channels": self.tiling.kc,
                "loop_order": "channels_outer" if self.tiling.channels_outer else "pixels_outer",
                "tiles_per_core": self.cost.tiles, "objective": self.objective,
                "estimated_cycles": round(self.cost.cycles), "candidates": self.candidates,
                "pinned": list(self.pinned)}


#: candidates whose objective is within this fraction of the best are equally good (the
#: closed forms are estimates): among them the mapper takes the fewest tiles (fewer
#: instructions, less fill and drain), then the rest of the ranking
TOLERANCE = 0.02
#: smaller pixel tiles are tried for the candidates whose largest pixel tile came within this
#: fraction of the best (a smaller first tile only shortens the fill: a few percent at most)
REFINE = 0.10


def _value(cost: PassCost | Figures, objective: str) -> float:
    """The figure an objective minimises."""
    if objective == "energy":
        return cost.energy_pj
    if objective == "edp":
        return cost.energy_pj * cost.cycles
    if objective == "dram":
        return cost.dram_bytes
    return cost.cycles


def _rank(cost: PassCost | Figures, objective: str) -> tuple:
    """Ties (within TOLERANCE) broken by: fewest tiles, then the objective's own order."""
    cycles = round(cost.cycles, 3)
    if objective == "energy":
        return (cost.tiles, round(cost.energy_pj, 6), cycles)
    if objective == "edp":
        return (cost.tiles, round(cost.energy_pj * cost.cycles, 3), cycles)
    if objective == "dram":
        return (round(cost.dram_bytes, 3), cost.tiles, cycles)
    return (cost.tiles, cycles, round(cost.dram_bytes, 3), round(cost.energy_pj, 6))


def _pinned(name: str, override: Mapping[str, Any]) -> dict[str, Any]:
    """Validated pinned keys of layer `name` (one-line errors naming layer and key)."""
    out: dict[str, Any] = {}
    for key, value in override.items():
        where = f"mapping.{name}.{key}"
        if key not in OVERRIDE_KEYS:
            raise NpusimError(f"layer {name}: {key!r} is not a mapping choice of the tensor "
                              "cores", field=where, fix=f"use one of {', '.join(OVERRIDE_KEYS)}")
        if key == "loop_order":
            if value not in LOOP_ORDERS:
                raise NpusimError(f"layer {name}: loop_order {value!r} is not a loop order",
                                  field=where, fix="use channels_outer or pixels_outer")
        elif key == "split":
            if value not in ("rows", "channels", "none"):
                raise NpusimError(f"layer {name}: split {value!r} is not a split", field=where,
                                  fix="use rows, channels or none")
        elif isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NpusimError(f"layer {name}: {key} must be a positive whole number, got "
                              f"{value!r}", field=where, fix=f"give {key} as a count, e.g. 32")
        out[key] = value
    return out


def choose_mapping(spec: MacSpec, target: Target, cores: list[int], ctx: PassContext,
                   options: MapperOptions, prices: Prices | None, fixed_pj: float,
                   name: str, extra_row_bytes: float) -> PassMapping:
    """The best mapping of one MAC pass under `options` (module docstring)."""
    pinned = _pinned(name, options.overrides.get(name, {}))
    splits = split_options(spec, len(cores), target.rows, target.cols)
    if "split" in pinned:
        if pinned["split"] not in splits and not (pinned["split"] == "none"):
            raise NpusimError(f"layer {name}: cannot split by {pinned['split']} over "
                              f"{len(cores)} core(s)", field=f"mapping.{name}.split",
                              fix=f"use one of {', '.join(splits + ['none'])}")
        splits = [pinned["split"]]
    objective = options.objective
    scored: list[tuple] = []     # (objective value, figures, split, shares, tiling, coster)
    rounds: list[list[tuple]] = []
    memo: dict = {}
    for split in splits:
        shares = core_shares(spec, cores, target.rows, target.cols, split)
        m_share = max(s.m for s in shares)
        n_share = max(s.n for s in shares)
        tilings = candidate_tilings(spec, target, m_share, n_share, extra_row_bytes, name)
        if pinned:
            tilings = [t for t in tilings if _agrees(t, pinned)] or _custom(
                spec, target, m_share, n_share, tilings, pinned, extra_row_bytes, name)
        # two rounds: every (channel tile, chunk, loop order) at its largest pixel tile, then
        # the smaller pixel tiles of those that came close to the best
        groups: dict[tuple, list[Tiling]] = {}
        for tiling in tilings:
            groups.setdefault((tiling.nt, tiling.kc, tiling.channels_outer), []).append(tiling)
        for group in groups.values():
            group.sort(key=lambda t: -t.mt)
        coster = PassCoster(spec, target, shares, ctx, prices, fixed_pj, memo)
        heads = [group[0] for group in groups.values()]
        first = [(_value(f, objective), f, split, shares, group, coster)
                 for f, group in zip(figures(coster, heads), groups.values())]
        scored.extend((v, f, split, shares, group[0], coster)
                      for v, f, split, shares, group, coster in first)
        rounds.append(first)
    floor = min(v for v, *_ in scored)
    near = floor + abs(floor) * REFINE
    for first in rounds:
        rest = [(split, shares, tiling, coster) for value, _, split, shares, group, coster
                in first if not value > near for tiling in group[1:]]
        if rest:
            found = figures(rest[0][3], [r[2] for r in rest])
            scored.extend((_value(f, objective), f, *r) for f, r in zip(found, rest))
    floor = min(v for v, *_ in scored)
    limit = floor + abs(floor) * TOLERANCE
    _, _, split, shares, tiling, coster = min(
        (c for c in scored if c[0] <= limit),
        key=lambda c: (_rank(c[1], objective), c[2], c[4].mt, c[4].nt, c[4].kc))
    cost = coster(tiling)    # the winner's PassCost (the figures it was ranked by)
    count = len(scored)
    if len(shares) == 1 and split != "none":
        split = "none"
    return PassMapping(split, tuple(cores), tuple(shares), tiling, cost, count, options.objective,
                       tuple(sorted(pinned)))


def _agrees(tiling: Tiling, pinned: Mapping[str, Any]) -> bool:
    return (pinned.get("tile_pixels", tiling.mt) == tiling.mt
            and pinned.get("tile_channels", tiling.nt) == tiling.nt
            and pinned.get("tile_input_channels", tiling.kc) == tiling.kc
            and LOOP_ORDERS.get(pinned.get("loop_order"), tiling.channels_outer)
            == tiling.channels_outer)


def _custom(spec: MacSpec, target: Target, m_share: int, n_share: int, tilings: list[Tiling],
            pinned: Mapping[str, Any], extra_row_bytes: float, name: str) -> list[Tiling]:
    """A pinned tile the candidates do not list: built from the pinned values (the rest from
    the first candidate), if it fits; else a one-line error naming the key."""
    base = tilings[0]
    tiling = Tiling(pinned.get("tile_pixels", base.mt), pinned.get("tile_channels", base.nt),
                    pinned.get("tile_input_channels", base.kc),
                    LOOP_ORDERS.get(pinned.get("loop_order"), base.channels_outer))
    problem = fit_problem(spec, target, m_share, n_share, tiling, extra_row_bytes)
    if problem is not None:
        key, why = problem
        raise NpusimError(f"layer {name}: {key}={pinned.get(key, getattr(tiling, _ATTR[key]))} "
                          f"{why}", field=f"mapping.{name}.{key}",
                          fix=f"choose a smaller {key} (or leave it to the mapper)")
    return [tiling]


_ATTR = {"tile_pixels": "mt", "tile_channels": "nt", "tile_input_channels": "kc"}
