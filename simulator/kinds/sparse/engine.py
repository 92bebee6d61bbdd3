"""EIE-style sparse engine: compressed FC and LSTM layers as sparse matrix x sparse vector.

Model (Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
ISCA 2016, Sec. III-IV; formulas and validation in docs/models/sparse.md):
- each FC / LSTM-gate / weight-matmul layer is a matrix W (N outputs x K inputs) times input
  vectors, one vector at a time (EIE is a batch-1 design);
- W is stored per PE in CSC with padding zeros (`sparse_csc`), built from the user's pruned
  weights or from a seeded Bernoulli matrix at the layer's weight density (`sparse_matrices`);
- only the non-zero activations are broadcast, and the PEs work through them behind activation
  queues of depth D (`sparse_queue`, an exact cycle recurrence, not an average);
- it counts actions (Spmat words, pointer reads, MACs with their codebook lookups, activation
  register/SRAM traffic, queue pushes/pops, DRAM if W does not fit) under EIE's power-breakdown
  components; `simulator.core.energy` prices them, and the dense baseline's actions the same way.

Conv layers are rejected (EIE runs FC/LSTM layers); layers without MACs (pooling, element-wise,
activations, flatten, LSTM gate math) are left to the host and cost no EIE cycles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

from simulator.core.actions import Action, DramAccess, LayerCounts, Macs, RegisterAccess, SramAccess
from simulator.core.arch import ArchBase, Precision
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer
from simulator.core.results import LayerResult
from simulator.core.workload import Workload
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.sparse.csc import (
    CscLayout,
    PointerPlacement,
    pointer_placement,
    words_spanned,
)
from simulator.kinds.sparse.layouts import dense_layout, random_layout, user_layout
from simulator.kinds.sparse.matrices import (
    codebook_error,
    layer_rng,
    matrix_values,
    random_activation_positions,
)
from simulator.kinds.sparse.queue import simulate_queues

#: Input vectors simulated per layer; more (batch > 8, long LSTM sequences) are extrapolated
#: from the mean of these, and the run says so in its warnings.
MAX_SIMULATED_VECTORS = 8


@dataclass
class SpmvCounts:
    """Counted actions of one or more matrix-vector products (all additive)."""

    cycles: int = 0
    theoretical_cycles: int = 0
    no_padding_cycles: int = 0
    queue_full_stall_cycles: int = 0
    busy_pe_cycles: int = 0          # sum over PEs of their busy cycles
    broadcasts: int = 0              # activations broadcast (summed over output batches)
    nnz_processed: int = 0           # useful MACs
    entries_processed: int = 0       # non-zeros + padding zeros worked through
    spmat_words: int = 0
    pointer_reads: int = 0           # (PE, broadcast) pairs: one lookup of both pointers
    pointer_sram_accesses: int = 0   # pointer-SRAM reads (2 per lookup unless spilled)
    pointer_spmat_words: int = 0     # Spmat words read for pointers spilled there
    source_sram_reads: int = 0
    dest_sram_writes: int = 0
    work_per_pe: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, other: "SpmvCounts") -> None:
        for f in fields(self):
            if f.name == "work_per_pe":
                mine = self.work_per_pe
                self.work_per_pe = other.work_per_pe.copy() if mine.size == 0 else mine + other.work_per_pe
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def scaled(self, factor: float) -> "SpmvCounts":
        out = SpmvCounts()
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "work_per_pe":
                out.work_per_pe = np.rint(value * factor).astype(np.int64)
            else:
                setattr(out, f.name, int(round(value * factor)))
        return out


@dataclass(frozen=True)
class SpmvJob:
    """One weight matrix of a layer and how many input vectors go through it."""

    rows: int                 # N, outputs
    cols: int                 # K, inputs
    matrices: int             # distinct matrices of this size (matmul `count`)
    vectors: int              # input vectors per matrix (batch x tokens / steps)


def _lower(layer: LayerBase, index: int) -> SpmvJob | None:
    """The matrix-vector work of a layer on EIE; None for host layers; an error for conv."""
    where = f"layers[{index}] ({layer.name})"
    if isinstance(layer, ConvLayer):
        raise NpusimError(f"conv layer {layer.name!r} cannot run on a sparse (EIE) arch: it runs "
                          "FC and LSTM layers only", field=where,
                          fix="simulate the conv layers on a systolic or tensorcore arch, or "
                              "give the sparse arch only the FC/LSTM part of the network")
    gemms = layer.gemms()
    if not gemms:
        return None
    if len(gemms) != 1:
        raise NpusimError(f"layer {layer.name!r} lowers to {len(gemms)} products; the sparse "
                          "engine handles one weight matrix per layer", field=where)
    gemm = gemms[0]
    if gemm.weights_are_activations:
        raise NpusimError(f"matmul {layer.name!r} multiplies two activations; EIE stores only "
                          "weight matrices", field=where,
                          fix="set weights: true if the K x N operand is a weight matrix")
    return SpmvJob(rows=gemm.n, cols=gemm.k, matrices=gemm.groups, vectors=gemm.m * gemm.steps)


class SparseEngine(Engine):
    """Han et al., EIE (ISCA 2016) as a cycle-level model of the broadcast and PE queues."""

    kind = "sparse"

    def __init__(self, arch: ArchBase) -> None:
        if not isinstance(arch, SparseArch):
            raise TypeError("SparseEngine needs a SparseArch")
        super().__init__(arch)
        self.arch: SparseArch = arch

    # ---- the Engine interface --------------------------------------------------------------
    def run(self, workload: Workload, options: RunOptions) -> EngineRun:
        """Every layer of `workload`; user matrices come from `options.weights` (by layer)."""
        warnings: list[str] = []
        layers = [self._layer(layer, i, options, warnings)
                  for i, layer in enumerate(workload.layers)]
        return EngineRun(
            layers=tuple(r for r, _ in layers), counts=tuple(c for _, c in layers),
            peak_macs_per_cycle=float(self.arch.pes), warnings=tuple(warnings),
            assumptions=tuple(self._assumptions()),
            # each PE reads one Spmat word per cycle at most
            sram_bytes_per_s=self.arch.pes * self.arch.spmat_word_bits / 8 * self.arch.clock_hz)

    def _assumptions(self) -> list[str]:
        a = self.arch
        return [
            f"EIE model (Han et al., ISCA 2016): {a.pes} PEs, row i on PE i mod {a.pes}; CSC "
            f"entries of {a.entry_bits} bits ({a.weight_index_bits}-bit codebook index + "
            f"{a.index_bits}-bit relative row index), a padding zero per {1 << a.index_bits} "
            "zeros in a run",
            f"only non-zero activations are broadcast, one per cycle; activation queues of depth "
            f"{a.queue_depth}; a PE works one entry per cycle and at least one cycle (the pointer "
            "read) per broadcast activation",
            "without a weights_file, W is random at the layer's weight_density, each row with its "
            f"own density (Gamma spread, coefficient of variation {a.row_density_cv:g}; 0 = "
            "Bernoulli), and the input has exactly round(activation_density x K) non-zeros "
            f"(seed {a.seed})",
            f"a PE accumulates {a.activation_registers} output rows at a time; more rows take "
            "extra passes over the input (output batches)",
            "conv layers are rejected; pooling, element-wise, activation and LSTM gate math run on "
            "the host (0 EIE cycles); weights stay in on-chip SRAM unless they do not fit",
            "energy is dynamic only (no leakage, LNZD or central control unit)",
        ]

    # ---- one layer -------------------------------------------------------------------------
    def _layer(self, layer: LayerBase, index: int, options: RunOptions,
               warnings: list[str]) -> tuple[LayerResult, LayerCounts]:
        job = _lower(layer, index)
        if job is None:
            return LayerResult(name=layer.name, type=layer.type, cycles=0, compute_cycles=0,
                               executed_on="host"), LayerCounts()
        arch = self.arch
        matrix = options.weights.get(layer.name)
        layouts: dict[int, CscLayout] = {}
        extra: dict[str, Any] = {}
        where = f"layers[{index}] ({layer.name})"
        if matrix is not None:
            shared = user_layout(matrix, job.rows, job.cols, layer.name, arch.pes,
                                 arch.index_bits, arch.activation_registers, where)
            extra["matrix_source"] = f"weights_file {layer.weights_file}"
            if arch.weight_sharing:
                extra.update(codebook_error(matrix_values(matrix), 1 << arch.weight_index_bits))
                extra["codebook_entries"] = 1 << arch.weight_index_bits
        else:
            shared = None
            extra["matrix_source"] = (f"random, weight_density with row_density_cv "
                                      f"{arch.row_density_cv:g}, seed {arch.seed}")

        pairs = [(m, v) for m in range(job.matrices) for v in range(job.vectors)]
        simulated = pairs[:MAX_SIMULATED_VECTORS]
        counts = SpmvCounts()
        dense_counts = SpmvCounts()
        dense = dense_layout(job.rows, job.cols, arch.pes, arch.activation_registers, where)
        dense_placement = self._placement(dense)
        placements: dict[int, PointerPlacement] = {}
        for m, v in simulated:
            if shared is not None:
                layout = shared
            elif m not in layouts:
                if layer.weight_density >= 1.0:
                    layouts[m] = dense
                else:
                    layouts[m] = random_layout(job.rows, job.cols, layer.weight_density,
                                               arch.row_density_cv, arch.seed, layer.name, 2 * m,
                                               arch.pes, arch.index_bits,
                                               arch.activation_registers, where)
                layout = layouts[m]
            else:
                layout = layouts[m]
            if m not in placements:
                placements[m] = self._placement(layout)
            active = random_activation_positions(
                job.cols, layer.activation_density, layer_rng(arch.seed, layer.name, 2 * v + 1))
            counts.add(self._spmv(layout, placements[m], active))
            dense_counts.add(self._spmv(dense, dense_placement, active))
        if len(pairs) > len(simulated):
            factor = len(pairs) / len(simulated)
            counts = counts.scaled(factor)
            dense_counts = dense_counts.scaled(factor)
            warnings.append(
                f"{layer.name}: simulated {len(simulated)} of {len(pairs)} matrix-vector products "
                "and scaled the counts to all of them")
        layout = shared if shared is not None else layouts[0]
        return self._result(layer, job, layout, counts, dense_counts, len(pairs),
                            len(simulated), extra, options.precision, warnings)

    def _spmv(self, layout: CscLayout, placement: PointerPlacement,
              active: np.ndarray) -> SpmvCounts:
        """Count one product of `layout` with a vector whose non-zeros sit at `active`.

        A PE's time for one broadcast column is the busiest of its three resources, which
        pipeline across columns: the arithmetic unit (one entry per cycle), the pointer SRAM
        (both pointers in one cycle with even/odd banks, two cycles with one bank) and the Spmat
        port (the words the entries span, plus the words of pointers spilled into Spmat);
        at least one cycle (every column reads two pointers from one of the two SRAMs).
        """
        a = self.arch
        entries = layout.entries[:, :, active]               # [batch, pe, T0]
        nnz = layout.nnz[:, :, active]
        words = words_spanned(layout.offset[:, :, active], entries, a.entries_per_word)
        broadcasts = layout.batches * active.size
        sram = placement.sram_reads[:, active][:, None, :]        # [batch, 1, T0]
        spill = placement.spmat_words[:, active][:, None, :]
        pointer_cycles = -(-sram // a.pointer_banks)
        work = np.maximum(np.maximum(entries, pointer_cycles), words + spill)
        sram_accesses = int(sram.sum()) * layout.pes
        spilled_words = int(spill.sum()) * layout.pes
        steps = np.moveaxis(work, 1, 2).reshape(-1, layout.pes)   # batches one after the other
        timing = simulate_queues(steps, a.queue_depth)
        total_entries = int(entries.sum())
        total_nnz = int(nnz.sum())
        source_in_sram = layout.cols > a.activation_registers * a.pes
        return SpmvCounts(
            cycles=timing.cycles,
            theoretical_cycles=math.ceil(total_entries / layout.pes),
            no_padding_cycles=math.ceil(total_nnz / layout.pes),
            queue_full_stall_cycles=timing.queue_full_stall_cycles,
            busy_pe_cycles=int(timing.busy_cycles_per_pe.sum()),
            broadcasts=broadcasts, nnz_processed=total_nnz, entries_processed=total_entries,
            spmat_words=int(words.sum()),
            pointer_reads=broadcasts * layout.pes,
            pointer_sram_accesses=sram_accesses, pointer_spmat_words=spilled_words,
            source_sram_reads=broadcasts if source_in_sram else 0,
            dest_sram_writes=layout.rows if layout.batches > 1 else 0,
            work_per_pe=timing.busy_cycles_per_pe)

    # ---- storage, energy and the result ----------------------------------------------------
    def _spilled_pointers(self, layout: CscLayout) -> tuple[int, int]:
        """(pointers beyond the pointer SRAM, Spmat bytes they take if packed there)."""
        a = self.arch
        spilled = max(0, layout.batches * (layout.cols + 1) - a.pointer_sram_capacity)
        words = -(-spilled // a.pointers_per_spmat_word)
        return spilled, words * (a.spmat_word_bits // 8)

    def _entry_bytes_per_pe(self, layout: CscLayout) -> np.ndarray:
        """Spmat bytes of each PE's entries (whole words)."""
        a = self.arch
        return -(-layout.entries_per_pe() // a.entries_per_word) * (a.spmat_word_bits // 8)

    def _pointers_in_spmat(self, layout: CscLayout) -> bool:
        """True when pointers overflow the pointer SRAM and the policy and free Spmat space
        allow keeping them in Spmat words after the entries."""
        spilled, spill_bytes = self._spilled_pointers(layout)
        return (spilled > 0 and self.arch.pointer_overflow == "spmat"
                and int(self._entry_bytes_per_pe(layout).max()) + spill_bytes
                <= self.arch.spmat_sram_bytes)

    def _placement(self, layout: CscLayout) -> PointerPlacement:
        """Where each column's pointers are read from. Pointers that overflow to DRAM stream
        into the pointer SRAM, so they are read at its pace, as if it held them all."""
        a = self.arch
        capacity = (a.pointer_sram_capacity if self._pointers_in_spmat(layout)
                    else layout.batches * (layout.cols + 1))
        return pointer_placement(layout.batches, layout.cols, capacity, a.pointers_per_spmat_word)

    def _storage(self, layout: CscLayout) -> dict[str, Any]:
        """Bytes each PE must hold, and whether that fits its SRAMs."""
        a = self.arch
        spmat_bytes = self._entry_bytes_per_pe(layout)
        pointer_bytes = layout.batches * (layout.cols + 1) * a.pointer_bits // 8
        in_spmat = self._pointers_in_spmat(layout)
        spill_bytes = self._spilled_pointers(layout)[1] if in_spmat else 0
        spmat_over = np.maximum(0, spmat_bytes - a.spmat_sram_bytes)
        pointer_over = 0 if in_spmat else max(0, pointer_bytes - a.pointer_sram_bytes)
        return {"spmat_bytes_per_pe_max": int(spmat_bytes.max()),
                "pointer_bytes_per_pe": int(pointer_bytes),
                "pointers_in_spmat_bytes_per_pe": int(spill_bytes),
                "fits_on_chip": bool(spmat_over.max() == 0 and pointer_over == 0),
                "overflow_bytes": int(spmat_over.sum() + pointer_over * layout.pes),
                "compressed_weight_bytes": int(spmat_bytes.sum() + pointer_bytes * layout.pes)}

    def _actions(self, c: SpmvCounts, cols: int, p: Precision) -> list[Action]:
        """The counted actions of `c` under EIE's power-breakdown components (Sec. VI)."""
        a = self.arch
        act_bits = p.activation_bits

        def spmat_words(component: str, words: int) -> SramAccess:
            return SramAccess(component=component, size_bytes=a.spmat_sram_bytes,
                              width_bits=a.spmat_word_bits,
                              read_bytes=words * (a.spmat_word_bits // 8))

        actions: list[Action] = [
            spmat_words("spmat_read", c.spmat_words),
            # both pointers of a column: one access per bank (two accesses of one bank if
            # unbanked); pointers spilled into Spmat cost a Spmat word read
            SramAccess(component="pointer_read", size_bytes=a.pointer_sram_bytes / a.pointer_banks,
                       width_bits=a.pointer_bits,
                       read_bytes=c.pointer_sram_accesses * a.pointer_bits / 8),
            spmat_words("pointer_read", c.pointer_spmat_words),
            # every entry (padding zeros too) looks up the codebook and multiply-accumulates
            Macs(component="arithmetic", count=c.entries_processed, precision=p),
            RegisterAccess(component="arithmetic",
                           bits=c.entries_processed * a.codebook_value_bits),
            # destination register read-modify-write per entry; source read per broadcast;
            # activation SRAM for long vectors and output batches
            RegisterAccess(component="activation_rw", bits=c.entries_processed * 2 * act_bits),
            RegisterAccess(component="activation_rw",
                           bits=(c.broadcasts - c.source_sram_reads) * act_bits),
            SramAccess(component="activation_rw", size_bytes=a.activation_sram_bytes,
                       width_bits=act_bits, read_bytes=c.source_sram_reads * act_bits / 8,
                       write_bytes=c.dest_sram_writes * act_bits / 8),
        ]
        # each PE's queue: one push and one pop of (value, column index) per broadcast
        queue_bits = act_bits + max(1, math.ceil(math.log2(max(cols, 2))))
        actions.append(RegisterAccess(component="queue", bits=c.pointer_reads * 2 * queue_bits))
        return actions

    def _result(self, layer: LayerBase, job: SpmvJob, layout: CscLayout, c: SpmvCounts,
                dense: SpmvCounts, products: int, simulated: int, extra: dict[str, Any],
                precision: Precision, warnings: list[str]) -> tuple[LayerResult, LayerCounts]:
        a = self.arch
        storage = self._storage(layout)
        actions = self._actions(c, job.cols, precision)
        dram_bytes = 0
        dram_stall = 0
        if not storage["fits_on_chip"]:
            # the part that does not fit is streamed from DRAM for every input vector,
            # overlapped with compute
            dram_bytes = storage["overflow_bytes"] * products
            dram_cycles = math.ceil(dram_bytes / a.dram_bytes_per_cycle)
            dram_stall = max(0, dram_cycles - c.cycles)
            actions.append(DramAccess(nbytes=dram_bytes))
            warnings.append(
                f"{layer.name}: compressed weights do not fit on chip (Spmat "
                f"{storage['spmat_bytes_per_pe_max']:,} B of {a.spmat_sram_bytes:,} B, pointers "
                f"{storage['pointer_bytes_per_pe']:,} B of {a.pointer_sram_bytes:,} B per PE); "
                f"{storage['overflow_bytes']:,} B are streamed from DRAM per input vector")
        if storage["pointers_in_spmat_bytes_per_pe"]:
            spilled = self._spilled_pointers(layout)[0]
            warnings.append(
                f"{layer.name}: {layout.batches * (job.cols + 1):,} column pointers per PE "
                f"({storage['pointer_bytes_per_pe']:,} B) exceed the {a.pointer_sram_bytes:,} B "
                f"pointer SRAM; the last {spilled:,} are kept in free Spmat words "
                f"({storage['pointers_in_spmat_bytes_per_pe']:,} B per PE) and read through the "
                "Spmat port (pointer_overflow: dram streams them from DRAM instead)")
        cycles = c.cycles + dram_stall
        compute = min(c.theoretical_cycles, cycles)
        stall_breakdown = {"load_imbalance": c.cycles - compute}
        if dram_stall:
            stall_breakdown["dram_bandwidth"] = dram_stall
        word_bytes = a.spmat_word_bits // 8
        spmat_bytes = c.spmat_words * word_bytes
        pointer_bytes = (c.pointer_sram_accesses * a.pointer_bits // 8
                         + c.pointer_spmat_words * word_bytes)
        act_bytes = precision.activation_bits // 8 or 1
        per_pe = layout.entries_per_pe()
        weight_total = job.rows * job.cols
        fields_: dict[str, Any] = {
            "theoretical_cycles": c.theoretical_cycles,
            "no_padding_cycles": c.no_padding_cycles,
            # the paper's Table IV comparison: time at perfect balance over the actual time
            "load_balance_efficiency": c.theoretical_cycles / c.cycles if c.cycles else 1.0,
            "pe_busy_fraction": c.busy_pe_cycles / (a.pes * c.cycles) if c.cycles else 1.0,
            "padding_overhead": (c.entries_processed - c.nnz_processed) / c.nnz_processed
            if c.nnz_processed else 0.0,
            "stored_padding_overhead": (layout.total_entries - layout.total_nnz) / layout.total_nnz
            if layout.total_nnz else 0.0,
            "queue_full_stall_cycles": c.queue_full_stall_cycles,
            "entries_per_pe": {"min": int(per_pe.min()), "mean": float(per_pe.mean()),
                               "max": int(per_pe.max())},
            "work_per_pe_cycles": {"min": int(c.work_per_pe.min()),
                                   "mean": float(c.work_per_pe.mean()),
                                   "max": int(c.work_per_pe.max())},
            "spmat_reads": c.spmat_words, "pointer_reads": c.pointer_reads,
            "pointer_spmat_reads": c.pointer_spmat_words,
            "broadcasts": c.broadcasts, "output_batches": layout.batches,
            "matrix_shape": [job.rows, job.cols], "matrix_vector_products": products,
            "simulated_products": simulated,
            "weight_density_actual": layout.total_nnz / weight_total,
            "activation_density": layer.activation_density,
            "dense_macs": layer.macs,
            **storage,
            # the same PEs on the dense matrix; its energy_pj and energy_ratio (dense / sparse)
            # are priced from `baselines` below
            "dense_baseline": {"cycles": dense.cycles, "latency_s": dense.cycles / a.clock_hz,
                               "speedup": dense.cycles / cycles if cycles else 0.0},
            **extra,
        }
        result = LayerResult(
            name=layer.name, type=layer.type, cycles=cycles,
            compute_cycles=compute, stall_cycles=cycles - compute,
            stall_breakdown_cycles=stall_breakdown, macs=c.nnz_processed,
            ops=2 * c.nnz_processed,
            dram_read_bytes=dram_bytes, dram_bytes_by_operand={"filter": dram_bytes} if dram_bytes else {},
            sram_read_bytes=spmat_bytes + pointer_bytes + c.source_sram_reads * act_bytes,
            sram_write_bytes=c.dest_sram_writes * act_bytes,
            sram_bytes_by_operand={"filter": spmat_bytes + pointer_bytes,
                                   "ifmap": c.source_sram_reads * act_bytes,
                                   "ofmap": c.dest_sram_writes * act_bytes},
            utilization=c.nnz_processed / (cycles * a.pes) if cycles else 0.0,
            weight_bytes=storage["compressed_weight_bytes"],
            **fields_)
        baseline = tuple(self._actions(dense, job.cols, precision))
        return result, LayerCounts(tuple(actions), {"dense_baseline": baseline})
