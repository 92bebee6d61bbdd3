"""Analysis of a sweep results file: rows per workload, a combined "all workloads" view, Pareto
fronts and best points under constraints, PE x SRAM pivots, utilization by layer class.

Pure functions over row dicts (no printing, no plotting); `npusim sweep-report` renders them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

from simulator.core.metrics import METRICS, OBJECTIVES
from simulator.core.metrics import combine as combine_figures
from simulator.dse.pareto import best_by, pareto_front
from simulator.dse.spec import Constraint, metric_name, parse_constraint
from simulator.dse.store import FIGURE_COLUMNS, ResultStore

ALL_WORKLOADS = "all workloads (sum)"
ROW_COLUMNS = ("key", "point_json", "workload", "status", "error",
               *(name for name, _ in FIGURE_COLUMNS), "util_by_class_json")


@dataclass
class SweepData:
    """The stored rows of a sweep, grouped by workload, with the sweep's objectives."""

    rows_by_workload: dict[str, list[dict[str, Any]]]
    fields: list[str]
    objectives: list[str]
    constraints: list[Constraint]
    failed: list[dict[str, Any]] = field(default_factory=list)
    name: str = "sweep"
    sram_axis: str = "sram_bytes"
    #: stored rows left out because they are not points of the current spec (kept by
    #: `npusim sweep --extend` from an earlier version of the sweep)
    outside_spec: int = 0


def load_results(path: str, objectives: Sequence[str] | None = None,
                 constraints: Sequence[str] | None = None,
                 workloads: Sequence[str] | None = None) -> SweepData:
    """Read a results file; objectives/constraints default to those of its sweep file."""
    with ResultStore(path, create=False) as store:
        spec = store.spec()
        rows = store.rows(ROW_COLUMNS)
        keys = store.spec_keys()
    outside = 0
    if keys is not None:  # only the rows of the sweep as it is now
        kept = [row for row in rows if row["key"] in keys]
        outside, rows = len(rows) - len(kept), kept
    objectives = [metric_name(o, "--objectives") for o in (objectives or spec.get(
        "objectives") or ["latency_s", "energy_pj", "area_mm2"])]
    constraints = [parse_constraint(c, "--constraint") for c in (
        constraints if constraints is not None else spec.get("constraints", []))]
    by_workload: dict[str, list[dict[str, Any]]] = {}
    failed = []
    for row in rows:
        row["point"] = json.loads(row["point_json"])
        row["util_by_class"] = json.loads(row.pop("util_by_class_json") or "{}")
        if workloads and row["workload"] not in workloads:
            continue
        if row["status"] != "ok":
            failed.append(row)
            continue
        by_workload.setdefault(row["workload"], []).append(row)
    if len(by_workload) > 1:
        by_workload[ALL_WORKLOADS] = combine(by_workload)
    fields = spec.get("fields") or sorted({k for rs in by_workload.values() for r in rs
                                           for k in r["point"]})
    axis = sram_axis_field(spec)
    for rows_ in by_workload.values():
        for row in rows_:
            row["sram_axis"] = row["point"].get(axis, row["sram_bytes"]) if axis else row[
                "sram_bytes"]
    return SweepData(by_workload, list(fields), objectives, constraints, failed,
                     spec.get("name", "sweep"), axis or "sram_bytes", outside)


def sram_axis_field(spec: dict[str, Any]) -> str | None:
    """The SRAM axis of heatmaps: the first varied (not linked) `*_bytes` field, e.g.
    `memory.unified_buffer_bytes`; None means the total on-chip SRAM (`sram_bytes`)."""
    for name in spec.get("vary", {}) or {}:
        if name.endswith("_bytes") and name not in (spec.get("link") or {}):
            return name
    return None


def combine(by_workload: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per design point evaluated on every workload, its figures combined as the
    figure table says (`simulator.core.metrics.combine`): latency, energy, ops, DRAM and cycles
    summed (running each network once), EDP = sum(energy) x sum(latency), TOPS/W =
    sum(ops) / sum(energy); area and sizes are the point's; utilization is left out."""
    points: dict[str, list[dict[str, Any]]] = {}
    for rows in by_workload.values():
        for row in rows:
            points.setdefault(row["point_json"], []).append(row)
    out = []
    for text, rows in points.items():
        if len(rows) != len(by_workload):
            continue  # not every workload finished for this point (yet)
        first = rows[0]
        out.append({"key": text, "point_json": text, "point": first["point"],
                    "workload": ALL_WORKLOADS, "status": "ok",
                    "sram_axis": first.get("sram_axis"), **combine_figures(rows),
                    "util_by_class": {}})
    return sorted(out, key=lambda r: r["key"])


def objective_pairs(objectives: Sequence[str]) -> list[tuple[str, bool]]:
    return [(o, OBJECTIVES[o].minimize) for o in objectives]


def feasible(rows: Sequence[dict[str, Any]], constraints: Sequence[Constraint]) -> list[dict]:
    return [r for r in rows if all(c.holds(r) for c in constraints)]


def front(rows: Sequence[dict[str, Any]], objectives: Sequence[str]) -> list[dict[str, Any]]:
    return pareto_front(rows, objective_pairs(objectives))


def best_points(rows: Sequence[dict[str, Any]], objectives: Sequence[str]) -> dict[str, dict]:
    """The best row for each objective (ties broken by the other objectives in order)."""
    pairs = objective_pairs(objectives)
    out = {}
    for name, (column, minimize) in zip(objectives, pairs):
        best = best_by(rows, column, minimize, pairs)
        if best is not None:
            out[name] = best
    return out


def pivot(rows: Sequence[dict[str, Any]], metric: str, row_key: str = "pe_count",
          col_key: str = "sram_axis") -> tuple[list, list, dict[tuple, float]]:
    """metric over (row_key x col_key); when other fields vary too, the best (lowest for a
    minimised metric) value of each cell is kept."""
    minimize = METRICS[metric].minimize is not False if metric in METRICS else True
    cells: dict[tuple, float] = {}
    for row in rows:
        value = row.get(metric)
        if value is None:
            continue
        cell = (row[row_key], row[col_key])
        if cell not in cells or (value < cells[cell]) == minimize:
            cells[cell] = value
    return sorted({c[0] for c in cells}), sorted({c[1] for c in cells}), cells


def utilization_by_pe(rows: Sequence[dict[str, Any]]) -> tuple[list[int], list[str], dict]:
    """Utilization per layer class for each PE count, at that PE count's largest SRAM (so
    memory stalls least obscure the array's mapping efficiency)."""
    chosen: dict[int, dict[str, Any]] = {}
    for row in rows:
        if not row.get("util_by_class"):
            continue
        current = chosen.get(row["pe_count"])
        if current is None or row["sram_axis"] > current["sram_axis"]:
            chosen[row["pe_count"]] = row
    classes = sorted({c for r in chosen.values() for c in r["util_by_class"]})
    return sorted(chosen), classes, {pe: r["util_by_class"] for pe, r in chosen.items()}


@dataclass
class WorkloadAnalysis:
    """One workload's rows (or the combined rows), the feasible ones, their Pareto front and
    the best feasible point per objective."""

    workload: str
    rows: list[dict[str, Any]]
    feasible: list[dict[str, Any]]
    front: list[dict[str, Any]]
    best: dict[str, dict[str, Any]]


def analyse(data: SweepData) -> list[WorkloadAnalysis]:
    """Feasible points, Pareto front and best points of every workload, in the data's order."""
    out = []
    for workload, rows in data.rows_by_workload.items():
        ok = feasible(rows, data.constraints)
        out.append(WorkloadAnalysis(workload, rows, ok, front(ok, data.objectives),
                                    best_points(ok, data.objectives)))
    return out


def csv_rows(data: SweepData, analyses: Sequence[WorkloadAnalysis]) -> list[dict[str, Any]]:
    """One flat row per stored (point, workload), then the failed rows (see `flat_row`)."""
    out = []
    for analysis in analyses:
        if analysis.workload == ALL_WORKLOADS:
            continue
        on_front = {r["key"] for r in analysis.front}
        ok_keys = {r["key"] for r in analysis.feasible}
        out += [flat_row(r, data.fields, r["key"] in on_front, r["key"] in ok_keys)
                for r in analysis.rows]
    return out + [flat_row(r, data.fields, False, False) for r in data.failed]


def flat_row(row: dict[str, Any], fields: Sequence[str], on_front: bool, ok: bool) -> dict:
    """A CSV row: the varied fields as columns, then the figures."""
    out: dict[str, Any] = {"key": row["key"], "workload": row["workload"]}
    out.update({f: row["point"].get(f) for f in fields})
    out["status"] = row["status"]
    out.update({name: row.get(name) for name, _ in FIGURE_COLUMNS})
    out["feasible"] = ok
    out["pareto"] = on_front
    for cls, value in sorted(row.get("util_by_class", {}).items()):
        out[f"utilization_{cls}"] = value
    out["error"] = row.get("error", "")
    return out
