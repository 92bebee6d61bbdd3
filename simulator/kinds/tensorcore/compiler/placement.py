"""Step 4 of the compiler: which cores run each unit, and how a MAC pass splits over them.

`compiler.placement` (docs/models/tensorcore.md §3, step 4):

* `split`: every unit on all cores. A MAC pass splits by output channels (the dense input
  tiles are then the same on every core and multicast) or by output rows (the weights
  multicast); the mapper (mapper.py) picks the split by its objective. A barrier separates
  units, so each layer's span is its own.
* `pipeline`: units round-robin over the cores (one core each); a consumer tile depends on the
  producer tiles that write the rows it needs, so consecutive layers overlap on different cores.

Views (concat/flatten) and vector-unit passes take no core.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.units import Unit


def unit_cores(units: list[Unit], arch: TensorCoreArch) -> list[list[int]]:
    """The cores each unit runs on (empty for views and vector-unit passes)."""
    out: list[list[int]] = []
    next_core = 0
    for unit in units:
        if unit.kind == "view" or unit.engine != "core":
            out.append([])
        elif arch.compiler.placement == "split":
            out.append(list(range(arch.cores)))
        else:
            out.append([next_core % arch.cores])
            next_core += 1
    return out


@dataclass(frozen=True)
class CoreShare:
    """A core's part of a MAC pass: output pixels [m_lo, m_hi) x output channels [n_lo, n_hi)."""

    core: int
    m_lo: int
    m_hi: int
    n_lo: int
    n_hi: int

    @property
    def m(self) -> int:
        return self.m_hi - self.m_lo

    @property
    def n(self) -> int:
        return self.n_hi - self.n_lo


def splits_by_channels(spec: MacSpec, ncores: int, cols: int) -> bool:
    """Whether a pass over `ncores` cores splits output channels (else output pixels)."""
    return ncores > 1 and spec.cout >= ncores * cols and (
        spec.groups == 1 or spec.depthwise or spec.groups >= ncores)


def split_options(spec: MacSpec, ncores: int, rows: int, cols: int) -> list[str]:
    """The splits of a MAC pass over `ncores` cores that give work to more than one core:
    `rows` (output pixels) and `channels` (output channels; grouped conv only with at least
    one group per core); `none` (one core) when neither does."""
    if ncores <= 1:
        return ["none"]
    cores = list(range(ncores))
    out = [split for split in ("channels", "rows")
           if (split != "channels" or spec.groups == 1 or spec.depthwise
               or spec.groups >= ncores)
           and len(core_shares(spec, cores, rows, cols, split)) > 1]
    return out or ["none"]


def core_shares(spec: MacSpec, cores: list[int], rows: int, cols: int,
                split: str | None = None) -> list[CoreShare]:
    """Split one MAC pass over `cores` (module docstring) by `split` (`channels`, `rows`,
    `none`: all on the first core; None: by channels when every core gets at least an array
    width of them, else by rows). Channel shares are whole array widths (grouped conv: whole
    groups, at least an array width); pixel shares of a depthwise pass are whole multiples of
    the rows (its pixels sit on the rows). Cores left without work get no share."""
    ncores = len(cores)
    m_all, n_all = spec.m, spec.cout
    if ncores == 1 or split == "none":
        return [CoreShare(cores[0], 0, m_all, 0, n_all)]
    chan_step = spec.cout_g if (spec.groups > 1 and not spec.depthwise) else 1
    shares = []
    if split is None:
        split = "channels" if splits_by_channels(spec, ncores, cols) else "rows"
    if split == "channels":
        per = -(-n_all // ncores)
        if spec.groups == 1:
            per = -(-per // max(cols, chan_step)) * max(cols, chan_step)
        else:
            per = -(-per // chan_step) * chan_step
        for idx, core in enumerate(cores):
            lo, hi = idx * per, min(n_all, (idx + 1) * per)
            if lo < hi:
                shares.append(CoreShare(core, 0, m_all, lo, hi))
    else:
        per = -(-m_all // ncores)
        if spec.depthwise:
            per = -(-per // rows) * rows
        for idx, core in enumerate(cores):
            lo, hi = idx * per, min(m_all, (idx + 1) * per)
            if lo < hi:
                shares.append(CoreShare(core, lo, hi, 0, n_all))
    return shares
