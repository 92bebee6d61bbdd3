"""Rendering an LLM generation (`simulator.llm.results.LlmResult`): a terminal table with
summary lines, Markdown, JSON (the contract of docs/formats.md, section 5) and a text
roofline. Only formats: every figure comes from the result."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from simulator.report.units import energy, nbytes, pct, seconds, si

if TYPE_CHECKING:  # pragma: no cover
    from rich.console import Console

    from simulator.llm.results import LlmResult, PhaseFigures


def _title(r: "LlmResult") -> str:
    q = r.request
    return (f"{r.model['name']} on {r.arch['name']} ({r.arch['kind']}, "
            f"{_precision(r)}): prompt {q['prompt']:,}, generate {q['generate']:,}, "
            f"batch {q['batch']}")


def _precision(r: "LlmResult") -> str:
    p = r.precision
    fmt = p.get("number_format", "int")
    text = (f"{fmt}{p['weight_bits']}" if p["weight_bits"] == p["activation_bits"]
            else f"{fmt}{p['activation_bits']}x{p['weight_bits']}")
    return text + (f", KV {p['kv_cache_bits']}-bit" if p["kv_cache_bits"] != p["activation_bits"]
                   else "")


def _intensity(x: float | None) -> str:
    return "inf" if x is None else si(x)


def phase_rows(r: "LlmResult") -> list[tuple[str, ...]]:
    """(phase, tokens, latency, per token, tokens/s, energy per token, DRAM, ops/B, util,
    bound) rows: prefill, one decode step (mean), the whole decode, and the total."""
    b, q = r.request["batch"], r.request
    p = r.prefill
    rows = [("prefill", f"{b} x {q['prompt']:,}", seconds(p.time_to_first_token_s),
             f"{seconds(p.time_to_first_token_s / (b * q['prompt']))} / prompt token",
             si(p.prompt_tokens_per_s), energy(p.energy_per_prompt_token_pj),
             nbytes(p.figures.dram_read_bytes + p.figures.dram_write_bytes),
             _intensity(p.figures.operational_intensity), pct(p.figures.utilization),
             p.figures.bound)]
    d = r.decode
    if d is not None:
        s = d.per_step
        rows.append(("decode step (mean)", f"{b} x 1", seconds(d.time_per_output_token_s),
                     f"{seconds(d.time_per_output_token_s)} / output token",
                     si(d.tokens_per_s), energy(d.energy_per_token_pj),
                     nbytes(s.dram_read_bytes + s.dram_write_bytes),
                     _intensity(s.operational_intensity), pct(s.utilization), s.bound))
        rows.append((f"decode, {d.steps} steps", f"{b} x {d.steps:,}",
                     seconds(d.total_latency_s), "", "", "", "", "", "", ""))
    t = r.totals
    rows.append(("total", f"{t.generated_tokens:,} generated", seconds(t.latency_s), "",
                 si(t.tokens_per_s), energy(t.energy_per_token_pj), "", "", "", ""))
    return rows


HEADERS = ("phase", "tokens", "latency", "per token", "tokens/s", "energy/token", "DRAM",
           "ops/B", "util", "bound")


def _ratio(x: float) -> str:
    """A ratio with 3 significant digits (no SI prefix below 1000)."""
    return f"{x:.3g}" if x < 1000 else si(x)


def _parts(phase: "PhaseFigures") -> str:
    """Each part's share of the time and, for the parts with MACs, its MACs per DRAM byte."""
    total = sum(p.cycles for p in phase.by_part.values()) or 1.0
    parts = sorted(phase.by_part.items(), key=lambda kv: -kv[1].cycles)
    out = []
    for name, p in parts:
        if not p.cycles:
            continue
        intensity = ""
        if p.macs:
            intensity = (f" ({_ratio(p.macs / p.dram_bytes)} MACs/B)" if p.dram_bytes
                         else " (no DRAM)")
        out.append(f"{name} {pct(p.cycles / total)}{intensity}")
    return ", ".join(out)


def summary_lines(r: "LlmResult") -> list[str]:
    """The plain-language lines under the table."""
    m, t, d = r.memory, r.totals, r.decode
    lines = [f"time to first token {seconds(t.time_to_first_token_s)}"
             + (f"; time per output token {seconds(d.time_per_output_token_s)} (step at "
                f"L = {d.first_context:,}: {seconds(d.first_step_latency_s)}, at L = "
                f"{d.last_context:,}: {seconds(d.last_step_latency_s)}); {si(t.tokens_per_s)} "
                f"tokens/s overall" if d else "; one token: no decode step"),
             f"energy {energy(t.energy_pj)} in all, {energy(t.energy_per_token_pj)} per "
             "generated token"]
    sram = f", on-chip SRAM {nbytes(m.on_chip_sram_bytes)}" if m.on_chip_sram_bytes else ""
    lines.append(f"KV cache ({m.kv_cache_bits}-bit): {nbytes(m.kv_cache_bytes_per_token)} per "
                 f"token and sequence; {nbytes(m.kv_cache_bytes_after_prompt)} after the prompt, "
                 f"{nbytes(m.kv_cache_bytes_final)} at the last step{sram}")
    bw = r.roofline.dram_bytes_per_s
    lines.append(f"weights: {nbytes(m.weight_bytes)} of matrices per decode step; "
                 f"weight bytes / DRAM bandwidth = {seconds(m.weight_bytes / bw)}")
    if r.closed_form is not None:
        c = r.closed_form
        lines.append(f"closed form: (weights + KV cache) / {si(bw, 'B/s')} = "
                     f"{seconds(c.dram_bound_time_per_token_first_s)} per step at L = "
                     f"{d.first_context:,}, {seconds(c.dram_bound_time_per_token_last_s)} at "
                     f"L = {d.last_context:,}; {si(c.decode_macs_per_token_first)} MACs per "
                     "token at the first step")
    lines.append("prefill time by part: " + _parts(r.prefill.figures))
    if d is not None:
        lines.append("decode step time by part: " + _parts(d.per_step))
    ro = r.roofline
    where = "; ".join(f"{p.name} {_intensity(p.ops_per_dram_byte)} ops/B ({p.bound}-bound)"
                      for p in ro.points)
    lines.append(f"roofline: ridge at {ro.ridge_ops_per_byte:,.0f} ops per DRAM byte "
                 f"({ro.ridge_macs_per_weight_byte:,.0f} MACs per weight byte); {where}")
    if d is not None:
        bound = ", ".join(f"{k} {'unbounded' if v is None else f'{100 * v:.3g}%'}"
                          for k, v in d.error_bound.items())
        contexts = ", ".join(f"{c:,}" for c in d.simulated_contexts[:12])
        more = f" and {len(d.simulated_contexts) - 12} more" if len(d.simulated_contexts) > 12 else ""
        lines.append(f"decode: {d.method}; simulated at L = {contexts}{more}"
                     + (f"; error bound {bound}" if d.method == "interpolated" else ""))
    return lines


def print_llm(r: "LlmResult", console: "Console | None" = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    from simulator.report.terminal import make_console

    console = console or make_console()
    table = Table(title=escape(_title(r)), header_style="bold")
    for i, header in enumerate(HEADERS):
        table.add_column(header, justify="left" if i < 2 or header == "bound" else "right",
                         no_wrap=True)
    for row in phase_rows(r):
        table.add_row(*(escape(c) for c in row))
    console.print(table)
    for line in summary_lines(r):
        console.print(line, markup=False, highlight=False)
    for warning in r.warnings:
        console.print(f"[yellow]warning:[/yellow] {escape(warning)}")


def to_markdown(r: "LlmResult") -> str:
    def esc(text: str) -> str:
        return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")

    out = [f"# {esc(_title(r))}", "", "| " + " | ".join(HEADERS) + " |",
           "|" + "---|" * len(HEADERS)]
    out += ["| " + " | ".join(esc(c) for c in row) + " |" for row in phase_rows(r)]
    out += [""] + [f"- {esc(line)}" for line in summary_lines(r)]
    if r.decode is not None:
        out += ["", "## Decode steps", "", "| context | latency | energy | DRAM | simulated |",
                "|---|---|---|---|---|"]
        out += [f"| {s.context:,} | {seconds(s.latency_s)} | {energy(s.energy_pj)} | "
                f"{nbytes(s.dram_bytes)} | {'yes' if s.simulated else 'interpolated'} |"
                for s in r.decode.series]
    if r.assumptions:
        out += ["", "## Assumptions", ""] + [f"- {esc(a)}" for a in r.assumptions]
    if r.warnings:
        out += ["", "## Warnings", ""] + [f"- {esc(w)}" for w in r.warnings]
    return "\n".join(out) + "\n"


def to_json(r: "LlmResult") -> str:
    return json.dumps(r.to_json_dict(), indent=2)


def ascii_roofline(r: "LlmResult", x_axis: str = "ops_per_dram_byte") -> str:
    """A text roofline with the prefill and the first and last decode steps as points."""
    from simulator.report.ascii import roofline

    text = roofline(r.roofline_plot_data(x_axis)).splitlines()
    names = "; ".join(p.name for p in r.roofline.points)
    text[-1] = text[-1].split(";")[0] + f"; ridge + at {r.roofline_plot_data(x_axis).ridge_x:,.4g}; o = {names}"
    return "\n".join(text)


def print_llm_catalogue(rows: list[tuple[str, str, str]], console: "Console | None" = None) -> None:
    """`npusim list`: the bundled LLM configs, (name, size, description) rows."""
    from rich.markup import escape
    from rich.table import Table

    from simulator.report.terminal import make_console

    console = console or make_console()
    table = Table(title="LLMs (npusim llm ARCH NAME)", header_style="bold")
    for column in ("name", "size", "description"):
        table.add_column(column, no_wrap=column != "description")
    for row in rows:
        table.add_row(*(escape(c) for c in row))
    console.print(table)


def render(r: "LlmResult", fmt: str) -> str:
    if fmt == "json":
        return to_json(r)
    if fmt == "md":
        return to_markdown(r)
    raise ValueError(fmt)
