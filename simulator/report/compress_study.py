"""The compression study (`npusim compress-study`) as a table (terminal, plain text, Markdown),
JSON, CSV and one figure.

Rows come from `simulator.dse.compress_study.study`: one per (network, setting, chip), with
the figures of the run, the model size, and speed-up / energy saving against the same network
uncompressed on the same chip. The table groups rows by network; a chip that ran part of the
network says which part in its `part` column, a refused setting says why in `note`.
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import TYPE_CHECKING, Any, Sequence

from simulator.report.units import energy, nbytes, seconds

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure
    from rich.console import Console
    from rich.table import Table

    from simulator.dse.compress_study import StudyRow

#: (row key, header) of the table, in order; units in the headers or the cells.
COLUMNS: tuple[tuple[str, str], ...] = (
    ("setting", "setting"), ("chip", "chip"), ("latency_s", "latency"),
    ("speedup", "speed-up"), ("energy_pj", "energy"), ("energy_saving", "energy saving"),
    ("dram_bytes", "DRAM"), ("model_bytes", "model size"), ("size_ratio", "size ratio"),
    ("layers", "layers +/-"), ("warnings", "warnings"), ("part", "part run"),
    ("note", "note"),
)


def _x(value: float | None) -> str:
    return "-" if value is None or not math.isfinite(value) else f"{value:.2f}x"


def cells(row: "StudyRow") -> dict[str, str]:
    """The row's values as table cells (units in the cells)."""
    ok = row.status == "ok"
    return {
        "setting": row.setting, "chip": row.chip,
        "latency_s": seconds(row.latency_s) if ok else "-",
        "speedup": _x(row.speedup), "energy_pj": energy(row.energy_pj) if ok else "-",
        "energy_saving": _x(row.energy_saving),
        "dram_bytes": nbytes(row.dram_bytes) if ok else "-",
        "model_bytes": nbytes(row.model_bytes) if row.model_bytes is not None else "-",
        "size_ratio": _x(row.size_ratio),
        "layers": (f"+{row.layers_faster}/-{row.layers_slower}"
                   if row.layers_faster is not None else "-"),
        "warnings": str(len(row.warnings)) if ok else "-",
        "part": row.part or "all layers",
        "note": row.note if row.status == "ok" else f"refused: {row.note}",
    }


def table(rows: Sequence["StudyRow"]) -> "Table":
    """The study in the terminal: one section per network."""
    from rich import box
    from rich.markup import escape
    from rich.table import Table

    out = Table(title="compression study", header_style="bold", box=box.SIMPLE_HEAD,
                title_justify="left", caption=CAPTION, caption_justify="left")
    for key, label in COLUMNS:
        left = key in ("setting", "chip", "part", "note")
        out.add_column(label, justify="left" if left else "right", no_wrap=key != "note",
                       overflow="fold", max_width=48 if key == "note" else None)
    previous = None
    for row in rows:
        if row.workload != previous:
            if previous is not None:
                out.add_section()
            out.add_row(f"[bold]{escape(row.workload)}[/bold]")
            previous = row.workload
        shown = cells(row)
        out.add_row(*[escape(shown[key]) for key, _ in COLUMNS])
    return out


CAPTION = ("speed-up = uncompressed latency / latency, energy saving = uncompressed energy / "
           "energy, both against the same network on the same chip (above 1x: better); "
           "layers +/-: layers more than 1 % faster / slower; size ratio = uncompressed model "
           "size / model size")


def part_lines(rows: Sequence["StudyRow"]) -> list[str]:
    """What part of each network a chip ran, once per (network, chip) that ran only part."""
    return list(dict.fromkeys(f"{r.workload} on {r.chip}: {r.scope}" for r in rows
                              if r.scope))


def warning_lines(rows: Sequence["StudyRow"]) -> list[str]:
    """Each distinct warning once per network and chip, with the settings that raised it."""
    raised: dict[tuple[str, str, str], list[str]] = {}
    for row in rows:
        for warning in row.warnings:
            raised.setdefault((row.workload, row.chip, warning), []).append(row.setting)
    return [f"{net} on {chip} ({', '.join(settings)}): {warning}"
            for (net, chip, warning), settings in raised.items()]


def print_study(rows: Sequence["StudyRow"], console: "Console | None" = None,
                elapsed_s: float | None = None) -> None:
    """The table, then the warnings (what a chip cannot exploit), each once."""
    from rich.console import Console
    from rich.measure import Measurement

    from simulator.report.terminal import make_console

    console = console or make_console()
    out = table(rows)
    needed = Measurement.get(console, console.options.update_width(10_000), out).maximum
    if needed > console.width and not console.is_terminal:
        console = Console(width=needed, highlight=False, file=console.file)
    console.print(out)
    for line in part_lines(rows):
        console.print(line, markup=False)
    lines = warning_lines(rows)
    if lines:
        console.print("warnings (what each chip cannot exploit):", markup=False)
        for line in lines:
            console.print(f"  {line}", markup=False)
    if elapsed_s is not None:
        console.print(f"{len(rows)} rows in {elapsed_s:.1f} s", markup=False)


def to_json(rows: Sequence["StudyRow"]) -> str:
    return json.dumps({"rows": [_finite(r.model_dump(mode="json")) for r in rows]}, indent=2)


def _finite(data: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in data.items()}


#: CSV columns: the row's fields with units in their names, warnings as a count.
CSV_FIELDS = ("workload", "setting", "spec", "chip", "kind", "status", "part", "scope", "note",
              "applied", "latency_s", "energy_pj", "dram_bytes", "macs", "model_bytes",
              "speedup", "energy_saving", "dram_ratio", "size_ratio", "layers_faster",
              "layers_slower", "warnings")


def to_csv(rows: Sequence["StudyRow"]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for row in rows:
        data = _finite(row.model_dump())
        data["warnings"] = len(row.warnings)
        writer.writerow(["" if data[k] is None else data[k] for k in CSV_FIELDS])
    return buffer.getvalue()


def _md(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(rows: Sequence["StudyRow"]) -> str:
    """One Markdown table per network, then the warnings."""
    out: list[str] = []
    for net in dict.fromkeys(r.workload for r in rows):
        out += [f"### {_md(net)}", "", "| " + " | ".join(label for _, label in COLUMNS) + " |",
                "|" + "|".join("---" if k in ("setting", "chip", "part", "note") else "---:"
                               for k, _ in COLUMNS) + "|"]
        for row in (r for r in rows if r.workload == net):
            shown = cells(row)
            out.append("| " + " | ".join(_md(shown[k]) for k, _ in COLUMNS) + " |")
        out.append("")
    out += [f"- {_md(line)}" for line in part_lines(rows)] + [""] if part_lines(rows) else []
    out += [_md(CAPTION), ""]
    lines = warning_lines(rows)
    if lines:
        out += ["Warnings (what each chip cannot exploit):", ""] + [f"- {_md(l)}" for l in lines]
    return "\n".join(out) + "\n"


def to_text(rows: Sequence["StudyRow"]) -> str:
    """The terminal table as plain text (for `-o FILE.txt`)."""
    from rich.console import Console
    console = Console(record=True, width=240, file=io.StringIO(), highlight=False)
    print_study(rows, console)
    return console.export_text()


def render(rows: Sequence["StudyRow"], fmt: str) -> str:
    """The study as `table` (plain text), `json`, `csv` or `md` text."""
    renderers = {"table": to_text, "json": to_json, "csv": to_csv, "md": to_markdown}
    if fmt not in renderers:
        raise ValueError(fmt)
    return renderers[fmt](rows)


# ---- the figure ------------------------------------------------------------------------------
def figure(rows: Sequence["StudyRow"]) -> "Figure":
    """Speed-up (top row) and energy saving (bottom row) per (setting, chip), one column of
    panels per network: grouped bars on a log axis around 1x (no change), one colour per chip.
    A refused setting is an `x` at 1x; names are plain text."""
    from simulator.report.plotting import with_rc
    return with_rc(_figure)(rows)


def _figure(rows: Sequence["StudyRow"]) -> "Figure":
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    from simulator.report.plotting import PALETTE, new_figure, plain_log_axis

    nets = list(dict.fromkeys(r.workload for r in rows))
    chips = list(dict.fromkeys(r.chip for r in rows))
    baseline = {r.setting for r in rows if r.spec is None}
    settings = [s for s in dict.fromkeys(r.setting for r in rows) if s not in baseline]
    colors = {c: PALETTE[i % len(PALETTE)] for i, c in enumerate(chips)}
    by_key = {(r.workload, r.setting, r.chip): r for r in rows}
    bars = len(settings) * max(len(chips), 1)
    fig = new_figure(min(max(7.0, 0.28 * bars * len(nets) + 2.0), 16.0), 6.4)
    axes = fig.subplots(2, max(len(nets), 1), squeeze=False)
    width = 0.8 / max(len(chips), 1)
    values = [v for r in rows for v in (r.speedup, r.energy_saving)
              if v is not None and v > 0 and math.isfinite(v)]
    low = min(values + [1.0]) / 1.6
    high = max(values + [1.0]) * 1.6
    for col, net in enumerate(nets):
        for line, (key, what) in enumerate((("speedup", "speed-up"),
                                            ("energy_saving", "energy saving"))):
            ax = axes[line][col]
            for j, chip in enumerate(chips):
                offset = (j - (len(chips) - 1) / 2) * width
                for i, setting in enumerate(settings):
                    row = by_key.get((net, setting, chip))
                    if row is None:
                        continue
                    value = getattr(row, key)
                    x = i + offset
                    if row.status != "ok" or value is None:
                        ax.plot([x], [1.0], marker="x", color=colors[chip], markersize=6)
                        continue
                    # a bar from 1x (no change) up to a gain or down to a loss; a dash at 1x
                    # marks "measured, no change" apart from "not in the study"
                    ax.bar([x], [value - 1.0], bottom=1.0, width=width, color=colors[chip])
                    ax.plot([x - width / 2, x + width / 2], [1.0, 1.0], color=colors[chip],
                            linewidth=2.5, solid_capstyle="butt")
            ax.set_yscale("log")
            ax.set_ylim(low, high)
            plain_log_axis(ax.yaxis, "x")
            ax.axhline(1.0, color="#444", linewidth=0.8)
            ax.set_xticks(range(len(settings)), settings, rotation=30, ha="right",
                          fontsize=8, parse_math=False)
            ax.set_xlim(-0.6, len(settings) - 0.4)
            ax.grid(True, axis="y", alpha=0.3)
            ax.set_title(f"{net}: {what} (log scale)", fontsize=9, loc="left",
                         parse_math=False)
    parts = {r.chip: r.part for r in rows if r.part}
    handles = [Patch(color=colors[c], label=f"{c} ({parts[c]})" if c in parts else c)
               for c in chips]
    if any(r.status != "ok" for r in rows):
        handles.append(Line2D([], [], color="#444", marker="x", linestyle="none",
                              label="refused (see the table)"))
    legend = fig.legend(handles=handles, loc="outside upper center", ncols=len(handles),
                        frameon=False, fontsize=8,
                        title="against the same network uncompressed on the same chip (1x); "
                              "above 1x: faster / less energy", title_fontsize=8)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return fig
