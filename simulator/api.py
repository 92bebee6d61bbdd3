"""The public API: load an arch and a workload, simulate, get a `RunResult`.

A run, from inputs to result: resolve the arch and workload (bundled names or paths are read by
`simulator.io`), read user weight files at this edge, run the kind's engine (it returns action
counts, no energy), price the counts with the arch's energy table (`simulator.core.energy`),
annotate the roofline, sum the layers into a `RunResult` and add the chip area.
"""

from __future__ import annotations

from simulator import __version__  # the one version string, re-exported here
from simulator.core.arch import ArchBase, Precision
from simulator.core.energy import Pricer
from simulator.core.results import RunResult
from simulator.core.roofline import annotate, roofs_for, weight_bytes_for
from simulator.core.workload import Workload
from simulator.io.load import load_arch, load_workload
from simulator.io.tables import energy_table_for
from simulator.kinds.base import RunOptions
from simulator.kinds.registry import chip_area, get_kind


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
    table = energy_table_for(arch)
    weights = {}
    if any(layer.weights_file for layer in workload.layers):
        # user weight files are read here, at the edge, so engines stay free of I/O
        from simulator.io.weights import load_weight_files
        weights = load_weight_files(workload)
    options = RunOptions(precision=precision, trace=trace, weights=weights, energy=table)
    run = get_kind(arch.kind).engine_class()(arch).run(workload, options)

    pricer = Pricer(table)
    layers = [pricer.price_layer(layer, counts) for layer, counts in zip(run.layers, run.counts)]
    engine_totals = dict(run.engine_totals)
    for name, actions in run.priced_totals.items():
        engine_totals[f"{name}_energy_pj"] = pricer.total_pj(actions)

    roofs = roofs_for(run.peak_macs_per_cycle, arch.clock_hz, arch.dram.bandwidth_gbps * 1e9,
                      run.sram_bytes_per_s)
    for layer in layers:
        annotate(layer, roofs, arch.clock_hz)
    specs = {spec.name: spec for spec in workload.layers}
    for layer in layers:  # stored weight bytes, for the MACs-per-weight-byte roofline
        if not layer.weight_bytes and layer.name in specs:
            layer.weight_bytes = weight_bytes_for(specs[layer.name], precision.weight_bits)
    summary = workload.summary()
    summary["precision"] = precision.model_dump()
    result = RunResult.from_layers(
        arch=arch_summary(arch), workload=summary, layers=layers,
        peak_macs_per_cycle=run.peak_macs_per_cycle, clock_hz=arch.clock_hz,
        roofline=roofs.as_dict(), assumptions=list(run.assumptions),
        warnings=list(run.warnings), version=__version__)
    result.totals.engine_totals = engine_totals
    area = chip_area(arch)
    result.totals.area_mm2 = area.area_mm2
    result.totals.area_breakdown_mm2 = area.breakdown_mm2
    if trace:
        result.trace_events = list(run.trace) if run.trace is not None else None
    return result
