"""`npusim sweep-report results.sqlite`: Pareto front, best points under constraints, the
PE x SRAM trade-off, utilization by layer class; optional CSV export and plots.

Analysis is `simulator.dse.analysis`, rendering `simulator.report.sweep`, plots
`simulator.dse.plots`; this module only parses the arguments (and imports those on use).
"""

from __future__ import annotations

import argparse
from pathlib import Path


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


def run(args: argparse.Namespace) -> int:
    from simulator.core.errors import NpusimError
    from simulator.dse.analysis import analyse, csv_rows, load_results
    from simulator.report import sweep as sweep_report
    from simulator.report.terminal import make_console

    objectives = args.objectives.split(",") if args.objectives else None
    data = load_results(args.results, objectives, args.constraint, args.workload)
    if args.top < 1:
        raise NpusimError("--top must be at least 1", field="--top")
    analyses = analyse(data)
    console = make_console()
    sweep_report.print_report(data, analyses, args.top, console)
    if args.csv:
        rows = csv_rows(data, analyses)
        sweep_report.write_csv(Path(args.csv), rows)
        console.print(f"CSV: {args.csv} ({len(rows)} rows)")
    if args.plots:
        from simulator.dse.plots import write_plots
        written = write_plots(data, {a.workload: a.front for a in analyses}, Path(args.plots))
        console.print(f"plots: {len(written)} PNG files in {args.plots}")
    return 0
