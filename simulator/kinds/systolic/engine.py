"""Systolic-array engine (SCALE-Sim compute model + SRAM tiling, DRAM stalls, TPUv1 specifics).

`SystolicEngine.run` simulates the workload with `SystolicModel` (model.py: residency, mapping,
tiling, stalls and action counts per layer) and, on a unified buffer whose activations spill,
chooses the sub-batches with the least DRAM traffic. Formulas and assumptions: docs/models.md
(sections 2 and 3).
"""

from __future__ import annotations

from simulator.core.workload import Workload, workload_from_dict
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.model import BatchRun, SystolicModel


class SystolicEngine(Engine):
    """TPUv1-style (unified buffer) or SCALE-Sim-style (split SRAMs) systolic array."""

    kind = "systolic"

    def __init__(self, arch: SystolicArch) -> None:
        if not isinstance(arch, SystolicArch):
            raise TypeError("SystolicEngine needs a SystolicArch")
        super().__init__(arch)
        self.arch: SystolicArch = arch

    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Simulate the workload; on a unified buffer, run the batch in the sub-batches (equal
        divisors of the batch) with the least DRAM traffic, as a TPU compiler would when a
        batch's activations do not fit on chip: each sub-batch re-streams the weights, but
        keeps its activations in the unified buffer. Choosing by traffic (ties: cycles) keeps
        the choice independent of DRAM bandwidth, and traffic only falls as the buffer grows."""
        model = SystolicModel(self.arch, options.precision)
        best = model.simulate_batch(workload)
        if (self.arch.memory.style == "unified" and workload.batch > 1
                and model.spills_activations(workload)):
            best_cost = best.cost
            data = workload.model_dump(exclude_none=True)
            for sub in range(1, workload.batch):
                if workload.batch % sub:
                    continue
                part = model.simulate_batch(workload_from_dict({**data, "batch": sub},
                                                               workload.source or "<workload>"))
                repeated = part.repeated(workload.batch // sub)
                if repeated.cost < best_cost:
                    best, best_cost = repeated, repeated.cost
        return self._engine_run(model, best)

    def run_whole_batch(self, workload: Workload, options: RunOptions) -> EngineRun:
        """The whole batch at once, without the sub-batch search (the fixed schedule `run`
        compares its sub-batch splits against)."""
        model = SystolicModel(self.arch, options.precision)
        return self._engine_run(model, model.simulate_batch(workload))

    def _engine_run(self, model: SystolicModel, batch: BatchRun) -> EngineRun:
        return EngineRun(
            layers=tuple(batch.layers), counts=tuple(batch.counts),
            peak_macs_per_cycle=model.peak_macs_per_cycle,
            warnings=tuple(dict.fromkeys((*model.warnings, *batch.warnings))),
            assumptions=tuple(self._assumptions(model)))

    def _assumptions(self, model: SystolicModel) -> list[str]:
        a = self.arch
        mem = a.memory
        out = [
            "GEMM lowering (im2col): M = N*Ho*Wo, K = R*S*C/groups, N = filters/groups; grouped "
            "and depthwise convs run one GEMM per group, one after another.",
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
                       "(first fit over layer lifetimes); the network input, network outputs and "
                       "spilled tensors are DRAM traffic. Weights always stream from DRAM "
                       "through the weight FIFO; partial sums never leave the accumulators. "
                       "When a batch's activations spill, the batch runs in the equal "
                       "sub-batches with the least DRAM traffic (weights re-streamed per "
                       "sub-batch; layers report the sum and `sub_batches`).")
        else:
            out.append("Split SRAMs (SCALE-Sim style): every layer reads its inputs and weights "
                       "from DRAM and writes its outputs back.")
        out += [
            "DRAM tiling picks the tile sizes and loop order with the least traffic for the "
            f"buffers ({'double-buffered: a tile may use half a buffer' if mem.double_buffered else 'single-buffered'}); "
            "an M tile of a conv re-fetches its halo rows.",
            "Double buffering: a tile's DRAM transfer overlaps the previous tile's compute; the "
            "excess is stall 'dram_bandwidth'; the first transfer and one DRAM latency per layer "
            "are exposed.",
            f"Vector unit: {a.vector_rate:g} element operations per cycle for pooling, "
            "element-wise and activation layers; fused activations overlap the array.",
            f"Precision {model.precision.label}: MAC rate / {model.slowdown} relative to the "
            f"native {a.precision.label}; bytes moved at operand widths; partial sums at "
            f"{model.precision.accumulator_bits} bits.",
            "Register energy per MAC: one activation-register, one weight-register and one "
            "partial-sum-register access at their widths.",
        ]
        return out
