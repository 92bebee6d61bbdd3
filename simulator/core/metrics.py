"""The run-level figures of a result, each defined once.

One table (`METRICS`) says, for every headline figure of a run: its name (the unit is in the
name, as in the JSON contract), unit, a short label and a description, how it is read (from a
`RunResult`, from the chip's area model, or against a baseline run), whether lower is better,
how it is shown to people (a style that `simulator.report.figures` renders), how it combines
over several workloads, and where it is used. Everything else reads this table:

- sweep specs: the metric names (and aliases) that objectives and constraints accept
  (`simulator.dse.spec`);
- the sweep store: one SQL column per stored figure, in table order (`simulator.dse.store`);
- the sweep runner: the figures stored for each (design point, workload) row
  (`simulator.dse.runner`), and the "all workloads" rows of the sweep report
  (`simulator.dse.analysis.combine`);
- `npusim compare`: the values of its rows (`simulator.report.compare`);
- docs/formats.md, section "Run-level figures", lists the same names (a test checks it).

Pure data and arithmetic: no I/O, no kind, no formatting code (the styles are rendered by the
report package), and nothing heavy imported, so the table is cheap to import.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Literal, Mapping

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.area import AreaReport
    from simulator.core.results import RunResult

#: Where a figure is read from: a run's result, the chip's area model (known even when the run
#: fails, so a sweep row of an invalid design still has its area), or a run against a baseline.
Source = Literal["run", "design", "relative"]
#: How a figure is shown (rendered by `simulator.report.figures.show`):
#: seconds / energy / bytes (SI prefix, unit built in), si (SI prefix, unit optional),
#: count (integer with thousands separators), sig3 (3 significant digits), fixed2 (2 decimals),
#: pct (a 0..1 share as percent), ratio (`1.23x`, `-` when undefined), text (as is).
Style = Literal["seconds", "energy", "bytes", "si", "count", "sig3", "fixed2", "pct", "ratio",
                "text"]


@dataclass(frozen=True)
class Metric:
    """One run-level figure (see the module docstring)."""

    name: str
    unit: str
    label: str
    description: str
    source: Source
    #: run: f(RunResult); design: f(AreaReport); relative: f(RunResult, baseline RunResult)
    read: Callable[..., Any]
    #: True: lower is better; False: higher is better; None: not ranked (counts, text)
    minimize: bool | None
    style: Style
    #: SQL type of its sweep-store column; None: not stored in a sweep
    sql: Literal["INTEGER", "REAL"] | None = None
    #: usable as a sweep objective or constraint
    objective: bool = False
    #: over several workloads (a design point running each network once): "sum", "same" (a
    #: property of the design point), a function of the combined figures, or None (undefined)
    combine: Literal["sum", "same"] | Callable[[Mapping[str, Any]], Any] | None = None
    aliases: tuple[str, ...] = ()

    @property
    def stored(self) -> bool:
        return self.sql is not None


def _t(attr: str) -> Callable[["RunResult"], Any]:
    """Read `totals.<attr>` of a run."""
    return lambda result: getattr(result.totals, attr)


def _ratio(num: float, den: float) -> float:
    return num / den if den else float("nan")


def _per_s(ops: float, latency_s: float) -> float:
    return ops / latency_s / 1e12 if latency_s else 0.0


def _per_w(ops: float, energy_pj: float) -> float:
    return ops / (energy_pj * 1e-12) / 1e12 if energy_pj else 0.0


_METRICS: tuple[Metric, ...] = (
    # ---- stored in a sweep (this order is the store's column order and its CSV's) ----------
    Metric("pe_count", "PEs", "PE count", "MAC units (PEs) on the chip (area model)",
           "design", lambda area: area.pe_count, True, "count", "INTEGER", True, "same"),
    Metric("sram_bytes", "B", "on-chip SRAM", "total on-chip SRAM capacity (area model)",
           "design", lambda area: area.sram_bytes, True, "bytes", "INTEGER", True, "same"),
    Metric("area_mm2", "mm^2", "area", "modelled chip area at the arch's node (docs/area.md); "
           "also `totals.area_mm2`", "design", lambda area: area.area_mm2, True, "fixed2", "REAL",
           True, "same", ("area",)),
    Metric("cycles", "cycles", "cycles", "core cycles of the run, compute + stall "
           "(`totals.cycles`)", "run", _t("cycles"), True, "count", "INTEGER", True, "sum"),
    Metric("latency_s", "s", "latency", "cycles / clock (`totals.latency_s`)", "run",
           _t("latency_s"), True, "seconds", "REAL", True, "sum", ("latency",)),
    Metric("energy_pj", "pJ", "energy", "energy of the run, all components "
           "(`totals.energy_pj`)", "run", _t("energy_pj"), True, "energy", "REAL", True, "sum",
           ("energy",)),
    Metric("edp_js", "J*s", "energy-delay product", "energy (J) x latency (s)", "run",
           lambda r: r.totals.energy_pj * 1e-12 * r.totals.latency_s, True, "sig3", "REAL", True,
           lambda c: c["energy_pj"] * 1e-12 * c["latency_s"], ("edp",)),
    Metric("macs", "MACs", "MACs", "multiply-accumulates (`totals.macs`)", "run", _t("macs"),
           None, "si", "INTEGER", False, "sum"),
    Metric("ops", "ops", "ops", "2 per MAC plus element-wise vector operations "
           "(`totals.ops`)", "run", _t("ops"), None, "si", "INTEGER", False, "sum"),
    Metric("tops", "TOPS", "throughput", "achieved tera-ops per second, ops / latency "
           "(`totals.tops`)", "run", _t("tops"), False, "sig3", "REAL", True,
           lambda c: _per_s(c["ops"], c["latency_s"]), ("throughput",)),
    Metric("tops_per_watt", "TOPS/W", "efficiency", "achieved TOPS per watt, ops / energy "
           "(`totals.tops_per_watt`)", "run", _t("tops_per_watt"), False, "sig3", "REAL", True,
           lambda c: _per_w(c["ops"], c["energy_pj"]), ("tops/w", "efficiency")),
    Metric("utilization", "0..1", "utilization", "MAC utilization, macs / (cycles x peak MACs "
           "per cycle) (`totals.utilization`)", "run", _t("utilization"), False, "pct", "REAL",
           True, None, ("util",)),
    Metric("dram_read_bytes", "B", "DRAM read", "off-chip bytes read "
           "(`totals.dram_read_bytes`)", "run", _t("dram_read_bytes"), True, "bytes", "INTEGER",
           False, "sum"),
    Metric("dram_write_bytes", "B", "DRAM written", "off-chip bytes written "
           "(`totals.dram_write_bytes`)", "run", _t("dram_write_bytes"), True, "bytes", "INTEGER",
           False, "sum"),
    Metric("dram_bytes", "B", "DRAM traffic", "off-chip traffic, dram_read_bytes + "
           "dram_write_bytes", "run",
           lambda r: r.totals.dram_read_bytes + r.totals.dram_write_bytes, True, "bytes",
           "INTEGER", True, "sum", ("dram",)),
    Metric("sram_read_bytes", "B", "SRAM read", "on-chip buffer bytes read "
           "(`totals.sram_read_bytes`)", "run", _t("sram_read_bytes"), True, "bytes", "INTEGER",
           False, "sum"),
    Metric("sram_write_bytes", "B", "SRAM written", "on-chip buffer bytes written "
           "(`totals.sram_write_bytes`)", "run", _t("sram_write_bytes"), True, "bytes",
           "INTEGER", False, "sum"),
    Metric("stall_cycles", "cycles", "stall cycles", "cycles spent waiting "
           "(`totals.stall_cycles`)", "run", _t("stall_cycles"), True, "count", "INTEGER", False,
           "sum"),
    # ---- shown by `compare`, not stored in a sweep -----------------------------------------
    Metric("peak_tops", "TOPS", "peak throughput", "peak tera-ops per second, "
           "`roofline.peak_ops_per_s` / 1e12", "run",
           lambda r: r.roofline.get("peak_ops_per_s", 0.0) / 1e12, False, "sig3"),
    Metric("stall_share", "0..1", "stalled", "share of cycles stalled, stall_cycles / cycles",
           "run", lambda r: r.totals.stall_cycles / r.totals.cycles if r.totals.cycles else 0.0,
           True, "pct"),
    Metric("operational_intensity", "ops/B", "ops per DRAM byte", "ops / DRAM bytes "
           "(`totals.operational_intensity`; infinite without DRAM traffic)", "run",
           _t("operational_intensity"), None, "si"),
    Metric("bound", "", "bound", "`compute` or `memory`: the whole run against the ridge point "
           "(`totals.bound`)", "run", _t("bound"), None, "text"),
    Metric("bottleneck", "", "bottleneck", "the layer with the most cycles and why "
           "(`totals.bottleneck`)", "run", _t("bottleneck"), None, "text"),
    Metric("speedup", "x", "speedup", "baseline latency / latency (above 1: faster than the "
           "baseline)", "relative",
           lambda r, base: _ratio(base.totals.latency_s, r.totals.latency_s), False, "ratio"),
    Metric("energy_ratio", "x", "energy ratio", "energy / baseline energy (below 1: less "
           "energy than the baseline)", "relative",
           lambda r, base: _ratio(r.totals.energy_pj, base.totals.energy_pj), True, "ratio"),
)

#: Every run-level figure by name, in table order.
METRICS: dict[str, Metric] = {m.name: m for m in _METRICS}
#: Figures with a column in the sweep store, in column order.
STORED: tuple[Metric, ...] = tuple(m for m in _METRICS if m.stored)
#: Names a sweep objective or constraint may use.
OBJECTIVES: dict[str, Metric] = {m.name: m for m in _METRICS if m.objective}
#: Alternative spellings of objective names (`latency`, `TOPS/W`, ...), lower case.
ALIASES: dict[str, str] = {alias: m.name for m in OBJECTIVES.values() for alias in m.aliases}


def objective_name(text: str) -> str | None:
    """The objective named by `text` (a name or an alias, any case), or None."""
    key = text.strip().lower()
    name = ALIASES.get(key, key)
    return name if name in OBJECTIVES else None


def run_figures(result: "RunResult", names: tuple[str, ...] | None = None) -> dict[str, Any]:
    """The run figures of `result` (default: those a sweep stores), by name."""
    chosen = [METRICS[n] for n in names] if names is not None else STORED
    return {m.name: m.read(result) for m in chosen if m.source == "run"}


def design_figures(area: "AreaReport") -> dict[str, Any]:
    """The figures of a design point read from its area model (stored even if the run fails)."""
    return {m.name: m.read(area) for m in STORED if m.source == "design"}


def relative_figures(result: "RunResult", baseline: "RunResult | None") -> dict[str, float]:
    """The figures of `result` against `baseline` (NaN without a baseline)."""
    return {m.name: (m.read(result, baseline) if baseline is not None else float("nan"))
            for m in _METRICS if m.source == "relative"}


def combine(rows: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The stored figures of one design point run on several workloads (each once): additive
    figures summed, design figures kept, derived figures recomputed from the sums (EDP =
    sum(energy) x sum(latency), TOPS/W = sum(ops) / sum(energy)), the rest None."""
    out: dict[str, Any] = {}
    for m in STORED:
        if m.combine == "sum":
            values = [r.get(m.name) for r in rows]
            out[m.name] = None if any(v is None for v in values) else sum(values)
        elif m.combine == "same":
            out[m.name] = rows[0].get(m.name)
    for m in STORED:
        if callable(m.combine):
            out[m.name] = m.combine(out)
        elif m.combine is None:
            out[m.name] = None
    return out

