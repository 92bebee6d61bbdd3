"""The sparse study: one parameter of a sparse (EIE-style) run varied over a list of values, run
as a sweep preset (`npusim sparse-study`).

The study is a one-axis sweep through the sweep runner (`simulator.dse.runner.run_sweep`), kept
in an in-memory store: an arch field (`queue_depth`, `pes`, `index_bits`, ...; any dotted path
`--set` accepts) becomes the sweep's design points; a workload density (`density` /
`weight_density`: the weight density of every layer with weights, `activation_density`: its
input density) becomes one workload variant per value. Each value's row keeps per-layer latency,
cycles, load-balance efficiency (time at perfect balance / actual time) and energy, read from the
stored `RunResult` JSON.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from simulator.core.errors import NpusimError
from simulator.core.workload import Workload, workload_from_dict
from simulator.dse.runner import run_sweep
from simulator.dse.spec import Sweep, point_json
from simulator.dse.store import IN_MEMORY
from simulator.io.load import load_arch
from simulator.io.overrides import parse_override

#: Study fields that change the workload, and the layer field each sets.
WORKLOAD_FIELDS = {"density": "weight_density", "weight_density": "weight_density",
                   "activation_density": "activation_density"}


def parse_vary(text: str) -> tuple[str, list[Any]]:
    """`field=v1,v2` (or `field=[v1, v2]`) -> (field, [v1, v2]) with each value read as YAML."""
    path, raw = parse_override(text)
    values = raw if isinstance(raw, list) else [
        parse_override(f"x={part}")[1] for part in str(raw).split(",") if part.strip()]
    if not values:
        raise NpusimError("no values to vary", field="--vary", fix="write e.g. queue_depth=1,2,4,8")
    return ".".join(path), values


def keep_layers(workload: Workload, names: list[str]) -> Workload:
    """The workload with only the named layers (an unknown name is an error)."""
    unknown = [n for n in names if n not in {layer.name for layer in workload.layers}]
    if unknown:
        raise NpusimError(f"no layer named {unknown[0]!r}", field="--layers",
                          fix="use names from the workload, e.g. Alex-6")
    data = workload.model_dump(exclude_none=True)
    data["layers"] = [layer for layer in data["layers"] if layer["name"] in names]
    return workload_from_dict(data, workload.source or "<workload>")


def with_density(workload: Workload, layer_field: str, value: Any) -> Workload:
    """The workload with `layer_field` (a density) set on every layer that has weights."""
    data = workload.model_dump(exclude_none=True)
    for layer in data["layers"]:
        if any(layer.get(k) for k in ("out_features", "hidden_size")) or layer.get("weights"):
            layer[layer_field] = value
    data["source"] = workload.source
    return workload_from_dict(data, workload.source or "<workload>")


@dataclass
class StudyPlan:
    """The study as a sweep, and which sweep row answers each value (in the order given)."""

    field: str
    values: list[Any]
    sweep: Sweep
    #: the sweep row of each value: (point_json, workload label)
    rows: list[tuple[str, str]]


def plan(arch_name: str, workload: Workload, field_name: str, values: list[Any],
         overrides: list[str] | None = None) -> StudyPlan:
    """Validate every value (each arch as `--set` would load it; the arch must be sparse) and
    build the one-axis sweep."""
    overrides = list(overrides or [])
    workloads: dict[str, Workload] = {}
    points: list[dict[str, Any]] = []
    rows: list[tuple[str, str]] = []
    base = None
    for value in values:
        if field_name in WORKLOAD_FIELDS:
            arch = load_arch(arch_name, overrides)
            label = f"{workload.name}@{field_name}={json.dumps(value)}"
            workloads.setdefault(label, with_density(workload, WORKLOAD_FIELDS[field_name], value))
            point: dict[str, Any] = {}
        else:
            arch = load_arch(arch_name, overrides + [f"{field_name}={json.dumps(value)}"])
            label = workload.name
            workloads[label] = workload
            point = {field_name: value}
        if arch.kind != "sparse":
            raise NpusimError(f"sparse-study needs a sparse arch, got kind {arch.kind!r}",
                              field="arch", fix="use e.g. eie")
        if base is None:  # the arch as loaded with the fixed overrides (the sweep's base)
            base = load_arch(arch_name, overrides).model_dump(mode="json")
        if point_json(point) not in {point_json(p) for p in points}:
            points.append(point)
        rows.append((point_json(point), label))
    sweep = Sweep(name="sparse-study", source=str(arch_name), base_arch=base or {},
                  workloads=workloads, points=points,
                  fields=[] if field_name in WORKLOAD_FIELDS else [field_name], constraints=[],
                  objectives=["latency_s", "energy_pj"], spec={"sparse_study": field_name})
    return StudyPlan(field_name, list(values), sweep, rows)


def _study_row(value: Any, row: dict[str, Any]) -> dict[str, Any]:
    """One value's figures from its stored sweep row."""
    if row["status"] == "invalid":
        raise NpusimError(row["error"])
    if row["status"] != "ok":
        raise RuntimeError(f"sparse study failed at {value!r}: {row['error']}")
    result = json.loads(row["result_json"])
    layers = {l["name"]: {"latency_s": l["latency_s"], "cycles": l["cycles"],
                          "efficiency": l.get("load_balance_efficiency"),
                          "energy_pj": l["energy_pj"]}
              for l in result["layers"] if l["cycles"]}
    return {"value": value, "layers": layers, "latency_s": result["totals"]["latency_s"],
            "energy_pj": result["totals"]["energy_pj"], "warnings": result["warnings"]}


def run_study(study: StudyPlan, workers: int | None = 1) -> list[dict[str, Any]]:
    """Run the study's sweep (in memory); one row per value, in the order given.

    One worker by default: the sparse kind builds each random matrix and CSC layout once per
    process (simulator.kinds.sparse.layouts), so values that share them (queue depths, an
    activation density) run faster in one process than rebuilding them in several."""
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    run_sweep(study.sweep, IN_MEMORY, workers=workers,
              on_row=lambda row: stored.__setitem__((row["point_json"], row["workload"]), row))
    return [_study_row(value, stored[key]) for value, key in zip(study.values, study.rows)]


def study(arch_name: str, workload: Workload, field_name: str, values: list[Any],
          overrides: list[str] | None = None, workers: int | None = 1
          ) -> list[dict[str, Any]]:
    """One row per value: per-layer and total latency (s), efficiency, energy (pJ), warnings."""
    return run_study(plan(arch_name, workload, field_name, values, overrides), workers)
