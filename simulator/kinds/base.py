"""The engine seam: every architecture kind implements `Engine`.

An engine is a pure model: given its arch (and the effective precision) it turns a resolved
workload into `LayerResult`s. It never reads files or prints. Network-level effects (activations
kept on chip between layers, layer pipelining) are the engine's business, which is why the unit
of work is the whole workload rather than one layer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from simulator.core.arch import ArchBase, Precision
from simulator.core.energy import EnergyTable
from simulator.io.tables import energy_table_for
from simulator.core.results import LayerResult
from simulator.core.workload import Workload


class Engine(ABC):
    """Base class of the systolic, sparse and tensor-core engines."""

    kind: str = ""

    def __init__(self, arch: ArchBase, precision: Precision | None = None,
                 energy: EnergyTable | None = None) -> None:
        self.arch = arch
        self.precision = precision or arch.precision
        self.energy = energy or energy_table_for(arch)
        self.trace_enabled = False

    @abstractmethod
    def peak_macs_per_cycle(self) -> float:
        """MACs per cycle at full utilization for the effective precision."""

    @abstractmethod
    def simulate(self, workload: Workload) -> list[LayerResult]:
        """One `LayerResult` per workload layer, in order. Roofline fields are filled later."""

    def assumptions(self) -> list[str]:
        """Plain-language modelling assumptions, shown in reports."""
        return []

    def warnings(self) -> list[str]:
        """Warnings gathered during the last `simulate` call."""
        return []

    def trace_events(self) -> list[dict] | None:
        """Chrome trace events of the last run when `trace_enabled` (None: not supported)."""
        return None

    def sram_bytes_per_s(self) -> float | None:
        """Aggregate on-chip SRAM bandwidth, for the SRAM roof (None if not modelled)."""
        return None

    def engine_totals(self) -> dict[str, float]:
        """Run-level engine-specific figures of the last `simulate` call that are not sums
        over layers (units in the key names); copied into `RunResult.totals.engine_totals`."""
        return {}


def engine_for(arch: ArchBase, precision: Precision | None = None) -> Engine:
    """Instantiate the engine for an arch's `kind` (imported lazily: each engine is optional)."""
    if arch.kind == "systolic":
        from simulator.kinds.systolic.engine import SystolicEngine
        return SystolicEngine(arch, precision)
    if arch.kind == "sparse":
        from simulator.kinds.sparse.engine import SparseEngine
        return SparseEngine(arch, precision)
    if arch.kind == "tensorcore":
        from simulator.kinds.tensorcore.engine import TensorCoreEngine
        return TensorCoreEngine(arch, precision)
    raise ValueError(f"no engine for arch kind {arch.kind!r}")
