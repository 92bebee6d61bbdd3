"""Sweep plots (matplotlib, optional extra `plots`, imported lazily): PE x SRAM heatmaps of
latency / energy / EDP with infeasible cells marked, the Pareto scatter (latency vs energy,
colour = area, points failing a constraint crossed out), DRAM traffic and latency against SRAM
size per PE count, and utilization by layer class against PE count.

Drawn with the object API and the shared style of `simulator.report.plotting` (no pyplot, no
GUI backend); tick labels are plain numbers and sizes (`256 KiB`, `1,024`, `30`), never
`3x10^1` or `2^-2 MiB`. Every function returns a matplotlib `Figure`.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Sequence

from simulator.core.errors import NpusimError
from simulator.dse.analysis import pivot, utilization_by_pe
from simulator.dse.spec import Constraint
from simulator.report.plotting import new_figure, plain, save_figure, with_rc


def _size_label(n_bytes: float) -> str:
    for unit, scale in (("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:g} {unit}"
    return f"{n_bytes:g} B"


_SCALES = {"latency_s": (1e3, "latency (ms)"), "energy_pj": (1e-9, "energy (mJ)"),
           "edp_js": (1e6, "EDP (mJ x s)"), "dram_bytes": (1e-6, "DRAM traffic (MB)")}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _constraint_text(constraints: Sequence[Constraint]) -> str:
    return ", ".join(str(c) for c in constraints)


def _plain_log(axis, values: Sequence[float] = (), span: tuple[float, float] | None = None
               ) -> None:
    """A log axis with plain labels: at `values` when given; over a `span` of less than 20x
    at round linear steps (6, 7, 8, 9, 10 ms: a 1-2-5 log locator would label one tick);
    otherwise at 1, 2, 5 x 10^k."""
    from matplotlib.ticker import (
        FixedLocator,
        FuncFormatter,
        LogLocator,
        MaxNLocator,
        NullLocator,
    )

    if not values and span and 0 < span[0] < span[1] < 20 * span[0]:
        ticks = MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]).tick_values(*span)
        values = [t for t in ticks if span[0] * (1 - 1e-9) <= t <= span[1] * (1 + 1e-9)]
    if values:
        axis.set_major_locator(FixedLocator(list(values)))
    else:
        axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=30))
    axis.set_minor_locator(NullLocator())
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: plain(v)))


def _span(values: Sequence[float]) -> tuple[float, float] | None:
    positive = [v for v in values if v and v > 0]
    return (min(positive), max(positive)) if positive else None


def _feasible_keys(rows: Sequence[dict[str, Any]], constraints: Sequence[Constraint]) -> set:
    return {r["key"] for r in rows if all(c.holds(r) for c in constraints)}


@with_rc
def heatmaps(rows: Sequence[dict[str, Any]], title: str, axis_label: str = "on-chip SRAM",
             constraints: Sequence[Constraint] = ()):
    """Latency, energy and EDP over PE count (y) x on-chip SRAM (x); log colour scale, each
    cell's value printed in it, and cells where no design meets the constraints hatched."""
    from matplotlib.colors import LogNorm
    from matplotlib.patches import Rectangle

    fig = new_figure(15, 4.8, None, left=0.055, right=0.985, bottom=0.2, top=0.86, wspace=0.32)
    axes = fig.subplots(1, 3)
    ok = _feasible_keys(rows, constraints)
    cells_ok = {(r["pe_count"], r["sram_axis"]) for r in rows if r["key"] in ok}
    for ax, metric in zip(axes, ("latency_s", "energy_pj", "edp_js")):
        pes, srams, cells = pivot(rows, metric)
        scale, label = _SCALES[metric]
        grid = [[cells.get((pe, s), float("nan")) * scale for s in srams] for pe in pes]
        values = [v for line in grid for v in line if v == v and v > 0]
        norm = LogNorm(min(values), max(values)) if values and min(values) > 0 else None
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis_r", norm=norm)
        # where a value sits on the log colour scale (LogNorm's formula; calling the norm per
        # cell costs a millisecond each)
        lo, hi = (math.log(min(values)), math.log(max(values))) if norm is not None else (0, 0)
        for i, line in enumerate(grid):
            for j, value in enumerate(line):
                if value != value:
                    continue
                dark = hi > lo and (math.log(value) - lo) / (hi - lo) > 0.55  # viridis_r
                infeasible = constraints and (pes[i], srams[j]) not in cells_ok
                if infeasible:
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, lw=0,
                                           hatch="///", edgecolor="#d62728"))
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7,
                        color="white" if dark and not infeasible else "black",
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "lw": 0,
                              "alpha": 0.85} if infeasible else None)
        ax.set_xticks(range(len(srams)), [_size_label(s) for s in srams], rotation=45,
                      ha="right")
        ax.set_yticks(range(len(pes)), [f"{pe:,}" for pe in pes])
        ax.set_xlabel(axis_label)
        ax.set_ylabel("PE count (MACs)")
        ax.set_title(label)
        bar = fig.colorbar(image, ax=ax)
        bar.set_label(label)
        if norm is not None:
            _plain_log(bar.ax.yaxis, span=(min(values), max(values)))
    note = (f"; hatched red: no design in the cell meets {_constraint_text(constraints)}"
            if constraints and len(cells_ok) < len({(r["pe_count"], r["sram_axis"])
                                                    for r in rows}) else "")
    fig.suptitle(f"{title}: best value per cell (lower is better){note}", parse_math=False)
    return fig


@with_rc
def pareto_scatter(rows: Sequence[dict[str, Any]], front_rows: Sequence[dict[str, Any]],
                   title: str, constraints: Sequence[Constraint] = ()):
    """All points as latency vs energy: feasible ones coloured by area, those failing a
    constraint as grey crosses; the Pareto front of the feasible points circled."""
    fig = new_figure(8.2, 5.4, None, left=0.09, right=0.99, bottom=0.1, top=0.94)
    ax = fig.add_subplot()
    ok = _feasible_keys(rows, constraints)
    good = [r for r in rows if r["key"] in ok]
    bad = [r for r in rows if r["key"] not in ok]
    if good:
        points = ax.scatter([r["latency_s"] * 1e3 for r in good],
                            [r["energy_pj"] * 1e-9 for r in good],
                            c=[r["area_mm2"] for r in good], cmap="plasma", s=24, alpha=0.85)
        fig.colorbar(points, ax=ax, label="area (mm^2)")
    if bad:
        ax.scatter([r["latency_s"] * 1e3 for r in bad], [r["energy_pj"] * 1e-9 for r in bad],
                   marker="x", c="#999999", s=22, linewidths=1,
                   label=f"fails {_constraint_text(constraints)} ({len(bad)})")
    ax.scatter([r["latency_s"] * 1e3 for r in front_rows],
               [r["energy_pj"] * 1e-9 for r in front_rows], facecolors="none",
               edgecolors="black", s=90, linewidths=1.4,
               label=f"Pareto front of the feasible points ({len(front_rows)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    _plain_log(ax.xaxis, span=_span([r["latency_s"] * 1e3 for r in rows]))
    _plain_log(ax.yaxis, span=_span([r["energy_pj"] * 1e-9 for r in rows]))
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (mJ)")
    ax.set_title(title, parse_math=False)
    ax.grid(True, which="major", alpha=0.25)
    legend = ax.legend(loc="best")
    for text in legend.get_texts():
        text.set_parse_math(False)
    return fig


@with_rc
def sram_tradeoff(rows: Sequence[dict[str, Any]], title: str, axis_label: str = "on-chip SRAM"):
    """DRAM traffic and latency against SRAM size, one line per PE count."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, NullLocator

    fig = new_figure(12, 4.6, None, left=0.065, right=0.985, bottom=0.12, top=0.9,
                     wspace=0.18)
    for ax, metric in zip(fig.subplots(1, 2), ("dram_bytes", "latency_s")):
        pes, srams, cells = pivot(rows, metric)
        scale, label = _SCALES[metric]
        for pe in pes:
            xs = [s for s in srams if (pe, s) in cells]
            ax.plot(xs, [cells[(pe, s)] * scale for s in xs], marker="o", label=f"{pe:,} PEs")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(FixedLocator(list(srams)))
        ax.xaxis.set_major_formatter(FixedFormatter([_size_label(s) for s in srams]))
        ax.xaxis.set_minor_locator(NullLocator())
        _plain_log(ax.yaxis, span=_span([v * scale for v in cells.values()]))
        ax.set_xlabel(axis_label)
        ax.set_ylabel(label)
        ax.grid(True, which="major", alpha=0.25)
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}: DRAM traffic and latency fall with SRAM until the working set fits",
                 parse_math=False)
    return fig


@with_rc
def utilization_plot(rows: Sequence[dict[str, Any]], title: str):
    """Utilization by layer class against PE count (at each PE count's largest SRAM)."""
    from matplotlib.ticker import FixedFormatter, FixedLocator, FuncFormatter, NullLocator

    pes, classes, table = utilization_by_pe(rows)
    fig = new_figure(7.6, 4.6, None, left=0.115, right=0.97, bottom=0.12, top=0.93)
    ax = fig.add_subplot()
    for cls in classes:
        ax.plot(pes, [100 * table[pe].get(cls, float("nan")) for pe in pes], marker="o",
                label=cls)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.xaxis.set_major_locator(FixedLocator(list(pes)))
    ax.xaxis.set_major_formatter(FixedFormatter([f"{pe:,}" for pe in pes]))
    ax.xaxis.set_minor_locator(NullLocator())
    _plain_log(ax.yaxis)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{plain(v)}%"))
    ax.set_xlabel("PE count (MACs)")
    ax.set_ylabel("utilization (% of peak MACs/cycle)")
    ax.set_title(f"{title}: utilization by layer class", parse_math=False)
    ax.grid(True, which="major", alpha=0.25)
    ax.legend()
    return fig


def sweep_figures(data, fronts: dict[str, list]) -> dict[str, Any]:
    """Every sweep figure by file stem (`<workload>_heatmap`, `_pareto`, `_sram_tradeoff`,
    `_utilization`)."""
    figures = {}
    for workload, rows in data.rows_by_workload.items():
        if not rows:
            continue
        title = f"{data.name} / {workload}"
        axis = data.sram_axis.split(".")[-1]
        stem = _slug(workload)
        figures[f"{stem}_heatmap"] = heatmaps(rows, title, axis, data.constraints)
        figures[f"{stem}_pareto"] = pareto_scatter(rows, fronts.get(workload, []), title,
                                                   data.constraints)
        figures[f"{stem}_sram_tradeoff"] = sram_tradeoff(rows, title, axis)
        if any(r.get("util_by_class") for r in rows):
            figures[f"{stem}_utilization"] = utilization_plot(rows, title)
    return figures


def write_plots(data, fronts: dict[str, list], out_dir: Path) -> list[Path]:
    """Write every plot for every workload as PNG into `out_dir`; return the paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NpusimError(f"cannot create the plot directory: {exc.strerror}", file=out_dir,
                          field="--plots") from None
    return [save_figure(fig, out_dir, stem, formats=("png",))["png"]
            for stem, fig in sweep_figures(data, fronts).items()]
