"""Tensor-core engine (Horizon BPU style): compile, time the instruction stream, account.

The compiler (`compiler/`) turns the workload into an instruction stream; `schedule` times it
(a max-plus recurrence over in-order resources, checked against a simpy event simulation);
this module turns op timings into per-layer `LayerResult`s (timeline.py, accounting.py):

* **Cycles per layer** are the cycles the layer occupies: the measure of the union of its ops'
  [start, done] intervals. No layer beats its own compute or DRAM time and utilization stays
  <= 1, also when layers overlap in pipeline placement; the run's `span_cycles` (the last op
  done) is then less than the sum over layers (`totals.overlap_cycles`). In split placement a
  barrier separates layers and the cycles sum to the span. Fused layers are charged nothing
  (their work is in the head layer).
* **Compute vs stall**: the critical path of each layer split by cause (timeline.py).
* **Weight residency.** With `compiler.weight_residency: resident` the weights the compiler
  keeps in the shared SRAM are loaded once with the model: their DRAM bytes, time and energy are
  not in any layer (per-run figures are steady state); the run's engine totals report them
  (`weight_preload_bytes`, `weight_preload_cycles` at the DRAM bandwidth, and
  `weight_preload_energy_pj`, priced from the preload's DRAM bytes). Their SRAM -> core routes
  are in every run.
* **Repeated steps** (an LSTM's later time steps) are emitted and timed once and counted once
  per copy; when a copy would not have taken the same time (NotPeriodic) the workload is
  compiled again with every step emitted.
"""

from __future__ import annotations

import math
from collections import defaultdict

from simulator.core.actions import DramAccess, LayerCounts
from simulator.core.arch import Precision
from simulator.core.results import LayerResult
from simulator.core.workload import Workload
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.tensorcore.accounting import element_ops, layer_actions, layer_traffic
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler import Program, Unit, compile_program
from simulator.kinds.tensorcore.compiler.mapper import MapperOptions
from simulator.kinds.tensorcore.compression import mac_count
from simulator.kinds.tensorcore.explain import explain_layer
from simulator.kinds.tensorcore.ops import Op
from simulator.kinds.tensorcore.schedule import NotPeriodic, schedule_ops
from simulator.kinds.tensorcore.timeline import Timeline, critical_path, occupancy
from simulator.kinds.tensorcore.trace import trace_events as _trace_events


def _split_int(parts: dict[str, float], total: int) -> dict[str, int]:
    """Round float parts to integers that sum to `total` (largest remainders)."""
    positive = {k: v for k, v in parts.items() if v > 0}
    s = sum(positive.values())
    if total <= 0 or s <= 0:
        return {}
    scaled = {k: v * total / s for k, v in positive.items()}
    out = {k: int(math.floor(v)) for k, v in scaled.items()}
    rest = total - sum(out.values())
    for k in sorted(scaled, key=lambda k: scaled[k] - out[k], reverse=True)[:rest]:
        out[k] += 1
    return {k: v for k, v in out.items() if v}


def compile_and_schedule(arch: TensorCoreArch, precision: Precision, workload: Workload,
                         mapper: MapperOptions, replay: bool = False
                         ) -> tuple[Program, Timeline]:
    """The compiled program and its timeline (repeated steps collapsed where they provably
    repeat, else every step emitted; `replay`: units that repeat an earlier one not emitted,
    compiler/replay.py)."""
    program = compile_program(arch, precision, workload, mapper=mapper, replay=replay)
    try:
        timing, periods = schedule_ops(program.ops, program.repeats)
    except NotPeriodic:
        program = compile_program(arch, precision, workload, mapper=mapper, repeat=False,
                                  replay=replay)
        timing, periods = schedule_ops(program.ops)
    return program, Timeline(program.ops, timing, program.repeats, periods)


class TensorCoreEngine(Engine):
    """Cores + data routing bridge + banked SRAM + DMA, timed as discrete events."""

    kind = "tensorcore"

    def __init__(self, arch: TensorCoreArch) -> None:
        if not isinstance(arch, TensorCoreArch):
            raise TypeError("TensorCoreEngine needs a TensorCoreArch")
        super().__init__(arch)
        self.arch: TensorCoreArch = arch

    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Compile the workload, time the program, account per layer."""
        mapper = MapperOptions(objective=options.objective or self.arch.mapping_objective,
                               energy=options.energy, overrides=options.mapping)
        # units that repeat an earlier one are timed once (compiler/replay.py), unless the
        # run records every op (trace) or explains the formulas of every layer
        program, tl = compile_and_schedule(self.arch, options.precision, workload, mapper,
                                           replay=not (options.trace or options.explain))
        preload = program.resident_weight_bytes
        engine_totals = {
            "weight_preload_bytes": float(preload),
            "weight_preload_cycles": (float(math.ceil(preload / self.arch.dram_bytes_per_cycle))
                                      if preload else 0.0),
            "resident_weight_layers": float(len(program.resident_units)),
            "activation_sram_budget_bytes": float(program.activation_budget_bytes(preload)),
        }
        names = [l.name for l in workload.layers]
        trace = (tuple(_trace_events(tl, self.arch.clock_mhz, names)) if options.trace else None)
        layers, counts, explain = self._results(workload, program, tl, options)
        bw = self.arch.sram.banks * self.arch.sram.bytes_per_cycle_per_bank
        return EngineRun(
            layers=tuple(layers), counts=tuple(counts),
            peak_macs_per_cycle=self.arch.peak_macs_per_cycle * program.target.mac.rate,
            warnings=tuple(program.warnings), assumptions=tuple(self._assumptions()),
            engine_totals=engine_totals,
            # the one-time weight load: its DRAM bytes, priced as weight_preload_energy_pj
            priced_totals={"weight_preload": (DramAccess(nbytes=preload, operand="filter"),)},
            trace=trace, sram_bytes_per_s=None if math.isinf(bw) else bw * self.arch.clock_hz,
            explanations=explain, span_cycles=int(math.ceil(tl.span - 1e-9)))

    def _assumptions(self) -> list[str]:
        a = self.arch
        return [
            f"{a.cores} tensor cores of {a.core.mac_rows}x{a.core.mac_cols} MACs (rows: reduction, "
            "cols: output channels; depthwise: rows take pixels); block-level parameters are ours",
            f"placement {a.compiler.placement}, fusion {'on' if a.compiler.fusion else 'off'}; "
            "every resource executes its ops in compiler order (static schedule); each MAC "
            f"pass's split and tiles chosen by the mapper ({a.mapping_objective} unless "
            "--objective says otherwise)",
            "per-layer cycles are the cycles each layer occupies (the union of its ops' "
            "intervals); in pipeline placement layers overlap and the run's cycles are its span",
            "tensors stay in the shared SRAM when they fit over their lifetime, else go to DRAM; "
            "streamed weights come from DRAM through an SRAM staging area",
            ("weight residency: resident (steady-state streaming inference): weights the compiler "
             "keeps in the shared SRAM are loaded once with the model and cost no per-frame DRAM "
             "traffic (one-time load reported as totals.engine_totals.weight_preload_bytes, not in "
             "per-frame cycles, traffic or energy); they are still routed SRAM -> cores every "
             "frame, and their space is taken from the activations' SRAM budget"
             if a.compiler.weight_residency == "resident" else
             "weight residency: stream (cold start / SRAM time-shared between models): every "
             "frame loads all weights from DRAM"),
            f"ops the cores do not hard-wire run on the {a.vector_unit.location} vector unit at "
            f"{a.vector_unit.ops_per_cycle:g} 8-bit element ops/cycle with an SRAM/DRAM round trip",
            "LSTM: one gate GEMM per time step on the cores, each after the previous step's "
            "element-wise gate math (vector unit unless the cores hard-wire lstm); weights "
            "re-routed from the shared SRAM (or re-streamed from DRAM) every step unless a "
            "core's share stays in its weight buffer",
        ]

    # ------------------------------------------------------------------------------------
    def _results(self, workload: Workload, program: Program, tl: Timeline, options: RunOptions
                 ) -> tuple[list[LayerResult], list[LayerCounts], dict]:
        a = self.arch
        by_layer: dict[int, list[Op]] = defaultdict(list)
        standins = {r.standin for r in program.replays}
        for op in program.ops:
            if op.id not in standins:
                by_layer[op.layer].append(op)
        # a layer of a unit that repeats an earlier unit reports the reference layer's
        # figures, later by the time between the two units' barriers (compiler/replay.py)
        repeats_layer: dict[int, tuple[int, float]] = {}
        for r in program.replays:
            delta = tl.timing[r.barrier].done - tl.timing[r.ref_barrier].done
            for i, j in r.layers:
                repeats_layer[i] = (j, delta)
        units_of: dict[int, list[Unit]] = defaultdict(list)
        fused_into: dict[int, str] = {}
        for unit in program.units:
            units_of[unit.layer].append(unit)
            for k in unit.layers[1:] + unit.pre_layers:
                fused_into[k] = workload.layers[unit.layer].name
        target_of = {}
        for u, unit in enumerate(program.units):
            if unit.kind != "view" and (unit.layer not in target_of or unit.kind == "mac"):
                target_of[unit.layer] = program.targets[u]
        results, counts, explanations = [], [], {}
        names = [l.name for l in workload.layers]
        timed: dict[int, tuple] = {}   # layer -> its window, critical path, traffic, finish
        memo: dict = {}                # what each resource tuple stands for (layer_traffic)
        for i, layer in enumerate(workload.layers):
            j, delta = repeats_layer.get(i, (i, 0.0))
            if j not in timed:
                layer_ops = by_layer.get(j, [])
                start, cycles = occupancy(layer_ops, tl)
                timed[j] = (start, cycles, critical_path(tl, layer_ops, start) if cycles else {},
                            layer_traffic(layer_ops, tl, memo), tl.finish(layer_ops))
            start, cycles, path, tr, finish = timed[j]
            start += delta
            if finish is not None:
                finish += delta
            compute_cycles = min(cycles, int(round(path.get("compute", 0.0))))
            path = {k: v for k, v in path.items() if k != "compute"}
            stalls = _split_int(path, cycles - compute_cycles)
            if cycles - compute_cycles and not stalls:
                stalls = {"dependency": cycles - compute_cycles}
            bounds = tr.bounds(a)
            units = units_of.get(i, [])
            target = target_of.get(i, program.target)
            actions = layer_actions(a, program, layer, units, tr, target)
            macs = mac_count(layer, a)
            peak = a.peak_macs_per_cycle * target.mac.rate
            vector_ops, core_vector_ops = element_ops(units)
            extra = {
                "placement": a.compiler.placement,
                "unit": ",".join(f"{u.engine}:{u.ops_label}" for u in units) if units else (
                    "fused" if i in fused_into else "view"),
                "mapping": self._mapping(program, workload, i, fused_into),
                "bridge_bytes": int(tr.bridge),
                "multicast_saved_sram_read_bytes": int(tr.multicast_saved),
                "busy_cycles": {k: round(v, 1) for k, v in sorted(tr.busy.items())},
                "wait_cycles": {k: round(v, 1) for k, v in sorted(tr.wait.items())},
                "bound_cycles": {k: round(v, 3) for k, v in bounds.items()},
                "resource_utilization": {k: round(v / cycles, 4) if cycles else 0.0
                                         for k, v in sorted(tr.busy.items())},
                "start_cycle": int(start) if finish is not None else None,
                "finish_cycle": int(finish) if finish is not None else None,
            }
            if i in program.analytic:
                extra["analytic_compute_cycles_one_core"] = program.analytic[i]
            resident = [u for u in program.resident_units if program.units[u].layer == i]
            if resident:
                extra["weights_resident"] = True
                extra["weight_preload_bytes"] = sum(program.weight_bytes_of[u] for u in resident)
            if i in fused_into:
                extra["fused_into"] = fused_into[i]
            result = LayerResult(
                name=layer.name, type=layer.type, cycles=cycles, compute_cycles=compute_cycles,
                stall_cycles=cycles - compute_cycles, stall_breakdown_cycles=stalls,
                macs=macs, ops=2 * macs + vector_ops + core_vector_ops,
                dram_read_bytes=int(tr.dram_read), dram_write_bytes=int(tr.dram_write),
                sram_read_bytes=int(tr.sram_read), sram_write_bytes=int(tr.sram_write),
                sram_bytes_by_operand={"input": int(tr.input_routed),
                                       "weights": int(tr.weight_routed),
                                       "output": int(tr.out_routed)},
                dram_bytes_by_operand={k: int(v) for k, v in tr.dram_by_operand.items()},
                utilization=macs / (cycles * peak) if cycles else 0.0, **extra)
            results.append(result)
            counts.append(LayerCounts(tuple(actions)))
            if options.explain:
                repeats = [r for r in tl.repeats if tl.by_id[r.first].layer == i]
                explanations[layer.name] = explain_layer(
                    a, program, names, layer, units, fused_into.get(i), result, tr, path,
                    target, repeats)
        return results, counts, explanations

    def _mapping(self, program: Program, workload: Workload, i: int,
                 fused_into: dict[int, str]) -> dict:
        """The layer's `mapping` field: its MAC pass's split, tiles and loop order (the keys a
        user may pin with RunOptions.mapping), where its weights come from, what it fuses and
        where its element passes run."""
        out: dict = {}
        for u, unit in enumerate(program.units):
            if unit.layer != i:
                continue
            if unit.kind == "mac" and u in program.mappings:
                out.update(program.mappings[u].fields())
                spec = program.mac_spec(workload.layers[i])
                where = "resident" if u in program.resident_units else "streamed"
                out["weights"] = ("activation_operand" if not spec.weights_from_dram else
                                  f"kv_cache_{where}" if spec.kv_cache else where)
                out["fused"] = [workload.layers[k].name for k in unit.layers[1:]]
                if unit.pre_layers:
                    out["fused_on_input"] = [workload.layers[k].name for k in unit.pre_layers]
            elif unit.kind == "elt":
                out.setdefault("passes", []).append(
                    {"op": unit.ops_label, "engine": unit.engine,
                     "cores": program.cores[u] if unit.engine == "core" else [],
                     "reads_per_row": unit.passes})
        if i in fused_into:
            out["fused_into"] = fused_into[i]
        return out
