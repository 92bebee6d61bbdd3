"""`npusim compare ARCH... --workload WORKLOAD...`: several runs side by side.

Every arch is run on every workload (the cartesian product), in the order given: arch-major
within each workload, so the first arch is the baseline of each workload group and the
`speedup` and `energy ratio` columns are relative to it. Output: a terminal table (default),
or JSON / CSV / Markdown; `--report DIR` adds an HTML page with grouped bars and overlaid
rooflines. Works for every engine kind: only the `RunResult` contract is read. Rows and their
rendering are `simulator.report.compare`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from simulator.cli.common import (
    add_arch_options,
    add_format_options,
    output_format,
    parse_precision,
    positive_batch,
    write_text,
)

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.results import RunResult

FORMATS = ("table", "json", "csv", "md", "html")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compare", help="run several (arch, workload) pairs and compare them side by side",
        description="Run every ARCH on every WORKLOAD and show them side by side. Examples: "
        "`npusim compare tpu_v1 edge_32x32 --workload resnet50`, "
        "`npusim compare eyeriss --workload mobilenet_v2 mobilenet_v3_large`.")
    parser.add_argument("archs", nargs="+", metavar="ARCH",
                        help="arch names or files; the first is the baseline")
    parser.add_argument("-w", "--workload", dest="workloads", nargs="+", required=True,
                        metavar="WORKLOAD", help="one or more workload names or files")
    add_arch_options(parser)
    add_format_options(parser, FORMATS)
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="also write compare.html with grouped bars and overlaid rooflines")
    parser.add_argument("--png", action="store_true",
                        help="with --report: also write each plot as PNG (110 dpi) beside the "
                        "SVG")
    parser.add_argument("--ascii", action="store_true",
                        help="with the table: also draw each run's roofline and latency bars "
                        "as text")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar; print only errors (and --format output)")
    parser.set_defaults(func=run)


def run_pairs(archs: Sequence[str], workloads: Sequence[str], overrides: list[str],
              batch: int | None, precision_name: str | None, quiet: bool = False
              ) -> tuple[list["RunResult"], list[str]]:
    """Simulate every arch on every workload; failures are collected, not fatal."""
    from simulator import api
    from simulator.core.errors import NpusimError
    from simulator.io.load import load_arch, load_workload
    from simulator.report.progress import progress, progress_enabled

    loaded_archs = [load_arch(a, overrides) for a in archs]
    precision = parse_precision(precision_name)
    results: list[RunResult] = []
    errors: list[str] = []
    total = len(archs) * len(workloads)
    with progress("comparing", total, enabled=progress_enabled(quiet)) as tracker:
        for wname in workloads:
            for arch_name, arch in zip(archs, loaded_archs):
                workload = load_workload(wname, batch=batch)
                if precision is not None:
                    workload.precision = precision.model_copy()
                tracker.describe(f"simulating {workload.name} on {arch.name}")
                try:
                    results.append(api.simulate(arch, workload))
                except NpusimError as exc:
                    errors.append(f"{workload.name} on {arch.name}: {exc.one_line()}")
                except ModuleNotFoundError as exc:
                    if not (exc.name or "").startswith("simulator.kinds"):
                        raise
                    errors.append(f"{workload.name} on {arch.name}: the {arch.kind} engine is "
                                  "not installed")
                tracker.advance()
    return results, errors


def run(args: argparse.Namespace) -> int:
    from simulator.core.errors import NpusimError
    from simulator.report import compare as report

    fmt = output_format(args.format, args.output, FORMATS)  # a bad -o fails before the runs
    batch = positive_batch(args.batch)
    results, errors = run_pairs(args.archs, args.workloads, args.overrides, batch,
                                args.precision, quiet=args.quiet)
    if not results:
        raise NpusimError("no run succeeded: " + "; ".join(errors))
    for message in errors:
        print(f"npusim: error: {message}", file=sys.stderr)
    rows = report.summary_rows(results)
    labels = [f"{r.arch.get('name')} / {r.workload.get('name')}" for r in results]
    if args.report:
        from simulator.report.html import write_compare_report
        write_compare_report(results, rows, report.COLUMNS, Path(args.report), labels,
                             png=args.png)
    if fmt == "table" and args.output is None:
        if not args.quiet:
            report.print_table(rows)
            if args.ascii:
                report.print_ascii(results, rows)
    elif fmt == "html":
        from simulator.report.html import standalone_compare_page
        write_text(standalone_compare_page(results, rows, report.COLUMNS, labels), args.output)
    else:
        write_text(report.render(rows, fmt), args.output)
    return 2 if errors else 0
