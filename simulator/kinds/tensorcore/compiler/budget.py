"""How much instruction stream a run may ask for, checked before anything is emitted.

The tensor-core engine emits and times every instruction (route, compute, DMA) of a run, so
its time and memory grow with the number of tiles, not with the workload's MACs. Every byte
of a layer's operands (input, weights, output) passes through some on-chip buffer in tiles no
larger than the largest buffer (a core's input, weight or output buffer, or the vector
unit's), so a layer needs at least ceil(operand bytes / that size) instructions: a lower
bound on its share of the stream, computed in O(layers). (Views and post-ops fused into the
layer before them move nothing of their own but are counted alike: the estimate errs towards
refusing a workload made of huge views.) A run whose estimate exceeds
`MAX_TILES` is refused with one line (an ONNX input with a 2^40-row dimension ran out of
memory in the compiler; thorough fuzz).

The limit is above the LLM presets' largest practical runs on bpu (Llama-2-7B-like prefill:
about 89,000 such tiles at P = 512, 1,050,000 at P = 4096, 2,460,000 at P = 2048 and batch
8) and below where the stream's memory (some 0.5 kB per instruction, a few instructions per
tile) outgrows a workstation.
"""

from __future__ import annotations

import math

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compression import layer_precision

#: the most operand tiles (a lower bound on the instructions) one run may need
MAX_TILES = 4_000_000


def check_instruction_budget(arch: TensorCoreArch, precision: Precision,
                             workload: Workload) -> None:
    """Refuse a workload whose instruction stream would be too large to simulate (module
    docstring), naming the layer that needs the most tiles."""
    core = arch.core
    tile_bytes = max(core.input_buffer_bytes, core.weight_buffer_bytes,
                     core.output_buffer_bytes, arch.vector_unit.buffer_bytes)
    total, worst, worst_tiles = 0, None, 0
    for layer in workload.layers:
        operands = layer.operand_bytes(layer_precision(layer, precision))
        tiles = math.ceil(sum(operands.values()) / tile_bytes)
        total += tiles
        if tiles > worst_tiles:
            worst, worst_tiles = layer, tiles
    if total > MAX_TILES:
        raise NpusimError(
            f"{workload.name} would need at least {total:,} instructions on {arch.name} (layer "
            f"{worst.name}: {worst_tiles:,} tiles of its operands, at most {tile_bytes:,} B each); "
            f"the tensor-core engine times every instruction and simulates at most "
            f"{MAX_TILES:,} tiles per run", field=worst.name,
            fix="simulate a smaller input or batch, or the workload on an analytic kind "
                "(systolic)")
