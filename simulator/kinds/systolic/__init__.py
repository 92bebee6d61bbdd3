"""Systolic arrays in the style of TPUv1 and SCALE-Sim (docs/models.md, section 3)."""

from __future__ import annotations

from simulator.kinds.spec import Kind
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.area import systolic_area


def systolic_what_ifs(arch: SystolicArch) -> list[tuple[str, list[str]]]:
    """Changes worth trying on a systolic chip, for `npusim explain` (re-simulated there)."""
    a, mem = arch.array, arch.memory
    out = [(f"double the array ({a.rows}x{a.cols} -> {2 * a.rows}x{2 * a.cols})",
            [f"array.rows={2 * a.rows}", f"array.cols={2 * a.cols}"])]
    buffers = ("unified_buffer_bytes", "accumulator_bytes", "ifmap_sram_bytes",
               "filter_sram_bytes", "ofmap_sram_bytes")
    for name in buffers:
        size = getattr(mem, name)
        if size:
            label = name.removesuffix("_bytes").replace("_", " ")
            out.append((f"double the {label} ({size / 1024:g} KiB)", [f"memory.{name}={2 * size}"]))
    if mem.weight_fifo_tiles:
        out.append((f"double the weight FIFO ({mem.weight_fifo_tiles} tiles)",
                    [f"memory.weight_fifo_tiles={2 * mem.weight_fifo_tiles}"]))
    out.append((f"4x faster vector unit ({arch.vector_rate:g} -> {4 * arch.vector_rate:g} "
                "elements per cycle)", [f"vector_elements_per_cycle={4 * arch.vector_rate:g}"]))
    return out


KIND = Kind(name="systolic", arch_model=SystolicArch,
            engine_path="simulator.kinds.systolic.engine:SystolicEngine", area=systolic_area,
            what_ifs=systolic_what_ifs,
            mapping_keys=("tile_m", "tile_k", "tile_n", "loop_order", "sub_batch"))
