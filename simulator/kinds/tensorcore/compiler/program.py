"""The compiler's driver: workload -> `Program` (the instruction stream and what the engine
reports next to it), running the steps in order: units, tensors and weight residency,
allocation, placement, then op emission per unit (tiling inside each pass) and program order.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.core.arch import Precision
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
from simulator.kinds.tensorcore.compiler.elementwise import emit_elt_unit
from simulator.kinds.tensorcore.compiler.emitter import Emitter, TrafficCounts
from simulator.kinds.tensorcore.compiler.lstm import emit_lstm_unit
from simulator.kinds.tensorcore.compiler.mac_pass import PassState, emit_mac_pass
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.order import program_order
from simulator.kinds.tensorcore.compiler.placement import unit_cores
from simulator.kinds.tensorcore.compiler.residency import ResidencyPlan, plan_residency
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.units import Unit, build_units, mac_spec
from simulator.kinds.tensorcore.ops import Op


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
    warnings: list[str] = field(default_factory=list)

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
        return mac_spec(layer, self.arch.core.hardwired_ops)


def compile_program(arch: TensorCoreArch, precision: Precision, workload: Workload,
                    residency: str | None = None) -> Program:
    """Compile `workload` for `arch` (docs/models/tensorcore.md §3). `residency` overrides
    `arch.compiler.weight_residency` (the planner compiles a `stream` program first)."""
    residency = residency or arch.compiler.weight_residency
    target = Target.of(arch, precision)
    plan = build_units(arch, workload)
    plan.analytic = {i: target.mac.cycles(c) for i, c in plan.analytic.items()}
    tensors = make_tensors(workload, plan, target.activation_bytes, arch.sram.banks)
    allocator = SpillAllocator(tensors.values())
    resident = ResidencyPlan()
    if residency == "resident":
        streaming = compile_program(arch, precision, workload, residency="stream").traffic
        resident = residency_plan(arch, precision, workload, plan.units, allocator, streaming)
    budget = activation_budget_bytes(arch, resident.resident_weight_bytes)
    for name in allocator.spilled(budget):
        tensors[name].in_dram = True
    cores = unit_cores(plan.units, arch)
    em = Emitter(target)
    _emit_units(em, workload, plan.units, tensors, cores, resident.resident_units)
    return Program(arch, precision, program_order(em.ops), plan.units, tensors, plan.analytic,
                   resident, cores, em.traffic, target)


def residency_plan(arch: TensorCoreArch, precision: Precision, workload: Workload,
                   units: list[Unit], allocator: SpillAllocator,
                   streaming: TrafficCounts) -> ResidencyPlan:
    """The weight-residency plan (residency.py) from the byte counts of a streaming compile
    of the same workload (`streaming`: tiling, and so every block transfer, does not depend
    on the allocation). Candidates: MAC units on the cores that load weights from DRAM."""
    wb = precision.weight_bits / 8
    weight_bytes_of = {}
    for u, unit in enumerate(units):
        if unit.kind == "mac" and unit.engine == "core" and streaming.weight_dram_bytes.get(u):
            head = workload.layers[unit.layer]
            weight_bytes_of[u] = int(math.ceil(head.weight_params * wb))
    costs = {iv.name: streaming.spill_cost_bytes(iv.name) for iv in allocator.intervals}
    return plan_residency(weight_bytes_of, streaming.weight_dram_bytes, allocator, costs,
                          activation_budget_bytes(arch))


def _emit_units(em: Emitter, workload: Workload, units: list[Unit], tensors: dict[str, Tensor],
                cores: list[list[int]], resident_units: set[int]) -> None:
    """Emit every unit's ops. Split placement: a barrier on all ops of the previous unit
    starts each unit (layer-by-layer schedule). Pipeline placement: a unit's ops are placed no
    earlier than the first compute of the unit before it, so units overlap by tile."""
    prev: tuple[int, int] = (0, 0)
    for u, unit in enumerate(units):
        start = em.mark()
        barrier: list[int] = []
        if em.split and prev[1] > prev[0]:
            barrier = [em.barrier(unit.layer, list(range(*prev)), "barrier")]
        if unit.kind == "view":
            continue
        if unit.kind == "mac" and unit.engine == "core":
            head = workload.layers[unit.layer]
            if isinstance(head, LstmLayer):
                emit_lstm_unit(em, workload, tensors, u, unit, cores[u], u in resident_units,
                               barrier)
            else:
                spec = mac_spec(head, em.target.hardwired_ops)
                src = tensors[unit.inputs[0]]
                emit_mac_pass(em, workload, u, unit, barrier, spec, [(src, 0, spec.cin)],
                              tensors[unit.output], [tensors[n] for n in unit.inputs[1:]],
                              cores[u], u in resident_units, PassState())
        else:
            emit_elt_unit(em, workload, tensors, u, unit, cores[u], barrier)
        if not em.split:
            computes = [op.seq for op in em.ops[start:] if op.kind in ("compute", "vector")]
            if computes:
                em.order.floor = min(computes)
        prev = (start, em.mark())
