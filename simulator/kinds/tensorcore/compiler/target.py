"""The figures of an arch and a precision that the compiler steps use, derived once: element
sizes, the core buffers' slots (half of each buffer with ping-pong double buffering), the MAC
array and its rate at the precision (precision.py), the element rates of the cores' element
path and of the vector unit at the element width, and the latencies and bandwidths transfers
are timed with."""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.arch import Precision
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.precision import MacRate, element_lanes, mac_rate


@dataclass(frozen=True)
class Target:
    """The figures of the arch and precision the compiler steps use, derived once."""

    arch: TensorCoreArch
    precision: Precision
    activation_bytes: float        # bytes per activation element
    weight_bytes: float            # bytes per weight
    accumulator_bytes: float       # bytes per accumulator
    slots: int                     # buffer halves per core buffer (2: ping-pong)
    input_half_bytes: int          # one slot of each core buffer
    weight_half_bytes: int
    output_half_bytes: int
    rows: int                      # MAC array rows (reduction lanes)
    cols: int                      # MAC array columns (output-channel lanes)
    cores: int
    hardwired_ops: frozenset[str]
    dram_latency_cycles: int
    dram_bytes_per_cycle: float
    port_bytes_per_cycle: float
    bank_bytes_per_cycle: float
    mac: MacRate                   # the MAC array's rate at this precision
    element_lanes: float           # cores' element path, elements per cycle at this width
    vector_ops_per_cycle: float    # vector unit, element ops per cycle at this width

    @classmethod
    def of(cls, arch: TensorCoreArch, precision: Precision) -> "Target":
        core = arch.core
        div = 2 if core.double_buffering else 1
        return cls(arch, precision, precision.activation_bits / 8, precision.weight_bits / 8,
                   precision.accumulator_bits / 8, div, core.input_buffer_bytes // div,
                   core.weight_buffer_bytes // div, core.output_buffer_bytes // div,
                   core.mac_rows, core.mac_cols, arch.cores, frozenset(core.hardwired_ops),
                   int(round(arch.dram.latency_ns * arch.clock_mhz / 1000)),
                   arch.dram_bytes_per_cycle, arch.bridge.bytes_per_cycle_per_port,
                   arch.sram.bytes_per_cycle_per_bank, mac_rate(arch, precision),
                   element_lanes(core.vector_lanes, precision.activation_bits),
                   element_lanes(arch.vector_unit.ops_per_cycle, precision.activation_bits))
