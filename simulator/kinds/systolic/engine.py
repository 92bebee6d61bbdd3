"""Systolic-array engine (SCALE-Sim compute model + SRAM tiling, DRAM stalls, TPUv1 specifics).

`SystolicEngine.run` simulates the workload with `SystolicModel` (model.py: residency, mapping,
tiling, stalls and action counts per layer) and, on a unified buffer whose activations spill,
chooses the sub-batches that minimise the run's objective. Formulas and assumptions:
docs/models.md (sections 2 and 3).
"""

from __future__ import annotations

from simulator.core.energy import Pricer
from simulator.core.errors import NpusimError
from simulator.core.explain import KindExplanation, formula
from simulator.core.workload import Workload, workload_from_dict
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.mapper import LATENCY_TOLERANCE
from simulator.kinds.systolic.model import BatchRun, SystolicModel

#: prime factors looked for when listing a batch's divisors (a batch with a larger prime factor
#: still runs; its sub-batch choice just does not consider splits by that factor)
FACTOR_LIMIT = 1 << 16
#: sub-batch sizes simulated at most, besides the whole batch (the largest that keeps every
#: activation on chip and the next larger ones)
SUB_BATCH_CANDIDATES = 4
_FIELD_QUANTITIES = ("cycles", "compute_cycles", "stall_cycles", "dram_read_bytes",
                     "dram_write_bytes", "sram_read_bytes", "sram_write_bytes")


def divisors(n: int) -> list[int]:
    """Divisors of n from its prime factors below FACTOR_LIMIT, the rest of n kept as one factor
    (ascending; exact when at most one prime factor exceeds the limit); bounded work whatever
    n is."""
    factors: dict[int, int] = {}
    rest, p = n, 2
    while p * p <= rest and p < FACTOR_LIMIT:
        while rest % p == 0:
            factors[p] = factors.get(p, 0) + 1
            rest //= p
        p += 1 if p == 2 else 2
    if rest > 1:  # prime, or a product of factors above the limit: kept whole
        factors[rest] = factors.get(rest, 0) + 1
    out = [1]
    for prime, power in factors.items():
        out = [d * prime ** e for d in out for e in range(power + 1)]
    return sorted(d for d in set(out) if n % d == 0)


class SystolicEngine(Engine):
    """TPUv1-style (unified buffer) or SCALE-Sim-style (split SRAMs) systolic array."""

    kind = "systolic"

    def __init__(self, arch: SystolicArch) -> None:
        if not isinstance(arch, SystolicArch):
            raise TypeError("SystolicEngine needs a SystolicArch")
        super().__init__(arch)
        self.arch: SystolicArch = arch

    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Simulate the workload; on a unified buffer whose activations spill at the full batch,
        run it in the equal sub-batches that minimise the objective, as a TPU compiler would:
        each sub-batch re-streams the weights but keeps its activations in the unified buffer.
        Candidates: the largest divisor of the batch at which nothing spills and the next
        larger divisors (at most SUB_BATCH_CANDIDATES); a user's `sub_batch` override wins."""
        model = SystolicModel(self.arch, options)
        self._check_mapping_names(workload, options)
        sub = model.sub_batch_override
        if sub is not None:
            if workload.batch % sub:
                raise NpusimError(f"sub_batch {sub} does not divide the batch {workload.batch}",
                                  field="mapping.<layer>.sub_batch",
                                  fix=f"use one of {divisors(workload.batch)[:8]}")
            best = self._sub_run(model, workload, sub)
            return self._engine_run(model, best, workload.batch // sub, sub)
        runs = {workload.batch: model.simulate_batch(workload)}
        if (self.arch.memory.style == "unified" and workload.batch > 1
                and model.spills_activations(workload)):
            for sub in self._candidates(model, workload):
                runs[sub] = self._sub_run(model, workload, sub)
        best_sub = self._best(model, runs, workload.batch)
        return self._engine_run(model, runs[best_sub], workload.batch // best_sub, best_sub)

    def run_whole_batch(self, workload: Workload, options: RunOptions) -> EngineRun:
        """The whole batch at once, without the sub-batch search (the fixed schedule `run`
        compares its sub-batch splits against)."""
        model = SystolicModel(self.arch, options)
        return self._engine_run(model, model.simulate_batch(workload), 1, workload.batch)

    # ---- sub-batches ----------------------------------------------------------------------
    def _candidates(self, model: SystolicModel, workload: Workload) -> list[int]:
        batch = workload.batch
        smaller = [d for d in divisors(batch) if d < batch]
        fitting = [d for d in smaller if not model.spills_activations(workload, d / batch)]
        start = fitting[-1] if fitting else smaller[0]
        above = [d for d in smaller if d >= start]
        return above[:SUB_BATCH_CANDIDATES]

    @staticmethod
    def _sub_run(model: SystolicModel, workload: Workload, sub: int) -> BatchRun:
        if sub == workload.batch:
            return model.simulate_batch(workload)
        data = workload.model_dump(exclude_none=True)
        part = workload_from_dict({**data, "batch": sub}, workload.source or "<workload>")
        return model.simulate_batch(part)

    @staticmethod
    def _best(model: SystolicModel, runs: dict[int, BatchRun], batch: int) -> int:
        """The sub-batch size whose runs minimise the objective (the whole batch on ties);
        latency: within LATENCY_TOLERANCE of the fastest, the least DRAM traffic."""
        objective = model.objective
        figures = {}
        pricer = Pricer(model.options.energy) if model.priced else None
        for sub, run in runs.items():
            times = batch // sub
            cycles, dram = run.cycles * times, run.dram_bytes * times
            energy = (times * sum(pricer.total_pj(c.actions) for c in run.counts)
                      if pricer else 0.0)
            figures[sub] = (cycles, dram, energy)
        if objective == "latency":
            fastest = min(f[0] for f in figures.values())
            near = [s for s, f in figures.items() if f[0] <= fastest * (1 + LATENCY_TOLERANCE)]
            return min(near, key=lambda s: (figures[s][1], figures[s][0], -s))
        if objective == "dram":
            key = lambda s: (figures[s][1], figures[s][0], -s)  # noqa: E731
        elif objective == "energy":
            key = lambda s: (figures[s][2], figures[s][0], -s)  # noqa: E731
        else:
            key = lambda s: (figures[s][2] * figures[s][0], figures[s][0], -s)  # noqa: E731
        return min(figures, key=key)

    @staticmethod
    def _check_mapping_names(workload: Workload, options: RunOptions) -> None:
        names = {layer.name for layer in workload.layers}
        for name, values in options.mapping.items():
            if name not in names:
                raise NpusimError(f"mapping override for {name!r}: no such layer in "
                                  f"{workload.name}", field=f"mapping.{name}",
                                  fix="use a layer name of the workload")
            if not isinstance(values, dict):
                raise NpusimError(f"mapping override for {name!r} is not a mapping of keys",
                                  field=f"mapping.{name}", fix="give e.g. {tile_m: 256}")

    # ---- the run --------------------------------------------------------------------------
    def _engine_run(self, model: SystolicModel, batch: BatchRun, times: int,
                    sub: int) -> EngineRun:
        run = batch.repeated(times) if times > 1 else batch
        # the chosen run's layer results are this run's own (built by simulate_batch or
        # copied by `repeated`, each with its own extras): the sub-batch joins each mapping
        # in place (a new dict where the old one was, so its key keeps its place)
        layers = run.layers
        for r in layers:
            extra = r.__pydantic_extra__
            mapping = extra.get("mapping") if extra else None
            if mapping is not None:
                extra["mapping"] = {**mapping, "sub_batch": sub}
                r.__pydantic_fields_set__.add("mapping")
        explanations = {}
        for name, ex in batch.explanations.items():
            explanations[name] = _per_run(ex, times, sub) if times > 1 else ex
        peak = model.max_peak
        warnings = (*model.warnings, *run.warnings, *model.unused_warnings())
        return EngineRun(
            layers=tuple(layers), counts=tuple(run.counts), peak_macs_per_cycle=peak,
            warnings=tuple(dict.fromkeys(warnings)),
            assumptions=tuple(self._assumptions(model)), explanations=explanations,
            copy_of=run.copy_of)

    def _assumptions(self, model: SystolicModel) -> list[str]:
        a = self.arch
        mem = a.memory
        out = [
            "GEMM lowering (im2col): M = N*Ho*Wo, K = R*S*C/groups, N = filters/groups; grouped "
            "and depthwise convs run one GEMM per group, one after another; activation x "
            "activation matmuls (attention) one per sample and head, both operands from "
            "on-chip activations.",
            f"Mapping {a.array.dataflow.upper()} on {a.array.rows}x{a.array.cols} with "
            "SCALE-Sim's conventions (Samajdar et al., ISPASS 2020): folds = ceil(Sr/rows) * "
            "ceil(Sc/cols).",
        ]
        if a.array.pipelined_folds:
            out.append(f"Folds are pipelined (TPUv1): a fold costs max(streamed rows, "
                       f"{a.shift_cycles}-cycle stationary-tile shift); fill/drain skew "
                       "(rows + cols - 2) once per GEMM; the first shift is exposed.")
        else:
            out.append("Every fold pays SCALE-Sim's fill/drain skew and (WS/IS) preload: "
                       "os T+rows+cols-2, ws/is T+2*rows+cols-2 cycles; splitting the streamed "
                       "dimension into DRAM tiles repeats it (stall 'tiling_fill_drain').")
        if mem.style == "unified":
            out.append("Activations stay in the unified buffer while the live tensors fit "
                       "(first fit over layer lifetimes), KV caches while they fit next to the "
                       "peak live activations; the network input, network outputs and spilled "
                       "tensors are DRAM traffic. Weights always stream from DRAM through the "
                       "weight FIFO; partial sums never leave the accumulators. When a batch's "
                       "activations spill, the batch runs in the equal sub-batches that "
                       "minimise the objective (weights re-streamed per sub-batch; layers "
                       "report the sum and `sub_batches`).")
        else:
            out.append("Split SRAMs (SCALE-Sim style): every layer reads its inputs and weights "
                       "from DRAM and writes its outputs back.")
        buffers = ("double-buffered: a tile may use half a buffer" if mem.double_buffered
                   else "single-buffered")
        out += [
            f"Mapping objective {model.objective}: tile sizes and loop order minimise it over "
            f"every candidate ({buffers}); an M tile of a conv re-fetches its halo rows; "
            "each layer's choice is its `mapping` field (override with RunOptions.mapping).",
            "Double buffering: a tile's DRAM transfer overlaps the previous tile's compute; the "
            "excess is stall 'dram_bandwidth'; the first transfer and one DRAM latency per layer "
            "are exposed.",
            f"Vector unit: {a.vector_rate:g} element operations per cycle for pooling, "
            "element-wise, normalisation and activation layers. Hard-wired activations ("
            f"{', '.join(a.hardwired_activations) or 'none'}) are free in the output path; "
            "others run after the array at their cost per element (stall 'vector_unit').",
            f"Precision {model.precision.label}: MAC rate x {model.rate.rate:g} relative to the "
            f"native {a.precision.label} ({'mac_rates' if a.mac_rates is not None else 'the TPUv1 rule'}); "
            "bytes moved at operand widths (per layer where quantized); partial sums at "
            f"{model.precision.accumulator_bits} bits.",
            "Register energy per MAC: one activation-register, one weight-register and one "
            "partial-sum-register access at their widths.",
        ]
        return out


def _per_run(ex: KindExplanation, times: int, sub: int) -> KindExplanation:
    """A sub-batch's explanation for a layer whose figures are summed over `times` sub-batches:
    each field formula becomes per sub-batch, and the field is `times` x it."""
    formulas = []
    extra = []
    for f in ex.formulas:
        if f.quantity in _FIELD_QUANTITIES:
            per = f.quantity + "_per_sub_batch"
            formulas.append(f.model_copy(update={"quantity": per}))
            extra.append(formula(f.quantity, f"sub_batches * {per}", f.unit, sub_batches=times,
                                 **{per: f.value}))
        else:
            formulas.append(f)
    mapping = [*ex.mapping, f"the batch runs as {times} sub-batches of {sub} (activations stay "
               "on chip; weights re-streamed per sub-batch)"]
    return KindExplanation(mapping=mapping, formulas=formulas + extra, notes=list(ex.notes))
