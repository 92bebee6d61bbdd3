"""Area components of an EIE-style engine: per PE one MAC, its SRAMs (sparse matrix, pointers,
activations), the weight codebook and the activation queue (Han et al., ISCA 2016, Sec. IV).
Model and sources: docs/area.md."""

from __future__ import annotations

from simulator.core.area import AreaComponents, AreaTable, pe_register_bits
from simulator.kinds.sparse.arch import SparseArch


def sparse_area(arch: SparseArch, table: AreaTable) -> AreaComponents:
    pes = arch.pes
    precision = arch.precision
    per_pe_sram = {"spmat": arch.spmat_sram_bytes, "pointer": arch.pointer_sram_bytes,
                   "activation": arch.activation_sram_bytes}
    codebook_bits = 2 ** arch.weight_index_bits * arch.codebook_value_bits
    queue_bits = arch.queue_depth * (precision.activation_bits + arch.pointer_bits)
    parts = {
        "mac": pes * table.mac_um2(precision),
        "pe_registers": pes * table.register_um2(
            pe_register_bits(precision, False) + codebook_bits + queue_bits),
    }
    for name, size in per_pe_sram.items():
        parts[f"sram:{name}"] = pes * table.sram_um2(size)
    return AreaComponents(parts, pes, pes * sum(per_pe_sram.values()))
