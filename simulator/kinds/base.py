"""The engine seam: every kind of chip implements `Engine.run(workload, options) -> EngineRun`.

An engine is a pure model. Built once per arch (it may precompute arch constants), its `run`
turns a resolved workload into an `EngineRun` value: per-layer results with their cycles and
bytes, the counted actions of every layer (priced afterwards by `simulator.core.energy`),
warnings, run-level engine figures and, when asked, a trace. `run` reads no file, prints
nothing and leaves the engine as it found it: two runs with different options are independent.
Network-level effects (activations kept on chip between layers, layer pipelining) are the
engine's business, which is why the unit of work is the whole workload rather than one layer.

Engines are found through the kind registry
(`simulator.kinds.registry.get_kind(arch.kind).engine_class()`); this module imports none.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, ClassVar, Mapping

from simulator.core.actions import Action, LayerCounts
from simulator.core.arch import ArchBase, Precision
from simulator.core.energy import EnergyTable
from simulator.core.explain import KindExplanation
from simulator.core.results import LayerResult
from simulator.core.workload import Workload


def _empty() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class RunOptions:
    """How to run a workload (everything that is neither the arch nor the workload).

    precision: the operand precision of the run (the workload's quantization if it states one,
        else the arch's native one: `simulator.api.effective_precision`).
    trace: keep a Chrome trace-event timeline (engines that simulate events).
    weights: user weight matrices by layer name, as read at the edge by
        `simulator.io.weights.load_weight_files` (engines that model the actual matrix, the
        sparse one, use them; the others model dense weights and ignore them).
    energy: the run's price table, for an engine whose own choices are ranked by energy (a
        mapping objective of energy or EDP); energy figures themselves are priced after the
        run from the counted actions, never inside an engine.
    objective: what the engine's mapper minimises when it chooses tiles, loop orders and
        splits: `latency` (default), `energy`, `edp` (energy x delay) or `dram` (DRAM bytes).
        None: the arch's `mapping_objective`.
    mapping: user overrides of the chosen mapping, by layer name (keys are the kind's, as the
        engine reports them in each layer's `mapping` field); the engine validates them.
    explain: record, per layer, how it was mapped and the formulas behind its figures
        (`EngineRun.explanations`; simulator.core.explain).
    """

    precision: Precision
    trace: bool = False
    weights: Mapping[str, Any] = field(default_factory=_empty)
    energy: EnergyTable | None = None
    objective: str | None = None
    mapping: Mapping[str, Mapping[str, Any]] = field(default_factory=_empty)
    explain: bool = False

    def __post_init__(self) -> None:
        for name in ("weights", "mapping"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))


@dataclass(frozen=True)
class EngineRun:
    """What one `Engine.run` returns.

    layers: one `LayerResult` per workload layer, in order, with cycles, bytes and engine
        fields; energy and roofline fields are still empty (filled by `simulator.api`).
    counts: the counted actions of each layer (parallel to `layers`).
    warnings / assumptions: plain-language lines for the report.
    engine_totals: run-level engine figures that are not sums over layers, units in the names.
    priced_totals: run-level actions outside every layer (the tensor core's one-time weight
        preload); each is priced into `engine_totals["<name>_energy_pj"]`.
    trace: Chrome trace events when `RunOptions.trace` was set and the engine has events.
    peak_macs_per_cycle: MACs per cycle at full utilization for the run's precision.
    sram_bytes_per_s: aggregate on-chip SRAM bandwidth for the SRAM roof (None: not modelled).
    explanations: per layer name, how it was mapped and the formulas behind its figures, when
        `RunOptions.explain` was set (empty otherwise).
    span_cycles: the run's span when the engine overlaps layers (their per-layer cycles then
        sum to more; `totals.cycles` is the span, `totals.overlap_cycles` the difference);
        None when layers run one after another.
    copy_of: layer index i -> the index j < i of an earlier layer whose figures layer i
        repeats: `layers[i]` equals `layers[j]` but for its name (it may share dicts with it)
        and `counts[i]` is `counts[j]`, so `simulator.api` prices and annotates layer j once
        and gives layer i its own copy of the result. Empty: every layer stands alone.
    """

    layers: tuple[LayerResult, ...]
    counts: tuple[LayerCounts, ...]
    peak_macs_per_cycle: float
    warnings: tuple[str, ...] = ()
    assumptions: tuple[str, ...] = ()
    engine_totals: Mapping[str, float] = field(default_factory=_empty)
    priced_totals: Mapping[str, tuple[Action, ...]] = field(default_factory=_empty)
    trace: tuple[dict, ...] | None = None
    sram_bytes_per_s: float | None = None
    explanations: Mapping[str, KindExplanation] = field(default_factory=_empty)
    span_cycles: int | None = None
    copy_of: Mapping[int, int] = field(default_factory=_empty)

    def __post_init__(self) -> None:
        if len(self.layers) != len(self.counts):
            raise ValueError(f"{len(self.layers)} layer results but {len(self.counts)} "
                             "action counts")
        for i, j in self.copy_of.items():
            if not 0 <= j < i < len(self.layers) or self.counts[i] is not self.counts[j]:
                raise ValueError(f"layer {i} cannot be a copy of layer {j}")
        for name in ("engine_totals", "priced_totals", "explanations", "copy_of"):
            value = getattr(self, name)
            if not isinstance(value, MappingProxyType):
                object.__setattr__(self, name, MappingProxyType(dict(value)))


class Engine(ABC):
    """Base class of the systolic, sparse and tensor-core engines."""

    kind: ClassVar[str] = ""

    def __init__(self, arch: ArchBase) -> None:
        self.arch = arch

    @abstractmethod
    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Simulate `workload`; must not change the engine (no state between runs)."""
