"""The public API: load an arch and a workload, simulate, get a `RunResult`.

A run, from inputs to result: resolve the arch and workload (bundled names or paths are read by
`simulator.io`), read user weight files at this edge, run the kind's engine (it returns action
counts, no energy), price the counts with the arch's energy table (`simulator.core.energy`),
annotate the roofline, sum the layers into a `RunResult` and add the chip area.
"""

from __future__ import annotations

import difflib
import math
from typing import Any, Collection

from simulator import __version__  # the one version string, re-exported here
from simulator.core.arch import ArchBase, Precision
from simulator.core.energy import EnergyTable, Pricer
from simulator.core.errors import NpusimError
from simulator.core.explain import KindExplanation, LayerExplanation, WhatIf
from simulator.core.layers import type_label
from simulator.core.limits import INT64_MAX
from simulator.core.results import LayerResult, RunResult, copy_layer, renamed_layer
from simulator.core.roofline import roofline_fields, roofs_for, weight_bytes_for
from simulator.core.workload import Workload, transforms_text
from simulator.io.load import load_arch, load_workload
from simulator.io.overrides import apply_overrides
from simulator.io.tables import energy_table_for
from simulator.kinds.base import EngineRun, RunOptions
from simulator.kinds.registry import arch_from_dict, chip_area, get_kind


def effective_precision(arch: ArchBase, workload: Workload) -> Precision:
    """The operand precision of a run: the workload's quantization if it states one, else the
    arch's native precision."""
    return workload.precision or arch.precision


def arch_summary(arch: ArchBase) -> dict:
    """The arch as a plain dict (the full config, so a result says exactly what was run)."""
    return arch.model_dump(mode="json")


def simulate(arch: ArchBase | str, workload: Workload | str,
             overrides: list[str] | None = None, trace: bool = False,
             objective: str | None = None,
             mapping: dict[str, dict[str, Any]] | None = None) -> RunResult:
    """Simulate `workload` on `arch` (models, bundled names or paths) and return the result.
    With `trace`, engines that simulate events keep a Chrome trace-event timeline
    (`result.trace_events`). `objective` (latency, energy, edp, dram) overrides the arch's
    `mapping_objective`; `mapping` overrides the mapper's choices per layer name."""
    return run(arch, workload, overrides, trace=trace, objective=objective, mapping=mapping)[0]


def run(arch: ArchBase | str, workload: Workload | str, overrides: list[str] | None = None, *,
        trace: bool = False, objective: str | None = None,
        mapping: dict[str, dict[str, Any]] | None = None,
        explain: bool = False) -> tuple[RunResult, EngineRun]:
    """`simulate`, also returning the engine's own `EngineRun` (with `explain`, the formulas
    behind every layer's figures in `EngineRun.explanations`)."""
    if isinstance(arch, str):
        arch = load_arch(arch, overrides)
    if isinstance(workload, str):
        workload = load_workload(workload)
    precision = effective_precision(arch, workload)
    table = energy_table_for(arch)
    weights = {}
    if any(layer.weights_file for layer in workload.layers):
        # user weight files are read here, at the edge, so engines stay free of I/O
        from simulator.io.weights import load_weight_files
        weights = load_weight_files(workload)
    options = RunOptions(precision=precision, trace=trace, weights=weights, energy=table,
                         objective=objective or arch.mapping_objective, mapping=mapping or {},
                         explain=explain)
    try:
        engine_run = get_kind(arch.kind).engine_class()(arch).run(workload, options)
        result = _result(arch, workload, precision, table, engine_run, trace)
    except NpusimError as exc:
        _name_files(exc, arch, workload)
        raise
    check_result_range(result, arch.file, engine_run.copy_of)
    return result, engine_run


def _name_files(error: NpusimError, arch: ArchBase, workload: Workload) -> None:
    """Engines know no files: name the one an engine's error is about. A layer's weights file
    for its `weights_file`, the workload file for anything else about a layer (`layers[3]
    (fc)...` or `fc....`), else the arch file (a core buffer too small)."""
    field = error.field or ""
    if error.file is not None or field.startswith("mapping."):
        return  # a mapping override's source (a file or --map) is named by its caller
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    head = field.split(".", 1)[0]
    if head in index:  # `fc.weights_file` -> `layers[0] (fc).weights_file`
        layer = workload.layers[index[head]]
        error.field = f"layers[{index[head]}] ({head})" + field[len(head):]
        error.file = (layer.weights_file if field.endswith(".weights_file")
                      and layer.weights_file else workload.file)
    elif field.startswith("layers"):
        error.file = workload.file
    else:
        error.file = arch.file


def check_result_range(result: RunResult, arch_file: str | None = None,
                       repeats: Collection[int] = ()) -> None:
    """Every count of a result fits a signed 64-bit integer (numpy, SQLite and most JSON
    readers hold no more): inputs within the limits can still ask for more cycles than that on
    a slow enough chip (1 kB/s of DRAM at 1 THz), which is refused rather than stored wrong.
    `repeats`: indices of layers whose figures are an earlier layer's (`EngineRun.copy_of`),
    checked through it."""
    isfinite = math.isfinite
    layers = result.layers
    if repeats:
        layers = [layer for i, layer in enumerate(layers) if i not in repeats]
    for layer in [result.totals, *layers]:
        # every field and extra, as iterating the model gives them (without its generator);
        # fields read from the model's dict (cheaper than its attributes)
        fields, extra = layer.__dict__, layer.__pydantic_extra__
        for values in (fields, extra) if extra else (fields,):
            counts = [value for value in values.values() if type(value) is int]
            if counts and (max(counts) > INT64_MAX or min(counts) < -INT64_MAX):
                _out_of_range(layer, values, arch_file)
        if not (isfinite(fields["energy_pj"]) and isfinite(fields["latency_s"])
                and all(map(isfinite, fields["energy_breakdown_pj"].values()))):
            raise NpusimError(f"{_where(layer)}: its energy or latency overflows a float (an "
                              "energy per action or a latency this large is not physical)",
                              file=arch_file, fix="check the energy overrides and latencies of "
                              "the arch; see Limits in docs/formats.md")


def _where(layer: Any) -> str:
    return f"layer {layer.name}" if isinstance(layer, LayerResult) else "the run"


def _out_of_range(layer: Any, values: dict[str, Any], arch_file: str | None) -> None:
    for name, value in values.items():
        if type(value) is int and not -INT64_MAX <= value <= INT64_MAX:
            raise NpusimError(f"{_where(layer)} would take {name} = {value:.3g}, beyond the "
                              "64-bit counts npusim reports (2^63)", file=arch_file,
                              fix="simulate a faster chip (clock, bandwidth) or a smaller "
                              "workload; see Limits in docs/formats.md")


def _result(arch: ArchBase, workload: Workload, precision: Precision, table: EnergyTable,
            run: EngineRun, trace: bool) -> RunResult:
    """Price an engine run's counts, annotate the roofline, sum into a `RunResult`."""
    pricer = Pricer(table)
    engine_totals = dict(run.engine_totals)
    for name, actions in run.priced_totals.items():
        engine_totals[f"{name}_energy_pj"] = pricer.total_pj(actions)
    roofs = roofs_for(run.peak_macs_per_cycle, arch.clock_hz, arch.dram.bandwidth_gbps * 1e9,
                      run.sram_bytes_per_s)
    specs = {spec.name: spec for spec in workload.layers}
    layers: list[LayerResult] = []
    copy_of = run.copy_of
    for i, (layer, counts) in enumerate(zip(run.layers, run.counts)):
        if i in copy_of:  # the figures of an earlier layer: its result, renamed, own dicts
            layers.append(renamed_layer(layers[copy_of[i]], layer.name))
            continue
        # energy, roofline, stored weight bytes (for the MACs-per-weight-byte roofline) and
        # the type as tables show it (conv/dw, conv/g, conv/pw): one copy of the engine's layer
        update = pricer.layer_energy(layer, counts)
        update.update(roofline_fields(layer, roofs, arch.clock_hz))
        spec = specs.get(layer.name)
        if spec is not None:
            if not layer.weight_bytes:
                update["weight_bytes"] = weight_bytes_for(spec, precision.weight_bits)
            update["type_label"] = type_label(spec)
        layers.append(copy_layer(layer, update))
    summary = workload.summary()
    summary["precision"] = precision.model_dump()
    result = RunResult.from_layers(
        arch=arch_summary(arch), workload=summary, layers=layers,
        peak_macs_per_cycle=run.peak_macs_per_cycle, clock_hz=arch.clock_hz,
        roofline=roofs.as_dict(), assumptions=list(run.assumptions),
        warnings=list(run.warnings), version=__version__, span_cycles=run.span_cycles)
    result.totals.engine_totals = engine_totals
    area = chip_area(arch)
    result.totals.area_mm2 = area.area_mm2
    result.totals.area_breakdown_mm2 = area.breakdown_mm2
    if trace:
        result.trace_events = list(run.trace) if run.trace is not None else None
    return result


def explain(arch: ArchBase | str, workload: Workload | str, layer: str | None = None,
            overrides: list[str] | None = None, objective: str | None = None,
            what_ifs: bool = True,
            mapping: dict[str, dict[str, Any]] | None = None) -> LayerExplanation:
    """Why one layer (default: the one that takes the most cycles) costs what it costs: its
    mapping and the engine's formulas with this layer's numbers, its stalls, traffic and energy,
    the binding resource, and what re-simulated changes to the chip would do to it. `mapping`
    pins layers' mapping choices as in `simulate` (the what-ifs keep them pinned)."""
    if isinstance(arch, str):
        arch = load_arch(arch, overrides)
    if isinstance(workload, str):
        workload = load_workload(workload)
    result, engine_run = run(arch, workload, objective=objective, mapping=mapping, explain=True)
    names = [l.name for l in result.layers]
    if layer is None:
        chosen = max(result.layers, key=lambda l: l.cycles)
    elif layer in names:
        chosen = result.layers[names.index(layer)]
    else:
        close = ", ".join(difflib.get_close_matches(layer, names, n=3)) or ", ".join(names[:5])
        raise NpusimError(f"no layer named {layer!r} in {workload.name}", field="--layer",
                          fix=f"use one of the layer names, e.g. {close}")
    kind = get_kind(arch.kind)
    explanation = engine_run.explanations.get(chosen.name) or KindExplanation(
        notes=[f"the {arch.kind} engine records no formulas for this layer"])
    figures = {key: getattr(chosen, key) for key in (
        "cycles", "compute_cycles", "stall_cycles", "latency_s", "macs", "ops", "utilization",
        "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
        "energy_pj", "operational_intensity", "bound")}
    changes = []
    if what_ifs:
        candidates = [("double DRAM bandwidth",
                       [f"dram.bandwidth_gbps={arch.dram.bandwidth_gbps * 2:g}"])]
        if kind.what_ifs is not None:
            candidates += kind.what_ifs(arch)
        for change, sets in candidates:
            other = arch_from_dict(apply_overrides(arch.model_dump(mode="json"), sets,
                                                   "<what-if>"), "<what-if>")
            moved = simulate(other, workload, objective=objective, mapping=mapping)
            layer_cycles = next(l.cycles for l in moved.layers if l.name == chosen.name)
            changes.append(WhatIf(
                change=change, overrides=sets, layer_cycles=layer_cycles,
                layer_change=layer_cycles / chosen.cycles - 1 if chosen.cycles else 0.0,
                run_cycles=moved.totals.cycles,
                run_change=moved.totals.cycles / result.totals.cycles - 1
                if result.totals.cycles else 0.0))
    return LayerExplanation(
        arch=arch.name, kind=arch.kind, workload=workload.name, layer=chosen.name,
        layer_type=chosen.type, figures=figures, explanation=explanation,
        stall_breakdown_cycles=chosen.stall_breakdown_cycles,
        dram_bytes_by_operand=chosen.dram_bytes_by_operand,
        sram_bytes_by_operand=chosen.sram_bytes_by_operand,
        energy_breakdown_pj=chosen.energy_breakdown_pj, binding=binding_resource(chosen),
        what_ifs=changes, compression=transforms_text(workload.transforms),
        warnings=list(result.warnings))


def binding_resource(layer: LayerResult) -> str:
    """The resource that sets a layer's time: the stall cause that dominates when stalls
    outweigh compute, else the compute datapath."""
    if layer.stall_cycles > layer.compute_cycles and layer.stall_breakdown_cycles:
        cause = max(layer.stall_breakdown_cycles, key=layer.stall_breakdown_cycles.get)
        return f"{cause} ({layer.stall_breakdown_cycles[cause]:,} of {layer.cycles:,} cycles)"
    return f"compute ({layer.compute_cycles:,} of {layer.cycles:,} cycles)"
