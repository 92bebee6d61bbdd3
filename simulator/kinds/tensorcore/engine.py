"""Tensor-core engine (Horizon BPU style): compile, simulate as discrete events, account.

The compiler (`compiler/`) turns the workload into an instruction stream; `schedule` runs it with
simpy; this module turns op timings into per-layer `LayerResult`s:

* **Cycles per layer.** Layers are charged the cycles they add to the completion frontier:
  cycles_i = max(0, finish_i - max_{j<i} finish_j), where finish_i is when the last op of layer
  i is done. The per-layer cycles therefore sum to the run's total cycles exactly, in split
  placement (a barrier between layers: each layer's own span) and in pipeline placement (a
  layer overlapped with its predecessor is charged only what it adds). Fused layers are
  charged nothing (their work is in the head layer).
* **Compute vs stall.** The critical path of each layer's window (walking back from its last
  op through whichever dependency or resource predecessor bound each start) is split into
  compute time (a core computing) and stall causes: `bridge` (routing), `sram_bank` (waiting
  for a bank another transfer held), `dram` (DMA transfers), `bridge_latency`/`dram_latency`
  (pipeline latency), `vector_unit` (fallback ops), `dependency`.
* **Traffic.** DRAM: DMA loads/stores (and host reads/writes). Shared SRAM: route-ins and DMA
  stores read it (a multicast reads once), route-outs and DMA loads write it. Bridge: bytes per
  destination port.
* **Weight residency.** With `compiler.weight_residency: resident` the weights the compiler
  keeps in the shared SRAM are loaded once with the model: their DRAM bytes, time and energy are
  not in any layer (per-run figures are steady state); the run's engine totals report them
  (`weight_preload_bytes`, `weight_preload_cycles` at the DRAM bandwidth, and
  `weight_preload_energy_pj`, priced from the preload's DRAM bytes). Their SRAM -> core routes
  are in every run.
* **Counted actions** (priced by `simulator.core.energy`): MACs; core buffers
  (`sram:core_input`, `sram:core_weight`, `sram:core_output`) by their size; `sram:shared` at
  the bank size; `bridge` bytes per destination; `dram`; `vector` (vector unit) and
  `core_vector` (the cores' hard-wired element ops).
"""

from __future__ import annotations

import math
from collections import defaultdict

from simulator.core.actions import (
    Action,
    DramAccess,
    LayerCounts,
    Macs,
    SramAccess,
    VectorOps,
    WireTransfer,
)
from simulator.core.arch import Precision
from simulator.core.results import LayerResult
from simulator.core.workload import Workload
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler import Program, Unit, compile_program
from simulator.kinds.tensorcore.compiler.mapper import MapperOptions
from simulator.kinds.tensorcore.ops import KIND_CATEGORY, Op, resource_category
from simulator.kinds.tensorcore.schedule import OpTiming, simulate_ops
from simulator.kinds.tensorcore.trace import trace_events as _trace_events

#: SRAM access width for energy (Horowitz's SRAM figures are for 64-bit reads)
SRAM_ACCESS_BITS = 64

LATENCY_CATEGORY = {"route_in": "bridge_latency", "route_out": "bridge_latency",
                    "dma_load": "dram_latency", "dma_store": "dram_latency",
                    "host_read": "dram_latency", "host_write": "dram_latency"}


def _core_buffer(name: str, size_bytes: int, read_bytes: float, write_bytes: float) -> SramAccess:
    """Traffic of a core's input, weight or output buffer (`sram:core_<name>`)."""
    return SramAccess(component=f"sram:core_{name}", size_bytes=size_bytes,
                      width_bits=SRAM_ACCESS_BITS, read_bytes=read_bytes, write_bytes=write_bytes)


def occupancy(ops: list[Op], timing: dict[int, OpTiming]) -> tuple[float, int]:
    """When a layer starts (its first op) and the cycles it occupies: the measure of the union
    of its ops' [start, done] intervals (docs/models/tensorcore.md §5). Every resource serves
    one op at a time, so the layer's busy time on any one resource (a core, the DRAM
    interface) fits inside this union: cycles >= its compute and DRAM bounds, and utilization
    <= 1, also when layers overlap in pipeline placement (their cycles then sum to more than
    the run's span)."""
    spans = sorted((timing[op.id].start, timing[op.id].done) for op in ops
                   if timing[op.id].done > timing[op.id].start)
    if not spans:
        return 0.0, 0
    total = 0.0
    lo, hi = spans[0]
    for a, b in spans[1:]:
        if a > hi:
            total += hi - lo
            lo, hi = a, b
        else:
            hi = max(hi, b)
    total += hi - lo
    return spans[0][0], int(math.ceil(total - 1e-9))


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


class TensorCoreEngine(Engine):
    """Cores + data routing bridge + banked SRAM + DMA, simulated with simpy."""

    kind = "tensorcore"

    def __init__(self, arch: TensorCoreArch) -> None:
        if not isinstance(arch, TensorCoreArch):
            raise TypeError("TensorCoreEngine needs a TensorCoreArch")
        super().__init__(arch)
        self.arch: TensorCoreArch = arch

    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Compile the workload, run the program as discrete events, account per layer."""
        mapper = MapperOptions(objective=options.objective or self.arch.mapping_objective,
                               energy=options.energy, overrides=options.mapping)
        compiler = compile_program(self.arch, options.precision, workload, mapper=mapper)
        mac = compiler.target.mac
        ops = compiler.ops
        timing = simulate_ops(ops)
        preload = compiler.resident_weight_bytes
        engine_totals = {
            "weight_preload_bytes": float(preload),
            "weight_preload_cycles": (float(math.ceil(preload / self.arch.dram_bytes_per_cycle))
                                      if preload else 0.0),
            "resident_weight_layers": float(len(compiler.resident_units)),
            "activation_sram_budget_bytes": float(compiler.activation_budget_bytes(preload)),
        }
        names = [l.name for l in workload.layers]
        trace = (tuple(_trace_events(ops, timing, self.arch.clock_mhz, names))
                 if options.trace else None)
        layers, counts = self._results(workload, compiler, ops, timing, options.precision)
        bw = self.arch.sram.banks * self.arch.sram.bytes_per_cycle_per_bank
        return EngineRun(
            layers=tuple(layers), counts=tuple(counts),
            peak_macs_per_cycle=self.arch.peak_macs_per_cycle * mac.rate,
            warnings=tuple(compiler.warnings), assumptions=tuple(self._assumptions()),
            engine_totals=engine_totals,
            # the one-time weight load: its DRAM bytes, priced as weight_preload_energy_pj
            priced_totals={"weight_preload": (DramAccess(nbytes=preload, operand="filter"),)},
            trace=trace, sram_bytes_per_s=None if math.isinf(bw) else bw * self.arch.clock_hz,
            span_cycles=int(math.ceil(max((t.done for t in timing.values()), default=0.0)
                                      - 1e-9)))

    def _assumptions(self) -> list[str]:
        a = self.arch
        return [
            f"{a.cores} tensor cores of {a.core.mac_rows}x{a.core.mac_cols} MACs (rows: reduction, "
            "cols: output channels; depthwise: rows take pixels); block-level parameters are ours",
            f"placement {a.compiler.placement}, fusion {'on' if a.compiler.fusion else 'off'}; "
            "every resource executes its ops in compiler order (static schedule)",
            "per-layer cycles are the cycles each layer adds to the completion frontier "
            "(they sum to the total)",
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
            f"{a.vector_unit.ops_per_cycle:g} element ops/cycle with an SRAM/DRAM round trip",
            "LSTM: one gate GEMM per time step on the cores, each after the previous step's "
            "element-wise gate math (vector unit unless the cores hard-wire lstm); weights "
            "re-routed from the shared SRAM (or re-streamed from DRAM) every step unless a "
            "core's share stays in its weight buffer",
        ]

    # ------------------------------------------------------------------------------------
    def _results(self, workload: Workload, compiler: Program, ops: list[Op],
                 timing: dict[int, OpTiming],
                 precision: Precision) -> tuple[list[LayerResult], list[LayerCounts]]:
        a = self.arch
        n_layers = len(workload.layers)
        by_layer: dict[int, list[Op]] = defaultdict(list)
        for op in ops:
            by_layer[op.layer].append(op)
        finish = [max((timing[o.id].done for o in by_layer.get(i, [])), default=None)
                  for i in range(n_layers)]
        units_of: dict[int, list[Unit]] = defaultdict(list)
        fused_into: dict[int, str] = {}
        for unit in compiler.units:
            units_of[unit.layer].append(unit)
            for k in unit.layers[1:] + unit.pre_layers:
                fused_into[k] = workload.layers[unit.layer].name
        ops_by_id = {op.id: op for op in ops}
        results = []
        counts = []
        ab = precision.activation_bits / 8
        accb = precision.accumulator_bits / 8
        for i, layer in enumerate(workload.layers):
            layer_ops = by_layer.get(i, [])
            start, cycles = occupancy(layer_ops, timing)
            path = self._critical_path(ops_by_id, timing, layer_ops, start) if cycles else {}
            compute_cycles = min(cycles, int(round(path.pop("compute", 0.0))))
            stalls = _split_int(path, cycles - compute_cycles)
            if cycles - compute_cycles and not stalls:
                stalls = {"dependency": cycles - compute_cycles}
            # ---- traffic and occupancy
            busy: dict[str, float] = defaultdict(float)
            wait: dict[str, float] = defaultdict(float)
            dram_r = dram_w = sram_r = sram_w = bridge = port_bytes = 0
            multicast_saved = 0
            weight_routed = input_routed = out_routed = 0
            dram_by_operand: dict[str, int] = defaultdict(int)
            for op in layer_ops:
                t = timing[op.id]
                for r in op.resources:
                    busy["sram_banks" if r.startswith("bank") else r] += op.busy_cycles
                if t.start > t.ready and t.via and t.via != "dep":
                    cat = resource_category(t.via)
                    wait["core" if cat == "compute" else cat] += t.start - t.ready
                ports = sum(1 for r in op.resources if r.startswith("port"))
                port_bytes += op.nbytes * ports
                if op.kind in ("dma_load", "host_read"):
                    # operand names as the other engines: filter (weights), ifmap, ofmap
                    dram_by_operand["filter" if op.label.endswith(" w") else "ifmap"] += op.nbytes
                elif op.kind in ("dma_store", "host_write"):
                    dram_by_operand["ofmap"] += op.nbytes
                if op.kind == "dma_load":
                    dram_r += op.nbytes
                    sram_w += op.nbytes
                    bridge += op.nbytes
                elif op.kind == "dma_store":
                    dram_w += op.nbytes
                    sram_r += op.nbytes
                    bridge += op.nbytes
                elif op.kind == "host_read":
                    dram_r += op.nbytes
                elif op.kind == "host_write":
                    dram_w += op.nbytes
                elif op.kind == "route_in":
                    sram_r += op.nbytes
                    bridge += op.nbytes * ports
                    multicast_saved += op.nbytes * (ports - 1)
                    if op.label.endswith(" w"):
                        weight_routed += op.nbytes * ports
                    else:
                        input_routed += op.nbytes * ports
                elif op.kind == "route_out":
                    sram_w += op.nbytes
                    bridge += op.nbytes
                    out_routed += op.nbytes
            # ---- bounds (per-layer lower bounds on its own span)
            core_busy = [busy.get(f"core{c}", 0.0) for c in range(a.cores)] + [busy.get("vector", 0.0)]
            bounds = {"compute": max(core_busy),
                      "bridge": port_bytes / (a.bridge.ports * a.bridge.bytes_per_cycle_per_port),
                      "dram": (dram_r + dram_w) / a.dram_bytes_per_cycle}
            # ---- counted actions
            units = units_of.get(i, [])
            # element ops by where they run (an LSTM unit's gate math: its gate_engine)
            vector_ops = sum(u.vector_ops for u in units if (u.gate_engine or u.engine) == "vector")
            core_vector_ops = sum(u.post_ops + u.act_ops
                                  + (u.vector_ops if (u.gate_engine or u.engine) == "core" else 0)
                                  for u in units)
            macs = layer.macs
            actions: list[Action] = []
            if macs:
                # priced at the precision the array executes (operands widened to a width it
                # supports, precision.py)
                actions.append(Macs(component="mac", count=macs,
                                    precision=compiler.target.mac.executed))
            if layer.is_compute and any(u.kind == "mac" and u.engine == "core" for u in units):
                spec = compiler.mac_spec(layer)
                reuse = 1 if spec.depthwise else min(a.core.mac_cols, spec.cout_g)
                kfolds = 1 if spec.depthwise else -(-(spec.taps * spec.cin_g) // a.core.mac_rows)
                # the array reads each input byte once per `reuse` output channels
                in_reads = macs * ab / reuse
                # each output accumulates over kfolds reduction folds in the output buffer:
                # kfolds partial-sum writes and kfolds - 1 reads
                outputs = spec.steps * spec.m * spec.cout
                actions += [
                    _core_buffer("input", a.core.input_buffer_bytes, in_reads, input_routed),
                    # weights: routed in (written), read once into the array
                    _core_buffer("weight", a.core.weight_buffer_bytes, weight_routed,
                                 weight_routed),
                    _core_buffer("output", a.core.output_buffer_bytes,
                                 outputs * (kfolds - 1) * accb + out_routed,
                                 outputs * kfolds * accb)]
            elif input_routed or out_routed:
                # element-wise pass on a core: each byte written into a buffer and read once
                actions += [
                    _core_buffer("input", a.core.input_buffer_bytes, input_routed, input_routed),
                    _core_buffer("output", a.core.output_buffer_bytes, out_routed, out_routed)]
            if sram_r or sram_w:
                actions.append(SramAccess(component="sram:shared", size_bytes=a.sram.bank_bytes,
                                          width_bits=SRAM_ACCESS_BITS, read_bytes=sram_r,
                                          write_bytes=sram_w))
            if bridge:
                actions.append(WireTransfer(component="bridge", nbytes=bridge,
                                            pj_per_byte=a.bridge.energy_pj_per_byte))
            if dram_r or dram_w:
                actions.append(DramAccess(nbytes=dram_r + dram_w))
            for component, count in (("vector", vector_ops), ("core_vector", core_vector_ops)):
                if count:
                    actions.append(VectorOps(component=component, count=count,
                                             bits=precision.activation_bits,
                                             number_format=precision.number_format))
            peak = a.peak_macs_per_cycle * compiler.target.mac.rate
            extra = {
                "placement": a.compiler.placement,
                "unit": ",".join(f"{u.engine}:{u.ops_label}" for u in units) if units else (
                    "fused" if i in fused_into else "view"),
                "mapping": self._mapping(compiler, workload, i, fused_into),
                "bridge_bytes": int(bridge),
                "multicast_saved_sram_read_bytes": int(multicast_saved),
                "busy_cycles": {k: round(v, 1) for k, v in sorted(busy.items())},
                "wait_cycles": {k: round(v, 1) for k, v in sorted(wait.items())},
                "bound_cycles": {k: round(v, 3) for k, v in bounds.items()},
                "resource_utilization": {k: round(v / cycles, 4) if cycles else 0.0
                                         for k, v in sorted(busy.items())},
                "start_cycle": int(start) if finish[i] is not None else None,
                "finish_cycle": int(finish[i]) if finish[i] is not None else None,
            }
            if i in compiler.analytic:
                extra["analytic_compute_cycles_one_core"] = compiler.analytic[i]
            resident = [u for u in compiler.resident_units if compiler.units[u].layer == i]
            if resident:
                extra["weights_resident"] = True
                extra["weight_preload_bytes"] = sum(compiler.weight_bytes_of[u] for u in resident)
            if i in fused_into:
                extra["fused_into"] = fused_into[i]
            results.append(LayerResult(
                name=layer.name, type=layer.type, cycles=cycles, compute_cycles=compute_cycles,
                stall_cycles=cycles - compute_cycles, stall_breakdown_cycles=stalls, macs=macs,
                ops=2 * macs + vector_ops + core_vector_ops,
                dram_read_bytes=int(dram_r), dram_write_bytes=int(dram_w),
                sram_read_bytes=int(sram_r), sram_write_bytes=int(sram_w),
                sram_bytes_by_operand={"input": int(input_routed), "weights": int(weight_routed),
                                       "output": int(out_routed)},
                dram_bytes_by_operand=dict(dram_by_operand),
                utilization=macs / (cycles * peak) if cycles else 0.0, **extra))
            counts.append(LayerCounts(tuple(actions)))
        return results, counts

    def _mapping(self, compiler: Program, workload: Workload, i: int,
                 fused_into: dict[int, str]) -> dict:
        """The layer's `mapping` field: its MAC pass's split, tiles and loop order (the keys a
        user may pin with RunOptions.mapping), where its weights come from, what it fuses and
        where its element passes run."""
        out: dict = {}
        for u, unit in enumerate(compiler.units):
            if unit.layer != i:
                continue
            if unit.kind == "mac" and u in compiler.mappings:
                out.update(compiler.mappings[u].fields())
                out["weights"] = ("resident" if u in compiler.resident_units else
                                  "on_chip_operand" if not compiler.mac_spec(
                                      workload.layers[i]).weights_from_dram else "streamed")
                out["fused"] = [workload.layers[k].name for k in unit.layers[1:]]
            elif unit.kind == "elt":
                out.setdefault("passes", []).append(
                    {"op": unit.ops_label, "engine": unit.engine,
                     "cores": compiler.cores[u] if unit.engine == "core" else [],
                     "reads_per_row": unit.passes})
        if i in fused_into:
            out["fused_into"] = fused_into[i]
        return out

    @staticmethod
    def _critical_path(ops_by_id: dict[int, Op], timing: dict[int, OpTiming],
                       layer_ops: list[Op], window_start: float) -> dict[str, float]:
        """Split the window [window_start, last done of the layer] by cause along the
        critical path (see module docstring)."""
        out: dict[str, float] = defaultdict(float)
        if not layer_ops:
            return out
        cur = max(layer_ops, key=lambda o: (timing[o.id].done, o.id)).id
        mode, category = "done", None

        def add(cat: str, lo: float, hi: float) -> None:
            lo = max(lo, window_start)
            if hi > lo:
                out[cat] += hi - lo

        for _ in range(len(ops_by_id) + 1):
            op, t = ops_by_id[cur], timing[cur]
            if mode == "done":
                add(LATENCY_CATEGORY.get(op.kind, "dependency"), t.release, t.done)
            add(category or KIND_CATEGORY[op.kind], t.start, t.release)
            if t.start <= window_start:
                break
            if t.binding < 0:
                add("dependency", window_start, t.start)
                break
            if t.via == "dep":
                mode, category = "done", None
            else:
                mode, category = "release", resource_category(t.via)
            cur = t.binding
        return out
