"""`npusim sweep-report results.sqlite`: Pareto front, best points under constraints, the
PE x SRAM trade-off, utilization by layer class; optional CSV export and plots."""

from __future__ import annotations

import argparse
import csv
from pathlib import Path
from typing import Any, Sequence

from rich.table import Table

from simulator.core.errors import NpusimError
from simulator.dse.spec import METRICS
from simulator.report.terminal import make_console
from simulator.report.units import energy, nbytes, seconds


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep-report", help="analyse a sweep results file (Pareto front, best points, plots)",
        description="Print the Pareto front and the best point per objective under the "
        "constraints (both default to the sweep file's), the PE x SRAM trade-off and the "
        "utilization by layer class; optionally export CSV and draw plots.")
    parser.add_argument("results", help="SQLite file written by `npusim sweep -o`")
    parser.add_argument("--objectives", default=None, metavar="LIST",
                        help="comma-separated, e.g. latency,energy,area (also edp, tops_per_watt)")
    parser.add_argument("--constraint", action="append", default=None, metavar="EXPR",
                        help="e.g. 'area_mm2 <= 50' (repeatable; replaces the sweep file's)")
    parser.add_argument("--workload", action="append", default=None,
                        help="only this workload (repeatable)")
    parser.add_argument("--csv", default=None, metavar="FILE", help="export every row as CSV")
    parser.add_argument("--plots", default=None, metavar="DIR",
                        help="write heatmaps, Pareto scatter, SRAM trade-off and utilization PNGs")
    parser.add_argument("--top", type=int, default=15, help="rows of each front to print")
    parser.set_defaults(func=run)


def _fmt(metric: str, value: Any) -> str:
    if value is None:
        return "-"
    if metric == "latency_s":
        return seconds(value)
    if metric == "energy_pj":
        return energy(value)
    if metric == "edp_js":
        return f"{value:.3g} J*s"
    if metric == "area_mm2":
        return f"{value:.2f} mm^2"
    if metric in ("dram_bytes", "sram_bytes"):
        return nbytes(value)
    if metric == "utilization":
        return f"{100 * value:.1f}%"
    if metric == "tops_per_watt":
        return f"{value:.3g} TOPS/W"
    if metric == "tops":
        return f"{value:.3g} TOPS"
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def _short(field: str) -> str:
    return field.split(".")[-1].removesuffix("_bytes").replace("_", " ")


def _point_cell(point: dict[str, Any], field: str) -> str:
    value = point.get(field)
    if isinstance(value, int) and field.endswith("_bytes"):
        return _kib(value)
    return str(value)


def _kib(n: float) -> str:
    if n >= 2 ** 20:
        return f"{n / 2 ** 20:g} MiB"
    if n >= 2 ** 10:
        return f"{n / 2 ** 10:g} KiB"
    return f"{n:g} B"


COLUMNS = ("latency_s", "energy_pj", "edp_js", "area_mm2", "tops_per_watt", "utilization",
           "dram_bytes")


def _points_table(title: str, rows: Sequence[dict[str, Any]], fields: Sequence[str],
                  label: str | None = None, labels: Sequence[str] = ()) -> Table:
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
        cells += [_fmt(m, row.get(m)) for m in COLUMNS]
        table.add_row(*cells)
    return table


def _pivot_table(title: str, rows, metric: str, scale: float, unit: str,
                 axis: str) -> Table | None:
    from simulator.dse.analysis import pivot
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


def _utilization_table(rows) -> Table | None:
    from simulator.dse.analysis import utilization_by_pe
    pes, classes, values = utilization_by_pe(rows)
    if not pes or not classes:
        return None
    table = Table(title="Utilization by layer class", title_justify="left", header_style="bold",
                  caption="% of peak MACs/cycle, cycle-weighted, at each PE count's largest SRAM")
    table.add_column("PEs", justify="right")
    for cls in classes:
        table.add_column(cls, justify="right")
    for pe in pes:
        table.add_row(f"{pe:,}", *[f"{100 * values[pe][c]:.2f}%" if c in values[pe] else "-"
                                   for c in classes])
    return table


def run(args: argparse.Namespace) -> int:
    from simulator.dse.analysis import (
        ALL_WORKLOADS,
        best_points,
        feasible,
        flat_row,
        front,
        load_results,
    )

    objectives = args.objectives.split(",") if args.objectives else None
    data = load_results(args.results, objectives, args.constraint, args.workload)
    if args.top < 1:
        raise NpusimError("--top must be at least 1", field="--top")
    console = make_console()
    total = sum(len(r) for w, r in data.rows_by_workload.items() if w != ALL_WORKLOADS)
    constraint_text = ", ".join(str(c) for c in data.constraints) or "none"
    console.print(f"[bold]{data.name}[/bold]: {total} evaluated rows, {len(data.failed)} failed; "
                  f"objectives: {', '.join(data.objectives)}; constraints: {constraint_text}")
    if not data.rows_by_workload:
        console.print("no successful points stored yet")
    fronts: dict[str, list] = {}
    csv_rows = []
    for workload, rows in data.rows_by_workload.items():
        ok = feasible(rows, data.constraints)
        best_front = front(ok, data.objectives)
        fronts[workload] = best_front
        on_front = {r["key"] for r in best_front}
        ok_keys = {r["key"] for r in ok}
        if workload != ALL_WORKLOADS:
            csv_rows += [flat_row(r, data.fields, r["key"] in on_front, r["key"] in ok_keys)
                         for r in rows]
        console.rule(f"[bold]{workload}")
        console.print(f"{len(rows)} points, {len(ok)} meet the constraints, "
                      f"{len(best_front)} on the Pareto front")
        shown = best_front[:args.top]
        console.print(_points_table(
            f"Pareto front ({', '.join(data.objectives)}), feasible points"
            + (f", first {len(shown)}" if len(shown) < len(best_front) else ""),
            shown, data.fields))
        best = best_points(ok, data.objectives)
        if best:
            console.print(_points_table("Best point per objective under the constraints",
                                        list(best.values()), data.fields, "best in",
                                        [METRICS[m].label for m in best]))
        for title, metric, scale, unit in (
                ("Latency (ms) by PE count x SRAM", "latency_s", 1e3, "ms"),
                ("DRAM traffic (MB) by PE count x SRAM", "dram_bytes", 1e-6, "MB"),
                ("Energy (mJ) by PE count x SRAM", "energy_pj", 1e-9, "mJ")):
            table = _pivot_table(title, rows, metric, scale, unit, data.sram_axis)
            if table is not None:
                console.print(table)
        table = _utilization_table(rows)
        if table is not None:
            console.print(table)
    for row in data.failed[:5]:
        console.print(f"[yellow]failed[/yellow] {row['point_json']} on {row['workload']}: "
                      f"{row['error']}")
    if args.csv:
        _write_csv(Path(args.csv), csv_rows + [flat_row(r, data.fields, False, False)
                                               for r in data.failed])
        console.print(f"CSV: {args.csv} ({len(csv_rows) + len(data.failed)} rows)")
    if args.plots:
        from simulator.dse.plots import write_plots
        written = write_plots(data, fronts, Path(args.plots))
        console.print(f"plots: {len(written)} PNG files in {args.plots}")
    return 0


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
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
