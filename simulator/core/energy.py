"""Energy per action from a data table (default: Horowitz 45 nm, ISSCC 2014), and the one place
where counted actions become picojoules.

Energy = sum over actions of count x energy per action. Engines count actions
(`simulator.core.actions`); `price` prices them with an `EnergyTable` (read from its YAML file by
`simulator.io.tables`). Assumptions (see docs/models.md):
- A MAC costs one multiply at the operand widths plus one add at the accumulator width.
- Integer widths missing from the table are interpolated in log-log between the 8- and 32-bit
  points (the fitted exponents are ~0.87 for add and ~1.98 for multiply, i.e. add ~ linear and
  multiply ~ quadratic in width, as expected for ripple adders and array multipliers). A mixed
  a x w multiply costs as a sqrt(a*w)-bit square multiply.
- An SRAM access of `width_bits` costs width/64 x the 64-bit figure for an array of that size;
  sizes between table points are interpolated in log-log, outside the table the nearest
  segment's slope is extended.
- An SRAM write costs `sram_write_to_read_ratio` x a read of the same width.
- A register access costs `register_pj_per_32bit` / 32 per bit.
- DRAM costs a fixed energy per bit.
- An interconnect the arch gives an energy per byte for (the tensor-core bridge) costs that,
  times the table's node scale.
- Optional first-order technology scaling (constant voltage): energy ~ feature size.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from pydantic import Field, PositiveFloat

from simulator.core.actions import (
    Action,
    DramAccess,
    LayerCounts,
    Macs,
    RegisterAccess,
    SramAccess,
    VectorOps,
    WireTransfer,
)
from simulator.core.arch import Precision, StrictModel
from simulator.core.results import LayerResult


class EnergyTable(StrictModel):
    """A table of energies per action (see arch_configs/energy/horowitz_45nm.yaml)."""

    name: str
    technology_nm: PositiveFloat = 45
    arithmetic_pj: dict[str, PositiveFloat]
    sram_pj_per_64bit: dict[int, PositiveFloat] = Field(min_length=1)
    dram_pj_per_bit: PositiveFloat
    register_pj_per_32bit: PositiveFloat
    sram_write_to_read_ratio: PositiveFloat = 1.0
    scale: PositiveFloat = Field(1.0, description="multiplier applied to every entry")

    # ---- arithmetic ---------------------------------------------------------------------
    def _int_op(self, op: str, bits: float) -> float:
        key = f"int{int(bits)}_{op}" if float(bits).is_integer() else ""
        if key in self.arithmetic_pj:
            return self.arithmetic_pj[key]
        lo, hi = self.arithmetic_pj[f"int8_{op}"], self.arithmetic_pj[f"int32_{op}"]
        slope = math.log(hi / lo) / math.log(32 / 8)
        return lo * (bits / 8) ** slope

    def add_pj(self, bits: int, number_format: str = "int") -> float:
        if number_format == "fp":
            return self.scale * self.arithmetic_pj[f"fp{bits}_add"]
        return self.scale * self._int_op("add", bits)

    def mult_pj(self, a_bits: int, b_bits: int, number_format: str = "int") -> float:
        if number_format == "fp":
            return self.scale * self.arithmetic_pj[f"fp{max(a_bits, b_bits)}_mult"]
        if a_bits == b_bits:
            return self.scale * self._int_op("mult", a_bits)
        return self.scale * self._int_op("mult", math.sqrt(a_bits * b_bits))

    def mac_pj(self, precision: Precision) -> float:
        """One multiply at operand widths plus one accumulate at the accumulator width."""
        fmt = precision.number_format
        acc_bits = precision.accumulator_bits if fmt == "int" else max(
            16, min(32, precision.accumulator_bits))
        if fmt == "fp" and acc_bits not in (16, 32):
            acc_bits = 32
        return (self.mult_pj(precision.activation_bits, precision.weight_bits, fmt)
                + self.add_pj(acc_bits, fmt))

    def vector_op_pj(self, bits: int, number_format: str = "int") -> float:
        """An element-wise operation (compare, add, activation step): one add at `bits`."""
        return self.add_pj(max(bits, 8) if number_format == "int" else max(bits, 16), number_format)

    # ---- storage ------------------------------------------------------------------------
    def sram_pj_per_access(self, size_bytes: float, width_bits: int = 64) -> float:
        """Energy of one read of `width_bits` from an SRAM array of `size_bytes`."""
        points = sorted(self.sram_pj_per_64bit.items())
        if len(points) == 1:
            per64 = points[0][1]
        else:
            size = max(float(size_bytes), 1.0)
            if size <= points[0][0]:
                (s0, e0), (s1, e1) = points[0], points[1]
            elif size >= points[-1][0]:
                (s0, e0), (s1, e1) = points[-2], points[-1]
            else:
                i = next(i for i in range(1, len(points)) if size <= points[i][0])
                (s0, e0), (s1, e1) = points[i - 1], points[i]
            slope = math.log(e1 / e0) / math.log(s1 / s0)
            per64 = e0 * (size / s0) ** slope
        return self.scale * per64 * width_bits / 64

    def sram_pj_per_byte(self, size_bytes: float, width_bits: int = 64) -> float:
        """Energy per byte read from an SRAM accessed `width_bits` at a time."""
        return self.sram_pj_per_access(size_bytes, width_bits) / (width_bits / 8)

    @property
    def register_pj_per_bit(self) -> float:
        return self.scale * self.register_pj_per_32bit / 32

    @property
    def dram_pj_per_byte(self) -> float:
        return self.scale * self.dram_pj_per_bit * 8


def technology_energy_scale(technology_nm: float, table_nm: float = 45.0) -> float:
    """First-order constant-voltage scaling: switched capacitance, hence energy per action,
    shrinks linearly with feature size. A rough guide only; real nodes also lower voltage."""
    return technology_nm / table_nm


# ---- pricing counted actions ------------------------------------------------------------------
class Pricer:
    """Prices actions with one table, remembering the energy per unit of each distinct
    (action type, size, width, precision) so a run prices thousands of actions cheaply."""

    def __init__(self, table: EnergyTable) -> None:
        self.table = table
        self._unit: dict[tuple, float] = {}
        self._register_pj_per_bit = table.register_pj_per_bit
        self._dram_pj_per_byte = table.dram_pj_per_byte
        self._write_ratio = table.sram_write_to_read_ratio
        self._price = {SramAccess: self._sram, Macs: self._macs, RegisterAccess: self._register,
                       DramAccess: self._dram, VectorOps: self._vector, WireTransfer: self._wire}

    def action_pj(self, action: Action) -> float:
        """The energy of one counted action (the formulas: docs/models.md, energy section)."""
        price = self._price.get(type(action))
        if price is None:
            raise TypeError(f"cannot price {type(action).__name__}")
        return price(action)

    def _sram(self, a: SramAccess) -> float:
        # (reads + writes x write:read ratio) x energy per byte of a `width_bits` access
        key = ("sram", a.size_bytes, a.width_bits)
        per_byte = self._unit.get(key)
        if per_byte is None:
            per_byte = self._unit[key] = self.table.sram_pj_per_byte(a.size_bytes, a.width_bits)
        return (a.read_bytes + a.write_bytes * self._write_ratio) * per_byte

    def _macs(self, a: Macs) -> float:
        p = a.precision
        key = ("mac", p.activation_bits, p.weight_bits, p.accumulator_bits, p.number_format)
        per_mac = self._unit.get(key)
        if per_mac is None:
            per_mac = self._unit[key] = self.table.mac_pj(p)
        return a.count * per_mac

    def _register(self, a: RegisterAccess) -> float:
        return a.bits * self._register_pj_per_bit

    def _dram(self, a: DramAccess) -> float:
        return a.nbytes * self._dram_pj_per_byte

    def _vector(self, a: VectorOps) -> float:
        key = ("vector", a.bits, a.number_format)
        per_op = self._unit.get(key)
        if per_op is None:
            per_op = self._unit[key] = self.table.vector_op_pj(a.bits, a.number_format)
        return a.count * per_op

    def _wire(self, a: WireTransfer) -> float:
        # the arch states the energy per byte at the table's node; the node scale still applies
        return a.nbytes * (a.pj_per_byte * self.table.scale)

    def price(self, actions: Iterable[Action]) -> tuple[dict[str, float], dict[str, float]]:
        """(energy by component, data-movement energy by operand), pJ, in the order the
        components first appear; components and operands that cost nothing are left out."""
        breakdown: dict[str, float] = {}
        by_operand: dict[str, float] = {}
        prices = self._price
        for action in actions:
            price = prices.get(type(action))
            if price is None:
                raise TypeError(f"cannot price {type(action).__name__}")
            pj = price(action)
            breakdown[action.component] = breakdown.get(action.component, 0.0) + pj
            if action.operand is not None:
                by_operand[action.operand] = by_operand.get(action.operand, 0.0) + pj
        return ({k: v for k, v in breakdown.items() if v},
                {k: v for k, v in by_operand.items() if v})

    def total_pj(self, actions: Iterable[Action]) -> float:
        return sum(self.price(actions)[0].values(), 0.0)

    def price_layer(self, layer: LayerResult, counts: LayerCounts) -> LayerResult:
        """`layer` with its energy fields filled from its counted actions (and its baselines'
        `energy_pj` / `energy_ratio` written into the engine fields of the same name)."""
        return layer.model_copy(update=self.layer_energy(layer, counts))

    def layer_energy(self, layer: LayerResult, counts: LayerCounts) -> dict[str, Any]:
        """The energy fields `price_layer` sets, as an update of `layer` (fresh dicts)."""
        breakdown, by_operand = self.price(counts.actions)
        energy = sum(breakdown.values(), 0.0)
        update: dict[str, Any] = {"energy_pj": energy, "energy_breakdown_pj": breakdown,
                                  "energy_by_operand_pj": by_operand}
        if counts.baselines:
            extra = layer.model_extra or {}
            for name, actions in counts.baselines.items():
                baseline = self.total_pj(actions)
                update[name] = {**extra.get(name, {}), "energy_pj": baseline,
                                "energy_ratio": baseline / energy if energy else 0.0}
        return update


def price(actions: Iterable[Action], table: EnergyTable) -> tuple[dict[str, float], dict[str, float]]:
    """Price counted actions: (energy by component, data-movement energy by operand), pJ."""
    return Pricer(table).price(actions)
