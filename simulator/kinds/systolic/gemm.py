"""A layer with MACs on the systolic array: lower to GEMMs, map each with SCALE-Sim's conventions
(mapping.py), choose its tiling for the run's objective (mapper.py over tiling.py's candidates),
tally cycles, stalls, DRAM and SRAM traffic, then the layer's vector work (a fused activation
the output path does not hard-wire, Winograd transforms, the K^T layout of attention).

Compute cycles of one GEMM instance (s = 1 / MAC rate at the layer's precision, precision.py;
T_eff = T x the executed fraction under zero skipping, else T):

    SCALE-Sim mode:   folds x (T_eff + fold_overhead) x s          (s >= 1: s passes)
                      folds x (ceil(T_eff x s) + fold_overhead)    (s < 1: packed MACs)
    pipelined (TPUv1): folds x T_eff x s + (rows + cols - 2)       (skew once per GEMM)

A GEMM whose right operand is an activation (attention: QK^T, scores x V) has no stationary
weights from DRAM: both operands come from on-chip activations where they live (unified buffer)
and the stationary one is loaded per tile from there; a KV cache comes from the unified buffer
while it fits there (engine residency), else from DRAM every step. A right operand stored
transposed to how the array loads it (K of QK^T produced as tokens x features) takes one
layout pass on the vector unit (stall cause `layout`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, NamedTuple

from simulator.core.explain import formula
from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LstmLayer, MatmulLayer
from simulator.core.winograd import ALGORITHMS
from simulator.kinds.systolic.accounting import LayerCost
from simulator.kinds.systolic.mapper import CYCLES_EXPRESSION, Choice, GemmContext
from simulator.kinds.systolic.mapping import map_gemm
from simulator.kinds.systolic.precision import label
from simulator.kinds.systolic.tiling import ORDERS, SPATIAL, TEMPORAL, TilingProblem
from simulator.kinds.systolic.vector import activation_work

if TYPE_CHECKING:  # pragma: no cover
    from simulator.kinds.systolic.arch import SystolicArch
    from simulator.kinds.systolic.model import SystolicModel
    from simulator.kinds.systolic.residency import LayerPlan


def needs_layout(layer: LayerBase) -> bool:
    """True when an activation right operand is stored transposed to how the array loads it:
    its producer's output ends in (n, k) rather than (k, n) (K of QK^T written as tokens x
    features). KV caches are kept in the layout their matmul reads."""
    if not isinstance(layer, MatmulLayer) or layer.weights or layer.kv_cache:
        return False
    if len(layer.input_shapes) < 2:
        return False
    shape = tuple(layer.input_shapes[1])
    return len(shape) >= 2 and shape[-2:] == (layer.n, layer.k) and layer.n != layer.k


class GemmSetup(NamedTuple):
    """What every MAC layer of a run reads from the arch, read once per run (an arch field is
    a pydantic attribute, several times slower to read than a tuple's)."""

    rows: int
    cols: int
    dataflow: str
    unified: bool
    half: float                  # the share of a buffer one tile may use (0.5 double-buffered)
    pipelined: bool
    overhead_mode: str           # TilingProblem.overhead_mode
    shift_cycles: int
    skew: int                    # fill/drain skew of a pipelined GEMM: rows + cols - 2
    cap_c: float                 # output tile bytes: accumulators (unified) or ofmap SRAM
    split_cap_a: float | None    # split SRAMs: ifmap SRAM bytes per tile
    split_cap_b: float | None    # split SRAMs: filter SRAM bytes per tile
    fifo_elements: int | None    # unified: weight FIFO elements (tiles x rows x cols)
    vector_rate: float
    hardwired_activations: tuple[str, ...]


def gemm_setup(arch: "SystolicArch") -> GemmSetup:
    """The run's `GemmSetup`."""
    mem, array = arch.memory, arch.array
    rows, cols = array.rows, array.cols
    unified = mem.style == "unified"
    half = 0.5 if mem.double_buffered else 1.0
    pipelined = array.pipelined_folds
    return GemmSetup(
        rows=rows, cols=cols, dataflow=array.dataflow, unified=unified, half=half,
        pipelined=pipelined, overhead_mode="pipelined" if pipelined else "scalesim",
        shift_cycles=arch.shift_cycles, skew=rows + cols - 2,
        cap_c=(mem.accumulator_bytes if unified else mem.ofmap_sram_bytes) * half,
        split_cap_a=None if unified else mem.ifmap_sram_bytes * half,
        split_cap_b=None if unified else mem.filter_sram_bytes * half,
        fifo_elements=mem.weight_fifo_tiles * rows * cols if unified else None,
        vector_rate=arch.vector_rate,
        hardwired_activations=tuple(arch.hardwired_activations))


#: a tiling problem and a GEMM context, built by keyword through their own `__new__`: calling
#: a named-tuple class by keyword makes `type.__call__` pack the keywords into a dict for its
#: Python-level `__new__`, which costs more than the record itself (a layer builds one each per
#: GEMM); the records are the same
_problem = partial(TilingProblem.__new__, TilingProblem)
_context = partial(GemmContext.__new__, GemmContext)


@dataclass
class GemmLayerWork:
    """A MAC layer between its two phases: its GEMMs' tiling problems and contexts (`jobs`,
    ranked for the whole network at once by `mapper.choose_many`) and what the tallies after
    the choice need."""

    rate: object
    s: float
    a_bytes: float
    comp: object
    kv: bool
    unified: bool
    out_elements: int
    folds_total: int = 0
    eff_weighted: float = 0.0
    scalesim_cycles: int = 0
    executed: float = 0.0
    gemms: list = field(default_factory=list)   # (gemm, mapping, reps, act_b, t_eff)
    jobs: list = field(default_factory=list)    # (TilingProblem, GemmContext)


def prepare_gemm_layer(model: "SystolicModel", layer: LayerBase, cost: LayerCost,
                       plan: "LayerPlan", gemms: list) -> GemmLayerWork:
    """Phase 1: map every GEMM of the layer and state its tiling problem and context; the
    layer's MAC rate sets its peak (`cost.peak_macs_per_cycle`)."""
    (rows, cols, df, unified, half, pipelined, overhead_mode, shift_cycles, skew, cap_c,
     split_cap_a, split_cap_b, fifo_elements, _, _) = model.setup
    lp = cost.precision
    rate = model.layer_rate(layer, lp)
    cost.peak_macs_per_cycle = rows * cols * rate.rate
    s = rate.slowdown
    a_bytes, acc_bytes = lp.activation_bits / 8, lp.accumulator_bits / 8
    weight_gemms = [g for g in gemms if not g.weights_are_activations]
    weight_elems = sum(g.k * g.n * g.groups for g in weight_gemms)
    comp = model.compression(layer, lp.weight_bits, weight_elems) if weight_gemms else None
    out_elements = layer.output_elements
    w_elem = (comp.weight_bytes / weight_elems) if comp and weight_elems else lp.weight_bits / 8
    kv = isinstance(layer, MatmulLayer) and layer.kv_cache and not layer.weights
    override = model.override(layer, gemms)
    winograd = isinstance(layer, ConvLayer) and layer.winograd is not None
    direct_conv = isinstance(layer, ConvLayer) and not winograd
    objective = model.objective
    bytes_per_cycle, latency_cycles = model.bytes_per_cycle, model.latency_cycles
    priced = model.priced
    # the conv halo geometry of the input rows (TilingProblem conv_*), the same for every GEMM
    conv_wo, conv_stride, conv_r = 1, 1, 1
    if direct_conv or winograd:
        in_elements = layer.input_elements
    if direct_conv:
        _, ho, conv_wo = layer.output_shape
        kh, _ = pair(layer.kernel)
        dh, _ = pair(layer.dilation)
        conv_stride, _ = pair(layer.stride)
        conv_r = dh * (kh - 1) + 1
        conv_halo_rows = layer.batch * ((ho - 1) * conv_stride + conv_r)
    if unified:
        a_in_dram, c_to_dram = plan.a_in_dram, plan.out_dram
        cap_a = plan.ub_free * half if a_in_dram else None
    else:
        a_in_dram = c_to_dram = True
        cap_a = split_cap_a
    work = GemmLayerWork(rate=rate, s=s, a_bytes=a_bytes, comp=comp, kv=kv, unified=unified,
                         out_elements=out_elements)
    for gemm in gemms:
        m, k, n, groups, steps = gemm.m, gemm.k, gemm.n, gemm.groups, gemm.steps
        act_b = gemm.weights_are_activations
        reps = groups * steps
        fraction = 1.0 if act_b or comp is None else comp.executed_fraction
        work.executed += gemm.macs * fraction
        mp = map_gemm(m, k, n, rows, cols, df)
        folds = mp.folds
        work.folds_total += folds * reps
        work.eff_weighted += mp.mapping_efficiency * folds * reps
        work.scalesim_cycles += reps * folds * mp.per_fold_cycles
        t_eff = mp.t * fraction
        overhead = mp.fold_overhead_cycles
        if pipelined:
            inst_compute = folds * t_eff * s + skew
            first_exposed = float(shift_cycles)
        elif s >= 1:
            inst_compute = folds * (t_eff + overhead) * s
            first_exposed = 0.0
        else:
            inst_compute = folds * (math.ceil(t_eff * s) + overhead)
            first_exposed = 0.0

        # A's DRAM footprint: the real input (per instance), with conv halo geometry
        out_elem = a_bytes
        if direct_conv:
            a_unique = in_elements / groups * a_bytes
            conv_rows = conv_halo_rows
        elif winograd:
            # the input and output cross DRAM once in real (untransformed) form
            a_unique = in_elements * a_bytes / reps
            out_elem = out_elements * a_bytes / (reps * m * n)
            conv_rows = m
        else:
            a_unique = m * k * a_bytes
            conv_rows = m
        b_elem = a_bytes if act_b else w_elem
        if unified:
            if act_b:
                b_in_dram = (not plan.kv_resident) if kv else plan.b_in_dram
            else:
                b_in_dram = True
            if not b_in_dram:
                cap_b = None
            elif act_b:
                cap_b = plan.ub_free * half
            else:
                cap_b = fifo_elements * b_elem * half
        else:
            b_in_dram = True
            cap_b = split_cap_b
        problem = _problem(
            m=m, k=k, n=n, rows=rows, cols=cols, dataflow=df,
            a_unique_bytes=a_unique, b_elem_bytes=b_elem, out_elem_bytes=out_elem,
            acc_elem_bytes=acc_bytes, a_in_dram=a_in_dram, b_in_dram=b_in_dram,
            c_to_dram=c_to_dram, cap_a=cap_a, cap_b=cap_b, cap_c=cap_c,
            allow_psum_spill=not unified, conv_wo=conv_wo, conv_stride=conv_stride,
            conv_r=conv_r, conv_rows=conv_rows, overhead_mode=overhead_mode,
            fold_overhead_cycles=overhead, shift_cycles=shift_cycles,
            rate_slowdown=s, accumulator_rows=unified, a_elem_bytes=a_bytes)
        if override:
            problem = problem._replace(**override)
        ctx = _context(
            inst_compute=inst_compute, reps=reps, groups=groups, steps=steps,
            bytes_per_cycle=bytes_per_cycle, latency_cycles=latency_cycles,
            first_exposed=first_exposed, objective=objective, unified=unified,
            prices=model.prices(lp, gemm, unified, act_b, b_elem) if priced else None)
        work.gemms.append((gemm, mp, reps, act_b, t_eff))
        work.jobs.append((problem, ctx))
    return work


_UNIFIED_OUT = {"a": ("unified_buffer", "ifmap"), "c": ("accumulators", "ofmap"),
                "out": ("unified_buffer", "ofmap")}
_SPLIT_OUT = {"a": ("ifmap_sram", "ifmap"), "c": ("ofmap_sram", "ofmap")}
#: the (buffer, operand) each SRAM traffic role of a GEMM is tallied under: SRAM_ROLES[unified
#: buffers][right operand is an activation][role]
SRAM_ROLES = {True: {False: {**_UNIFIED_OUT, "b": ("weight_fifo", "filter")},
                     True: {**_UNIFIED_OUT, "b": ("unified_buffer", "ifmap")}},
              False: {False: {**_SPLIT_OUT, "b": ("filter_sram", "filter")},
                      True: {**_SPLIT_OUT, "b": ("filter_sram", "ifmap")}}}


def complete_gemm_layer(model: "SystolicModel", layer: LayerBase, cost: LayerCost,
                        plan: "LayerPlan", work: GemmLayerWork, choices: list[Choice]) -> None:
    """Phase 2: tally the chosen tilings, then the layer's vector work and engine fields."""
    arch, setup = model.arch, model.setup
    df = setup.dataflow
    unified, s, objective = work.unified, work.s, model.objective
    pipelined = setup.pipelined
    load_cause = "weight_load" if df == "ws" else "stationary_load"
    gemm_cycles = []
    first = choices[0] if choices else None
    roles_by_act_b = SRAM_ROLES[unified]
    sram_add, dram_read, dram_write = cost.sram_add, cost.dram_read, cost.dram_write
    explaining = cost.explain is not None
    macs = 0
    for (gemm, mp, reps, act_b, t_eff), (problem, ctx), ch in zip(work.gemms, work.jobs,
                                                                  choices):
        macs += gemm.macs
        first_exposed = ctx.first_exposed
        inst_compute = ctx.inst_compute
        if not ch.fits:
            model.warn(f"{layer.name}: the smallest tile does not fit the buffers; modelled as "
                       "if it did (traffic is a lower estimate)")
        if pipelined:
            cause = "stationary_load" if act_b else load_cause
            cost.stall(cause, reps * ch.overhead_cycles + first_exposed)
        else:
            cost.stall("tiling_fill_drain", reps * ch.overhead_cycles)
        cost.compute_cycles += reps * inst_compute
        dram_read["ifmap"] += ch.a_dram
        dram_read["ifmap" if act_b else "filter"] += ch.b_dram
        dram_write["ofmap"] += ch.c_dram_write
        dram_read["ofmap"] += ch.c_dram_read
        cost.total_cycles += ch.cycles
        gemm_cycles.append(ch.cycles)
        roles = roles_by_act_b[act_b]
        for role, (rd, wr) in ch.sram.items():
            sram_add(*roles[role], read=rd, write=wr)
        if explaining:
            _explain_gemm(cost, layer, gemm, mp, ch, ctx, s, t_eff, objective, arch)

    cost.macs = macs
    cost.macs_executed = work.executed
    _vector_work(model, layer, cost, unified, work.a_bytes, work.out_elements)
    mapping = {"dataflow": df, "objective": objective}
    if first is not None:
        mapping.update(first.as_dict())
        mapping["candidates"] = first.candidates
    comp, kv, rate = work.comp, work.kv, work.rate
    if comp is not None and comp.form != "dense":
        mapping["weights_stored"] = comp.form
    folds_total = work.folds_total
    cost.extras = {"dataflow": df, "folds": folds_total,
                   "mapping_efficiency": work.eff_weighted / folds_total if folds_total else 0.0,
                   "mapping": mapping, "scalesim_compute_cycles": work.scalesim_cycles - 1,
                   "activations_in": "dram" if plan.a_in_dram else "on-chip",
                   "activations_out": "dram" if (plan.out_dram or not unified) else "on-chip"}
    if kv:
        cost.extras["kv_cache"] = "on-chip" if (unified and plan.kv_resident) else "dram"
    # a layer at the run's precision runs on the run's datapath, whose label is its own
    # (precision.run_rate); only a layer at its own widths may run on another one
    p = cost.precision
    if rate is not model.rate and rate.datapath != label(p.activation_bits, p.weight_bits,
                                                         p.number_format):
        cost.extras["mac_datapath"] = rate.datapath
    if cost.explain is not None and len(gemm_cycles) > 1:
        terms = {f"gemm{i}": c for i, c in enumerate(gemm_cycles)}
        cost.note(formula("gemm_cycles", " + ".join(terms), "cycles", **terms))


def _vector_work(model: "SystolicModel", layer: LayerBase, cost: LayerCost, unified: bool,
                 a_bytes: float, out_elements: int) -> None:
    """The element-wise work of a MAC layer: after the array (sequential), except LSTM gate math,
    which the activation pipeline overlaps with the next step's matmul."""
    arch = model.arch
    rate = model.setup.vector_rate
    explaining = cost.explain is not None
    out_buf = "unified_buffer" if unified else "ofmap_sram"
    out_bytes = out_elements * a_bytes
    ops = 0.0
    if isinstance(layer, LstmLayer):
        vec = layer.vector_ops / rate
        if vec > cost.total_cycles:
            cost.stall("vector_unit", vec - cost.total_cycles)
            cost.total_cycles = vec
        cost.vector_ops = float(layer.vector_ops)
        return
    activation = getattr(layer, "activation", None)
    extra = 0.0
    if activation:
        work = activation_work(activation, out_elements, model.setup.hardwired_activations,
                               fused=True)
        ops += work.energy_ops
        if work.cycle_ops:
            cycles = work.cycle_ops / rate
            extra += cycles
            cost.stall("vector_unit", cycles)
            cost.sram_add(out_buf, "ofmap", read=work.passes * out_bytes, write=out_bytes)
            if explaining:
                cost.note(formula("activation_cycles", "elements * ops_per_element / "
                                  "elements_per_cycle", "cycles", elements=out_elements,
                                  ops_per_element=work.cycle_ops / out_elements,
                                  elements_per_cycle=rate,
                                  meaning=f"{activation} is not hard-wired here: a vector-unit "
                                  "pass after the array"))
                cost.line(f"activation {activation}: vector unit, {work.cycle_ops:,.0f} element "
                          f"operations, {work.passes} pass(es) over the outputs")
        elif explaining:
            cost.line(f"activation {activation}: hard-wired in the output path (no cycles)")
    if isinstance(layer, ConvLayer) and layer.winograd:
        transform = float(layer.winograd_transform_ops)
        ops += transform
        if layer.winograd in arch.datapath.winograd:
            if explaining:
                cost.line(f"Winograd {ALGORITHMS[layer.winograd].name}: transforms hard-wired")
        else:
            cycles = transform / rate
            extra += cycles
            cost.stall("vector_unit", cycles)
            if explaining:
                cost.note(formula("winograd_transform_cycles",
                                  "transform_ops / elements_per_cycle", "cycles",
                                  transform_ops=transform, elements_per_cycle=rate))
                cost.line(f"Winograd {ALGORITHMS[layer.winograd].name}: "
                          f"{ALGORITHMS[layer.winograd].alpha ** 2} element-wise GEMMs, "
                          "transforms on the vector unit")
    if needs_layout(layer):
        elements = float(layer.k * layer.n * layer.count * layer.batch)
        ops += elements
        cycles = elements / rate
        extra += cycles
        cost.stall("layout", cycles)
        cost.sram_add(out_buf if unified else "filter_sram", "ifmap", read=elements * a_bytes,
                      write=elements * a_bytes)
        if explaining:
            cost.note(formula("layout_cycles", "elements / elements_per_cycle", "cycles",
                              elements=elements, elements_per_cycle=rate,
                              meaning="transpose the right operand (K^T) once on the vector unit"))
    cost.total_cycles += extra
    cost.vector_ops = ops


def _explain_gemm(cost: LayerCost, layer: LayerBase, gemm, mp, ch: Choice, ctx: GemmContext,
                  s: float, t_eff: float, objective: str, arch) -> None:
    rows, cols, df = arch.array.rows, arch.array.cols, arch.array.dataflow
    names = {"m": "M", "k": "K", "n": "N"}
    row_dim, col_dim = SPATIAL[df]
    temporal = TEMPORAL[df]
    kind = "activation x activation " if gemm.weights_are_activations else ""
    cost.line(f"{layer.type} -> {kind}GEMM M={gemm.m:,} K={gemm.k:,} N={gemm.n:,}"
              + (f", {gemm.groups:,} groups" if gemm.groups > 1 else "")
              + (f", {gemm.steps:,} sequential steps" if gemm.steps > 1 else ""))
    cost.line(f"{df.upper()} on {rows}x{cols}: rows <- {names[row_dim]}, cols <- "
              f"{names[col_dim]}, streamed {names[temporal]}; {mp.row_folds} x {mp.col_folds} "
              f"= {mp.folds} folds of {mp.t:,} rows")
    order = " > ".join(ch.order)
    cost.line(f"tiles Tm={ch.tm:,} Tk={ch.tk:,} Tn={ch.tn:,}, loop order {order} (outer to "
              f"inner), trips m={ch.trips[0]} k={ch.trips[1]} n={ch.trips[2]}; best {objective} "
              f"of {ch.candidates} candidates")
    cost.note(formula("folds", "ceil(Sr / rows) * ceil(Sc / cols)", "", Sr=mp.sr, Sc=mp.sc,
                      rows=rows, cols=cols, source="SCALE-Sim (Samajdar et al., ISPASS 2020)"))
    if arch.array.pipelined_folds:
        cost.note(formula("instance_compute_cycles", "folds * T * s + (rows + cols - 2)",
                          "cycles", folds=mp.folds, T=t_eff, s=s, rows=rows, cols=cols,
                          meaning="folds stream back to back; skew once (TPUv1)"))
    elif s >= 1:
        cost.note(formula("instance_compute_cycles", "folds * (T + fold_overhead) * s",
                          "cycles", folds=mp.folds, T=t_eff, fold_overhead=mp.fold_overhead_cycles,
                          s=s, source="SCALE-Sim per fold: os T+rows+cols-2, ws/is T+2rows+cols-2"))
    else:
        cost.note(formula("instance_compute_cycles", "folds * (ceil(T * s) + fold_overhead)",
                          "cycles", folds=mp.folds, T=t_eff, fold_overhead=mp.fold_overhead_cycles,
                          s=s))
    cost.note(formula("array_cycles_gemm", "reps * instance_compute_cycles", "cycles",
                      reps=ctx.reps, instance_compute_cycles=ctx.inst_compute))
    cost.note(formula("tiling_overhead_cycles", "reps * overhead_per_instance", "cycles",
                      reps=ctx.reps, overhead_per_instance=ch.overhead_cycles,
                      meaning="repeated fill/drain or exposed stationary loads of split tiles"))
    t = ch.terms
    cost.note(formula("ifmap_dram_bytes", "reps * a_per_instance", "B", reps=ctx.reps,
                      a_per_instance=t["a_per_instance"],
                      meaning=f"A fetched {ch.fetches[0]} time(s) per instance"))
    cost.note(formula("right_operand_dram_bytes", "b_instances * b_per_instance", "B",
                      b_instances=t["b_instances"], b_per_instance=t["b_per_instance"],
                      meaning=f"B fetched {ch.fetches[1]} time(s) per instance"))
    cost.note(formula("ofmap_dram_write_bytes", "reps * c_write_per_instance", "B",
                      reps=ctx.reps, c_write_per_instance=t["c_write_per_instance"]))
    pipe = {k: t[k] for k in ("latency", "d_first", "reps", "c", "n0", "d0", "n1", "d1", "n2",
                              "d2", "between", "d_last", "first_exposed")}
    cost.note(formula("gemm_cycles", CYCLES_EXPRESSION, "cycles", **pipe,
                      meaning="double-buffered tile pipeline: c cycles of compute per step, d "
                      "transfer cycles per step class (outer, middle, inner loop advanced)"))


#: the keys of a layer's `mapping` a user may pin (the rest of the field reports the choice)
MAPPING_KEYS = ("tile_m", "tile_k", "tile_n", "loop_order", "sub_batch")


def validate_override(layer: LayerBase, gemms: list, values: dict, rows: int, cols: int,
                      dataflow: str) -> dict:
    """A user's mapping override for one layer as TilingProblem `force_*` fields; one-line
    NpusimError naming the layer and the key for anything the engine cannot honour."""
    from simulator.core.errors import NpusimError

    allowed = MAPPING_KEYS
    out: dict = {}
    for key, value in values.items():
        where = f"mapping.{layer.name}.{key}"
        if key not in allowed:
            raise NpusimError(f"layer {layer.name!r}: unknown mapping key {key!r}", field=where,
                              fix=f"use one of {', '.join(allowed)}"
                              + ("; the dataflow is the array's (--set array.dataflow=...)"
                                 if key == "dataflow" else ""))
        if key == "sub_batch":
            continue
        if not gemms:
            raise NpusimError(f"layer {layer.name!r} has no GEMM to tile", field=where,
                              fix="override tiles of conv, linear, matmul or lstm layers only")
        if key == "loop_order":
            order = str(value).replace("-", "").replace(" ", "").lower()
            if order not in ORDERS:
                raise NpusimError(f"layer {layer.name!r}: loop order {value!r} is not a "
                                  "permutation of m, k, n", field=where,
                                  fix=f"use one of {', '.join(ORDERS)} (outer to inner)")
            out["force_order"] = order
            continue
        dim = key[-1]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise NpusimError(f"layer {layer.name!r}: tile size {value!r} is not a positive "
                              "integer", field=where, fix="use a whole number of elements")
        size = max(getattr(g, dim) for g in gemms)
        base = {SPATIAL[dataflow][0]: rows, SPATIAL[dataflow][1]: cols}.get(dim)
        if base and value < size and value % base:
            raise NpusimError(f"layer {layer.name!r}: tile {dim.upper()}={value} is not a "
                              f"multiple of the array's {base} (it would add folds)",
                              field=where, fix=f"use a multiple of {base}, or {size} (whole)")
        out[f"force_{dim}"] = min(value, size)
    return out
