"""`npusim sparse-study ARCH WORKLOAD --vary FIELD=v1,v2,...`: sweep one parameter of a sparse
(EIE-style) run and print latency and load balance per layer.

FIELD is an arch field (queue_depth, pes, index_bits, ...; any dotted path `--set` accepts) or a
workload density: `density` / `weight_density` sets the weight density of every layer with
weights, `activation_density` its input density.
"""

from __future__ import annotations

import argparse
import io
import json
from typing import Any

from rich.console import Console
from rich.table import Table

from simulator.api import simulate
from simulator.cli.common import write_text
from simulator.core.errors import NpusimError
from simulator.core.workload import Workload, workload_from_dict
from simulator.io.overrides import parse_override
from simulator.io.load import load_arch, load_workload
from simulator.report.terminal import make_console

WORKLOAD_FIELDS = {"density": "weight_density", "weight_density": "weight_density",
                   "activation_density": "activation_density"}


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sparse-study", help="sweep one parameter of a sparse (EIE) run",
                            description="Run WORKLOAD on a sparse ARCH once per value of one "
                            "parameter and print per-layer latency (us) and load-balance "
                            "efficiency (time at perfect balance / actual time).")
    parser.add_argument("arch", help="sparse arch name or file, e.g. eie")
    parser.add_argument("workload", help="workload name or file, e.g. eie_benchmarks")
    parser.add_argument("--vary", required=True, metavar="FIELD=V1,V2,...",
                        help="e.g. queue_depth=1,2,4,8 or pes=64,256 or density=0.01,0.1,1")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE", help="fixed arch override (repeatable)")
    parser.add_argument("--layers", default=None, help="comma-separated layer names to keep")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("-o", "--output", default=None, help="write the output to this file")
    parser.set_defaults(func=run)


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """`field=v1,v2` -> (field, [v1, v2]) with each value read as YAML."""
    path, raw = parse_override(text)
    values = raw if isinstance(raw, list) else [
        parse_override(f"x={part}")[1] for part in str(raw).split(",") if part.strip()]
    if not values:
        raise NpusimError("no values to vary", field="--vary", fix="write e.g. queue_depth=1,2,4,8")
    return ".".join(path), values


def _with_density(workload: Workload, field: str, value: Any) -> Workload:
    data = workload.model_dump(exclude_none=True)
    for layer in data["layers"]:
        if any(layer.get(k) for k in ("out_features", "hidden_size")) or layer.get("weights"):
            layer[field] = value
    data["source"] = workload.source
    return workload_from_dict(data, workload.source or "<workload>")


def study(arch_name: str, workload: Workload, field: str, values: list[Any],
          overrides: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per value: per-layer and total latency (s) and efficiency."""
    rows = []
    for value in values:
        if field in WORKLOAD_FIELDS:
            arch = load_arch(arch_name, overrides)
            run_workload = _with_density(workload, WORKLOAD_FIELDS[field], value)
        else:
            arch = load_arch(arch_name, list(overrides or []) + [f"{field}={json.dumps(value)}"])
            run_workload = workload
        if arch.kind != "sparse":
            raise NpusimError(f"sparse-study needs a sparse arch, got kind {arch.kind!r}",
                              field="arch", fix="use e.g. eie")
        result = simulate(arch, run_workload)
        layers = {l.name: {"latency_s": l.latency_s, "cycles": l.cycles,
                           "efficiency": l.engine_fields().get("load_balance_efficiency"),
                           "energy_pj": l.energy_pj}
                  for l in result.layers if l.cycles}
        rows.append({"value": value, "layers": layers, "latency_s": result.totals.latency_s,
                     "energy_pj": result.totals.energy_pj, "warnings": result.warnings})
    return rows


def _table(field: str, rows: list[dict[str, Any]]) -> Table:
    names = list(rows[0]["layers"]) if rows else []
    table = Table(title=f"sparse study: {field} (latency us / load-balance efficiency %)",
                  header_style="bold")
    table.add_column(field, justify="right")
    for name in names:
        table.add_column(name, justify="right")
    table.add_column("total us", justify="right")
    table.add_column("energy uJ", justify="right")
    for row in rows:
        cells = [f"{row['layers'][n]['latency_s'] * 1e6:.2f} / "
                 f"{100 * (row['layers'][n]['efficiency'] or 0):.0f}" for n in names]
        table.add_row(str(row["value"]), *cells, f"{row['latency_s'] * 1e6:.2f}",
                      f"{row['energy_pj'] * 1e-6:.2f}")
    return table


def run(args: argparse.Namespace) -> int:
    field, values = parse_vary(args.vary)
    workload = load_workload(args.workload)
    if args.layers:
        keep = [n.strip() for n in args.layers.split(",") if n.strip()]
        unknown = [n for n in keep if n not in {l.name for l in workload.layers}]
        if unknown:
            raise NpusimError(f"no layer named {unknown[0]!r}", field="--layers",
                              fix="use names from the workload, e.g. Alex-6")
        data = workload.model_dump(exclude_none=True)
        data["layers"] = [l for l in data["layers"] if l["name"] in keep]
        workload = workload_from_dict(data, workload.source or "<workload>")
    rows = study(args.arch, workload, field, values, args.overrides)
    if args.format == "json":
        write_text(json.dumps({"field": field, "rows": rows}, indent=2), args.output)
        return 0
    if args.output:
        console = Console(record=True, width=200, file=io.StringIO())
        console.print(_table(field, rows))
        write_text(console.export_text(), args.output)
    else:
        console = make_console()
        console.print(_table(field, rows))
        for warning in sorted({w for row in rows for w in row["warnings"]}):
            console.print(f"warning: {warning}")
    return 0
