"""The sparse study (`npusim sparse-study`) as a table, JSON or CSV.

Rows come from `simulator.dse.sparse_study.study`: per value of the varied field, per-layer
latency and load-balance efficiency, total latency and energy, warnings. The table has one line
per layer and one column per value (a study varies few values over many layers), and its cells
never wrap: a number is never split across lines.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from simulator.report.terminal import make_console


def _cell(layer: dict[str, Any]) -> str:
    return f"{layer['latency_s'] * 1e6:.2f} / {100 * (layer['efficiency'] or 0):.0f}%"


def table(field: str, rows: list[dict[str, Any]]) -> Table:
    """One line per layer, one column per value: `latency us / efficiency %`; then the
    total latency and energy per value."""
    names = list(rows[0]["layers"]) if rows else []
    out = Table(title=escape(f"sparse study: one column per {field}; per layer: latency us / "
                             "load-balance efficiency"), header_style="bold")
    out.add_column("layer", no_wrap=True)
    for row in rows:
        out.add_column(escape(str(row["value"])), justify="right", no_wrap=True)
    for name in names:
        out.add_row(escape(name), *[_cell(row["layers"][name]) for row in rows])
    out.add_section()
    out.add_row("total us", *[f"{row['latency_s'] * 1e6:.2f}" for row in rows])
    out.add_row("energy uJ", *[f"{row['energy_pj'] * 1e-6:.2f}" for row in rows])
    return out


def to_json(field: str, rows: list[dict[str, Any]]) -> str:
    return json.dumps({"field": field, "rows": rows}, indent=2)


def to_csv(field: str, rows: list[dict[str, Any]]) -> str:
    """One CSV row per (value, layer): the value, the layer, its latency, cycles, energy and
    load-balance efficiency (units in the column names)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([field, "layer", "latency_s", "cycles", "energy_pj", "efficiency"])
    for row in rows:
        for name, layer in row["layers"].items():
            writer.writerow([row["value"], name, layer["latency_s"], layer["cycles"],
                             layer["energy_pj"], layer["efficiency"]])
    return buffer.getvalue()


def to_text(field: str, rows: list[dict[str, Any]]) -> str:
    """The table as plain text (for `-o FILE.txt`), 200 columns wide."""
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table(field, rows))
    return console.export_text()


def render(field: str, rows: list[dict[str, Any]], fmt: str) -> str:
    """The study as `json`, `csv` or `table` (plain text) text."""
    if fmt == "json":
        return to_json(field, rows)
    if fmt == "csv":
        return to_csv(field, rows)
    if fmt == "table":
        return to_text(field, rows)
    raise ValueError(fmt)


def print_study(field: str, rows: list[dict[str, Any]], console: Console | None = None) -> None:
    """The table in the terminal, then each distinct warning once. A table wider than the
    terminal is printed at its full width (the terminal folds the lines) rather than squeezed,
    which would cut or wrap the numbers in its cells."""
    console = console or make_console()
    out = table(field, rows)
    from rich.measure import Measurement
    needed = Measurement.get(console, console.options.update_width(10_000), out).maximum
    if needed > console.width:
        console = Console(width=needed, highlight=False, file=console.file,
                          force_terminal=console.is_terminal)
    console.print(out)
    for warning in sorted({w for row in rows for w in row["warnings"]}):
        console.print(f"warning: {warning}", markup=False)
