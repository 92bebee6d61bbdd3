"""EIE-style sparse engine: compressed FC and LSTM layers as sparse matrix x sparse vector.

Model (Han et al., "EIE: Efficient Inference Engine on Compressed Deep Neural Network",
ISCA 2016, Sec. III-IV; formulas and validation in docs/models/sparse.md):
- each FC / LSTM-gate / weight-matmul layer is a matrix W (N outputs x K inputs) times input
  vectors, one vector at a time (EIE is a batch-1 design); `lowering.py` says what each layer
  is, `formats.py` how its compression fields meet the hardware's widths;
- W is stored per PE in CSC with padding zeros (`csc.py`), built from the user's pruned
  weights or from a seeded random matrix at the layer's weight density (`matrices.py`,
  `layouts.py`);
- only the non-zero activations are broadcast (random positions at the layer's activation
  density, or measured input vectors), and the PEs work through them behind activation queues
  of depth D (`queue.py`, an exact cycle recurrence; `spmv.py` counts one product);
- up to `MAX_SIMULATED_VECTORS` products per layer are simulated, the rest is a closed form
  (the counts scaled), so memory and time do not grow with the batch;
- it counts actions (Spmat words, pointer reads, MACs with their codebook lookups, activation
  register/SRAM traffic, queue pushes/pops, DRAM if W does not fit) under EIE's power-breakdown
  components; `simulator.core.energy` prices them, and the dense baseline's actions the same way.
Every figure of a layer is evaluated from named terms (`explain.Recorder`), which `npusim
explain` shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from simulator.core.actions import DramAccess, LayerCounts
from simulator.core.arch import ArchBase
from simulator.core.errors import NpusimError
from simulator.core.explain import KindExplanation
from simulator.core.layer_base import LayerBase
from simulator.core.results import LayerResult
from simulator.core.workload import Workload
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.sparse.csc import CscLayout
from simulator.kinds.sparse.eie_actions import eie_actions, scaled_totals
from simulator.kinds.sparse.explain import EIE, Recorder, mapping_lines
from simulator.kinds.sparse.formats import LayerFormat, layer_format
from simulator.kinds.sparse.layouts import dense_layout, random_layout, user_layout
from simulator.kinds.sparse.lowering import NotRunnable, SpmvJob, lower
from simulator.kinds.sparse.matrices import (
    codebook_error,
    layer_rng,
    matrix_values,
    random_activation_positions,
    split_user_data,
)
from simulator.kinds.sparse.spmv import (
    SpmvCounts,
    count_product,
    placement_of,
    spilled_pointers,
    storage,
)

#: Input vectors simulated per layer; more (batch > 8, long LSTM sequences, many tokens) are a
#: closed form: the counts of these, scaled; the run says so in its warnings.
MAX_SIMULATED_VECTORS = 8


@dataclass
class _Run:
    """What one `run` accumulates besides the layers."""

    warnings: list[str]
    grouped: dict[str, list[str]]          # one warning text -> the layers it concerns
    explanations: dict[str, KindExplanation]
    not_runnable: list[tuple[str, NotRunnable]]
    ran: int = 0


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
        names = {layer.name for layer in workload.layers}
        for name in options.mapping:
            raise NpusimError(
                f"the sparse engine's mapping is fixed by the hardware (row i on PE i mod "
                f"{self.arch.pes}, one broadcast per non-zero input); it has no choices to "
                f"override{'' if name in names else f' (and no layer is named {name!r})'}",
                field=f"mapping.{name}", fix="drop the mapping override; change the arch "
                                             "(pes, queue_depth, index_bits) instead")
        state = _Run(warnings=[], grouped={}, explanations={}, not_runnable=[])
        layers = [self._layer(layer, i, options, state) for i, layer in enumerate(workload.layers)]
        warnings = state.warnings + [
            f"{text} ({_listed(layers_)})" for text, layers_ in state.grouped.items()]
        if state.not_runnable:
            warnings.append(self._not_runnable_warning(workload, state))
        return EngineRun(
            layers=tuple(r for r, _ in layers), counts=tuple(c for _, c in layers),
            peak_macs_per_cycle=float(self.arch.pes), warnings=tuple(warnings),
            assumptions=tuple(self._assumptions()), explanations=state.explanations,
            # each PE reads one Spmat word per cycle at most
            sram_bytes_per_s=self.arch.pes * self.arch.spmat_word_bits / 8 * self.arch.clock_hz)

    def _not_runnable_warning(self, workload: Workload, state: _Run) -> str:
        macs = sum(n.macs for _, n in state.not_runnable)
        total = sum(layer.macs for layer in workload.layers) or 1
        names = [name for name, _ in state.not_runnable]
        if state.ran == 0:
            raise NpusimError(
                f"no layer of {workload.name!r} can run on a sparse (EIE) arch: "
                f"{names[0]!r} is {state.not_runnable[0][1].reason}", field="layers",
                fix="run the attention products on a systolic or tensorcore arch")
        return (f"{len(names)} activation x activation product(s) ({macs:,} MACs, "
                f"{macs / total:.1%} of the workload's) cannot run on EIE, which multiplies "
                "only stored weight matrices: they are reported with executed_on: "
                "not_runnable and 0 cycles, so the totals leave them out; run them on a "
                f"systolic or tensorcore arch ({_listed(names)})")

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
            f"(seed {a.seed}) unless the weights file holds measured inputs",
            f"a PE accumulates {a.activation_registers} output rows at a time; more rows take "
            "extra passes over the input (output batches)",
            "conv layers are rejected; pooling, element-wise, activation and LSTM gate math run on "
            "the host (0 EIE cycles); activation x activation products (attention) are not "
            "runnable; weights stay in on-chip SRAM unless they do not fit",
            "energy is dynamic only (no leakage, LNZD or central control unit)",
        ]

    # ---- one layer -------------------------------------------------------------------------
    def _layer(self, layer: LayerBase, index: int, options: RunOptions,
               state: _Run) -> tuple[LayerResult, LayerCounts]:
        job = lower(layer, index)
        if job is None:
            return LayerResult(name=layer.name, type=layer.type, cycles=0, compute_cycles=0,
                               executed_on="host"), LayerCounts()
        if isinstance(job, NotRunnable):
            state.not_runnable.append((layer.name, job))
            if options.explain:
                state.explanations[layer.name] = KindExplanation(
                    notes=[f"not runnable on EIE: {job.reason}; its {job.macs:,} MACs are "
                           "left out of the totals"])
            return LayerResult(name=layer.name, type=layer.type, cycles=0, compute_cycles=0,
                               executed_on="not_runnable", not_runnable_macs=job.macs,
                               reason=job.reason), LayerCounts()
        state.ran += 1
        arch = self.arch
        where = f"layers[{index}] ({layer.name})"
        fmt = layer_format(layer, arch, options.precision, where)
        for text in fmt.warnings:
            state.grouped.setdefault(text, []).append(layer.name)
        matrix, inputs = split_user_data(options.weights.get(layer.name))
        extra: dict[str, Any] = {}
        if matrix is not None:
            shared = user_layout(matrix, job.rows, job.cols, layer.name, arch.pes,
                                 arch.index_bits, arch.activation_registers, where)
            extra["matrix_source"] = f"weights_file {layer.weights_file}"
            if arch.weight_sharing:
                extra.update(codebook_error(matrix_values(matrix), 1 << arch.weight_index_bits))
                extra["codebook_entries"] = 1 << arch.weight_index_bits
        else:
            shared = None
            extra["matrix_source"] = (f"random at weight_density {layer.weight_density:g}, "
                                      f"row_density_cv {arch.row_density_cv:g}, seed {arch.seed}")
        if inputs is not None and inputs.shape[1] != job.cols:
            raise NpusimError(f"the measured inputs have {inputs.shape[1]:,} elements but layer "
                              f"{layer.name!r} has {job.cols:,} inputs",
                              field=f"{where}.weights_file",
                              fix="save the layer's input vectors as activations (vectors x K)")
        extra["input_source"] = ("measured inputs in the weights file" if inputs is not None
                                 else f"random at activation_density "
                                      f"{layer.activation_density:g}, seed {arch.seed}")

        # a closed form over the products: simulate the first few, never list them all
        products = job.products
        simulated = min(products, MAX_SIMULATED_VECTORS)
        counts = SpmvCounts()
        dense_counts = SpmvCounts()
        dense = dense_layout(job.rows, job.cols, arch.pes, arch.activation_registers, where)
        dense_placement = placement_of(arch, dense)
        layouts: dict[int, tuple[CscLayout, Any]] = {}
        nonzero_inputs = 0
        seen: dict[tuple, tuple[SpmvCounts, SpmvCounts]] = {}
        for i in range(simulated):
            m, v = divmod(i, job.vectors)
            if m not in layouts:
                layout = shared if shared is not None else (
                    dense if layer.weight_density >= 1.0 else random_layout(
                        job.rows, job.cols, layer.weight_density, arch.row_density_cv,
                        arch.seed, layer.name, 2 * m, arch.pes, arch.index_bits,
                        arch.activation_registers, where))
                layouts[m] = (layout, placement_of(arch, layout))
            layout, placement = layouts[m]
            if inputs is not None:
                active = np.flatnonzero(inputs[v % inputs.shape[0]])
            else:
                active = random_activation_positions(
                    job.cols, layer.activation_density,
                    layer_rng(arch.seed, layer.name, 2 * v + 1))
            nonzero_inputs += active.size
            # products with the same matrix and the same non-zero inputs count the same (all
            # tokens of a dense-activation layer): count each distinct one once
            key = (m, active.tobytes())
            if key not in seen:
                one = count_product(arch, layout, placement, active, fmt.rate)
                seen[key] = (one, one if layout is dense else
                             count_product(arch, dense, dense_placement, active, fmt.rate))
            counts.add(seen[key][0])
            dense_counts.add(seen[key][1])
        if products > simulated:
            state.grouped.setdefault(
                f"simulated {simulated} matrix-vector products per layer and scaled the counts "
                "to all of them", []).append(layer.name)
        layout = layouts[0][0]
        return self._result(layer, job, layout, fmt, counts, dense_counts, simulated,
                            nonzero_inputs, extra, options, state)

    # ---- energy and the result ---------------------------------------------------------
    def _result(self, layer: LayerBase, job: SpmvJob, layout: CscLayout, fmt: LayerFormat,
                c: SpmvCounts, dense: SpmvCounts, simulated: int, nonzero_inputs: int,
                extra: dict[str, Any], options: RunOptions,
                state: _Run) -> tuple[LayerResult, LayerCounts]:
        a = self.arch
        rec = Recorder(options.explain)
        products = job.products
        word_bytes = a.spmat_word_bits // 8
        act_bytes = -(-fmt.precision.activation_bits // 8)
        rate = float(fmt.rate)

        def total(quantity: str, term: str, simulated_total: int, unit: str,
                  meaning: str) -> int:
            """A count over all products: the simulated products' sum, scaled when only some
            of the products were simulated (a closed form in the batch)."""
            if products == simulated:
                return rec(quantity, term, unit, meaning=meaning, **{term: simulated_total})
            return rec(quantity, f"ceil({term} * products / simulated)", unit,
                       meaning=meaning + f" (the {simulated} simulated products, scaled)",
                       products=products, simulated=simulated, **{term: simulated_total})

        n = {
            "entries": total("entries_processed", "entries_in_broadcast_columns",
                             c.entries_processed, "entries", "non-zeros and padding zeros of "
                             "the columns of non-zero inputs, all PEs"),
            "broadcasts": total("broadcasts", "nonzero_inputs_x_passes", c.broadcasts,
                                "broadcasts", "non-zero inputs broadcast, once per output pass"),
            "spmat_words": total("spmat_reads", "words_spanned", c.spmat_words, "64-bit words",
                                 "Spmat words the broadcast columns' entries span, per PE"),
            "pointer_sram_accesses": total("pointer_sram_accesses", "pointer_sram_reads",
                                           c.pointer_sram_accesses, "reads",
                                           "pointer-SRAM reads (2 per column slice)"),
            "pointer_spmat_words": total("pointer_spmat_reads", "spilled_pointer_words",
                                         c.pointer_spmat_words, "words",
                                         "Spmat words read for pointers kept there"),
            "source_sram_reads": total("source_sram_reads", "long_input_reads",
                                       c.source_sram_reads, "reads", "broadcast values read "
                                       "from the activation SRAM (inputs longer than "
                                       "registers x PEs)"),
            "dest_sram_writes": total("dest_sram_writes", "pass_output_writes",
                                      c.dest_sram_writes, "writes",
                                      "outputs written to the activation SRAM between passes"),
        }
        macs = total("macs", "nonzeros_in_broadcast_columns", c.nnz_processed, "MACs",
                     "useful MACs: non-zero weights in the columns of non-zero inputs")
        rec("naive_cycles", "weight_density * rows * nonzero_inputs * products / (pes * "
            "entries_per_cycle)", "cycles", meaning="what the densities alone predict: "
            "nnz(W) x activation density / PEs, no padding, perfect balance",
            weight_density=layer.weight_density if extra["matrix_source"].startswith("random")
            else layout.total_nnz / (job.rows * job.cols), rows=job.rows,
            nonzero_inputs=nonzero_inputs / simulated, products=products, pes=a.pes,
            entries_per_cycle=rate)
        n["pointer_reads"] = rec("pointer_reads", "pes * broadcasts", "lookups",
                                 meaning="every PE looks up both pointers of every broadcast "
                                 "column", pes=a.pes, broadcasts=n["broadcasts"])
        padding = rec("padding_overhead", "(entries_processed - macs) / max(macs, 1)", "",
                      meaning="padding zeros per non-zero (a zero run of 2^index_bits or more "
                      "needs one)", source=EIE + ", Sec. III-B",
                      entries_processed=n["entries"], macs=macs)
        theoretical = rec("theoretical_cycles", "ceil(entries_processed / (pes * "
                          "entries_per_cycle))", "cycles", meaning="perfect balance: every PE "
                          "works the same share of the entries", source=EIE + ", Table IV",
                          entries_processed=n["entries"], pes=a.pes, entries_per_cycle=rate)
        no_padding = rec("no_padding_cycles", "ceil(macs / (pes * entries_per_cycle))", "cycles",
                         meaning="nnz(W) x activation density / PEs: no padding, perfect "
                         "balance", macs=macs, pes=a.pes, entries_per_cycle=rate)
        queue_cycles = total("queue_cycles", "recurrence_cycles", c.cycles, "cycles",
                             "the broadcast and queue recurrence: per column, a PE works "
                             "max(entries, pointer cycles, Spmat words); the slowest PE with "
                             "its queue sets the pace")
        queue_full = total("queue_full_stall_cycles", "broadcast_waits", c.queue_full_stall_cycles,
                           "cycles", "cycles the broadcast waited because some PE's queue was "
                           "full")
        busy = total("busy_pe_cycles", "pe_work_cycles", c.busy_pe_cycles, "PE cycles",
                     "sum over PEs of the cycles they worked")
        storage_ = storage(a, layout, job.matrices)
        dram_bytes = 0
        dram_stall = 0
        if not storage_["fits_on_chip"]:
            # the part that does not fit is streamed from DRAM for every input vector,
            # overlapped with compute
            dram_bytes = rec("dram_read_bytes", "overflow_bytes * products // matrices",
                             "bytes", meaning="what does not fit the PEs' SRAMs streams in per "
                             "vector (each product its matrix's share)",
                             overflow_bytes=storage_["overflow_bytes"], products=products,
                             matrices=job.matrices)
            dram_cycles = rec("dram_cycles", "ceil(dram_read_bytes / dram_bytes_per_cycle)",
                              "cycles", dram_read_bytes=dram_bytes,
                              dram_bytes_per_cycle=a.dram_bytes_per_cycle)
            dram_stall = rec("dram_stall_cycles", "max(0, dram_cycles - queue_cycles)",
                             "cycles", meaning="DRAM overflow streaming beyond the compute it "
                             "overlaps", dram_cycles=dram_cycles, queue_cycles=queue_cycles)
            state.warnings.append(
                f"{layer.name}: compressed weights do not fit on chip (Spmat "
                f"{storage_['spmat_bytes_per_pe_max']:,} B of {a.spmat_sram_bytes:,} B, pointers "
                f"{storage_['pointer_bytes_per_pe']:,} B of {a.pointer_sram_bytes:,} B per PE); "
                f"{storage_['overflow_bytes']:,} B are streamed from DRAM per input vector")
        cycles = rec("cycles", "queue_cycles + dram_stall_cycles", "cycles",
                     queue_cycles=queue_cycles, dram_stall_cycles=dram_stall)
        compute = rec("compute_cycles", "min(theoretical_cycles, queue_cycles)", "cycles",
                      meaning="the perfect-balance time (the rest is stall)",
                      theoretical_cycles=theoretical, queue_cycles=queue_cycles)
        stall = rec("stall_cycles", "cycles - compute_cycles", "cycles",
                    meaning="load imbalance (queue stalls included) plus DRAM streaming",
                    cycles=cycles, compute_cycles=compute)
        imbalance = rec("load_imbalance_cycles", "queue_cycles - compute_cycles", "cycles",
                        meaning="PEs waiting on the busiest one, queue-full stalls included",
                        queue_cycles=queue_cycles, compute_cycles=compute)
        efficiency = rec("load_balance_efficiency", "theoretical_cycles / max(queue_cycles, 1)",
                         "", meaning="perfect balance over the actual time (the paper's "
                         "theoretical / actual)", source=EIE + ", Table IV",
                         theoretical_cycles=theoretical, queue_cycles=queue_cycles) \
            if queue_cycles else 1.0
        busy_fraction = rec("pe_busy_fraction", "busy_pe_cycles / (pes * queue_cycles)", "",
                            busy_pe_cycles=busy, pes=a.pes, queue_cycles=queue_cycles) \
            if queue_cycles else 1.0
        sram_read = rec("sram_read_bytes", "spmat_reads * word_bytes + pointer_sram_accesses * "
                        "pointer_bits // 8 + pointer_spmat_reads * word_bytes + "
                        "source_sram_reads * activation_bytes", "bytes",
                        spmat_reads=n["spmat_words"], word_bytes=word_bytes,
                        pointer_sram_accesses=n["pointer_sram_accesses"],
                        pointer_bits=a.pointer_bits, pointer_spmat_reads=n["pointer_spmat_words"],
                        source_sram_reads=n["source_sram_reads"], activation_bytes=act_bytes)
        sram_write = rec("sram_write_bytes", "dest_sram_writes * activation_bytes", "bytes",
                         dest_sram_writes=n["dest_sram_writes"], activation_bytes=act_bytes)
        utilization = rec("utilization", "macs / (cycles * pes * entries_per_cycle)", "",
                          macs=macs, cycles=cycles, pes=a.pes, entries_per_cycle=rate) \
            if cycles else 0.0
        ops = rec("ops", "2 * macs", "ops", macs=macs)
        actions = eie_actions(a, n, job.cols, fmt.precision, rec)
        if dram_bytes:
            actions.append(DramAccess(nbytes=dram_bytes))
        placement = self._placement_text(layout, storage_, state, layer.name, job.matrices)

        stall_breakdown = {"load_imbalance": imbalance}
        if dram_stall:
            stall_breakdown["dram_bandwidth"] = dram_stall
        pointer_bytes = (n["pointer_sram_accesses"] * a.pointer_bits // 8
                         + n["pointer_spmat_words"] * word_bytes)
        spmat_bytes = n["spmat_words"] * word_bytes
        per_pe = layout.entries_per_pe()
        work = np.ceil(c.work_per_pe * (products / simulated))
        dense_cycles = -(-dense.cycles * products // simulated)
        fields_: dict[str, Any] = {
            "theoretical_cycles": theoretical, "no_padding_cycles": no_padding,
            "load_balance_efficiency": efficiency, "pe_busy_fraction": busy_fraction,
            "padding_overhead": padding,
            "stored_padding_overhead": (layout.total_entries - layout.total_nnz) / layout.total_nnz
            if layout.total_nnz else 0.0,
            "queue_full_stall_cycles": queue_full,
            "entries_per_pe": {"min": int(per_pe.min()), "mean": float(per_pe.mean()),
                               "max": int(per_pe.max())},
            "work_per_pe_cycles": {"min": int(work.min()), "mean": float(work.mean()),
                                   "max": int(work.max())},
            "spmat_reads": n["spmat_words"], "pointer_reads": n["pointer_reads"],
            "pointer_spmat_reads": n["pointer_spmat_words"],
            "broadcasts": n["broadcasts"], "output_batches": layout.batches,
            "matrix_shape": [job.rows, job.cols], "matrix_vector_products": products,
            "simulated_products": simulated,
            "weight_density_actual": layout.total_nnz / (job.rows * job.cols),
            "activation_density": layer.activation_density,
            "activation_density_actual": nonzero_inputs / (simulated * job.cols),
            "dense_macs": layer.macs, "pointer_placement": placement,
            **fmt.fields, **storage_,
            # the same PEs on the dense matrix; its energy_pj and energy_ratio (dense / sparse)
            # are priced from `baselines` below
            "dense_baseline": {"cycles": dense_cycles, "latency_s": dense_cycles / a.clock_hz,
                               "speedup": dense_cycles / cycles if cycles else 0.0},
            **extra,
        }
        result = LayerResult(
            name=layer.name, type=layer.type, cycles=cycles, compute_cycles=compute,
            stall_cycles=stall, stall_breakdown_cycles=stall_breakdown, macs=macs, ops=ops,
            dram_read_bytes=dram_bytes,
            dram_bytes_by_operand={"filter": dram_bytes} if dram_bytes else {},
            sram_read_bytes=sram_read, sram_write_bytes=sram_write,
            sram_bytes_by_operand={"filter": spmat_bytes + pointer_bytes,
                                   "ifmap": n["source_sram_reads"] * act_bytes,
                                   "ofmap": n["dest_sram_writes"] * act_bytes},
            utilization=utilization, weight_bytes=storage_["compressed_weight_bytes"],
            **fields_)
        baseline = tuple(eie_actions(a, scaled_totals(dense, products, simulated), job.cols,
                                     fmt.precision, Recorder(False)))
        if options.explain:
            state.explanations[layer.name] = KindExplanation(
                mapping=mapping_lines(a, layout, fmt, extra["matrix_source"],
                                      extra["input_source"], round(nonzero_inputs / simulated),
                                      products, simulated, placement),
                formulas=rec.formulas,
                notes=[f"the busiest PE and the queues set the time: {queue_full:,} cycles of "
                       "queue-full stalls at the broadcast, PEs busy "
                       f"{busy_fraction:.0%} of the time",
                       "energy is priced from the counted actions above (Spmat words, pointer "
                       "reads, MACs with codebook lookups, register and queue bits)"])
        return result, LayerCounts(tuple(actions), {"dense_baseline": baseline})

    def _placement_text(self, layout: CscLayout, storage_: dict, state: _Run, name: str,
                        copies: int) -> str:
        """Where the layer's column pointers live, in words (and the warning if they spill)."""
        a = self.arch
        pointers = copies * layout.batches * (layout.cols + 1)
        if storage_["pointers_in_spmat_bytes_per_pe"]:
            spilled = spilled_pointers(a, layout, copies)[0]
            state.warnings.append(
                f"{name}: {pointers:,} column pointers per PE "
                f"({storage_['pointer_bytes_per_pe']:,} B) exceed the {a.pointer_sram_bytes:,} B "
                f"pointer SRAM; the last {spilled:,} are kept in free Spmat words "
                f"({storage_['pointers_in_spmat_bytes_per_pe']:,} B per PE) and read through the "
                "Spmat port (pointer_overflow: dram streams them from DRAM instead)")
            return (f"the first {a.pointer_sram_capacity:,} in the pointer SRAM, the last "
                    f"{spilled:,} in free Spmat words")
        if pointers > a.pointer_sram_capacity:
            return "the pointers that do not fit stream from DRAM for every input vector"
        return "all in the pointer SRAM"


def _listed(names: list[str], shown: int = 5) -> str:
    """'a, b, c' or 'a, b, c, ... (12 layers)'."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])}, ... ({len(names)} layers)"
