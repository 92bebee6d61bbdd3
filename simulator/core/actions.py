"""Action counts: what an engine did, per component, before any energy is known.

Engines count; `simulator.core.energy.price` prices (the split of Accelergy: Wu, Emer and Sze,
ICCAD 2019). An action record names the energy-breakdown component it is reported under (for
example `mac`, `sram:unified_buffer`, EIE's `spmat_read`), the operand it moves when the report
splits energy by operand (`ifmap`, `filter`, `ofmap`; None: not split), and the quantities the
table needs to price it (sizes, widths, precisions). Nothing here knows an energy figure, so a
new table (another node, a CACTI-derived SRAM curve) changes no engine.

Counts are floats where an engine counts fractional shares (a tile's share of a transfer);
bytes and bits are the units of storage actions, named in the fields.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping, Union

from simulator.core.arch import Precision


@dataclass(frozen=True, slots=True, kw_only=True)
class Macs:
    """Multiply-accumulates: one multiply at the operand widths and one add at the
    accumulator width each (`EnergyTable.mac_pj`)."""

    component: str
    count: float
    precision: Precision
    operand: str | None = None

    def scaled(self, factor: float) -> "Macs":
        return Macs(component=self.component, count=self.count * factor,
                    precision=self.precision, operand=self.operand)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegisterAccess:
    """Bits read or written in registers / flip-flop storage (PE operand registers, EIE's
    codebook, activation registers and queues), priced per bit."""

    component: str
    bits: float
    operand: str | None = None

    def scaled(self, factor: float) -> "RegisterAccess":
        return RegisterAccess(component=self.component, bits=self.bits * factor,
                              operand=self.operand)


@dataclass(frozen=True, slots=True, kw_only=True)
class SramAccess:
    """Bytes read from and written to one SRAM array of `size_bytes`, accessed `width_bits` at
    a time (the energy of an access depends on both)."""

    component: str
    size_bytes: float
    width_bits: int
    read_bytes: float = 0.0
    write_bytes: float = 0.0
    operand: str | None = None

    def scaled(self, factor: float) -> "SramAccess":
        return SramAccess(component=self.component, size_bytes=self.size_bytes,
                          width_bits=self.width_bits, read_bytes=self.read_bytes * factor,
                          write_bytes=self.write_bytes * factor, operand=self.operand)


@dataclass(frozen=True, slots=True, kw_only=True)
class DramAccess:
    """Bytes moved to or from off-chip DRAM, priced per bit."""

    component: str = "dram"
    nbytes: float
    operand: str | None = None

    def scaled(self, factor: float) -> "DramAccess":
        return DramAccess(component=self.component, nbytes=self.nbytes * factor,
                          operand=self.operand)


@dataclass(frozen=True, slots=True, kw_only=True)
class VectorOps:
    """Element-wise operations (compare, add, an activation step) at `bits` wide operands."""

    component: str
    count: float
    bits: int
    number_format: str = "int"
    operand: str | None = None

    def scaled(self, factor: float) -> "VectorOps":
        return VectorOps(component=self.component, count=self.count * factor, bits=self.bits,
                         number_format=self.number_format, operand=self.operand)


@dataclass(frozen=True, slots=True, kw_only=True)
class WireTransfer:
    """Bytes moved over an interconnect whose energy per byte the arch states (the tensor-core
    data routing bridge); the table contributes only its node scale."""

    component: str
    nbytes: float
    pj_per_byte: float
    operand: str | None = None

    def scaled(self, factor: float) -> "WireTransfer":
        return WireTransfer(component=self.component, nbytes=self.nbytes * factor,
                            pj_per_byte=self.pj_per_byte, operand=self.operand)


Action = Union[Macs, RegisterAccess, SramAccess, DramAccess, VectorOps, WireTransfer]


@dataclass(frozen=True, slots=True)
class LayerCounts:
    """The counted actions of one layer, in report order.

    `baselines` are reference designs run on the same layer, counted the same way (EIE's dense
    baseline: the same PEs on the unpruned matrix). Pricing writes each one's `energy_pj` and
    `energy_ratio` (baseline energy / this layer's energy) into the layer's engine field of the
    same name."""

    actions: tuple[Action, ...] = ()
    baselines: Mapping[str, tuple[Action, ...]] = field(
        default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if not isinstance(self.baselines, MappingProxyType):
            object.__setattr__(self, "baselines", MappingProxyType(dict(self.baselines)))

    def scaled(self, factor: float) -> "LayerCounts":
        """The counts of the layer run `factor` times (sub-batches)."""
        return LayerCounts(tuple(a.scaled(factor) for a in self.actions),
                           MappingProxyType({name: tuple(a.scaled(factor) for a in actions)
                                             for name, actions in self.baselines.items()}))
