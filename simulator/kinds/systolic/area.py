"""Area components of a systolic array: MACs, PE registers, its buffers, the weight FIFO and the
vector (activation / pooling) unit. Model and sources: docs/area.md."""

from __future__ import annotations

from simulator.core.area import AreaComponents, AreaTable, pe_register_bits
from simulator.kinds.systolic.arch import SystolicArch

#: on-chip buffers of the memory block, by field name (None when the style has no such buffer)
BUFFER_FIELDS = ("ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes",
                 "unified_buffer_bytes", "accumulator_bytes")


def systolic_area(arch: SystolicArch, table: AreaTable) -> AreaComponents:
    pes = arch.array.rows * arch.array.cols
    precision = arch.precision
    parts = {
        "mac": pes * table.mac_um2(precision),
        # TPUv1 double-buffers weights in the PE (Jouppi et al., ISCA 2017, Sec. 2)
        "pe_registers": pes * table.register_um2(
            pe_register_bits(precision, arch.array.dataflow == "ws")),
    }
    sram_bytes = 0
    for name in BUFFER_FIELDS:
        size = getattr(arch.memory, name)
        if size:
            parts[f"sram:{name.removesuffix('_bytes')}"] = table.sram_um2(size)
            sram_bytes += size
    if arch.memory.weight_fifo_tiles:  # TPUv1: the FIFO holds array-sized weight tiles on chip
        fifo_bytes = arch.memory.weight_fifo_tiles * pes * precision.weight_bits // 8
        parts["sram:weight_fifo"] = table.sram_um2(fifo_bytes)
        sram_bytes += fifo_bytes
    # activation / pooling unit: one MAC-sized lane per element per cycle (estimate)
    parts["vector_unit"] = arch.vector_rate * table.mac_um2(precision)
    return AreaComponents(parts, pes, sram_bytes)
