"""Why a tensor-core layer costs what it costs (`npusim explain`, RunOptions.explain).

Per layer: the mapping in plain lines (how it lowered, what it fused, the split across cores,
the tiles, where its weights and operands live, placement, precision, repeated steps), and the
formulas behind its figures, each built with `simulator.core.explain.formula` from the numbers
the engine used: the closed-form compute per core, the lower bounds (compute, bridge, DRAM),
the mapper's estimate, where the time went on the simulated timeline (busy and wait per
resource, the critical path by cause), and the layer's own figures (cycles, stall cycles,
MACs, DRAM and SRAM bytes, utilization), which reproduce its LayerResult fields exactly
(tested for every layer of every bundled workload).
"""

from __future__ import annotations

from simulator.core.explain import Formula, KindExplanation, formula
from simulator.core.layer_base import LayerBase
from simulator.core.results import LayerResult
from simulator.kinds.tensorcore.accounting import Traffic
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler import Program, Unit
from simulator.kinds.tensorcore.compiler.mapper import PassMapping
from simulator.kinds.tensorcore.compiler.target import Target

#: where the model's rules are written down
DOC = "docs/models/tensorcore.md"


def _blocks(n: int, size: int) -> list[int]:
    full, rest = divmod(n, size)
    return [size] * full + ([rest] if rest else [])


def compute_formula(mapping: PassMapping, target: Target, spec) -> Formula | None:
    """The busiest core's closed-form compute (tiles x array cycles), when it is a plain
    product (no fused pool on the element path, native rate, no zero skipping)."""
    if target.mac.rate != 1 or spec.work_fraction != 1 or mapping.cost.compute_cycles == 0:
        return None
    share = max(mapping.shares, key=lambda s: (s.m * s.n, -s.core))
    rows, cols, tiling = target.rows, target.cols, mapping.tiling
    if spec.depthwise:
        pix = sum(-(-b // rows) for b in _blocks(share.m, tiling.mt))
        col = sum(-(-b // cols) for b in _blocks(share.n, tiling.nt))
        f = formula("core_compute_cycles", "pixel_folds * column_folds * taps", "cycles",
                    pixel_folds=pix, column_folds=col, taps=spec.taps,
                    meaning="depthwise: output pixels on the array rows, channels on the "
                            "columns, the kernel taps accumulated in time",
                    source=f"{DOC} §2")
    elif spec.groups > 1:
        k_folds = -(-(spec.taps * spec.cin_g) // rows)
        groups = sum(max(1, b // spec.cout_g) for b in _blocks(share.n, tiling.nt))
        col = -(-min(spec.cout_g, tiling.nt) // cols)
        f = formula("core_compute_cycles", "groups * pixels * row_folds * column_folds",
                    "cycles", groups=groups, pixels=share.m, row_folds=k_folds,
                    column_folds=col, meaning="grouped: each group a GEMM of its own, groups "
                    "one after another", source=f"{DOC} §2")
    else:
        k_folds = sum(-(-(spec.taps * b) // rows) for b in _blocks(spec.cin, tiling.kc))
        col = sum(-(-b // cols) for b in _blocks(share.n, tiling.nt))
        f = formula("core_compute_cycles", "pixels * row_folds * column_folds", "cycles",
                    pixels=share.m, row_folds=k_folds, column_folds=col,
                    meaning="im2col on the array: the reduction (taps x input channels) over "
                            "the rows, output channels over the columns, one output pixel per "
                            "cycle; each reduction chunk pays its own last fold",
                    source=f"{DOC} §2")
    return f if f.value == mapping.cost.compute_cycles else None


def mapping_lines(arch: TensorCoreArch, program: Program, names: list[str], layer: LayerBase,
                  units: list[Unit], fused_into: str | None, target: Target,
                  repeats: list) -> list[str]:
    """How the layer maps onto the chip, in plain lines."""
    if fused_into:
        return [f"fused into {fused_into}: applied on its output path (or input path), no pass "
                "of its own"]
    if not units:
        return ["a view: its consumers read its producers' data in place; no work, no traffic"]
    lines = []
    for u, unit in ((program.units.index(x), x) for x in units):
        if unit.kind == "mac":
            spec = program.mac_spec(layer)
            mapping = program.mappings.get(u)
            fused = [names[k] for k in unit.layers[1:]]
            lines.append(f"{unit.ops_label} on the cores"
                         + (f"; fused on the output path: {', '.join(fused)}" if fused else "")
                         + (f"; on the input path: "
                            f"{', '.join(names[k] for k in unit.pre_layers)}"
                            if unit.pre_layers else ""))
            lines.append(f"as a GEMM: M = {spec.m:,} output pixels, K = {spec.taps * spec.cin_g:,}"
                         f" per group, N = {spec.cout_g:,} per group, {spec.groups} group(s)"
                         + (f", {spec.steps} sequential steps" if spec.steps > 1 else "")
                         + (", Winograd form" if getattr(layer, "winograd", None)
                            and spec.cout != getattr(layer, "out_channels", spec.cout) else ""))
            if mapping is not None:
                split = {"rows": "split by output pixels", "channels": "split by output channels",
                         "none": "on one core"}[mapping.split]
                shares = "; ".join(f"core {s.core}: pixels {s.m_lo:,}..{s.m_hi:,}, channels "
                                   f"{s.n_lo}..{s.n_hi}" for s in mapping.shares)
                lines.append(f"{split} ({shares})")
                t = mapping.tiling
                lines.append(f"tiles of {t.mt:,} pixels x {t.nt} channels x {t.kc} input "
                             f"channels, {'channels' if t.channels_outer else 'pixels'} outer: "
                             f"{mapping.cost.tiles} tile(s) per core; chosen by the "
                             f"{mapping.objective} objective among {mapping.candidates} "
                             f"candidates (estimated {mapping.cost.cycles:,.0f} cycles)"
                             + (f", pinned: {', '.join(mapping.pinned)}" if mapping.pinned
                                else ""))
            if not spec.weights_from_dram:
                lines.append("right operand: an activation tensor, routed from the shared SRAM "
                             "(no DRAM weights)")
            elif u in program.resident_units:
                what = "KV cache" if spec.kv_cache else "weights"
                lines.append(f"{what} resident in the shared SRAM (loaded once with the model); "
                             "routed to the cores every run")
            else:
                what = "KV cache" if spec.kv_cache else "weights"
                lines.append(f"{what} from DRAM through the SRAM staging area"
                             + (f", {spec.travel_fraction:.0%} of their dense bytes (decoded "
                                "on the way into a core)" if spec.travel_fraction < 1 else ""))
        elif unit.kind == "elt":
            where = "the vector unit" if unit.engine == "vector" else "the cores' element path"
            lines.append(f"{unit.ops_label} on {where}: {unit.vector_ops + unit.post_ops:,} "
                         f"element ops" + (", each row read twice (statistics, then normalise)"
                                           if unit.passes > 1 else ""))
    lines.append(f"placement {arch.compiler.placement}"
                 + (": a barrier before and after the layer" if arch.compiler.placement == "split"
                    else f": cores {sorted({c for u in units for c in program.cores[program.units.index(u)]})}"
                    ", overlapped with its neighbours by rows"))
    lines.append(f"precision {target.precision.label}: MAC array at {target.mac.rate:g} x its "
                 f"native rate ({target.mac.source})")
    for rep in repeats:
        lines.append(f"the last {rep.count} time steps repeat the one before: simulated once, "
                     f"counted {rep.count + 1} times (same instructions, same relative times)")
    return lines


def layer_formulas(arch: TensorCoreArch, result: LayerResult, tr: Traffic,
                   path: dict[str, float], target: Target, program: Program,
                   layer: LayerBase, units: list[Unit]) -> list[Formula]:
    """The formulas behind the layer's figures (module docstring)."""
    out: list[Formula] = []
    mac_units = [program.units.index(u) for u in units if u.kind == "mac"]
    if mac_units and mac_units[0] in program.mappings:
        mapping = program.mappings[mac_units[0]]
        f = compute_formula(mapping, target, program.mac_spec(layer))
        if f is not None:
            out.append(f)
        out.append(formula("mapper_estimate_cycles",
                           "max(fill + steady, transfers) + drain", "cycles",
                           fill=mapping.cost.fill_cycles, steady=mapping.cost.steady_cycles,
                           transfers=mapping.cost.transfer_cycles,
                           drain=mapping.cost.drain_cycles,
                           meaning="the mapper's closed-form estimate it ranked this mapping by "
                                   "(the simulation below is what the layer takes)",
                           source=f"{DOC} §3, step 3"))
    busy = tr.busy
    cores = [busy.get(f"core{c}", 0.0) for c in range(arch.cores)]
    out.append(formula("compute_bound_cycles", "max(" + ", ".join(
        [f"core{c}" for c in range(arch.cores)] + ["vector"]) + ")", "cycles",
        **{f"core{c}": cores[c] for c in range(arch.cores)}, vector=busy.get("vector", 0.0),
        meaning="the busiest core (or the vector unit): no layer beats it"))
    out.append(formula("bridge_bound_cycles", "port_bytes / (ports * bytes_per_cycle_per_port)",
                       "cycles", port_bytes=tr.port_bytes, ports=arch.bridge.ports,
                       bytes_per_cycle_per_port=arch.bridge.bytes_per_cycle_per_port,
                       meaning="bytes over the bridge ports if every port were busy all along"))
    out.append(formula("dram_bound_cycles", "(read + write) / dram_bytes_per_cycle", "cycles",
                       read=tr.dram_read, write=tr.dram_write,
                       dram_bytes_per_cycle=arch.dram_bytes_per_cycle,
                       meaning="the layer's DRAM bytes at the DRAM bandwidth"))
    # where the time went on the timeline: the critical path by cause
    causes = {"compute": result.compute_cycles, **result.stall_breakdown_cycles}
    names = {k: k for k in causes}
    out.append(formula("cycles", " + ".join(names) if names else "0", "cycles",
                       **{k: float(v) for k, v in causes.items()},
                       meaning="the cycles the layer occupies (the union of its ops' intervals),"
                               " split along its critical path: compute and stall causes",
                       source=f"{DOC} §5"))
    out.append(formula("stall_cycles", "cycles - compute_cycles", "cycles",
                       cycles=result.cycles, compute_cycles=result.compute_cycles))
    out.append(formula("dram_read_bytes", "weight_loads + activation_loads", "bytes",
                       weight_loads=result.dram_bytes_by_operand.get("filter", 0),
                       activation_loads=result.dram_bytes_by_operand.get("ifmap", 0),
                       meaning="DMA loads (and host reads): weights (filter) and activations"))
    out.append(formula("dram_write_bytes", "stores", "bytes",
                       stores=result.dram_bytes_by_operand.get("ofmap", 0),
                       meaning="DMA stores (and host writes) of results that live in DRAM"))
    out.append(formula("sram_read_bytes", "routed_to_cores + dma_stores", "bytes",
                       routed_to_cores=tr.route_reads, dma_stores=tr.dma_store_bytes,
                       meaning="shared-SRAM reads: routes into the cores (a multicast reads "
                               "once) and tiles stored to DRAM"))
    out.append(formula("sram_write_bytes", "routed_from_cores + dma_loads", "bytes",
                       routed_from_cores=tr.out_routed, dma_loads=tr.dma_load_bytes))
    if result.macs and result.cycles:
        peak = formula("peak_macs_per_cycle", "cores * rows * cols * rate", "MACs/cycle",
                       cores=arch.cores, rows=arch.core.mac_rows, cols=arch.core.mac_cols,
                       rate=target.mac.rate, meaning="the arrays' peak at the layer's precision")
        out.append(peak)
        out.append(formula("utilization", "macs / (cycles * peak_macs_per_cycle)", "",
                           macs=result.macs, cycles=result.cycles,
                           peak_macs_per_cycle=peak.value,
                           meaning="MACs over what the arrays could do in the layer's cycles"))
    for res, value in sorted(busy.items()):
        out.append(formula(f"busy_cycles.{res}", "busy", "cycles", busy=value,
                           meaning=f"cycles {res} served this layer's ops (every copy of a "
                                   "repeated step counted)"))
    for res, value in sorted(tr.wait.items()):
        out.append(formula(f"wait_cycles.{res}", "wait", "cycles", wait=value,
                           meaning=f"cycles this layer's ops queued for {res}"))
    return out


def explain_layer(arch: TensorCoreArch, program: Program, names: list[str], layer: LayerBase,
                  units: list[Unit], fused_into: str | None, result: LayerResult, tr: Traffic,
                  path: dict[str, float], target: Target, repeats: list) -> KindExplanation:
    """Everything the engine says about one layer."""
    return KindExplanation(
        mapping=mapping_lines(arch, program, names, layer, units, fused_into, target, repeats),
        formulas=layer_formulas(arch, result, tr, path, target, program, layer, units)
        if result.cycles or units else [],
        notes=[f"block-level parameters of {arch.name} are ours ({DOC} §1)"])


def what_ifs(arch: TensorCoreArch) -> list[tuple[str, list[str]]]:
    """Changes worth trying on a tensor-core chip, re-simulated by `npusim explain`."""
    return [
        (f"one more tensor core ({arch.cores + 1})", [f"cores={arch.cores + 1}"]),
        ("double the bridge bandwidth (ports and banks)",
         [f"bridge.bytes_per_cycle_per_port={arch.bridge.bytes_per_cycle_per_port * 2:g}",
          f"sram.bytes_per_cycle_per_bank={arch.sram.bytes_per_cycle_per_bank * 2:g}"]),
        ("double the shared SRAM", [f"sram.size_bytes={arch.sram.size_bytes * 2}"]),
        ("a vector unit twice as fast",
         [f"vector_unit.ops_per_cycle={arch.vector_unit.ops_per_cycle * 2:g}"]),
    ]
