"""The public API: load an arch and a workload, simulate, get a `RunResult`."""

from __future__ import annotations

from simulator.core.arch import ArchBase, Precision
from simulator.core.layers import type_label
from simulator.core.results import RunResult
from simulator.core.roofline import annotate, roofs_for, weight_bytes_for
from simulator.core.workload import Workload
from simulator.io.load import load_arch, load_workload
from simulator.kinds.base import engine_for
from simulator.kinds.registry import chip_area

__version__ = "0.1.0"


def effective_precision(arch: ArchBase, workload: Workload) -> Precision:
    """The operand precision of a run: the workload's quantization if it states one, else the
    arch's native precision."""
    return workload.precision or arch.precision


def arch_summary(arch: ArchBase) -> dict:
    """The arch as a plain dict (the full config, so a result says exactly what was run)."""
    return arch.model_dump(mode="json")


def simulate(arch: ArchBase | str, workload: Workload | str,
             overrides: list[str] | None = None, trace: bool = False) -> RunResult:
    """Simulate `workload` on `arch` (models, bundled names or paths) and return the result.
    With `trace`, engines that simulate events keep a Chrome trace-event timeline
    (`result.trace_events`)."""
    if isinstance(arch, str):
        arch = load_arch(arch, overrides)
    if isinstance(workload, str):
        workload = load_workload(workload)
    precision = effective_precision(arch, workload)
    engine = engine_for(arch, precision)
    engine.trace_enabled = trace
    if hasattr(engine, "set_weight_matrices") and any(
            getattr(layer, "weights_file", None) for layer in workload.layers):
        # user weight files are read here, at the boundary, so engines stay free of I/O
        from simulator.io.weights import load_weight_files
        engine.set_weight_matrices(load_weight_files(workload))
    layers = engine.simulate(workload)
    peak = engine.peak_macs_per_cycle()
    roofs = roofs_for(peak, arch.clock_hz, arch.dram.bandwidth_gbps * 1e9, engine.sram_bytes_per_s())
    for layer in layers:
        annotate(layer, roofs, arch.clock_hz)
    specs = {spec.name: spec for spec in workload.layers}
    for layer in layers:  # stored weight bytes, for the MACs-per-weight-byte roofline
        if not layer.weight_bytes and layer.name in specs:
            layer.weight_bytes = weight_bytes_for(specs[layer.name], precision.weight_bits)
        if layer.name in specs:  # conv/dw, conv/g, conv/pw in tables and plots
            layer.type_label = type_label(specs[layer.name])
    summary = workload.summary()
    summary["precision"] = precision.model_dump()
    result = RunResult.from_layers(
        arch=arch_summary(arch), workload=summary, layers=layers, peak_macs_per_cycle=peak,
        clock_hz=arch.clock_hz, roofline=roofs.as_dict(), assumptions=engine.assumptions(),
        warnings=engine.warnings(), version=__version__)
    result.totals.engine_totals = engine.engine_totals()
    area = chip_area(arch)
    if area is not None:
        result.totals.area_mm2 = area.area_mm2
        result.totals.area_breakdown_mm2 = area.breakdown_mm2
    if trace:
        result.trace_events = engine.trace_events()
    return result
