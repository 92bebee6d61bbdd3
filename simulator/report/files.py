"""File formats of a run: JSON (the contract), CSV (one row per layer), Markdown, and the\nChrome trace of an event timeline."""

from __future__ import annotations

import csv
import io
import json
import math

from simulator.core.results import LayerResult, RunResult
from simulator.report.terminal import summary_lines
from simulator.report.units import energy, nbytes, pct, si


def finite(value):
    """JSON has no infinity: a layer without DRAM traffic gets intensity null."""
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [finite(v) for v in value]
    return value


def to_dict(result: RunResult) -> dict:
    return finite(result.model_dump(mode="python"))


def to_json(result: RunResult) -> str:
    return json.dumps(to_dict(result), indent=2)


def _flat_row(layer: LayerResult) -> dict:
    row: dict = {}
    for key, value in finite(layer.model_dump(mode="python")).items():
        if isinstance(value, dict):
            for sub, v in value.items():
                row[f"{key}.{sub}"] = v
        elif isinstance(value, list):
            row[key] = json.dumps(value)
        else:
            row[key] = value
    return row


def to_csv(result: RunResult) -> str:
    rows = [_flat_row(layer) for layer in result.layers]
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def to_markdown(result: RunResult) -> str:
    t = result.totals
    out = [f"# {_md_escape(result.workload['name'])} on {_md_escape(result.arch['name'])}", ""]
    out += [f"- {_md_escape(line)}" for line in summary_lines(result)]
    out += ["", "| layer | type | MACs | cycles | stall cycles | util | DRAM read | DRAM write | "
            "SRAM read | energy | ops/DRAM byte | bound |", "|" + "---|" * 12]
    for l in result.layers:
        out.append(f"| {_md_escape(l.name)} | {_md_escape(l.shown_type)} | {si(l.macs)} | {l.cycles:,} | "
                   f"{l.stall_cycles:,} | {pct(l.utilization)} | {nbytes(l.dram_read_bytes)} | "
                   f"{nbytes(l.dram_write_bytes)} | {nbytes(l.sram_read_bytes)} | "
                   f"{energy(l.energy_pj)} | {si(l.operational_intensity)} | {l.bound} |")
    out.append(f"| **total** | | {si(t.macs)} | {t.cycles:,} | {t.stall_cycles:,} | "
               f"{pct(t.utilization)} | {nbytes(t.dram_read_bytes)} | {nbytes(t.dram_write_bytes)} | "
               f"{nbytes(t.sram_read_bytes)} | {energy(t.energy_pj)} | "
               f"{si(t.operational_intensity)} | {t.bound} |")
    if result.assumptions:
        out += ["", "## Assumptions", ""] + [f"- {_md_escape(a)}" for a in result.assumptions]
    if result.warnings:
        out += ["", "## Warnings", ""] + [f"- {_md_escape(w)}" for w in result.warnings]
    return "\n".join(out) + "\n"


def trace_json(events: list[dict]) -> str:
    """A Chrome trace-event file (chrome://tracing, ui.perfetto.dev); event times are in ns."""
    return json.dumps({"traceEvents": events, "displayTimeUnit": "ns"})


def render(result: RunResult, fmt: str) -> str:
    """The run as `json`, `csv`, `md` (Markdown) or `table` (the terminal table as text)."""
    if fmt == "table":
        from simulator.report.terminal import run_text
        return run_text(result)
    if fmt == "json":
        return to_json(result)
    if fmt == "csv":
        return to_csv(result)
    if fmt == "md":
        return to_markdown(result)
    raise ValueError(fmt)
