"""One run of the systolic model: which activations (and KV caches) stay on chip (residency.py),
and each layer's cycles, bytes and counted actions (engine.py chooses the sub-batches and
returns the run).

Per layer:
1. Lower to GEMMs (`layer.gemms()`), map each to the array with SCALE-Sim's conventions
   (mapping.py): compute cycles equal SCALE-Sim's for split-SRAM arrays. With
   `array.pipelined_folds` (TPUv1) folds stream back to back and the next stationary tile
   shifts in behind the current fold.
2. Tile the GEMM for the real buffers, choosing tile sizes and loop order for the run's
   objective (tiling.py: candidates in closed form; mapper.py: the choice), with per-operand
   reuse and double-buffered transfers turned into stall cycles (gemm.py).
3. Vector work: layers without MACs, fused activations the output path does not hard-wire,
   Winograd transforms, layouts (vector.py).
4. Count MAC, register, SRAM (per buffer and operand), DRAM and vector actions; the energy
   table prices them later (`simulator.core.energy`); accounting.py turns tallies into results.
Formulas and assumptions: docs/models.md (sections 2 and 3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from simulator.core.actions import LayerCounts
from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.explain import KindExplanation
from simulator.core.layer_base import LayerBase
from simulator.core.results import LayerResult, copy_layer
from simulator.core.workload import Workload
from simulator.kinds.base import RunOptions
from simulator.kinds.systolic.accounting import LayerCost, finish
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.compression import UNUSED_TEXT, LayerCompression, layer_compression
from simulator.kinds.systolic.gemm import (
    complete_gemm_layer,
    gemm_setup,
    prepare_gemm_layer,
    validate_override,
)
from simulator.kinds.systolic.mapper import OBJECTIVES, Prices, choose_many
from simulator.kinds.systolic.precision import Rate, layer_precision, layer_rate, run_rate
from simulator.kinds.systolic.repeats import repeat_key
from simulator.kinds.systolic.residency import LayerPlan, workload_residency
from simulator.kinds.systolic.vector import cost_vector_layer, vector_layer_work


@dataclass(frozen=True)
class BatchRun:
    """The layers of one (sub-)batch, their counted actions, warnings and explanations;
    `copy_of` maps a layer that repeats an earlier one to it (`EngineRun.copy_of`)."""

    layers: list[LayerResult]
    counts: list[LayerCounts]
    warnings: list[str]
    explanations: dict[str, KindExplanation] = field(default_factory=dict)
    copy_of: dict[int, int] = field(default_factory=dict)

    def repeated(self, times: int) -> "BatchRun":
        """The same batch run `times` times back to back (sub-batches)."""
        layers: list[LayerResult] = []
        counts: list[LayerCounts] = []
        for i, (result, count) in enumerate(zip(self.layers, self.counts)):
            j = self.copy_of.get(i)
            if j is None:
                layers.append(_repeat(result, times))
                counts.append(count.scaled(times))
            else:
                layers.append(copy_layer(layers[j], {"name": result.name}))
                counts.append(counts[j])
        return BatchRun(layers, counts, self.warnings, self.explanations, self.copy_of)

    @property
    def cycles(self) -> int:
        return sum(r.cycles for r in self.layers)

    @property
    def dram_bytes(self) -> int:
        return sum(r.dram_read_bytes + r.dram_write_bytes for r in self.layers)


class SystolicModel:
    """The systolic model for one arch and one run's options. Built per run; `simulate_batch`
    keeps nothing between calls but warnings (returned in the `BatchRun`)."""

    def __init__(self, arch: SystolicArch, options: RunOptions) -> None:
        self.arch = arch
        self.options = options
        self.precision = precision = options.precision
        self.rate, warnings = run_rate(arch, precision)
        self.warnings: tuple[str, ...] = tuple(warnings)
        objective = options.objective or arch.mapping_objective
        if objective not in OBJECTIVES:
            raise NpusimError(f"unknown mapping objective {objective!r}", field="objective",
                              fix=f"use one of {', '.join(OBJECTIVES)}")
        self.objective = objective
        self.priced = objective in ("energy", "edp")
        if self.priced and options.energy is None:
            raise NpusimError(f"the {objective} objective needs the run's energy table",
                              field="objective", fix="run through simulator.api, or pass "
                              "RunOptions(energy=...)")
        mem = arch.memory
        rows, cols = arch.array.rows, arch.array.cols
        sizes = {"unified_buffer": mem.unified_buffer_bytes, "accumulators": mem.accumulator_bytes,
                 "weight_fifo": (mem.weight_fifo_tiles or 0) * rows * cols
                 * precision.weight_bits / 8,
                 "ifmap_sram": mem.ifmap_sram_bytes, "filter_sram": mem.filter_sram_bytes,
                 "ofmap_sram": mem.ofmap_sram_bytes}
        #: buffer sizes in bytes (the energy of an access depends on the size)
        self.buffer_bytes = {k: float(v) for k, v in sizes.items() if v}
        self.pipelined = arch.array.pipelined_folds
        #: what every MAC layer reads from the arch (gemm.py)
        self.setup = gemm_setup(arch)
        self.peak_macs_per_cycle = rows * cols * self.rate.rate
        #: the fastest layer's peak (a layer quantized to a faster datapath than the run's)
        self.max_peak = self.peak_macs_per_cycle
        self.bytes_per_cycle = arch.dram_bytes_per_cycle
        self.latency_cycles = arch.dram.latency_ns * 1e-9 * arch.clock_hz
        #: this batch's warnings and unusable requests, by the index of the layer they are about
        self._batch_warnings: list[tuple[int, str]] = []
        self._batch_unused: list[tuple[int, str, str]] = []
        self._at = 0
        self._unused: dict[str, list[str]] = {}
        self._compression: dict[tuple[str, int], LayerCompression] = {}
        self._prices: dict[tuple, Prices] = {}
        self.sub_batch_override = self._sub_batch_override()

    # ---- per-layer helpers used by gemm.py ------------------------------------------------
    def warn(self, text: str) -> None:
        """A warning about the layer being costed (returned in the `BatchRun`)."""
        self._batch_warnings.append((self._at, text))

    def _note_unused(self, key: str, name: str) -> None:
        """Something layer `name` asks for that the chip cannot use (see `unused_warnings`)."""
        self._batch_unused.append((self._at, key, name))

    def layer_rate(self, layer: LayerBase, precision: Precision) -> Rate:
        rate, running_as = layer_rate(self.arch, precision, self.rate, self.precision)
        if running_as:
            self._note_unused(f"rate:{running_as}:{rate.datapath}", layer.name)
        return rate

    def compression(self, layer: LayerBase, weight_bits: int, elements: int) -> LayerCompression:
        if (layer.weight_density == 1 and layer.codebook_entries is None
                and layer.huffman is None and layer.activation_density == 1):
            return LayerCompression(elements * weight_bits / 8, 1.0, "dense", ())
        key = (layer.name, weight_bits, elements)
        comp = self._compression.get(key)
        if comp is None:
            comp = self._compression[key] = layer_compression(layer, self.arch, weight_bits,
                                                              elements)
        for unused in comp.unused:
            self._note_unused(unused, layer.name)
        return comp

    def override(self, layer: LayerBase, gemms: list) -> dict:
        values = self.options.mapping.get(layer.name)
        if not values:
            return {}
        a = self.arch.array
        return validate_override(layer, gemms, dict(values), a.rows, a.cols, a.dataflow)

    def prices(self, precision: Precision, gemm, unified: bool, act_b: bool,
               b_elem: float) -> Prices:
        """pJ per byte of each traffic role, and the fixed energy of one instance (for EDP)."""
        key = (precision.activation_bits, precision.weight_bits, precision.accumulator_bits,
               precision.number_format, unified, act_b, gemm.m * gemm.k * gemm.n)
        cached = self._prices.get(key)
        if cached is not None:
            return cached
        table = self.options.energy
        size = self.buffer_bytes
        per = table.sram_pj_per_byte
        if unified:
            roles = (size["unified_buffer"], size["unified_buffer"] if act_b
                     else size["weight_fifo"], size["accumulators"], size["unified_buffer"])
        else:
            roles = (size["ifmap_sram"], size["filter_sram"], size["ofmap_sram"],
                     size["ofmap_sram"])
        macs = gemm.m * gemm.k * gemm.n
        fixed = macs * (table.mac_pj(precision) + table.register_pj_per_bit * (
            precision.activation_bits + precision.weight_bits + precision.accumulator_bits))
        out = Prices(dram=table.dram_pj_per_byte, a_sram=per(roles[0]), b_sram=per(roles[1]),
                     c_sram=per(roles[2]), out_sram=per(roles[3]),
                     write_ratio=table.sram_write_to_read_ratio, fixed_pj=fixed)
        self._prices[key] = out
        return out

    def _sub_batch_override(self) -> int | None:
        values = {v["sub_batch"] for v in self.options.mapping.values()
                  if isinstance(v, dict) and "sub_batch" in v}
        if not values:
            return None
        if len(values) > 1:
            raise NpusimError(f"layers ask for different sub-batches {sorted(values)}",
                              field="mapping.<layer>.sub_batch",
                              fix="sub-batches are per run: give one value")
        (value,) = values
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NpusimError(f"sub_batch {value!r} is not a positive integer",
                              field="mapping.<layer>.sub_batch", fix="use a divisor of the batch")
        return value

    def unused_warnings(self) -> list[str]:
        """One line per compression (or precision) the chip cannot use, naming the layers."""
        out = []
        for key, names in self._unused.items():
            names = list(dict.fromkeys(names))
            shown = ", ".join(names[:4]) + (f", ... ({len(names)} layers)" if len(names) > 4
                                             else "")
            if key.startswith("rate:"):
                _, wanted, ran = key.split(":")
                out.append(f"{wanted} operands run on the {ran} MAC datapath of "
                           f"{self.arch.name} (no {wanted} in mac_rates): {shown}")
            else:
                out.append(f"{self.arch.name}: {UNUSED_TEXT[key]}: {shown}")
        return out

    # ---- the batch ---------------------------------------------------------------------------
    def spills_activations(self, workload: Workload, scale: float = 1.0) -> bool:
        """True when some intermediate activation does not stay in the unified buffer (at
        `scale` times the workload's batch: activation sizes are proportional to it)."""
        consumers = {name for layer in workload.layers for name in (layer.inputs or [])}
        names = [layer.name for layer in workload.layers]
        plan = self.residency(workload, scale)
        for i, lp in enumerate(plan):
            consumed = names[i] in consumers or (i + 1 < len(names)
                                                  and not workload.layers[i + 1].inputs
                                                  and workload.layers[i + 1].input is None)
            if lp.out_dram and consumed:
                return True
        return False

    def simulate_batch(self, workload: Workload) -> BatchRun:
        """Every layer of `workload` with the whole batch at once. MAC layers go in two phases:
        every GEMM's tiling problem first, then one ranking of all their candidates
        (`mapper.choose_many`), then the tallies. A layer equal to an earlier one in all that
        sets its figures (repeats.py) is copied from it, unless costing the earlier one left a
        warning or a note naming it (then it is costed too, so its name is in them as well)."""
        self._batch_warnings = []
        self._batch_unused = []
        layers = workload.layers
        n = len(layers)
        if self.setup.unified:
            plans = self.residency(workload)
        else:
            plans = [LayerPlan(tuple([True] * max(1, len(layer.input_shapes))), True, 0.0)
                     for layer in layers]
        explain = self.options.explain
        first: dict = {}
        copy_of: dict[int, int] = {}
        for i, (layer, plan) in enumerate(zip(layers, plans)):
            key = None if explain else repeat_key(layer, plan, self.options)
            if key is not None:
                copy_of[i] = first.setdefault(key, i)
        copy_of = {i: j for i, j in copy_of.items() if i != j}
        costs: list = [None] * n
        self._cost_layers(layers, plans, [i for i in range(n) if i not in copy_of], costs)
        noted = {i for i, _ in self._batch_warnings} | {i for i, *_ in self._batch_unused}
        redo = [i for i, j in copy_of.items() if j in noted]
        if redo:
            self._cost_layers(layers, plans, redo, costs)
            for i in redo:
                del copy_of[i]
        # warnings and notes in layer order, whatever order the layers were costed in
        for _, key, name in sorted(self._batch_unused, key=lambda entry: entry[0]):
            self._unused.setdefault(key, []).append(name)
        warnings = [text for _, text in sorted(self._batch_warnings, key=lambda entry: entry[0])]

        out: list[LayerResult] = []
        counts: list[LayerCounts] = []
        explanations = {}
        for i, layer in enumerate(layers):
            if i in copy_of:
                # layer j's figures under this layer's name, sharing j's dicts: simulator.api
                # gives the run's result its own copy (EngineRun.copy_of)
                out.append(copy_layer(out[copy_of[i]], {"name": layer.name}))
                counts.append(counts[copy_of[i]])  # immutable: shared
                continue
            cost = costs[i]
            result, count = finish(layer, cost, self.bytes_per_cycle, self.buffer_bytes)
            out.append(result)
            counts.append(count)
            if cost.explain is not None:
                explanations[layer.name] = cost.explain
        return BatchRun(out, counts, list(dict.fromkeys(warnings)), explanations, copy_of)

    def _cost_layers(self, layers: list[LayerBase], plans: list[LayerPlan], indices: list[int],
                     costs: list) -> None:
        """Tally the layers at `indices` into `costs[i]` (warnings and notes logged under i)."""
        explain = self.options.explain
        pending = []
        for i in indices:
            layer, lp = layers[i], plans[i]
            self._at = i
            precision = layer_precision(layer, self.precision)
            cost = LayerCost(precision=precision, peak_macs_per_cycle=self.peak_macs_per_cycle,
                             explain=KindExplanation() if explain else None)
            gemms = layer.gemms()
            if gemms:
                cost.shift = 0 if self.pipelined else 1
                work = prepare_gemm_layer(self, layer, cost, lp, gemms)
                self.max_peak = max(self.max_peak, cost.peak_macs_per_cycle)
                pending.append((i, layer, cost, lp, work))
            else:
                self._vector_layer(layer, cost, lp)
            costs[i] = cost
        choices = choose_many([job for *_, work in pending for job in work.jobs])
        at = 0
        for i, layer, cost, lp, work in pending:
            self._at = i
            count = len(work.jobs)
            complete_gemm_layer(self, layer, cost, lp, work, choices[at:at + count])
            at += count

    def _vector_layer(self, layer: LayerBase, cost: LayerCost, plan: LayerPlan) -> None:
        if self.options.mapping.get(layer.name):
            self.override(layer, [])
        setup = self.setup
        work = vector_layer_work(layer, setup.hardwired_activations)
        cost_vector_layer(
            layer, cost, work, rate=setup.vector_rate,
            a_bytes=cost.precision.activation_bits / 8, a_dram_flags=list(plan.a_dram_flags),
            out_dram=plan.out_dram, unified=setup.unified,
            bytes_per_cycle=self.bytes_per_cycle, latency_cycles=self.latency_cycles,
            weight_bytes=layer.operand_bytes(cost.precision)["weights"])

    # ---- unified-buffer residency ---------------------------------------------------------
    def residency(self, workload: Workload, scale: float = 1.0) -> list[LayerPlan]:
        """Which activation tensors and KV caches live in the unified buffer, at `scale` times
        the workload's batch (residency.py: Belady's rule for activations, KV caches in layer
        order next to the peak live activations)."""
        return workload_residency(workload.layers, self.precision,
                                  self.arch.memory.unified_buffer_bytes, scale)


_ADDITIVE = ("cycles", "compute_cycles", "stall_cycles", "macs", "ops",
             "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes")
_ADDITIVE_MAPS = ("stall_breakdown_cycles", "dram_bytes_by_operand", "sram_bytes_by_operand")


def _repeat(result: LayerResult, times: int) -> LayerResult:
    """A layer run `times` times back to back (sub-batches): additive figures multiply,
    ratios (utilization) and the mapping stay."""
    update: dict = {key: getattr(result, key) * times for key in _ADDITIVE}
    for key in _ADDITIVE_MAPS:
        update[key] = {k: v * times for k, v in getattr(result, key).items()}
    extra = dict(result.model_extra or {})
    if "scalesim_compute_cycles" in extra:
        extra["scalesim_compute_cycles"] = (extra["scalesim_compute_cycles"] + 1) * times - 1
    extra["sub_batches"] = times
    return copy_layer(result, {**update, **extra})
