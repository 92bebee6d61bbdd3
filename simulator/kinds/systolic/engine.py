"""Systolic-array engine (SCALE-Sim compute model + SRAM tiling, DRAM stalls, TPUv1 specifics).

Per layer:
1. Lower to GEMMs (`layer.gemms()`), map each to the array with SCALE-Sim's conventions
   (systolic_mapping.py): compute cycles equal SCALE-Sim's for split-SRAM arrays.
   With `array.pipelined_folds` (TPUv1) folds stream back to back and the next stationary tile
   shifts in behind the current fold, so a fold costs max(rows streamed, shift cycles).
2. Tile the GEMM for the real buffers (tiling.py): least DRAM traffic, per-operand reuse,
   double-buffered transfers turned into stall cycles.
3. Count SRAM / DRAM / register / MAC / vector actions and price them with the energy table.
Layers without MACs run on the vector (activation / pooling) unit at
`arch.vector_rate` element operations per cycle, with their memory traffic.
Formulas and assumptions: docs/models.md (sections 2 and 3).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer
from simulator.core.results import LayerResult
from simulator.core.workload import Workload, workload_from_dict
from simulator.kinds.base import Engine
from simulator.kinds.systolic.arch import SystolicArch
from simulator.kinds.systolic.mapping import map_gemm
from simulator.kinds.systolic.tiling import TilingProblem, choose_tiling, pipeline_cycles

OPERANDS = ("ifmap", "filter", "ofmap")


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


class SystolicEngine(Engine):
    """TPUv1-style (unified buffer) or SCALE-Sim-style (split SRAMs) systolic array."""

    kind = "systolic"

    def __init__(self, arch: SystolicArch, precision=None, energy=None) -> None:
        super().__init__(arch, precision, energy)
        self._warnings: list[str] = []
        p, native = self.precision, arch.precision
        self.a_bytes = p.activation_bits / 8
        self.w_bytes = p.weight_bits / 8
        self.acc_bytes = p.accumulator_bits / 8
        # TPUv1 (Jouppi et al., ISCA 2017, Sec. 2): 8b x 16b at half, 16b x 16b at quarter speed
        if arch.mac_rate_scales_with_precision:
            self.slowdown = (max(1, math.ceil(p.activation_bits / native.activation_bits))
                             * max(1, math.ceil(p.weight_bits / native.weight_bits)))
        else:
            self.slowdown = 1
        if p.number_format != native.number_format:
            self._warnings.append(
                f"{p.label} operands on a {native.label} array: modelled as {p.label} widths "
                f"(MAC rate / {self.slowdown}, {p.label} MAC energy); a real {native.number_format} "
                "array would need conversion")
        self._init_warnings = list(self._warnings)
        mem = arch.memory
        sizes = {"unified_buffer": mem.unified_buffer_bytes, "accumulators": mem.accumulator_bytes,
                 "weight_fifo": (mem.weight_fifo_tiles or 0) * arch.array.rows
                 * arch.array.cols * self.w_bytes,
                 "ifmap_sram": mem.ifmap_sram_bytes, "filter_sram": mem.filter_sram_bytes,
                 "ofmap_sram": mem.ofmap_sram_bytes}
        #: buffer size in bytes and energy per byte read (64-bit accesses, Horowitz table)
        self.buffer_bytes = {k: float(v) for k, v in sizes.items() if v}
        self._sram_pj_per_byte = {k: self.energy.sram_pj_per_byte(v, 64)
                                  for k, v in self.buffer_bytes.items()}
        self._mac_pj = self.energy.mac_pj(p)
        self._write_ratio = self.energy.sram_write_to_read_ratio
        self._vector_pj = self.energy.vector_op_pj(p.activation_bits, p.number_format)
        self._dram_pj_per_byte = self.energy.dram_pj_per_byte
        self._reg_pj_per_bit = self.energy.register_pj_per_bit
        self._pipelined = arch.array.pipelined_folds
        self._peak = arch.array.rows * arch.array.cols / self.slowdown
        self._bw = arch.dram_bytes_per_cycle
        self._latency_cycles = arch.dram.latency_ns * 1e-9 * arch.clock_hz

    # ---- engine seam ----------------------------------------------------------------------
    def peak_macs_per_cycle(self) -> float:
        return self._peak

    def warnings(self) -> list[str]:
        return list(dict.fromkeys(self._warnings))

    def sram_bytes_per_s(self) -> float | None:
        return None

    def assumptions(self) -> list[str]:
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
            f"Precision {self.precision.label}: MAC rate / {self.slowdown} relative to the "
            f"native {a.precision.label}; bytes moved at operand widths; partial sums at "
            f"{self.precision.accumulator_bits} bits.",
            "Register energy per MAC: one activation-register, one weight-register and one "
            "partial-sum-register access at their widths.",
        ]
        return out

    # ---- main loop ------------------------------------------------------------------------
    def simulate(self, workload: Workload) -> list[LayerResult]:
        """Simulate the workload; on a unified buffer, run the batch in the sub-batches (equal
        divisors of the batch) with the least DRAM traffic, as a TPU compiler would when a
        batch's activations do not fit on chip: each sub-batch re-streams the weights, but
        keeps its activations in the unified buffer. Choosing by traffic (ties: cycles) keeps
        the choice independent of DRAM bandwidth, and traffic only falls as the buffer grows."""
        full = self._simulate_batch(workload)
        if (self.arch.memory.style != "unified" or workload.batch == 1
                or not self._spills_activations(workload)):
            return full
        best, best_key, best_warnings = full, self._cost(full), self._warnings
        data = workload.model_dump(exclude_none=True)
        for sub in range(1, workload.batch):
            if workload.batch % sub:
                continue
            part = self._simulate_batch(workload_from_dict({**data, "batch": sub},
                                                           workload.source or "<workload>"))
            repeated = [_repeat(r, workload.batch // sub) for r in part]
            key = self._cost(repeated)
            if key < best_key:
                best, best_key, best_warnings = repeated, key, self._warnings
        self._warnings = best_warnings
        return best

    @staticmethod
    def _cost(results: list[LayerResult]) -> tuple[int, int]:
        return (sum(r.dram_read_bytes + r.dram_write_bytes for r in results),
                sum(r.cycles for r in results))

    def _spills_activations(self, workload: Workload) -> bool:
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

    def _simulate_batch(self, workload: Workload) -> list[LayerResult]:
        self._warnings = list(self._init_warnings)
        layers = workload.layers
        plan = self._residency(workload) if self.arch.memory.style == "unified" else None
        results = []
        for i, layer in enumerate(layers):
            if plan is None:
                a_dram = [True] * max(1, len(layer.input_shapes))
                out_dram = True
                ub_free = 0.0
            else:
                a_dram, out_dram, ub_free = plan[i]
            gemms = layer.gemms()
            if gemms:
                results.append(self._gemm_layer(layer, gemms, a_dram, out_dram, ub_free))
            else:
                results.append(self._vector_layer(layer, a_dram, out_dram))
        return results

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
                    out_dram: bool, ub_free: float) -> LayerResult:
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
                self._warnings.append(f"{layer.name}: the smallest tile does not fit the buffers; "
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
    def _vector_layer(self, layer: LayerBase, a_dram_flags: list[bool], out_dram: bool) -> LayerResult:
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

    # ---- energy and result ----------------------------------------------------------------
    def _finish(self, layer: LayerBase, acc: _Acc, vector_ops: int, macs: int) -> LayerResult:
        """Cycles, stall causes, energy and bytes of one layer from its action counts."""
        p = self.precision
        # SCALE-Sim's counter reports the last 0-based cycle (folds * per_fold - 1)
        shift = 1 if macs and not self._pipelined else 0
        lower = math.ceil(macs / self._peak - 1e-9) if macs else 0
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

        # energy: MACs, PE registers, SRAM per buffer, DRAM, vector unit
        breakdown: dict[str, float] = {}
        by_operand = dict.fromkeys(OPERANDS, 0.0)
        if macs:
            breakdown["mac"] = macs * self._mac_pj
            reg = {"ifmap": p.activation_bits, "filter": p.weight_bits, "ofmap": p.accumulator_bits}
            breakdown["register"] = 0.0
            for op, bits in reg.items():
                pj = macs * bits * self._reg_pj_per_bit
                breakdown["register"] += pj
                by_operand[op] += pj
        sram_read = sram_write = 0.0
        sram_by_operand = dict.fromkeys(OPERANDS, 0.0)
        for (buffer, operand), (rd, wr) in acc.sram.items():
            per_byte = self._sram_pj_per_byte[buffer]
            pj = (rd + wr * self._write_ratio) * per_byte
            key = f"sram:{buffer}"
            breakdown[key] = breakdown.get(key, 0.0) + pj
            by_operand[operand] += pj
            sram_read += rd
            sram_write += wr
            sram_by_operand[operand] += rd + wr
        dram_by_operand = {op: acc.dram_read[op] + acc.dram_write[op] for op in OPERANDS}
        dram_total = sum(dram_by_operand.values())
        if dram_total:
            breakdown["dram"] = dram_total * self._dram_pj_per_byte
            for op in OPERANDS:
                by_operand[op] += dram_by_operand[op] * self._dram_pj_per_byte
        if vector_ops:
            breakdown["vector"] = vector_ops * self._vector_pj
        peak = self._peak
        return LayerResult(
            name=layer.name, type=layer.type, cycles=cycles, compute_cycles=compute_cycles,
            stall_cycles=cycles - compute_cycles, stall_breakdown_cycles=stalls, macs=macs,
            ops=2 * macs + vector_ops, energy_pj=sum(breakdown.values()),
            energy_breakdown_pj=breakdown,
            energy_by_operand_pj={k: v for k, v in by_operand.items() if v},
            dram_read_bytes=_ceil(sum(acc.dram_read.values())),
            dram_write_bytes=_ceil(sum(acc.dram_write.values())),
            dram_bytes_by_operand={k: _ceil(v) for k, v in dram_by_operand.items() if v},
            sram_read_bytes=_ceil(sram_read), sram_write_bytes=_ceil(sram_write),
            sram_bytes_by_operand={k: _ceil(v) for k, v in sram_by_operand.items() if v},
            utilization=macs / (cycles * peak) if cycles and macs else 0.0,
            **acc.extras)


_ADDITIVE = ("cycles", "compute_cycles", "stall_cycles", "macs", "ops", "energy_pj",
             "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes")
_ADDITIVE_MAPS = ("stall_breakdown_cycles", "energy_breakdown_pj", "energy_by_operand_pj",
                  "dram_bytes_by_operand", "sram_bytes_by_operand")


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
