"""The compiler's driver: workload -> `Program` (the instruction stream and what the engine
reports next to it), running the steps in order: units, tensors and weight residency,
allocation, placement, then op emission per unit (tiling inside each pass) and program order.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import astuple, dataclass, field
from typing import Any

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.layers import LstmLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler.allocation import (
    SpillAllocator,
    Tensor,
    activation_budget_bytes,
    make_tensors,
)
from simulator.kinds.tensorcore.compiler.budget import check_instruction_budget
from simulator.kinds.tensorcore.compiler.costs import PassContext, Prices
from simulator.kinds.tensorcore.compiler.elementwise import emit_elt_unit
from simulator.kinds.tensorcore.compiler.emitter import Emitter, TrafficCounts
from simulator.kinds.tensorcore.compiler.lstm import emit_lstm_unit
from simulator.kinds.tensorcore.compiler.mac_pass import PassState, emit_mac_pass
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.mapper import (
    OBJECTIVES,
    MapperOptions,
    PassMapping,
    choose_mapping,
)
from simulator.kinds.tensorcore.compiler.order import program_order
from simulator.kinds.tensorcore.compiler.placement import unit_cores
from simulator.kinds.tensorcore.compiler.replay import Replay, Replayer
from simulator.kinds.tensorcore.compiler.residency import ResidencyPlan, plan_residency
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.units import Unit, build_units, mac_spec, unit_spec
from simulator.kinds.tensorcore.compression import compression_warnings, layer_precision
from simulator.kinds.tensorcore.ops import Op
from simulator.kinds.tensorcore.schedule import Repeat


@dataclass
class Program:
    """A compiled workload: the ops in program order and what the engine reports with them."""

    arch: TensorCoreArch
    precision: Precision
    ops: list[Op]
    units: list[Unit]
    tensors: dict[str, Tensor]
    #: layer index -> closed-form compute cycles of the layer on one core
    analytic: dict[int, int]
    residency: ResidencyPlan
    #: the unit -> core assignment (empty for views and vector-unit passes)
    cores: list[list[int]]
    #: bytes per unit / tensor that would move to or from DRAM (read by the residency planner)
    traffic: TrafficCounts
    #: the arch figures at the run's precision (MAC rate, element rates, buffer slots)
    target: Target
    #: unit -> the mapping chosen for its MAC pass (split, tiling, closed-form cost)
    mappings: dict[int, PassMapping] = field(default_factory=dict)
    #: steps emitted once and repeated (an LSTM's later time steps; schedule.Repeat)
    repeats: list[Repeat] = field(default_factory=list)
    #: per unit, the arch figures at its layer's precision
    targets: list[Target] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: units not emitted because they repeat an earlier unit (replay.py)
    replays: list[Replay] = field(default_factory=list)

    @property
    def resident_units(self) -> set[int]:
        return self.residency.resident_units

    @property
    def resident_weight_bytes(self) -> int:
        return self.residency.resident_weight_bytes

    @property
    def weight_bytes_of(self) -> dict[int, int]:
        return self.residency.weight_bytes_of

    def activation_budget_bytes(self, resident_bytes: int = 0) -> int:
        """Shared SRAM left to activations: size - weight staging - resident weights."""
        return activation_budget_bytes(self.arch, resident_bytes)

    def mac_spec(self, layer: LayerBase) -> MacSpec:
        """The layer's MacSpec in the mode the cores run it (depthwise mode or grouped)."""
        return mac_spec(layer, self.arch)


def compile_program(arch: TensorCoreArch, precision: Precision, workload: Workload,
                    residency: str | None = None, mapper: MapperOptions | None = None,
                    mappings: dict[int, PassMapping] | None = None,
                    repeat: bool = True, count_only: bool = False,
                    replay: bool = False) -> Program:
    """Compile `workload` for `arch` (docs/models/tensorcore.md §3). `residency` overrides
    `arch.compiler.weight_residency` (the planner compiles a `stream` program first); `mapper`
    says what the mapper minimises and what the user pinned; `mappings` (unit -> mapping)
    reuses the mappings of an earlier compile of the same workload (the resident compile
    reuses the streaming compile's, so that the planner's byte counts stay exact); `repeat`:
    emit an LSTM's identical later steps once (schedule.Repeat; split placement only);
    `count_only`: count the bytes (Program.traffic) and choose the mappings, record no ops;
    `replay`: a unit that repeats an earlier one is not emitted (replay.py; split placement
    only; the program is compiled again in full when an emitted unit is not self-contained)."""
    residency = residency or arch.compiler.weight_residency
    mapper = mapper or MapperOptions()
    if mapper.objective not in OBJECTIVES:
        raise NpusimError(f"unknown mapping objective {mapper.objective!r}", field="objective",
                          fix=f"use one of {', '.join(OBJECTIVES)}")
    if residency != "stream" or not count_only:   # once per run, before any work
        check_instruction_budget(arch, precision, workload)
    target = Target.of(arch, precision)
    plan = build_units(arch, workload)
    targets = unit_targets(arch, precision, workload, plan.units)
    plan.analytic = {unit.layer: targets[u].mac.cycles(plan.analytic[unit.layer])
                     for u, unit in enumerate(plan.units) if unit.layer in plan.analytic
                     and unit.kind == "mac"}
    check_overrides(workload, plan.units, mapper.overrides)
    tensors = make_tensors(workload, plan, target.activation_bytes, arch.sram.banks,
                           lambda i: layer_precision(workload.layers[i],
                                                     precision).activation_bits / 8)
    allocator = SpillAllocator(tensors.values())
    resident = ResidencyPlan()
    if residency == "resident" and not fits_any_candidate(arch, precision, workload,
                                                          plan.units):
        # no candidate's weights fit the SRAM (a 7B model's): the plan is empty whatever the
        # streaming byte counts, and the mappings this compile chooses are the ones the
        # streaming compile would (same operand places, no unit resident): skip that compile
        residency = "stream"
    if residency == "resident":
        streaming = compile_program(arch, precision, workload, residency="stream",
                                    mapper=mapper, mappings=mappings, repeat=repeat,
                                    count_only=True, replay=replay)
        mappings = streaming.mappings
        resident = residency_plan(arch, precision, workload, plan.units, allocator,
                                  streaming.traffic)
    budget = activation_budget_bytes(arch, resident.resident_weight_bytes)
    for name in allocator.spilled(budget):
        tensors[name].in_dram = True
    cores = unit_cores(plan.units, arch)
    em = Emitter(target)
    em.repeat_steps = em.split and repeat
    em.count_only = count_only
    chosen = dict(mappings or {})
    mapping_of = _Mapper(em, workload, plan.units, tensors, cores, mapper, chosen)
    replayer = Replayer(em, workload, plan.units, tensors) if replay and em.split else None
    _emit_units(em, workload, plan.units, tensors, cores, resident.resident_units, mapping_of,
                targets, replayer)
    if replayer is not None and replayer.broken:
        return compile_program(arch, precision, workload, residency, mapper, mappings, repeat,
                               count_only)
    ops = [] if count_only else program_order(em.ops)
    return Program(arch, precision, ops, plan.units, tensors, plan.analytic,
                   resident, cores, em.traffic, target, chosen, list(em.repeats), targets,
                   compression_warnings(workload, arch),
                   replayer.replays if replayer is not None else [])


def unit_targets(arch: TensorCoreArch, precision: Precision, workload: Workload,
                 units: list[Unit]) -> list[Target]:
    """The arch figures each unit runs with: at its layer's precision (per-layer quantization:
    compression.py), shared between units of the same precision."""
    by_label: dict[tuple, Target] = {}
    out = []
    for unit in units:
        p = layer_precision(workload.layers[unit.layer], precision)
        key = (p.number_format, p.activation_bits, p.weight_bits, p.accumulator_bits)
        if key not in by_label:
            by_label[key] = Target.of(arch, p)
        out.append(by_label[key])
    return out


def check_overrides(workload: Workload, units: list[Unit],
                    overrides: Mapping[str, Mapping[str, Any]]) -> None:
    """Every pinned mapping names a layer that heads a MAC pass (one-line errors)."""
    heads = {workload.layers[u.layer].name for u in units if u.kind == "mac"}
    names = {layer.name for layer in workload.layers}
    for name in overrides:
        if name not in names:
            raise NpusimError(f"the mapping names layer {name!r}, which {workload.name} does "
                              "not have", field=f"mapping.{name}",
                              fix="use a layer name from the workload")
        if name not in heads:
            raise NpusimError(f"layer {name} has no mapping to choose (it is not a conv, "
                              "linear, matmul or lstm pass of its own: fused, a view or an "
                              "element-wise pass)", field=f"mapping.{name}",
                              fix="pin the mapping of the MAC layer it belongs to")


class _Mapper:
    """Chooses (or reuses) each MAC unit's mapping from where its operands live."""

    def __init__(self, em: Emitter, workload: Workload, units: list[Unit],
                 tensors: dict[str, Tensor], cores: list[list[int]], options: MapperOptions,
                 chosen: dict[int, PassMapping]) -> None:
        self.em, self.workload, self.units, self.tensors = em, workload, units, tensors
        self.cores, self.options, self.chosen = cores, options, chosen
        self.seen: dict[tuple, PassMapping] = {}
        target = em.target
        if options.objective in ("energy", "edp") and options.energy is None:
            raise NpusimError(f"the {options.objective} objective needs the run's energy table",
                              field="objective", fix="run through simulator.api (which passes "
                              "the arch's table) or use the latency objective")
        self.prices = Prices.of(options.energy, target) if options.energy else None
        self.mac_pj: dict[str, float] = {}

    def __call__(self, u: int, spec: MacSpec, resident: bool) -> PassMapping:
        if u in self.chosen:
            return self.chosen[u]
        unit, target, arch = self.units[u], self.em.target, self.em.arch
        head = self.workload.layers[unit.layer]
        src = self.tensors[unit.inputs[0]]
        rhs = self.tensors[unit.rhs] if unit.rhs else src
        extras = [self.tensors[n] for n in (unit.inputs[2:] if unit.rhs else unit.inputs[1:])]
        out = self.tensors[unit.output]
        if isinstance(head, LstmLayer):
            # a step's GEMM: x_t and h_{t-1} staged on chip, gates to the SRAM scratch
            src, extras, out = None, [], self.tensors[unit.output + "#gates"]
        element = spec.operand_bytes(target)
        if not spec.weights_from_dram:
            weights = "tensor_dram" if rhs is not None and rhs.in_dram else "sram"
        elif resident:
            weights = "sram"
        elif spec.stationary_bytes(element) <= arch.sram.weight_staging_bytes:
            weights = "dram_once"
        else:
            weights = "dram"
        ctx = PassContext(in_dram=src is not None and src.in_dram, out_dram=out.in_dram,
                          weights=weights, out_bytes=out.nbytes / spec.steps
                          if isinstance(head, LstmLayer) else out.nbytes,
                          extra_bytes=sum(e.nbytes for e in extras),
                          extra_dram_bytes=sum(e.nbytes for e in extras if e.in_dram),
                          post_per_out=unit.post_ops / max(1, spec.m * spec.cout),
                          rhs_bytes=element)
        fixed = 0.0
        if self.prices is not None:
            label = target.mac.label
            if label not in self.mac_pj:
                self.mac_pj[label] = Prices.mac_pj(self.options.energy, target)
            mac_pj = self.mac_pj[label]
            macs = spec.macs * spec.work_fraction / spec.steps
            reuse = 1 if spec.depthwise else min(target.cols, spec.cout_g)
            kfolds = 1 if spec.depthwise else -(-(spec.taps * spec.cin_g) // target.rows)
            outputs = spec.m * spec.cout
            fixed = (macs * mac_pj + self.prices.core_input * macs
                     * target.activation_bytes / reuse + self.prices.core_output * outputs
                     * (2 * kfolds - 1) * target.accumulator_bytes)
        extra_row_bytes = sum(e.nbytes / max(1, e.rows) for e in extras if e.rows > 1)
        # identical passes (a network's repeated blocks) map alike: choose once
        key = (astuple(spec), tuple(self.cores[u]), ctx, extra_row_bytes,
               tuple(sorted(self.options.overrides.get(head.name, {}).items())))
        mapping = self.seen.get(key)
        if mapping is None:
            mapping = self.seen[key] = choose_mapping(
                spec, target, self.cores[u], ctx, self.options, self.prices, fixed, head.name,
                extra_row_bytes)
        self.chosen[u] = mapping
        return mapping


def residency_plan(arch: TensorCoreArch, precision: Precision, workload: Workload,
                   units: list[Unit], allocator: SpillAllocator,
                   streaming: TrafficCounts) -> ResidencyPlan:
    """The weight-residency plan (residency.py) from the byte counts of a streaming compile
    of the same workload (`streaming`: tiling, and so every block transfer, does not depend
    on the allocation). Candidates: MAC units on the cores that load weights from DRAM."""
    targets = unit_targets(arch, precision, workload, units)
    weight_bytes_of, kv_caches = {}, set()
    for u, unit in enumerate(units):
        if unit.kind == "mac" and unit.engine == "core" and streaming.weight_dram_bytes.get(u):
            # the stationary operand kept on chip: the weights (as they travel), or a KV cache
            target = targets[u]
            spec = unit_spec(workload.layers[unit.layer], arch, target.mac.executed.weight_bits)
            weight_bytes_of[u] = int(math.ceil(spec.stationary_bytes(spec.operand_bytes(target))))
            if spec.kv_cache:
                kv_caches.add(u)
    costs = {iv.name: streaming.spill_cost_bytes(iv.name) for iv in allocator.intervals}
    return plan_residency(weight_bytes_of, streaming.weight_dram_bytes, allocator, costs,
                          activation_budget_bytes(arch), frozenset(kv_caches))


def fits_any_candidate(arch: TensorCoreArch, precision: Precision, workload: Workload,
                       units: list[Unit]) -> bool:
    """Whether some unit that may become a residency candidate (a MAC unit on the cores whose
    stationary operand comes from DRAM: a superset of `residency_plan`'s candidates, which
    also need streamed bytes) has stored weight bytes W_u with 0 < W_u <= size - staging.
    When none has, `plan_residency` admits nothing (it skips every W_u above the room)."""
    room = activation_budget_bytes(arch)
    targets = unit_targets(arch, precision, workload, units)
    for u, unit in enumerate(units):
        if unit.kind != "mac" or unit.engine != "core":
            continue
        target = targets[u]
        spec = unit_spec(workload.layers[unit.layer], arch, target.mac.executed.weight_bits)
        if not spec.weights_from_dram:
            continue
        w = int(math.ceil(spec.stationary_bytes(spec.operand_bytes(target))))
        if 0 < w <= room:
            return True
    return False


def _emit_units(em: Emitter, workload: Workload, units: list[Unit], tensors: dict[str, Tensor],
                cores: list[list[int]], resident_units: set[int], mapping_of: _Mapper,
                targets: list[Target], replayer: Replayer | None = None) -> None:
    """Emit every unit's ops. Split placement: a barrier on all ops of the previous unit
    starts each unit (layer-by-layer schedule). Pipeline placement: a unit's ops are placed no
    earlier than the first compute of the unit before it, so units overlap by tile."""
    prev: tuple[int, int] = (0, 0)
    base = em.target
    for u, unit in enumerate(units):
        em.target = targets[u]
        start = em.mark()
        barrier: list[int] = []
        if em.split and prev[1] > prev[0]:
            barrier = [em.barrier(unit.layer, list(range(*prev)), "barrier")]
        if unit.kind == "view":
            continue
        mapping = None
        if unit.kind == "mac" and unit.engine == "core":
            head = workload.layers[unit.layer]
            spec = unit_spec(head, em.arch, em.target.mac.executed.weight_bits)
            mapping = mapping_of(u, spec, u in resident_units)
        key = before = None
        if replayer is not None and barrier:
            key = replayer.unit_key(u, mapping, u in resident_units, cores[u], targets[u])
            ref = replayer.reference(u, key)
            if ref is not None:
                replayer.replay(u, ref, barrier[0])
                prev = (start, em.mark())
                continue
            if key is not None:
                before = replayer.snapshot()
        if unit.kind == "mac" and unit.engine == "core":
            if isinstance(head, LstmLayer):
                emit_lstm_unit(em, workload, tensors, u, unit, spec, mapping,
                               u in resident_units, barrier)
            else:
                src = tensors[unit.inputs[0]]
                rest = unit.inputs[2:] if unit.rhs else unit.inputs[1:]
                emit_mac_pass(em, workload, u, unit, barrier, spec, [(src, 0, spec.cin)],
                              tensors[unit.output], [tensors[n] for n in rest],
                              mapping, u in resident_units, PassState(start=em.order.floor),
                              rhs=tensors[unit.rhs] if unit.rhs else src)
        else:
            emit_elt_unit(em, workload, tensors, u, unit, cores[u], barrier)
        if replayer is not None:
            replayer.emitted(u, key, start, barrier[0] if barrier else None, before)
            if replayer.broken and not replayer.replays:
                # nothing was replayed yet: every unit so far is emitted in full, so the
                # program stays exact if the rest is emitted in full too (no second compile)
                replayer.broken = False
                replayer = None
        if not em.split:
            computes = [op.seq for op in em.ops[start:] if op is not None
                        and op.kind in ("compute", "vector")]
            if computes:
                em.order.floor = min(computes)
        prev = (start, em.mark())
    em.target = base
