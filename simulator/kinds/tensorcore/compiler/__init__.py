"""Tensor-core compiler: workload -> instruction stream (DMA, route, compute, vector ops).

`compile_program(arch, precision, workload) -> Program` runs the steps below, one module each;
each step is a function with a typed result that can be used and tested alone
(docs/models/tensorcore.md §3 gives the rules in prose):

1. **Units** (`units.build_units -> UnitPlan`). Layers are grouped into compile units: a
   conv/linear head absorbs the following layers the core lists in `fusable_post_ops` when each
   is the only consumer of the previous one (`compiler.fusion`); an inline `activation:` the
   core cannot apply becomes a separate pass; non-MAC layers run on a core when it hard-wires
   them, else on the vector unit; views (`is_view`: concat, flatten, reshape, slice, expand)
   move no data.
2. **Allocation** (`allocation.make_tensors`, `allocation.SpillAllocator`). Each unit's output
   tensor stays in the shared SRAM when, over its lifetime, the live tensors fit next to the
   weight staging area and the resident weights; else it lives in DRAM (greedy interval
   allocation in production order). The network input and final output are in DRAM.
   **Weight residency** (`residency.plan_residency -> ResidencyPlan`,
   `compiler.weight_residency`): `stream` loads every weight from DRAM every run; `resident`
   keeps the units' weights that pay off in the shared SRAM, loaded once with the model, chosen
   greedily by DRAM bytes saved per SRAM byte against the activation spill they cause (byte
   counts from a streaming compile; `spill_search` re-evaluates the allocation per candidate
   only where its decisions change).
3. **Tiling** (`tiling.choose_tiling -> Tiling`, `tiling.tile_steps`). Tiles fit one slot of
   each core buffer; the loop order and channel tile that route the fewest bytes win; oversized
   layers split the reduction and the channel tile rather than being rejected.
4. **Placement** (`placement.unit_cores`, `placement.core_shares -> CoreShare`). `split`:
   every unit across all cores (by output channels or rows) with a barrier between units;
   `pipeline`: units round-robin over the cores, overlapped by row dependencies.
5. **Program order and op emission** (`order`, `emitter`, `mac_pass`, `lstm`,
   `elementwise`). Each op gets an integer sequence number (software-pipelined by tile step:
   loads two steps ahead, routes one step ahead), at least one tick after its dependencies;
   sorting by (sequence number, emission index) is the program order, a topological order of
   the dependency graph, which every resource obeys.

`target.Target` holds the arch figures the steps share; `macspec.MacSpec` is a MAC layer in the
compiler's terms (the array mapping and its closed-form cycles).
"""

from simulator.kinds.tensorcore.compiler.allocation import SpillAllocator, Tensor
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.program import Program, compile_program
from simulator.kinds.tensorcore.compiler.residency import ResidencyPlan, plan_residency
from simulator.kinds.tensorcore.compiler.tiling import Tiling, choose_tiling
from simulator.kinds.tensorcore.compiler.units import Unit, UnitPlan, build_units, op_name

__all__ = ["MacSpec", "Program", "ResidencyPlan", "SpillAllocator", "Tensor", "Tiling", "Unit",
           "UnitPlan", "build_units", "choose_tiling", "compile_program", "op_name",
           "plan_residency"]
