"""Step 5 of the compiler: program order from integer sequence numbers.

Every resource (core, bridge port, SRAM bank, DRAM, vector unit) serves its ops in program order,
as in a statically scheduled NPU, so the order decides the overlap. Each op gets a sequence
number `seq` (an integer, in ticks):

* Passes are software-pipelined by tile step. A step is `TICKS_PER_STEP` ticks; the op kinds of
  step t sit at fixed phases around t's slot: DMA loads two steps ahead of the compute that uses
  them (`LOAD_*`), routes into the core buffers one step ahead (`ROUTE_*`), then the compute,
  the route out and the DMA store (docs/models/tensorcore.md §3, step 5).
* An op is placed at least one tick after each of its dependencies and not below the current
  floor (`ProgramOrder.floor`): a barrier raises the floor so that later ops sort after it.
* The program order sorts ops by (seq, emission index). Because every op's seq exceeds its
  dependencies', the order is a topological order of the dependency graph, so the in-order
  resources cannot deadlock.

With 1000 ticks per step and a one-tick push past a dependency, this is the order the compiler
produced with fractional float keys before (step 1.0, push 0.001, phases at multiples of 0.05
steps), computed exactly: where rounding error had broken an exact tie, emission order now does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from operator import attrgetter

from simulator.kinds.tensorcore.ops import Op

#: ticks in one tile step of the software pipeline
TICKS_PER_STEP = 1000

# Phases of tile step t, in ticks from t's slot (t * TICKS_PER_STEP + the pass's start).
#: route of an input block (one step ahead of its compute)
ROUTE_INPUT = -900
#: route of a weight block
ROUTE_WEIGHTS = -850
#: route of a fused add/mul's other operand
ROUTE_EXTRA = -800
#: the compute (a core tile or a vector-unit tile)
COMPUTE = 200
#: the route of the finished tile back to the shared SRAM
ROUTE_OUT = 300

# Offsets from the op a transfer serves.
#: a DMA load from DRAM, one step before the route it feeds (two before the compute)
LOAD_BEFORE_ROUTE = -TICKS_PER_STEP
#: a DMA store to DRAM after the route out it follows
STORE_AFTER_ROUTE = 100
#: host fallback: the host reads a tile one step ahead of the compute slot ...
HOST_READ = -TICKS_PER_STEP
#: ... after a DMA store half a step earlier when the tensor sits in SRAM
SPILL_BEFORE_HOST_READ = -500
#: a reload into SRAM after the host writes a tile of a tensor kept in SRAM
RELOAD_AFTER_HOST_WRITE = 100


def step_seq(start: int, step: int, phase: int = 0) -> int:
    """Sequence number of `phase` in tile step `step` of a pass that starts at `start`."""
    return start + step * TICKS_PER_STEP + phase


@dataclass
class ProgramOrder:
    """Assigns sequence numbers while ops are emitted (module docstring)."""

    #: no op is placed below the floor (raised by barriers and, in pipeline placement, to the
    #: first compute of the unit just emitted)
    floor: int = 0

    def place(self, requested: int, dep_seqs: Iterable[int]) -> int:
        """The seq of an op asked for at `requested` with dependencies at `dep_seqs`."""
        seq = requested
        for d in dep_seqs:
            if d + 1 > seq:
                seq = d + 1
        return max(seq, self.floor)


def program_order(ops: list[Op]) -> list[Op]:
    """The ops in program order: by sequence number, ties in emission order."""
    return sorted(ops, key=attrgetter("seq", "id"))
