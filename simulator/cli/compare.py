"""`npusim compare ARCH... --workload WORKLOAD...`: several runs side by side.

Every arch is run on every workload (the cartesian product), in the order given: arch-major
within each workload, so the first arch is the baseline of each workload group and the
`speedup` and `energy ratio` columns are relative to it. Output: a terminal table (default),
or JSON / CSV / Markdown; `--report DIR` adds an HTML page with grouped bars and overlaid
rooflines. Works for every engine kind: only the `RunResult` contract is read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import sys
from pathlib import Path
from typing import Any, Sequence

from simulator.api import simulate
from simulator.cli.common import add_arch_options, parse_precision, positive_batch, write_text
from simulator.core.errors import NpusimError
from simulator.core.results import RunResult
from simulator.io.load import load_arch, load_workload
from simulator.report.files import _finite
from simulator.report.progress import progress, progress_enabled
from simulator.report.terminal import make_console
from simulator.report.units import energy, nbytes, pct, seconds, si

FORMATS = ("table", "json", "csv", "md")

#: Columns of the side-by-side table: (row key, header with unit).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("workload", "workload"), ("arch", "arch"), ("kind", "kind"), ("precision", "precision"),
    ("latency_s", "latency"), ("speedup", "speedup vs first arch"), ("cycles", "cycles"),
    ("tops", "achieved TOPS"), ("peak_tops", "peak TOPS"), ("utilization", "MAC util"),
    ("energy_pj", "energy"), ("energy_ratio", "energy vs first arch"),
    ("tops_per_watt", "TOPS/W"), ("dram_bytes", "DRAM traffic"),
    ("stall_share", "stalled"), ("operational_intensity", "ops/DRAM byte"), ("bound", "bound"),
)

#: The narrower set the terminal table shows (JSON, CSV, Markdown and HTML have all columns).
#: Rows are grouped under a bold workload line.
TERMINAL_COLUMNS: tuple[tuple[str, str], ...] = (
    ("arch", "arch"), ("latency_s", "latency"),
    ("speedup", "speedup"), ("tops", "TOPS"), ("utilization", "util"), ("energy_pj", "energy"),
    ("energy_ratio", "energy x"), ("tops_per_watt", "TOPS/W"), ("dram_bytes", "DRAM"),
    ("bound", "bound"),
)


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
    parser.add_argument("--format", choices=FORMATS, default="table",
                        help="output format (default: a table in the terminal)")
    parser.add_argument("-o", "--output", default=None, help="write the output to this file")
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="also write compare.html with grouped bars and overlaid rooflines")
    parser.add_argument("--ascii", action="store_true",
                        help="with the table: also draw each run's roofline and latency bars "
                        "as text")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar; print only errors (and --format output)")
    parser.set_defaults(func=run)


def _precision_label(result: RunResult) -> str:
    p = result.workload.get("precision") or {}
    fmt = p.get("number_format", "int")
    a, w = p.get("activation_bits"), p.get("weight_bits")
    return f"{fmt}{a}" if a == w else f"{fmt}{a}x{w}"


def summary_row(result: RunResult, baseline: RunResult | None = None) -> dict[str, Any]:
    """The headline figures of one run as a flat dict (units in the key names), plus `_shown`,
    the same values formatted for people."""
    t = result.totals
    dram = t.dram_read_bytes + t.dram_write_bytes
    speedup = (baseline.totals.latency_s / t.latency_s
               if baseline is not None and t.latency_s else float("nan"))
    energy_ratio = (t.energy_pj / baseline.totals.energy_pj
                    if baseline is not None and baseline.totals.energy_pj else float("nan"))
    row: dict[str, Any] = {
        "workload": result.workload.get("name", ""), "arch": result.arch.get("name", ""),
        "kind": result.arch.get("kind", ""), "precision": _precision_label(result),
        "batch": result.workload.get("batch", 1),
        "latency_s": t.latency_s, "speedup": speedup, "cycles": t.cycles, "macs": t.macs,
        "tops": t.tops, "peak_tops": result.roofline.get("peak_ops_per_s", 0.0) / 1e12,
        "utilization": t.utilization, "energy_pj": t.energy_pj, "energy_ratio": energy_ratio,
        "tops_per_watt": t.tops_per_watt, "dram_bytes": dram,
        "stall_share": t.stall_cycles / t.cycles if t.cycles else 0.0,
        "operational_intensity": t.operational_intensity, "bound": t.bound,
        "bottleneck": t.bottleneck,
    }

    def ratio(v: float) -> str:
        if math.isnan(v):
            return "-"
        return f"{v:.2f}x" if v >= 0.01 else f"{v:.2g}x"

    row["_shown"] = {
        "workload": row["workload"], "arch": row["arch"], "kind": row["kind"],
        "precision": row["precision"], "latency_s": seconds(t.latency_s),
        "speedup": ratio(speedup), "cycles": f"{t.cycles:,}", "tops": f"{t.tops:.3g}",
        "peak_tops": f"{row['peak_tops']:.3g}", "utilization": pct(t.utilization),
        "energy_pj": energy(t.energy_pj), "energy_ratio": ratio(energy_ratio),
        "tops_per_watt": f"{t.tops_per_watt:.3g}", "dram_bytes": nbytes(dram),
        "stall_share": pct(row["stall_share"]), "operational_intensity": si(t.operational_intensity),
        "bound": t.bound, "batch": str(row["batch"]), "macs": si(t.macs),
        "bottleneck": t.bottleneck,
    }
    return row


def summary_rows(results: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Rows for runs ordered workload-major; the first run of each workload is its baseline."""
    baselines: dict[str, RunResult] = {}
    rows = []
    for r in results:
        baseline = baselines.setdefault(r.workload.get("name", ""), r)
        rows.append(summary_row(r, baseline))
    return rows


def _plain(row: dict[str, Any]) -> dict[str, Any]:
    return _finite({k: v for k, v in row.items() if not k.startswith("_")})


def to_json(rows: Sequence[dict]) -> str:
    return json.dumps({"runs": [_plain(r) for r in rows]}, indent=2)


def to_csv(rows: Sequence[dict]) -> str:
    plain = [_plain(r) for r in rows]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(plain[0]) if plain else [],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(plain)
    return buffer.getvalue()


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(rows: Sequence[dict]) -> str:
    out = ["| " + " | ".join(label for _, label in COLUMNS) + " |",
           "|" + "---|" * len(COLUMNS)]
    for r in rows:
        out.append("| " + " | ".join(_md(r["_shown"][k]) for k, _ in COLUMNS) + " |")
    notes = [f"- {_md(r['workload'])} on {_md(r['arch'])}: bottleneck {_md(r['bottleneck'])}"
             for r in rows if r["bottleneck"]]
    if notes:
        out += [""] + notes
    return "\n".join(out) + "\n"


def print_table(rows: Sequence[dict]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(title="Side by side (speedup, energy x: vs the first arch)", header_style="bold", box=box.SIMPLE_HEAD, pad_edge=False,
                  padding=(0, 0), show_edge=False, collapse_padding=True)
    for key, label in TERMINAL_COLUMNS:
        table.add_column(label, justify="left" if key in ("arch", "bound") else "right",
                         no_wrap=True, overflow="ellipsis")
    previous = None
    for r in rows:
        if r["workload"] != previous:
            if previous is not None:
                table.add_section()
            table.add_row(f"[bold]{_rich_escape(r['workload'])}[/bold]")
        previous = r["workload"]
        table.add_row(*[_rich_escape(r["_shown"][k]) for k, _ in TERMINAL_COLUMNS])
    console = make_console()
    console.print(table)
    for r in rows:
        if r["bottleneck"]:
            console.print(f"{r['workload']} on {r['arch']}: bottleneck {r['bottleneck']}",
                          markup=False)


def print_ascii(results: Sequence[RunResult], rows: Sequence[dict]) -> None:
    """A text roofline per run, then latency as bars (the terminal plus of `--ascii`)."""
    from simulator.core.roofline import roofline_plot_data
    from simulator.report import ascii

    for r in results:
        if r.roofline.get("peak_ops_per_s") and r.roofline.get("dram_bytes_per_s"):
            print(f"\nroofline: {r.workload.get('name')} on {r.arch.get('name')}")
            print(ascii.roofline(roofline_plot_data(r)))
    print("\nlatency")
    print(ascii.bars([f"{row['workload']} / {row['arch']}" for row in rows],
                     [row["latency_s"] for row in rows], "s"))


def _rich_escape(text: str) -> str:
    from rich.markup import escape
    return escape(str(text))


def run_pairs(archs: Sequence[str], workloads: Sequence[str], overrides: list[str],
              batch: int | None, precision_name: str | None, quiet: bool = False
              ) -> tuple[list[RunResult], list[str]]:
    """Simulate every arch on every workload; failures are collected, not fatal."""
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
                    results.append(simulate(arch, workload))
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
    batch = positive_batch(args.batch)
    results, errors = run_pairs(args.archs, args.workloads, args.overrides, batch,
                                args.precision, quiet=args.quiet)
    if not results:
        raise NpusimError("no run succeeded: " + "; ".join(errors))
    for message in errors:
        print(f"npusim: error: {message}", file=sys.stderr)
    rows = summary_rows(results)
    if args.report:
        from simulator.report.html import write_compare_report
        labels = [f"{r.arch.get('name')} / {r.workload.get('name')}" for r in results]
        write_compare_report(results, rows, COLUMNS, Path(args.report), labels)
    if args.format == "table":
        if args.output:
            write_text(to_markdown(rows), args.output)
        elif not args.quiet:
            print_table(rows)
            if args.ascii:
                print_ascii(results, rows)
    elif args.format == "json":
        write_text(to_json(rows), args.output)
    elif args.format == "csv":
        write_text(to_csv(rows), args.output)
    else:
        write_text(to_markdown(rows), args.output)
    return 2 if errors else 0
