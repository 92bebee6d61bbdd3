"""Rich terminal output: per-layer table, totals, bottleneck and energy split."""

from __future__ import annotations

import os
import re
import sys
from typing import TYPE_CHECKING

from simulator.report.grid import Cell, Justify, grid_pieces, grid_text, plain
from simulator.report.units import energy, nbytes, pct, seconds, si

if TYPE_CHECKING:  # pragma: no cover - annotations only; rich is imported where it draws
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    from simulator.core.results import RunResult

#: The narrowest console `make_console` gives a pipe: rich wraps no line that fits it.
PIPE_WIDTH = 150
#: rich turns known `:name:` codes in printed strings into emoji
_EMOJI_CODE = re.compile(r":\S+?:")
#: environment variables that make rich draw to a pipe as to a terminal
_FORCE_TERMINAL = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE")


def make_console() -> Console:
    """A console; when output is piped, wide enough that layer names are not truncated."""
    from rich.console import Console

    console = Console(highlight=False)
    if not console.is_terminal:
        console = Console(highlight=False, width=max(console.width, PIPE_WIDTH))
    return console


_LAYER_COLUMNS: tuple[tuple[str, Justify], ...] = (
    ("layer", "left"), ("type", "left"), ("MACs", "right"), ("cycles", "right"),
    ("stall", "right"), ("util", "right"), ("DRAM rd", "right"), ("DRAM wr", "right"),
    ("SRAM rd", "right"), ("energy", "right"), ("ops/B", "right"), ("bound", "left"))


def _layer_title(result: RunResult) -> str:
    return (f"{result.workload['name']} on {result.arch['name']} "
            f"({result.arch['kind']}, {_prec(result)})")


def _layer_rows(result: RunResult) -> list[list[Cell]]:
    """The per-layer rows and the total row, as plain text cells ((text, style) where styled)."""
    rows: list[list[Cell]] = []
    for layer in result.layers:
        stall = layer.stall_cycles / layer.cycles if layer.cycles else 0.0
        rows.append([layer.name, layer.shown_type, si(layer.macs), si(layer.cycles),
                     pct(stall), pct(layer.utilization), nbytes(layer.dram_read_bytes),
                     nbytes(layer.dram_write_bytes), nbytes(layer.sram_read_bytes),
                     energy(layer.energy_pj), si(layer.operational_intensity),
                     ("memory", "red") if layer.bound == "memory" else "compute"])
    t = result.totals
    rows.append([("total", "bold"), "", si(t.macs), si(t.cycles),
                 pct(t.stall_cycles / t.cycles if t.cycles else 0), pct(t.utilization),
                 nbytes(t.dram_read_bytes), nbytes(t.dram_write_bytes), nbytes(t.sram_read_bytes),
                 energy(t.energy_pj), si(t.operational_intensity), t.bound])
    return rows


def layer_table(result: RunResult) -> Table:
    """The per-layer table as a rich `Table` (any names, any width: rich wraps and crops).
    Cells are `Text`, never markup: a layer name is data (`[b]`, a trailing backslash)."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title=Text(_layer_title(result), style="table.title"), show_lines=False,
                  header_style="bold")
    for col, justify in _LAYER_COLUMNS:
        table.add_column(col, justify=justify, no_wrap=col != "layer")
    rows = _layer_rows(result)
    for index, row in enumerate(rows):
        if index == len(rows) - 1:
            table.add_section()
        table.add_row(*(Text(c) if isinstance(c, str) else Text.assemble(c) for c in row))
    return table


def layer_grid(result: RunResult, max_width: int) -> Text | None:
    """The same table through the fast path (`simulator.report.grid`), or None where only rich
    lays it out right (non-ASCII names, a table wider than the console)."""
    rows = _layer_rows(result)
    return grid_text(_layer_title(result), _LAYER_COLUMNS, rows, frozenset({len(rows) - 1}),
                     max_width=max_width)


def _prec(result: RunResult) -> str:
    p = result.workload["precision"]
    fmt = p.get("number_format", "int")
    if p["weight_bits"] == p["activation_bits"]:
        return f"{fmt}{p['weight_bits']}"
    return f"{fmt}{p['activation_bits']}x{p['weight_bits']}"


def compression_line(result: RunResult) -> str:
    """`compression: prune(density=0.1) on 8 layers; ...` when the workload was compressed
    (`workload.transforms`), else ""; what the chip could not exploit is in the warnings."""
    from simulator.core.workload import transforms_text

    text = transforms_text(result.workload.get("transforms") or [])
    return f"compression: {text}" if text else ""


def summary_lines(result: RunResult) -> list[str]:
    t = result.totals
    lines = [
        f"latency {seconds(t.latency_s)} ({t.cycles:,} cycles at {result.arch['clock_mhz']} MHz), "
        f"{si(t.tops * 1e12, 'OP/s')} achieved of {si(result.roofline.get('peak_ops_per_s', 0), 'OP/s')} peak, "
        f"utilization {pct(t.utilization)}",
        f"energy {energy(t.energy_pj)} ({t.tops_per_watt:.3g} TOPS/W), "
        f"DRAM {nbytes(t.dram_read_bytes)} read / {nbytes(t.dram_write_bytes)} written, "
        f"stalls {pct(t.stall_cycles / t.cycles if t.cycles else 0)} of cycles",
    ]
    applied = compression_line(result)
    if applied:
        lines.append(applied)
    if t.bottleneck:
        lines.append(f"bottleneck: {t.bottleneck}")
    if t.energy_pj:
        parts = sorted(t.energy_breakdown_pj.items(), key=lambda kv: -kv[1])
        lines.append("energy split: " + ", ".join(f"{k} {pct(v / t.energy_pj)}" for k, v in parts))
    if t.stall_breakdown_cycles:
        parts = sorted(t.stall_breakdown_cycles.items(), key=lambda kv: -kv[1])
        lines.append("stalls by cause: " + ", ".join(f"{k} {si(v)} cycles" for k, v in parts))
    if t.engine_totals:
        lines.append("engine totals: " + ", ".join(
            f"{k} {si(v) if isinstance(v, (int, float)) else v}" for k, v in t.engine_totals.items()))
    if t.area_mm2:
        lines.append(f"area {t.area_mm2:.3g} mm^2 at {result.arch.get('technology_nm', 45)} nm "
                     "(first-order model, docs/area.md)")
    ridge = result.roofline.get("ridge_ops_per_byte")
    if ridge:
        memory_layers = sum(1 for l in result.layers if l.bound == "memory")
        lines.append(f"roofline: ridge at {ridge:.1f} ops/DRAM byte; {memory_layers} of "
                     f"{len(result.layers)} layers memory-bound")
    return lines


def print_run(result: RunResult, console: Console | None = None) -> None:
    """The per-layer table, the summary lines and the warnings, on `console` (default: a
    console on stdout, `make_console`)."""
    from rich.markup import escape

    console = console or make_console()
    grid = layer_grid(result, console.width)
    console.print(grid if grid is not None else layer_table(result))
    for line in summary_lines(result):  # names in these lines are data, never markup
        console.print(line, markup=False)
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def print_run_to_stdout(result: RunResult) -> None:
    """`print_run` on stdout. To a pipe, where rich would write the same characters without
    styles, the text is written directly when `piped_run_text` can build it (rich is then not
    even imported: a tenth of `npusim run`'s start-up)."""
    forced = any(os.environ.get(name) for name in _FORCE_TERMINAL)
    if not forced and not sys.stdout.isatty():
        text = piped_run_text(result)
        if text is not None:
            sys.stdout.write(text)
            return
    print_run(result)


def piped_run_text(result: RunResult) -> str | None:
    """What `print_run` writes to a pipe (a console at least `PIPE_WIDTH` wide, no styles),
    or None where only rich gets it right: a table or line wider than `PIPE_WIDTH` (rich
    would wrap it at the console's width), non-ASCII or control characters, backslashes
    (markup escapes), `:name:` emoji codes. tests/report/test_grid.py compares the two."""
    rows = _layer_rows(result)
    pieces = grid_pieces(_layer_title(result), _LAYER_COLUMNS, rows, frozenset({len(rows) - 1}),
                         max_width=PIPE_WIDTH)
    if pieces is None:
        return None
    lines = summary_lines(result) + [f"warning: {w}" for w in result.warnings]
    if not all(_plain_line(line) for line in lines):
        return None
    return plain(pieces) + "\n" + "".join(line + "\n" for line in lines)


def _plain_line(line: str) -> bool:
    return (len(line) <= PIPE_WIDTH and line.isascii() and line.isprintable()
            and line == line.rstrip() and "\\" not in line and not _EMOJI_CODE.search(line))


def run_text(result: RunResult, width: int = 160) -> str:
    """What `print_run` shows, as plain text (no colour), for `-o run.txt`."""
    import io

    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), highlight=False)
    print_run(result, console)
    return console.export_text()


def print_catalogue(archs: list[tuple[str, str, str]], workloads: list[tuple[str, str, str]],
                    sweeps: list[tuple[str, str, str]] = (),
                    console: Console | None = None) -> None:
    """`npusim list`: (name, detail, description) rows for each kind of bundled file."""
    from rich.table import Table

    console = console or make_console()
    for title, rows, kind_label in (("Architectures", archs, "kind"),
                                    ("Workloads", workloads, "size"),
                                    ("Sweeps", sweeps, "base x workloads")):
        table = Table(title=title, header_style="bold")
        table.add_column("name", no_wrap=True)
        table.add_column(kind_label, no_wrap=True)
        table.add_column("description")
        for row in rows:
            table.add_row(*row)
        console.print(table)
