"""Rendering `npusim explain`: one layer's mapping, formulas (in symbols and with its numbers),
stalls, traffic, energy, binding resource and what-ifs, as rich text, Markdown or JSON."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from simulator.report.units import energy, nbytes, si

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.explain import Formula, LayerExplanation


def _value(f: Formula) -> str:
    value = f"{f.value:,.6g}" if not float(f.value).is_integer() else f"{int(f.value):,}"
    return f"{value} {f.unit}".strip()


def _headline(e: LayerExplanation) -> str:
    fig = e.figures
    return (f"{e.layer} ({e.layer_type}) of {e.workload} on {e.arch} ({e.kind}): "
            f"{fig['cycles']:,} cycles ({si(fig['latency_s'], 's')}), {si(fig['macs'])} MACs, "
            f"utilization {100 * fig['utilization']:.1f} %")


def _shares(values: dict[str, float], fmt) -> list[str]:
    total = sum(values.values()) or 1.0
    return [f"{k}: {fmt(v)} ({100 * v / total:.0f} %)"
            for k, v in sorted(values.items(), key=lambda kv: -kv[1])]


def to_markdown(e: LayerExplanation) -> str:
    """A Markdown page (for notebooks and lab hand-outs)."""
    out = [f"## {_headline(e)}", ""]
    if e.compression:
        out += [f"compression: {e.compression}", ""]
    if e.explanation.mapping:
        out += ["### Mapping", ""] + [f"- {line}" for line in e.explanation.mapping] + [""]
    if e.explanation.formulas:
        out += ["### Formulas", "", "| quantity | formula | with this layer's numbers | value |",
                "|---|---|---|---|"]
        for f in e.explanation.formulas:
            note = f" ({f.source})" if f.source else ""
            out.append(f"| {f.quantity} | `{f.expression}`{note} | `{f.substituted}` | "
                       f"{_value(f)} |")
        out.append("")
    if e.explanation.notes:
        out += [f"- {n}" for n in e.explanation.notes] + [""]
    if e.stall_breakdown_cycles:
        out += ["### Stalls", ""] + [f"- {s}" for s in _shares(
            {k: float(v) for k, v in e.stall_breakdown_cycles.items()},
            lambda v: f"{int(v):,} cycles")] + [""]
    traffic = [f"- DRAM {k}: {nbytes(v)}" for k, v in e.dram_bytes_by_operand.items()]
    traffic += [f"- SRAM {k}: {nbytes(v)}" for k, v in e.sram_bytes_by_operand.items()]
    if traffic:
        out += ["### Traffic", ""] + traffic + [""]
    if e.energy_breakdown_pj:
        out += ["### Energy", ""] + [f"- {s}" for s in _shares(e.energy_breakdown_pj, energy)]
        out.append("")
    out += [f"**Binding resource:** {e.binding}", ""]
    if e.what_ifs:
        out += ["### What would move it (re-simulated)", "",
                "| change | this layer | whole run |", "|---|---|---|"]
        for w in e.what_ifs:
            out.append(f"| {w.change} | {w.layer_cycles:,} cycles ({100 * w.layer_change:+.0f} %) "
                       f"| {w.run_cycles:,} cycles ({100 * w.run_change:+.0f} %) |")
        out.append("")
    if e.warnings:
        out += ["### Warnings", ""] + [f"- {w}" for w in e.warnings] + [""]
    return "\n".join(out)


def to_json(e: LayerExplanation) -> str:
    data = e.model_dump(mode="json")
    for formula, model in zip(data["explanation"]["formulas"], e.explanation.formulas):
        formula["substituted"] = model.substituted
    return json.dumps(data, indent=2)


def print_explanation(e: LayerExplanation) -> None:
    """Rich terminal output."""
    from rich.markup import escape
    from rich.table import Table

    from simulator.report.terminal import make_console

    console = make_console()
    console.print(f"[bold]{escape(_headline(e))}[/bold]")
    if e.compression:
        console.print(f"compression: {e.compression}", markup=False)
    if e.explanation.mapping:
        console.print("[bold]mapping[/bold]")
        for line in e.explanation.mapping:
            console.print(f"  {escape(line)}")
    if e.explanation.formulas:
        table = Table(header_style="bold", show_lines=False)
        for col in ("quantity", "formula", "with this layer's numbers", "value"):
            table.add_column(col, overflow="fold")
        for f in e.explanation.formulas:
            table.add_row(escape(f.quantity), escape(f.expression), escape(f.substituted),
                          escape(_value(f)))
        console.print(table)
    for note in e.explanation.notes:
        console.print(f"  {escape(note)}")
    if e.stall_breakdown_cycles:
        console.print("stalls: " + escape(", ".join(_shares(
            {k: float(v) for k, v in e.stall_breakdown_cycles.items()},
            lambda v: f"{int(v):,} cycles"))))
    if e.dram_bytes_by_operand:
        console.print("DRAM: " + escape(", ".join(f"{k} {nbytes(v)}"
                                                  for k, v in e.dram_bytes_by_operand.items())))
    if e.sram_bytes_by_operand:
        console.print("SRAM: " + escape(", ".join(f"{k} {nbytes(v)}"
                                                  for k, v in e.sram_bytes_by_operand.items())))
    if e.energy_breakdown_pj:
        console.print("energy: " + escape(", ".join(_shares(e.energy_breakdown_pj, energy))))
    console.print(f"[bold]binding resource:[/bold] {escape(e.binding)}")
    for w in e.what_ifs:
        console.print(f"  what if: {escape(w.change)}: this layer {100 * w.layer_change:+.0f} % "
                      f"({w.layer_cycles:,} cycles), whole run {100 * w.run_change:+.0f} %")
    for warning in e.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")
