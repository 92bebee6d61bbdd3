"""Several runs side by side (`npusim compare`): rows, the terminal table, JSON, CSV, Markdown.

A row holds the run's labels (workload, arch, kind, precision, batch) and its headline figures
from the figure table (`simulator.core.metrics`), units in the key names; `speedup` and
`energy_ratio` are against the first run of the same workload (the baseline). `_shown` holds
the same values formatted for people (`simulator.report.figures`). Only the `RunResult`
contract is read, so rows of every engine kind compare alike. The HTML page is
`simulator.report.html.write_compare_report`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any, Sequence

from simulator.core.metrics import relative_figures, run_figures
from simulator.core.results import RunResult
from simulator.core.workload import transforms_text
from simulator.report.figures import show
from simulator.report.files import finite

#: The labels of a run, then its figures, in row (and JSON / CSV key) order.
LABELS = ("workload", "arch", "kind", "precision", "batch", "compression")
FIGURES = ("latency_s", "speedup", "cycles", "macs", "tops", "peak_tops", "utilization",
           "energy_pj", "energy_ratio", "tops_per_watt", "dram_bytes", "stall_share",
           "operational_intensity", "bound", "bottleneck")

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


def _precision_label(result: RunResult) -> str:
    p = result.workload.get("precision") or {}
    fmt = p.get("number_format", "int")
    a, w = p.get("activation_bits"), p.get("weight_bits")
    return f"{fmt}{a}" if a == w else f"{fmt}{a}x{w}"


def summary_row(result: RunResult, baseline: RunResult | None = None) -> dict[str, Any]:
    """The headline figures of one run as a flat dict (units in the key names), plus `_shown`,
    the same values formatted for people (units left to the column headers)."""
    labels = {"workload": result.workload.get("name", ""), "arch": result.arch.get("name", ""),
              "kind": result.arch.get("kind", ""), "precision": _precision_label(result),
              "batch": result.workload.get("batch", 1),
              "compression": transforms_text(result.workload.get("transforms") or [])}
    figures = {**run_figures(result, FIGURES), **relative_figures(result, baseline)}
    row: dict[str, Any] = {**labels, **{name: figures[name] for name in FIGURES}}
    row["_shown"] = {**{k: str(v) for k, v in labels.items()},
                     **{name: show(name, row[name], unit=False) for name in FIGURES}}
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
    return finite({k: v for k, v in row.items() if not k.startswith("_")})


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
    notes += [f"- {line}" for line in map(_md, compression_lines(rows))]
    if notes:
        out += [""] + notes
    return "\n".join(out) + "\n"


def to_text(rows: Sequence[dict], width: int = 160) -> str:
    """The terminal table as plain text (for `-o cmp.txt`)."""
    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
    print_table(rows, console)
    return console.export_text()


def render(rows: Sequence[dict], fmt: str) -> str:
    """The rows as `json`, `csv`, `md` (Markdown) or `table` (the terminal table) text."""
    if fmt == "table":
        return to_text(rows)
    if fmt == "json":
        return to_json(rows)
    if fmt == "csv":
        return to_csv(rows)
    if fmt == "md":
        return to_markdown(rows)
    raise ValueError(fmt)


def print_table(rows: Sequence[dict], console=None) -> None:
    """The terminal table (`TERMINAL_COLUMNS`, grouped by workload) and the bottlenecks."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    from simulator.report.terminal import make_console

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
            table.add_row(f"[bold]{escape(str(r['workload']))}[/bold]")
        previous = r["workload"]
        table.add_row(*[escape(str(r["_shown"][k])) for k, _ in TERMINAL_COLUMNS])
    console = console or make_console()
    console.print(table)
    for r in rows:
        if r["bottleneck"]:
            console.print(f"{r['workload']} on {r['arch']}: bottleneck {r['bottleneck']}",
                          markup=False)
    for line in compression_lines(rows):
        console.print(line, markup=False)


def compression_lines(rows: Sequence[dict]) -> list[str]:
    """One `compression:` line per distinct compression of the runs (none: no line); the
    workload is named when the runs were not all compressed alike."""
    applied = {(r["workload"], r.get("compression", "")) for r in rows}
    texts = {text for _, text in applied}
    if texts == {""}:
        return []
    if len(texts) == 1 and len(applied) == len({w for w, _ in applied}):
        return [f"compression: {texts.pop()}"]
    return [f"compression of {w}: {text or 'none'}" for w, text in
            dict.fromkeys(sorted(applied))]


def print_ascii(results: Sequence[RunResult], rows: Sequence[dict]) -> None:
    """A text roofline per run, then latency as bars (the terminal plus of `--ascii`)."""
    from simulator.core.roofline_plot import default_x_axis, roofline_plot_data
    from simulator.report import ascii

    for r in results:
        if r.roofline.get("peak_ops_per_s") and r.roofline.get("dram_bytes_per_s"):
            print(f"\nroofline: {r.workload.get('name')} on {r.arch.get('name')}")
            print(ascii.roofline(roofline_plot_data(r, default_x_axis(r))))
    print("\nlatency")
    print(ascii.bars([f"{row['workload']} / {row['arch']}" for row in rows],
                     [row["latency_s"] for row in rows], "s"))


class Comparison:
    """Several runs side by side, for notebooks: the rows of `summary_rows` (the first run
    of each workload is its baseline), shown as the comparison table when it is the last
    expression of a cell, as a DataFrame with `to_pandas()`, and as figures."""

    def __init__(self, results: Sequence[RunResult]) -> None:
        self.results = list(results)
        self.rows = summary_rows(self.results)

    def to_pandas(self):
        """One row per run, figures with their units in the column names."""
        from simulator.report.notebook import comparison_frame
        return comparison_frame(self.rows)

    def _repr_html_(self) -> str:
        from simulator.report.notebook import comparison_html
        return comparison_html(self.rows, COLUMNS)

    def figure(self):
        """Grouped bars of the headline figures (a matplotlib Figure)."""
        from simulator.report.plots import compare_bars_figure
        return compare_bars_figure(self.rows)

    def roofline(self):
        """The runs' rooflines overlaid on one axis (a matplotlib Figure)."""
        from simulator.core.roofline_plot import roofline_plot_data
        from simulator.report.plots import compare_axis, compare_roofline_figure
        runs = [r for r in self.results
                if r.roofline.get("peak_ops_per_s") and r.roofline.get("dram_bytes_per_s")]
        axis = compare_axis(runs)
        return compare_roofline_figure(
            [(f"{r.arch.get('name')} / {r.workload.get('name')}", roofline_plot_data(r, axis))
             for r in runs])
