"""Action counts: what an engine did, per component, before any energy is known.

Engines count; `simulator.core.energy.price` prices (the split of Accelergy: Wu, Emer and Sze,
ICCAD 2019). An action record names the energy-breakdown component it is reported under (for
example `mac`, `sram:unified_buffer`, EIE's `spmat_read`), the operand it moves when the report
splits energy by operand (`ifmap`, `filter`, `ofmap`; None: not split), and the quantities the
table needs to price it (sizes, widths, precisions). Nothing here knows an energy figure, so a
new table (another node, a CACTI-derived SRAM curve) changes no engine.

Counts are floats where an engine counts fractional shares (a tile's share of a transfer);
bytes and bits are the units of storage actions, named in the fields.

The records are `typing.NamedTuple`s: immutable, with named fields and `_replace`, and cheap to
build (a sweep point builds about ten per layer; a frozen dataclass sets each field through
`object.__setattr__`, several times slower). Build them by keyword, as every engine does: the
field order is not part of the contract (`DramAccess` puts its defaulted `component` after
`nbytes`). Being tuples, they iterate over and index their values; equality is narrowed to
the record's type (`_typed_equality`), so a record never equals a plain tuple or a record of
another type with the same values (a `DramAccess` and a `RegisterAccess` of the same component,
amount and operand). `Pricer` dispatches on the exact record type.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Mapping, NamedTuple, TypeVar, Union

from simulator.core.arch import Precision

_Record = TypeVar("_Record", bound=tuple)


def _typed_equality(cls: type[_Record]) -> type[_Record]:
    """`cls` with equality that also compares the record type (tuples compare values only);
    the tuple hash stays consistent with it (equal records have equal values)."""

    def __eq__(self: tuple, other: Any) -> bool:
        return type(other) is type(self) and tuple.__eq__(self, other)

    def __ne__(self: tuple, other: Any) -> bool:
        return not __eq__(self, other)

    cls.__eq__ = __eq__  # type: ignore[assignment,method-assign]
    cls.__ne__ = __ne__  # type: ignore[assignment,method-assign]
    return cls


@_typed_equality
class Macs(NamedTuple):
    """Multiply-accumulates: one multiply at the operand widths and one add at the
    accumulator width each (`EnergyTable.mac_pj`)."""

    component: str
    count: float
    precision: Precision
    operand: str | None = None

    def scaled(self, factor: float) -> "Macs":
        return Macs(component=self.component, count=self.count * factor,
                    precision=self.precision, operand=self.operand)


@_typed_equality
class RegisterAccess(NamedTuple):
    """Bits read or written in registers / flip-flop storage (PE operand registers, EIE's
    codebook, activation registers and queues), priced per bit."""

    component: str
    bits: float
    operand: str | None = None

    def scaled(self, factor: float) -> "RegisterAccess":
        return RegisterAccess(component=self.component, bits=self.bits * factor,
                              operand=self.operand)


@_typed_equality
class SramAccess(NamedTuple):
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


@_typed_equality
class DramAccess(NamedTuple):
    """Bytes moved to or from off-chip DRAM, priced per bit."""

    nbytes: float
    component: str = "dram"
    operand: str | None = None

    def scaled(self, factor: float) -> "DramAccess":
        return DramAccess(component=self.component, nbytes=self.nbytes * factor,
                          operand=self.operand)


@_typed_equality
class VectorOps(NamedTuple):
    """Element-wise operations (compare, add, an activation step) at `bits` wide operands."""

    component: str
    count: float
    bits: int
    number_format: str = "int"
    operand: str | None = None

    def scaled(self, factor: float) -> "VectorOps":
        return VectorOps(component=self.component, count=self.count * factor, bits=self.bits,
                         number_format=self.number_format, operand=self.operand)


@_typed_equality
class WireTransfer(NamedTuple):
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


_NO_BASELINES: Mapping[str, tuple[Action, ...]] = MappingProxyType({})


class _LayerCountsFields(NamedTuple):
    actions: tuple[Action, ...]
    baselines: Mapping[str, tuple[Action, ...]]


@_typed_equality
class LayerCounts(_LayerCountsFields):
    """The counted actions of one layer, in report order.

    `baselines` are reference designs run on the same layer, counted the same way (EIE's dense
    baseline: the same PEs on the unpruned matrix). Pricing writes each one's `energy_pj` and
    `energy_ratio` (baseline energy / this layer's energy) into the layer's engine field of the
    same name. A record like the actions (module docstring); `baselines` is kept as a read-only
    view of a copy of the mapping given."""

    __slots__ = ()

    def __new__(cls, actions: tuple[Action, ...] = (),
                baselines: Mapping[str, tuple[Action, ...]] = _NO_BASELINES) -> "LayerCounts":
        if type(baselines) is not MappingProxyType:
            baselines = MappingProxyType(dict(baselines))
        return tuple.__new__(cls, (actions, baselines))

    @classmethod
    def _make(cls, iterable: Any) -> "LayerCounts":
        # through __new__, so `_replace(baselines=...)` keeps the read-only view too
        return cls(*iterable)

    def scaled(self, factor: float) -> "LayerCounts":
        """The counts of the layer run `factor` times (sub-batches)."""
        return LayerCounts(tuple(a.scaled(factor) for a in self.actions),
                           MappingProxyType({name: tuple(a.scaled(factor) for a in actions)
                                             for name, actions in self.baselines.items()}))
