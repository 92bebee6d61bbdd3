"""One run of the systolic model at one precision: which activations stay on chip, and each
layer's cycles, bytes and counted actions (engine.py chooses the sub-batches and returns the run).

Per layer:
1. Lower to GEMMs (`layer.gemms()`), map each to the array with SCALE-Sim's conventions
   (mapping.py): compute cycles equal SCALE-Sim's for split-SRAM arrays.
   With `array.pipelined_folds` (TPUv1) folds stream back to back and the next stationary tile
   shifts in behind the current fold, so a fold costs max(rows streamed, shift cycles).
2. Tile the GEMM for the real buffers (tiling.py): least DRAM traffic, per-operand reuse,
   double-buffered transfers turned into stall cycles.
3. Count MAC, register, SRAM (per buffer and operand), DRAM and vector actions; the energy
   table prices them later (`simulator.core.energy`).
Layers without MACs run on the vector (activation / pooling) unit at
`arch.vector_rate` element operations per cycle, with their memory traffic.
Formulas and assumptions: docs/models.md (sections 2 and 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.core.actions import (
    Action,
    DramAccess,
    LayerCounts,
    Macs,
    RegisterAccess,
    SramAccess,
    VectorOps,
)
from simulator.core.arch import Precision
from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer
from simulator.core.results import LayerResult
from simulator.core.workload import Workload
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.mapping import map_gemm
from simulator.kinds.systolic.tiling import TilingProblem, choose_tiling, pipeline_cycles

OPERANDS = ("ifmap", "filter", "ofmap")
#: SRAM access width of the array-side buffers: energy is priced per 64-bit access (Horowitz's
#: SRAM figures are for 64-bit reads)
SRAM_ACCESS_BITS = 64


def _ceil(value: float) -> int:
    """Whole bytes, ignoring float noise from fractional tile shares."""
    return math.ceil(value - 1e-6)


@dataclass
class _Acc:
    """Action counts of one layer, accumulated over its GEMMs."""

    compute_cycles: float = 0.0
    scalesim_cycles: int = 0
    stalls: dict[str, float] = field(default_factory=dict)
    dram_read: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    dram_write: dict[str, float] = field(default_factory=lambda: dict.fromkeys(OPERANDS, 0.0))
    # sram[(buffer, operand)] = [read_bytes, write_bytes]
    sram: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    total_cycles: float = 0.0
    extras: dict = field(default_factory=dict)

    def sram_add(self, buffer: str, operand: str, read: float = 0.0, write: float = 0.0) -> None:
        cell = self.sram.setdefault((buffer, operand), [0.0, 0.0])
        cell[0] += read
        cell[1] += write

    def stall(self, cause: str, cycles: float) -> None:
        if cycles > 0:
            self.stalls[cause] = self.stalls.get(cause, 0.0) + cycles


@dataclass(frozen=True)
class BatchRun:
    """The layers of one (sub-)batch, their counted actions and the warnings they raised."""

    layers: list[LayerResult]
    counts: list[LayerCounts]
    warnings: list[str]

    def repeated(self, times: int) -> "BatchRun":
        """The same batch run `times` times back to back (sub-batches)."""
        return BatchRun([_repeat(r, times) for r in self.layers],
                        [c.scaled(times) for c in self.counts], self.warnings)

    @property
    def cost(self) -> tuple[int, int]:
        """(DRAM bytes, cycles): what the sub-batch choice minimises, in that order."""
        return (sum(r.dram_read_bytes + r.dram_write_bytes for r in self.layers),
                sum(r.cycles for r in self.layers))


class SystolicModel:
    """The systolic model for one arch at one precision. Built per run; `simulate_batch` keeps
    nothing between calls (warnings come back in the `BatchRun`)."""

    def __init__(self, arch: SystolicArch, precision: Precision) -> None:
        self.arch = arch
        self.precision = p = precision
        native = arch.precision
        self.a_bytes = p.activation_bits / 8
        self.w_bytes = p.weight_bits / 8
        self.acc_bytes = p.accumulator_bits / 8
        # TPUv1 (Jouppi et al., ISCA 2017, Sec. 2): 8b x 16b at half, 16b x 16b at quarter speed
        if arch.mac_rate_scales_with_precision:
            self.slowdown = (max(1, math.ceil(p.activation_bits / native.activation_bits))
                             * max(1, math.ceil(p.weight_bits / native.weight_bits)))
        else:
            self.slowdown = 1
        #: warnings that hold for every batch of this precision
        self.warnings: tuple[str, ...] = ()
        if p.number_format != native.number_format:
            self.warnings = (
                f"{p.label} operands on a {native.label} array: modelled as {p.label} widths "
                f"(MAC rate / {self.slowdown}, {p.label} MAC energy); a real {native.number_format} "
                "array would need conversion",)
        mem = arch.memory
        sizes = {"unified_buffer": mem.unified_buffer_bytes, "accumulators": mem.accumulator_bytes,
                 "weight_fifo": (mem.weight_fifo_tiles or 0) * arch.array.rows
                 * arch.array.cols * self.w_bytes,
                 "ifmap_sram": mem.ifmap_sram_bytes, "filter_sram": mem.filter_sram_bytes,
                 "ofmap_sram": mem.ofmap_sram_bytes}
        #: buffer sizes in bytes (the energy of an access depends on the size)
        self.buffer_bytes = {k: float(v) for k, v in sizes.items() if v}
        self._pipelined = arch.array.pipelined_folds
        self.peak_macs_per_cycle = arch.array.rows * arch.array.cols / self.slowdown
        self._bw = arch.dram_bytes_per_cycle
        self._latency_cycles = arch.dram.latency_ns * 1e-9 * arch.clock_hz

    def spills_activations(self, workload: Workload) -> bool:
        """True when some intermediate activation does not stay in the unified buffer."""
        consumers = {name for layer in workload.layers for name in (layer.inputs or [])}
        names = [layer.name for layer in workload.layers]
        plan = self._residency(workload)
        for i, (_, out_dram, _) in enumerate(plan):
            consumed = names[i] in consumers or (i + 1 < len(names)
                                                  and not workload.layers[i + 1].inputs
                                                  and workload.layers[i + 1].input is None)
            if out_dram and consumed:
                return True
        return False

    def simulate_batch(self, workload: Workload) -> BatchRun:
        """Every layer of `workload` with the whole batch at once."""
        warnings: list[str] = []
        layers = workload.layers
        plan = self._residency(workload) if self.arch.memory.style == "unified" else None
        results: list[tuple[LayerResult, LayerCounts]] = []
        for i, layer in enumerate(layers):
            if plan is None:
                a_dram = [True] * max(1, len(layer.input_shapes))
                out_dram = True
                ub_free = 0.0
            else:
                a_dram, out_dram, ub_free = plan[i]
            gemms = layer.gemms()
            if gemms:
                results.append(self._gemm_layer(layer, gemms, a_dram, out_dram, ub_free,
                                                warnings))
            else:
                results.append(self._vector_layer(layer, a_dram, out_dram))
        return BatchRun([r for r, _ in results], [c for _, c in results], warnings)

    # ---- unified-buffer residency ---------------------------------------------------------
    def _residency(self, workload: Workload) -> list[tuple[list[bool], bool, float]]:
        """Which activation tensors live in the unified buffer.

        Rule (a simple, capacity-monotone compiler policy): a tensor stays on chip iff the live
        footprint (every tensor produced and not yet consumed, the network input excluded: it
        streams in from DRAM) fits the buffer at every layer of its lifetime. A tensor without
        consumers is a network output and goes to DRAM. The staging space for a DRAM-sourced
        input at layer i is the buffer minus the other resident tensors live at i (spilled
        tensors occupy no buffer space).
        Returns per layer (input-in-DRAM flags, output-to-DRAM flag, staging bytes)."""
        layers = workload.layers
        n = len(layers)
        index = {layer.name: i for i, layer in enumerate(layers)}
        producers: list[list[int | None]] = []
        for i, layer in enumerate(layers):
            if layer.inputs:
                prods: list[int | None] = [index[name] for name in layer.inputs]
                if layer.input is not None:
                    prods[0] = None
            elif layer.input is not None or i == 0:
                prods = [None]
            else:
                prods = [i - 1]
            producers.append(prods)
        last_use = list(range(n))
        consumed = [False] * n
        for i, prods in enumerate(producers):
            for p in prods:
                if p is not None:
                    last_use[p] = max(last_use[p], i)
                    consumed[p] = True
        capacity = float(self.arch.memory.unified_buffer_bytes)
        size = [layer.output_elements * self.a_bytes for layer in layers]
        live = [0.0] * n
        for t in range(n):
            for j in range(t, last_use[t] + 1):
                live[j] += size[t]
        resident = [consumed[t] and max(live[t:last_use[t] + 1]) <= capacity for t in range(n)]
        # only resident tensors occupy the buffer; spilled ones live in DRAM
        held = [0.0] * n
        for t in range(n):
            if resident[t]:
                for j in range(t, last_use[t] + 1):
                    held[j] += size[t]
        plan = []
        for i in range(n):
            a_dram = [p is None or not resident[p] for p in producers[i]]
            own = sum(size[t] for t in {i, *producers[i]} if t is not None and resident[t])
            staging = max(0.0, capacity - (held[i] - own))
            plan.append((a_dram, not resident[i], staging))
        return plan

    # ---- layers with MACs -----------------------------------------------------------------
    def _gemm_layer(self, layer: LayerBase, gemms: list, a_dram_flags: list[bool],
                    out_dram: bool, ub_free: float,
                    warnings: list[str]) -> tuple[LayerResult, LayerCounts]:
        arch, mem = self.arch, self.arch.memory
        rows, cols, df = arch.array.rows, arch.array.cols, arch.array.dataflow
        unified = mem.style == "unified"
        half = 0.5 if mem.double_buffered else 1.0
        acc = _Acc()
        a_in_dram = any(a_dram_flags)
        folds_total = 0
        eff_weighted = 0.0
        tile_info: dict = {}
        for gemm in gemms:
            reps = gemm.groups * gemm.steps
            mp = map_gemm(gemm.m, gemm.k, gemm.n, rows, cols, df)
            folds_total += mp.folds * reps
            eff_weighted += mp.mapping_efficiency * mp.folds * reps
            # A's DRAM footprint: the real input (per group), with conv halo geometry
            if isinstance(layer, ConvLayer):
                a_unique = layer.input_elements / gemm.groups * self.a_bytes
                _, ho, wo = layer.output_shape
                kh, _ = pair(layer.kernel)
                dh, _ = pair(layer.dilation)
                sh, _ = pair(layer.stride)
                span = dh * (kh - 1) + 1
                geo = dict(conv_wo=wo, conv_stride=sh, conv_r=span,
                           conv_rows=layer.batch * ((ho - 1) * sh + span))
            else:
                a_unique = gemm.m * gemm.k * self.a_bytes
                geo = dict(conv_rows=gemm.m)
            b_elem = self.a_bytes if gemm.weights_are_activations else self.w_bytes
            if unified:
                b_in_dram = (not gemm.weights_are_activations) or a_in_dram
                cap_a = ub_free * half if a_in_dram else None
                fifo = mem.weight_fifo_tiles * rows * cols * b_elem
                cap_b = fifo * half if b_in_dram else None
                cap_c = mem.accumulator_bytes * half
                c_to_dram = out_dram
            else:
                b_in_dram = True
                cap_a = mem.ifmap_sram_bytes * half
                cap_b = mem.filter_sram_bytes * half
                cap_c = mem.ofmap_sram_bytes * half
                c_to_dram = True
            prob = TilingProblem(
                m=gemm.m, k=gemm.k, n=gemm.n, rows=rows, cols=cols, dataflow=df,
                a_unique_bytes=a_unique, b_elem_bytes=b_elem, out_elem_bytes=self.a_bytes,
                acc_elem_bytes=self.acc_bytes, a_in_dram=a_in_dram, b_in_dram=b_in_dram,
                c_to_dram=c_to_dram, cap_a=cap_a, cap_b=cap_b, cap_c=cap_c,
                allow_psum_spill=not unified,
                overhead_mode="pipelined" if arch.array.pipelined_folds else "scalesim",
                fold_overhead_cycles=mp.fold_overhead_cycles, shift_cycles=arch.shift_cycles,
                rate_slowdown=self.slowdown, accumulator_rows=unified, **geo)
            t = choose_tiling(prob)
            if not t.fits:
                warnings.append(f"{layer.name}: the smallest tile does not fit the buffers; "
                                      "modelled as if it did (traffic is a lower estimate)")
            tile_info = t.as_dict()

            # ---- compute cycles of one instance (one group or one step) -------------------
            if arch.array.pipelined_folds:
                inst_compute = mp.folds * mp.t * self.slowdown + (rows + cols - 2)
                inst_overhead = t.overhead_cycles
                acc.stall("weight_load" if df == "ws" else "stationary_load", reps * inst_overhead)
                acc.stall("weight_load" if df == "ws" else "stationary_load", arch.shift_cycles)
                first_exposed = arch.shift_cycles
            else:
                inst_compute = mp.folds * mp.per_fold_cycles * self.slowdown
                inst_overhead = t.overhead_cycles
                acc.stall("tiling_fill_drain", reps * inst_overhead)
                first_exposed = 0
            acc.compute_cycles += reps * inst_compute
            acc.scalesim_cycles += reps * mp.folds * mp.per_fold_cycles

            # ---- DRAM traffic (steps reuse a single resident weight tile) -----------------
            b_resident_steps = gemm.steps > 1 and t.tk >= gemm.k and t.tn >= gemm.n
            b_instances = gemm.groups if b_resident_steps else reps
            b_key = "ifmap" if gemm.weights_are_activations else "filter"
            acc.dram_read["ifmap"] += reps * t.a_dram_read_bytes
            acc.dram_read[b_key] += b_instances * t.b_dram_read_bytes
            acc.dram_write["ofmap"] += reps * t.c_dram_write_bytes
            acc.dram_read["ofmap"] += reps * t.c_dram_read_bytes

            # ---- stalls: double-buffered DRAM pipeline -----------------------------------
            busy = inst_compute + inst_overhead
            dram_any = t.dram_bytes > 0
            bw = self._bw
            first_repeat = t.first_bytes
            if b_resident_steps and t.b_fetches:
                first_repeat = t.first_bytes - t.b_dram_read_bytes / max(1, t.b_fetches)
            latency = self._latency_cycles if dram_any else 0.0
            total = pipeline_cycles(t, busy, bw, latency, reps=reps,
                                    first_bytes_repeat=first_repeat)
            acc.total_cycles += total + first_exposed

            # ---- SRAM traffic by dataflow (array-side reads and psum traffic) -------------
            m, k, n = gemm.m, gemm.k, gemm.n
            a_im2col = m * k * self.a_bytes
            b_total = k * n * b_elem
            trips = dict(zip(t.order, t.trips))
            if df == "ws":
                a_reads, b_reads, k_parts = a_im2col * math.ceil(n / cols), b_total * trips["m"], math.ceil(k / rows)
            elif df == "os":
                a_reads, b_reads, k_parts = a_im2col * math.ceil(n / cols), b_total * math.ceil(m / rows), trips["k"]
            else:
                a_reads, b_reads, k_parts = a_im2col * trips["n"], b_total * math.ceil(m / cols), math.ceil(k / rows)
            c_elems = m * n
            c_writes = c_elems * (self.acc_bytes * k_parts if k_parts > 1 else self.a_bytes)
            c_reads = c_elems * self.acc_bytes * (k_parts - 1)
            a_dram_i, b_dram_i = t.a_dram_read_bytes, t.b_dram_read_bytes * b_instances / reps
            if unified:
                acc.sram_add("unified_buffer", "ifmap", read=reps * a_reads, write=reps * a_dram_i)
                if gemm.weights_are_activations:
                    acc.sram_add("unified_buffer", "ifmap", read=reps * b_reads,
                                 write=reps * b_dram_i)
                else:
                    acc.sram_add("weight_fifo", "filter", read=reps * b_reads,
                                 write=reps * b_dram_i)
                acc.sram_add("accumulators", "ofmap", read=reps * (c_reads + c_elems * self.acc_bytes),
                             write=reps * c_elems * self.acc_bytes * k_parts)
                acc.sram_add("unified_buffer", "ofmap", write=reps * c_elems * self.a_bytes,
                             read=reps * t.c_dram_write_bytes)
            else:
                acc.sram_add("ifmap_sram", "ifmap", read=reps * a_reads, write=reps * a_dram_i)
                acc.sram_add("filter_sram", b_key, read=reps * b_reads, write=reps * b_dram_i)
                acc.sram_add("ofmap_sram", "ofmap",
                             read=reps * (c_reads + t.c_dram_write_bytes),
                             write=reps * (c_writes + t.c_dram_read_bytes))

        # fused activation on the vector unit: overlaps the array unless it is slower
        vector_ops = layer.vector_ops
        vec_cycles = vector_ops / arch.vector_rate
        busy_now = acc.compute_cycles + sum(acc.stalls.values())
        if vec_cycles > busy_now:
            acc.stall("vector_unit", vec_cycles - busy_now)
            acc.total_cycles += vec_cycles - busy_now
        acc.extras = {"dataflow": df, "folds": folds_total,
                      "mapping_efficiency": eff_weighted / folds_total if folds_total else 0.0,
                      "tile": tile_info, "scalesim_compute_cycles": acc.scalesim_cycles - 1,
                      "activations_in": "dram" if a_in_dram else "on-chip",
                      "activations_out": "dram" if (out_dram or not unified) else "on-chip"}
        return self._finish(layer, acc, vector_ops, sum(g.macs for g in gemms))

    # ---- layers without MACs --------------------------------------------------------------
    def _vector_layer(self, layer: LayerBase, a_dram_flags: list[bool],
                      out_dram: bool) -> tuple[LayerResult, LayerCounts]:
        """Pooling, element-wise, activation, normalisation and data-movement layers on the
        vector unit; views (concat, flatten, reshape, slice, expand) have no vector work and are
        free (producers write into place, consumers read in place)."""
        arch = self.arch
        unified = arch.memory.style == "unified"
        acc = _Acc()
        vops = layer.vector_ops
        if vops == 0:
            acc.extras = {"dataflow": "vector", "folds": 0, "mapping_efficiency": 0.0}
            return self._finish(layer, acc, 0, 0)
        compute = vops / arch.vector_rate
        in_bytes_each = [layer.batch * math.prod(s) * self.a_bytes for s in layer.input_shapes]
        out_bytes = layer.output_elements * self.a_bytes
        dram_in = sum(b for b, d in zip(in_bytes_each, a_dram_flags + [a_dram_flags[-1]] * 8) if d)
        dram_out = out_bytes if (out_dram or not unified) else 0.0
        # stored operands of a layer without MACs (an embedding's rows, an add's constant)
        # stream from DRAM like weights, through the buffer that stages weights
        w_bytes = layer.operand_bytes(self.precision)["weights"]
        acc.dram_read["ifmap"] += dram_in
        acc.dram_read["filter"] += w_bytes
        acc.dram_write["ofmap"] += dram_out
        in_buf, out_buf = ("unified_buffer", "unified_buffer") if unified else ("ifmap_sram", "ofmap_sram")
        acc.sram_add(in_buf, "ifmap", read=sum(in_bytes_each), write=dram_in)
        if w_bytes:
            acc.sram_add("unified_buffer" if unified else "filter_sram", "filter",
                         read=w_bytes, write=w_bytes)
        acc.sram_add(out_buf, "ofmap", write=out_bytes, read=dram_out)
        acc.compute_cycles = compute
        dram_total = dram_in + dram_out + w_bytes
        latency = self._latency_cycles if dram_total else 0.0
        acc.total_cycles = max(compute, dram_total / arch.dram_bytes_per_cycle) + latency
        acc.extras = {"dataflow": "vector", "folds": 0, "mapping_efficiency": 0.0,
                      "activations_in": "dram" if dram_in else "on-chip",
                      "activations_out": "dram" if dram_out else "on-chip"}
        return self._finish(layer, acc, vops, 0)

    # ---- counts and result ----------------------------------------------------------------
    def _finish(self, layer: LayerBase, acc: _Acc, vector_ops: int,
                macs: int) -> tuple[LayerResult, LayerCounts]:
        """Cycles, stall causes, bytes and counted actions of one layer from its tallies."""
        p = self.precision
        # SCALE-Sim's counter reports the last 0-based cycle (folds * per_fold - 1)
        shift = 1 if macs and not self._pipelined else 0
        lower = math.ceil(macs / self.peak_macs_per_cycle - 1e-9) if macs else 0
        compute_cycles = max(lower, math.ceil(acc.compute_cycles - 1e-9) - shift)
        dram_bytes = sum(acc.dram_read.values()) + sum(acc.dram_write.values())
        dram_lower = math.ceil(dram_bytes / self._bw - 1e-9)
        cycles = max(compute_cycles, math.ceil(acc.total_cycles - 1e-9) - shift, dram_lower)
        stalls = {k: int(round(v)) for k, v in acc.stalls.items() if round(v) > 0}
        named = sum(stalls.values())
        stall_cycles = cycles - compute_cycles
        if named > stall_cycles:  # rounding: trim the largest named cause
            top = max(stalls, key=stalls.get)
            stalls[top] -= named - stall_cycles
            named = stall_cycles
        if stall_cycles - named > 0:
            stalls["dram_bandwidth"] = stalls.get("dram_bandwidth", 0) + stall_cycles - named

        # actions: MACs, PE registers, SRAM per buffer and operand, DRAM, vector unit
        actions: list[Action] = []
        if macs:
            actions.append(Macs(component="mac", count=macs, precision=p))
            # one activation-, weight- and partial-sum-register access per MAC at their widths
            for op, bits in (("ifmap", p.activation_bits), ("filter", p.weight_bits),
                             ("ofmap", p.accumulator_bits)):
                actions.append(RegisterAccess(component="register", bits=macs * bits, operand=op))
        sram_read = sram_write = 0.0
        sram_by_operand = dict.fromkeys(OPERANDS, 0.0)
        for (buffer, operand), (rd, wr) in acc.sram.items():
            actions.append(SramAccess(component=f"sram:{buffer}",
                                      size_bytes=self.buffer_bytes[buffer],
                                      width_bits=SRAM_ACCESS_BITS, read_bytes=rd, write_bytes=wr,
                                      operand=operand))
            sram_read += rd
            sram_write += wr
            sram_by_operand[operand] += rd + wr
        dram_by_operand = {op: acc.dram_read[op] + acc.dram_write[op] for op in OPERANDS}
        actions += [DramAccess(nbytes=nbytes, operand=op)
                    for op, nbytes in dram_by_operand.items() if nbytes]
        if vector_ops:
            actions.append(VectorOps(component="vector", count=vector_ops, bits=p.activation_bits,
                                     number_format=p.number_format))
        peak = self.peak_macs_per_cycle
        result = LayerResult(
            name=layer.name, type=layer.type, cycles=cycles, compute_cycles=compute_cycles,
            stall_cycles=cycles - compute_cycles, stall_breakdown_cycles=stalls, macs=macs,
            ops=2 * macs + vector_ops,
            dram_read_bytes=_ceil(sum(acc.dram_read.values())),
            dram_write_bytes=_ceil(sum(acc.dram_write.values())),
            dram_bytes_by_operand={k: _ceil(v) for k, v in dram_by_operand.items() if v},
            sram_read_bytes=_ceil(sram_read), sram_write_bytes=_ceil(sram_write),
            sram_bytes_by_operand={k: _ceil(v) for k, v in sram_by_operand.items() if v},
            utilization=macs / (cycles * peak) if cycles and macs else 0.0,
            **acc.extras)
        return result, LayerCounts(tuple(actions))


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
    return result.model_copy(update={**update, **extra})
