"""Chip area from a per-unit table (default arch_configs/energy/area_45nm.yaml, read by
`simulator.io.tables.load_area_table`).

Area = sum over units of count x area per unit, scaled to the arch's technology node.
The model (documented with sources in docs/area.md):
- A MAC is one multiplier at the operand widths plus one adder at the accumulator width
  (Horowitz, ISSCC 2014, 45 nm area figures). Integer widths missing from the table are
  interpolated in log-log between the 8- and 32-bit points, as `simulator.core.energy` does for
  energy; a mixed a x w multiplier costs as a sqrt(a*w)-bit square one.
- Each PE also holds flip-flops: the operand pipeline registers and a partial-sum register
  (plus a second weight register when weights are double-buffered in the array, as in TPUv1,
  Jouppi et al., ISCA 2017, Sec. 2). Flip-flop area per bit: NanGate 45 nm DFF_X1.
- SRAM area = bits x 6T bitcell area / array efficiency (periphery overhead).
- Technology scaling: area x (technology_nm / table_nm)^exponent, ideal exponent 2.
  Energy node scaling is separate (`EnergyConfig.scale_to_technology`,
  `simulator.core.energy.technology_energy_scale`).
- Not modelled: control logic, NoC / bridge wiring, DRAM PHYs, I/O pads, clock tree. The total
  is the area of the datapath and on-chip memories, a lower bound on a die.

This module knows no kind of chip: each kind lists its components in its own `area.py`
(`simulator/kinds/<kind>/area.py`), and `area_report` turns that list into mm^2 at the node.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pydantic import Field, PositiveFloat

from simulator.core.arch import Precision, StrictModel
from simulator.core.strict import LazyModel

UM2_PER_MM2 = 1e6


class AreaTable(StrictModel):
    """Silicon area per unit at `technology_nm` (see arch_configs/energy/area_45nm.yaml)."""

    name: str
    technology_nm: PositiveFloat = 45
    arithmetic_um2: dict[str, PositiveFloat]
    register_um2_per_bit: PositiveFloat
    sram_bitcell_um2: PositiveFloat
    sram_array_efficiency: float = Field(gt=0, le=1)
    area_scaling_exponent: PositiveFloat = 2.0

    # ---- arithmetic ---------------------------------------------------------------------
    def _int_um2(self, op: str, bits: float) -> float:
        """Integer unit area; missing widths by log-log interpolation between 8 and 32 bits."""
        if float(bits).is_integer() and f"int{int(bits)}_{op}" in self.arithmetic_um2:
            return self.arithmetic_um2[f"int{int(bits)}_{op}"]
        lo, hi = self.arithmetic_um2[f"int8_{op}"], self.arithmetic_um2[f"int32_{op}"]
        slope = math.log(hi / lo) / math.log(32 / 8)
        return lo * (bits / 8) ** slope

    def add_um2(self, bits: int, number_format: str = "int") -> float:
        if number_format == "fp":
            return self.arithmetic_um2[f"fp{32 if bits > 16 else 16}_add"]
        return self._int_um2("add", bits)

    def mult_um2(self, a_bits: int, b_bits: int, number_format: str = "int") -> float:
        if number_format == "fp":
            return self.arithmetic_um2[f"fp{32 if max(a_bits, b_bits) > 16 else 16}_mult"]
        return self._int_um2("mult", math.sqrt(a_bits * b_bits))

    def mac_um2(self, precision: Precision) -> float:
        """One multiplier at the operand widths plus one accumulator adder."""
        fmt = precision.number_format
        return (self.mult_um2(precision.activation_bits, precision.weight_bits, fmt)
                + self.add_um2(precision.accumulator_bits, fmt))

    # ---- storage ------------------------------------------------------------------------
    def register_um2(self, bits: float) -> float:
        return bits * self.register_um2_per_bit

    def sram_um2(self, size_bytes: float) -> float:
        """A 6T SRAM macro of `size_bytes`: bitcells divided by the array efficiency."""
        return size_bytes * 8 * self.sram_bitcell_um2 / self.sram_array_efficiency

    def node_scale(self, technology_nm: float) -> float:
        """Ideal area scaling from the table's node to `technology_nm`."""
        return (technology_nm / self.technology_nm) ** self.area_scaling_exponent


class AreaReport(LazyModel):
    """Total area, its split by component, and the sizes that drive it."""

    area_mm2: float = Field(description="total modelled area at the arch's node, mm^2")
    breakdown_mm2: dict[str, float] = Field(default_factory=dict)
    pe_count: int = Field(0, description="MAC units (PEs) on the chip")
    sram_bytes: int = Field(0, description="total on-chip SRAM capacity")
    technology_nm: float = 45
    node_scale: float = Field(1.0, description="area factor applied for the node (1 at 45 nm)")


class AreaComponents(NamedTuple):
    """A kind's area model output: um^2 per component at the table's node, the MAC count and
    the on-chip SRAM bytes."""

    parts_um2: dict[str, float]
    pe_count: int
    sram_bytes: int


def pe_register_bits(precision: Precision, double_buffered_weight: bool) -> int:
    """Operand pipeline registers (activation, weight), a partial-sum register, and a second
    weight register when weights are double-buffered in the PE."""
    weight = precision.weight_bits * (2 if double_buffered_weight else 1)
    return precision.activation_bits + weight + precision.accumulator_bits


def area_report(components: AreaComponents, technology_nm: float,
                table: AreaTable) -> AreaReport:
    """Scale a kind's component list to `technology_nm` and sum it."""
    scale = table.node_scale(technology_nm)
    breakdown = {name: um2 * scale / UM2_PER_MM2 for name, um2 in components.parts_um2.items()}
    return AreaReport(area_mm2=sum(breakdown.values()), breakdown_mm2=breakdown,
                      pe_count=components.pe_count, sram_bytes=components.sram_bytes,
                      technology_nm=technology_nm, node_scale=scale)
