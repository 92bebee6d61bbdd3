"""Sweeps in the terminal: what a run did (`npusim sweep`), the report (`npusim sweep-report`)
and its CSV export.

Renders what `simulator.dse.analysis` computed: per workload the Pareto front, the best point
per objective under the constraints, PE count x SRAM pivots of latency, DRAM traffic and
energy, and the utilization by layer class. Figures are shown as the figure table says
(`simulator.core.metrics`, `simulator.report.figures`).
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from rich.console import Console
from rich.table import Table

from simulator.core.errors import NpusimError
from simulator.core.metrics import METRICS
from simulator.dse.analysis import (
    ALL_WORKLOADS,
    SweepData,
    WorkloadAnalysis,
    pivot,
    utilization_by_pe,
)
from simulator.report.figures import show

if TYPE_CHECKING:  # pragma: no cover
    from simulator.dse.runner import SweepSummary

#: The figures of every points table, in column order.
COLUMNS = ("latency_s", "energy_pj", "edp_js", "area_mm2", "tops_per_watt", "utilization",
           "dram_bytes")
#: The PE count x SRAM pivots: (title, figure, scale, unit).
PIVOTS = (("Latency (ms) by PE count x SRAM", "latency_s", 1e3, "ms"),
          ("DRAM traffic (MB) by PE count x SRAM", "dram_bytes", 1e-6, "MB"),
          ("Energy (mJ) by PE count x SRAM", "energy_pj", 1e-9, "mJ"))


def _short(field: str) -> str:
    return field.split(".")[-1].removesuffix("_bytes").replace("_", " ")


def _kib(n: float) -> str:
    if n >= 2 ** 20:
        return f"{n / 2 ** 20:g} MiB"
    if n >= 2 ** 10:
        return f"{n / 2 ** 10:g} KiB"
    return f"{n:g} B"


def _point_cell(point: dict[str, Any], field: str) -> str:
    value = point.get(field)
    if isinstance(value, int) and field.endswith("_bytes"):
        return _kib(value)
    return str(value)


def points_table(title: str, rows: Sequence[dict[str, Any]], fields: Sequence[str],
                 label: str | None = None, labels: Sequence[str] = ()) -> Table:
    """Design points: the varied fields, then the figures of `COLUMNS`."""
    table = Table(title=title, title_justify="left", header_style="bold")
    if label:
        table.add_column(label)
    for field in fields:
        table.add_column(_short(field), justify="right")
    for metric in COLUMNS:
        table.add_column(METRICS[metric].label, justify="right")
    for i, row in enumerate(rows):
        cells = [labels[i]] if label else []
        cells += [_point_cell(row["point"], f) for f in fields]
        cells += [show(m, row.get(m)) for m in COLUMNS]
        table.add_row(*cells)
    return table


def pivot_table(title: str, rows: Sequence[dict[str, Any]], metric: str, scale: float,
                unit: str, axis: str) -> Table | None:
    """`metric` over PE count x the SRAM axis (None when neither axis varies)."""
    pes, srams, cells = pivot(rows, metric)
    if len(pes) < 2 and len(srams) < 2:
        return None
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column(f"PEs \\ {_short(axis)}", justify="right")
    for s in srams:
        table.add_column(_kib(s), justify="right")
    for pe in pes:
        table.add_row(f"{pe:,}", *[f"{cells[(pe, s)] * scale:.3g}" if (pe, s) in cells else "-"
                                   for s in srams])
    table.caption = f"{unit}; best value per cell when other fields vary"
    return table


def _util(value: float) -> str:
    """Two decimals; below 0.01 % two significant digits (a depthwise layer on a big array
    is at 0.0046 %, not 0.00 %)."""
    if value and 100 * value < 0.01:
        return f"{100 * value:.2g}%"
    return f"{100 * value:.2f}%"


def utilization_table(rows: Sequence[dict[str, Any]]) -> Table | None:
    """Utilization per layer class for each PE count (None without per-class data)."""
    pes, classes, values = utilization_by_pe(rows)
    if not pes or not classes:
        return None
    table = Table(title="Utilization by layer class", title_justify="left", header_style="bold",
                  caption="% of peak MACs/cycle, cycle-weighted, at each PE count's largest SRAM")
    table.add_column("PEs", justify="right")
    for cls in classes:
        table.add_column(cls, justify="right")
    for pe in pes:
        table.add_row(f"{pe:,}", *[_util(values[pe][c]) if c in values[pe] else "-"
                                   for c in classes])
    return table


def print_report(data: SweepData, analyses: Sequence[WorkloadAnalysis], top: int,
                 console: Console) -> None:
    """The whole terminal report: a header line, one section per workload, failed rows."""
    total = sum(len(r) for w, r in data.rows_by_workload.items() if w != ALL_WORKLOADS)
    constraint_text = ", ".join(str(c) for c in data.constraints) or "none"
    console.print(f"[bold]{data.name}[/bold]: {total} evaluated rows, {len(data.failed)} failed; "
                  f"objectives: {', '.join(data.objectives)}; constraints: {constraint_text}")
    if data.outside_spec:
        console.print(f"({data.outside_spec} stored rows of an earlier version of the sweep are "
                      "left out: they are not points of it now)")
    if not data.rows_by_workload:
        console.print("no successful points stored yet")
    for analysis in analyses:
        rows, front = analysis.rows, analysis.front
        console.rule(f"[bold]{analysis.workload}")
        console.print(f"{len(rows)} points, {len(analysis.feasible)} meet the constraints, "
                      f"{len(front)} on the Pareto front")
        shown = front[:top]
        console.print(points_table(
            f"Pareto front ({', '.join(data.objectives)}), feasible points"
            + (f", first {len(shown)}" if len(shown) < len(front) else ""),
            shown, data.fields))
        if analysis.best:
            console.print(points_table("Best point per objective under the constraints",
                                       list(analysis.best.values()), data.fields, "best in",
                                       [METRICS[m].label for m in analysis.best]))
        for title, metric, scale, unit in PIVOTS:
            table = pivot_table(title, rows, metric, scale, unit, data.sram_axis)
            if table is not None:
                console.print(table)
        table = utilization_table(rows)
        if table is not None:
            console.print(table)
    for row in data.failed[:5]:
        console.print(f"[yellow]failed[/yellow] {row['point_json']} on {row['workload']}: "
                      f"{row['error']}")


def write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rows as CSV; the columns are the union of the rows' keys in first-seen order."""
    names: list[str] = []
    for row in rows:
        names += [k for k in row if k not in names]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=names)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise NpusimError(f"cannot write CSV: {exc.strerror}", file=path, field="--csv") from None


def print_run_summary(summary: "SweepSummary", output: Path) -> None:
    """After `npusim sweep`: rows stored, computed, failed, and what to run next (notes about
    failures and an early stop go to stderr)."""
    rate = f" ({summary.points_per_s:.1f} points/s)" if summary.computed else ""
    print(f"{summary.total} rows (design points x workloads): {summary.skipped} already "
          f"stored, {summary.computed} computed in {summary.elapsed_s:.1f} s{rate}; "
          f"{summary.invalid} invalid, {summary.errors} errors. Results: {output}")
    for sample in summary.error_samples:
        print(f"  e.g. {sample}", file=sys.stderr)
    if summary.stopped_early:
        print("stopped at --limit: re-run to continue", file=sys.stderr)
    print(f"Next: npusim sweep-report {output}")
