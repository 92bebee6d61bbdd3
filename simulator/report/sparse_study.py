"""The sparse study (`npusim sparse-study`) as a table or JSON.

Rows come from `simulator.dse.sparse_study.study`: per value of the varied field, per-layer
latency and load-balance efficiency, total latency and energy, warnings.
"""

from __future__ import annotations

import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from simulator.report.terminal import make_console


def table(field: str, rows: list[dict[str, Any]]) -> Table:
    """One line per value: `latency us / efficiency %` per layer, total us, energy uJ."""
    names = list(rows[0]["layers"]) if rows else []
    out = Table(title=f"sparse study: {field} (latency us / load-balance efficiency %)",
                header_style="bold")
    out.add_column(field, justify="right")
    for name in names:
        out.add_column(name, justify="right")
    out.add_column("total us", justify="right")
    out.add_column("energy uJ", justify="right")
    for row in rows:
        cells = [f"{row['layers'][n]['latency_s'] * 1e6:.2f} / "
                 f"{100 * (row['layers'][n]['efficiency'] or 0):.0f}" for n in names]
        out.add_row(str(row["value"]), *cells, f"{row['latency_s'] * 1e6:.2f}",
                    f"{row['energy_pj'] * 1e-6:.2f}")
    return out


def to_json(field: str, rows: list[dict[str, Any]]) -> str:
    return json.dumps({"field": field, "rows": rows}, indent=2)


def to_text(field: str, rows: list[dict[str, Any]]) -> str:
    """The table as plain text (for `-o FILE`), 200 columns wide."""
    console = Console(record=True, width=200, file=io.StringIO())
    console.print(table(field, rows))
    return console.export_text()


def print_study(field: str, rows: list[dict[str, Any]]) -> None:
    """The table in the terminal, then each distinct warning once."""
    console = make_console()
    console.print(table(field, rows))
    for warning in sorted({w for row in rows for w in row["warnings"]}):
        console.print(f"warning: {warning}")
