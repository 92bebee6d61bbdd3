"""Area components of a tensor-core chip: cores of mac_rows x mac_cols MACs with private
buffers, the shared SRAM and the vector unit (one MAC-sized lane per vector op per cycle).
The routing bridge is not modelled. Model and sources: docs/area.md."""

from __future__ import annotations

from simulator.core.area import AreaComponents, AreaTable, pe_register_bits
from simulator.kinds.tensorcore.arch import TensorCoreArch

CORE_BUFFER_FIELDS = ("input_buffer_bytes", "weight_buffer_bytes", "output_buffer_bytes")


def tensorcore_area(arch: TensorCoreArch, table: AreaTable) -> AreaComponents:
    cores, core, precision = arch.cores, arch.core, arch.precision
    pes = cores * core.macs_per_cycle
    parts = {
        "mac": pes * table.mac_um2(precision),
        "pe_registers": pes * table.register_um2(pe_register_bits(precision, False)),
    }
    sram_bytes = 0
    for name in CORE_BUFFER_FIELDS:
        size = getattr(core, name)
        parts[f"sram:core_{name.removesuffix('_bytes')}"] = cores * table.sram_um2(size)
        sram_bytes += cores * size
    parts["sram:shared"] = table.sram_um2(arch.sram.size_bytes)
    sram_bytes += arch.sram.size_bytes
    parts["vector_unit"] = arch.vector_unit.ops_per_cycle * table.mac_um2(precision)
    return AreaComponents(parts, pes, sram_bytes)
