"""One layer's tallies and what they become: its `LayerResult` (cycles, stalls by cause, bytes
per operand and per buffer), its counted actions (priced later by `simulator.core.energy`) and,
when a run explains itself, the formulas behind its figures (`simulator.core.explain`).

Rounding (stated once, applied the same way in the figures and in the formulas): cycle and byte
tallies are floats (a tile's share of a transfer); each is rounded to 6 decimals, then whole
bytes per operand and per buffer are the ceiling, and a layer's byte totals are the sums of
those whole numbers. SCALE-Sim counts cycles from 0 (its Total Cycles = folds x per_fold - 1),
so a SCALE-Sim-mode array reports one cycle less (`shift`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial

from simulator.core.actions import (
    Action,
    DramAccess,
    LayerCounts,
    Macs,
    RegisterAccess,
    SramAccess,
    VectorOps,
)
from simulator.core.arch import Precision
from simulator.core.explain import Formula, KindExplanation, formula
from simulator.core.layer_base import LayerBase
from simulator.core.results import LayerResult, layer_result

OPERANDS = ("ifmap", "filter", "ofmap")
#: SRAM access width of the array-side buffers: energy is priced per 64-bit access (Horowitz's
#: SRAM figures are for 64-bit reads)
SRAM_ACCESS_BITS = 64

# The action records, built by keyword through their own `__new__`: calling a named-tuple class
# by keyword makes `type.__call__` pack the keywords into a dict for its Python-level `__new__`,
# which costs more than the record itself (a layer builds about ten); the records are the same.
_macs = partial(Macs.__new__, Macs)
_register_access = partial(RegisterAccess.__new__, RegisterAccess)
_sram_access = partial(SramAccess.__new__, SramAccess)
_dram_access = partial(DramAccess.__new__, DramAccess)
_vector_ops = partial(VectorOps.__new__, VectorOps)
_layer_counts = partial(LayerCounts.__new__, LayerCounts)


def whole(value: float) -> int:
    """Whole bytes (or cycles) of a float tally: the ceiling after rounding to 6 decimals.

    `round(value, 6)` is a decimal conversion (over a microsecond), so it is taken only where
    it can change the answer: a whole value is its own ceiling, and a value more than 1e-6
    above its floor rounds to more than the floor (the decimal is at least floor + 1e-6, and
    the float nearest it lies within half a unit in the last place of it, which is below
    5e-7 wherever a fraction of 1e-6 is representable), so its ceiling is floor + 1."""
    floor = math.floor(value)
    fraction = value - floor  # exact: value and floor are within a factor of two (or floor = 0)
    if fraction == 0:
        return floor
    if fraction > 1e-6:
        return floor + 1
    return math.ceil(round(value, 6))


def attribute_stalls(stall_cycles: int, dram_excess: int, named: dict[str, float]) -> dict[str, int]:
    """Stall cycles by cause. DRAM bandwidth first gets what the layer's own traffic forces
    beyond its compute (`dram_excess`: time the layer could not beat at this bandwidth, so no
    other cause can be blamed for it); the named causes (weight loads, fill/drain, vector unit,
    layout) share the rest, largest first; what is left is DRAM stall too (transfers exposed
    between tiles)."""
    out: dict[str, int] = {}
    dram = min(stall_cycles, dram_excess)
    rest = stall_cycles - dram
    for cause, value in sorted(named.items(), key=lambda kv: -kv[1]):
        take = min(rest, int(round(value)))
        if take > 0:
            out[cause] = take
            rest -= take
    dram += rest
    if dram > 0:
        out["dram_bandwidth"] = dram
    return out


@dataclass
class LayerCost:
    """What one layer did, accumulated over its GEMMs and its vector work."""

    precision: Precision
    peak_macs_per_cycle: float
    macs: int = 0
    macs_executed: float = 0.0
    compute_cycles: float = 0.0
    total_cycles: float = 0.0
    shift: int = 0
    stalls: dict[str, float] = field(default_factory=dict)
    dram_read: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    dram_write: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    # sram[(buffer, operand)] = [read_bytes, write_bytes]
    sram: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    vector_ops: float = 0.0
    extras: dict = field(default_factory=dict)
    explain: KindExplanation | None = None

    def sram_add(self, buffer: str, operand: str, read: float = 0.0, write: float = 0.0) -> None:
        cell = self.sram.setdefault((buffer, operand), [0.0, 0.0])
        cell[0] += read
        cell[1] += write

    def stall(self, cause: str, cycles: float) -> None:
        if cycles > 0:
            self.stalls[cause] = self.stalls.get(cause, 0.0) + cycles

    def note(self, f: Formula) -> None:
        if self.explain is not None:
            self.explain.formulas.append(f)

    def line(self, text: str) -> None:
        if self.explain is not None:
            self.explain.mapping.append(text)


def finish(layer: LayerBase, cost: LayerCost, bytes_per_cycle: float,
           buffer_bytes: dict[str, float]) -> tuple[LayerResult, LayerCounts]:
    """The layer's result and counted actions from its tallies (formulas into `cost.explain`)."""
    p = cost.precision
    macs, peak = cost.macs, cost.peak_macs_per_cycle
    executed = cost.macs_executed
    if macs:
        compute_cycles = max(math.ceil(executed / peak), whole(cost.compute_cycles) - cost.shift)
    else:
        compute_cycles = whole(cost.compute_cycles)
    dram_read, dram_write = cost.dram_read, cost.dram_write
    rd: dict[str, int] = {}
    wr: dict[str, int] = {}
    dram_by_operand: dict[str, int] = {}
    dram_read_bytes = dram_write_bytes = 0
    for op in OPERANDS:
        r = rd[op] = whole(dram_read[op])
        w = wr[op] = whole(dram_write[op])
        dram_read_bytes += r
        dram_write_bytes += w
        if r + w:
            dram_by_operand[op] = r + w
    dram_bytes = dram_read_bytes + dram_write_bytes
    dram_floor = math.ceil(dram_bytes / bytes_per_cycle)
    cycles = max(compute_cycles, whole(cost.total_cycles) - cost.shift, dram_floor)
    stall_cycles = cycles - compute_cycles
    stalls = attribute_stalls(stall_cycles, max(0, dram_floor - compute_cycles), cost.stalls)

    actions: list[Action] = []
    if macs:
        actions.append(_macs(component="mac", count=executed, precision=p))
        # one activation-, weight- and partial-sum-register access per MAC at their widths
        actions.append(_register_access(component="register",
                                        bits=executed * p.activation_bits, operand="ifmap"))
        actions.append(_register_access(component="register", bits=executed * p.weight_bits,
                                        operand="filter"))
        actions.append(_register_access(component="register",
                                        bits=executed * p.accumulator_bits, operand="ofmap"))
    cells: dict[tuple[str, str], tuple[int, int]] = {}
    sram_read = sram_write = 0
    sram_by_operand: dict[str, int] = {}
    for key, (r, w) in cost.sram.items():
        whole_r, whole_w = whole(r), whole(w)
        cells[key] = (whole_r, whole_w)
        sram_read += whole_r
        sram_write += whole_w
        buffer, operand = key
        sram_by_operand[operand] = sram_by_operand.get(operand, 0) + whole_r + whole_w
        actions.append(_sram_access(component=f"sram:{buffer}",
                                    size_bytes=buffer_bytes[buffer], width_bits=SRAM_ACCESS_BITS,
                                    read_bytes=r, write_bytes=w, operand=operand))
    for op in OPERANDS:
        moved = dram_read[op] + dram_write[op]
        if moved:
            actions.append(_dram_access(nbytes=moved, operand=op))
    if cost.vector_ops:
        actions.append(_vector_ops(component="vector", count=cost.vector_ops,
                                   bits=p.activation_bits, number_format=p.number_format))
    utilization = executed / (cycles * peak) if cycles and macs else 0.0

    if cost.explain is not None:
        _explain_totals(cost, compute_cycles, cycles, round(cost.compute_cycles, 6),
                        round(cost.total_cycles, 6), dram_bytes, bytes_per_cycle, rd, wr,
                        cells, utilization)

    ops = 2 * macs + layer.vector_ops
    # built without re-validating each field (every value is one of ours, of the right type),
    # every contract field in order (core/results.layer_result); the identities are checked
    result = layer_result({
        "name": layer.name, "type": layer.type, "cycles": cycles,
        "compute_cycles": compute_cycles, "stall_cycles": stall_cycles,
        "stall_breakdown_cycles": stalls, "latency_s": 0.0, "macs": macs, "ops": ops,
        "energy_pj": 0.0, "energy_breakdown_pj": {}, "energy_by_operand_pj": {},
        "dram_read_bytes": dram_read_bytes, "dram_write_bytes": dram_write_bytes,
        "dram_bytes_by_operand": dram_by_operand, "sram_read_bytes": sram_read,
        "sram_write_bytes": sram_write,
        "sram_bytes_by_operand": {k: v for k, v in sram_by_operand.items() if v},
        "utilization": utilization, "operational_intensity": 0.0, "bound": "compute",
        "attainable_ops_per_s": 0.0, "achieved_ops_per_s": 0.0, "weight_bytes": 0,
        "type_label": ""}, dict(cost.extras))
    return result, _layer_counts(tuple(actions))


def _explain_totals(cost: LayerCost, compute_cycles: int, cycles: int, array_cycles: float,
                    pipeline: float, dram_bytes: int, bytes_per_cycle: float,
                    rd: dict[str, int], wr: dict[str, int],
                    cells: dict[tuple[str, str], tuple[int, int]], utilization: float) -> None:
    """The formulas that give the layer's result fields, from the same numbers."""
    if cost.macs:
        cost.note(formula(
            "compute_cycles", "max(ceil(macs / peak_macs_per_cycle), ceil(array_cycles) - shift)",
            "cycles", macs=cost.macs_executed, peak_macs_per_cycle=cost.peak_macs_per_cycle,
            array_cycles=array_cycles, shift=cost.shift,
            meaning="the array's busy cycles, never below the MACs at the peak rate"))
    else:
        cost.note(formula("compute_cycles", "ceil(vector_cycles)", "cycles",
                          vector_cycles=array_cycles,
                          meaning="vector-unit element operations / elements per cycle"))
    cost.note(formula(
        "cycles", "max(compute_cycles, ceil(pipeline_cycles) - shift, "
        "ceil(dram_bytes / dram_bytes_per_cycle))", "cycles", compute_cycles=compute_cycles,
        pipeline_cycles=pipeline, shift=cost.shift, dram_bytes=dram_bytes,
        dram_bytes_per_cycle=bytes_per_cycle,
        meaning="the tile pipeline with its stalls, never faster than compute or DRAM"))
    cost.note(formula("stall_cycles", "cycles - compute_cycles", "cycles", cycles=cycles,
                      compute_cycles=compute_cycles))
    for name, parts in (("dram_read_bytes", rd), ("dram_write_bytes", wr)):
        terms = {op: v for op, v in parts.items()}
        cost.note(formula(name, " + ".join(terms), "B", **terms,
                          meaning="by operand (ifmap, filter, ofmap)"))
    for name, index in (("sram_read_bytes", 0), ("sram_write_bytes", 1)):
        terms = {f"{buf}_{op}": v[index] for (buf, op), v in cells.items()}
        if terms:
            cost.note(formula(name, " + ".join(terms), "B", **terms,
                              meaning="by buffer and operand"))
    if cost.macs:
        cost.note(formula("utilization", "macs / (cycles * peak_macs_per_cycle)", "",
                          macs=cost.macs_executed, cycles=cycles,
                          peak_macs_per_cycle=cost.peak_macs_per_cycle))
