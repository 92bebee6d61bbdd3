"""Op emission of a MAC pass: the tiled instruction stream of one GEMM/conv on its cores.

Per tile step (all cores in lockstep, so that a block two cores need is routed once, multicast):
route the input block and the weight block each core needs, unless the core already holds it
(the operand that is the same for consecutive tiles is not routed again); route the other
operands of fused add/mul post-ops with the last reduction chunk; compute; route the finished
tile out (and DMA it to DRAM when its tensor lives there). Double buffering: a route into a
buffer slot waits for the last compute that read the slot; a compute that starts a fresh
accumulator waits for that accumulator slot to be routed out.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from simulator.core.workload import Workload
from simulator.kinds.tensorcore.compiler.allocation import Tensor
from simulator.kinds.tensorcore.compiler.emitter import Emitter, share_bytes
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.mapper import PassMapping
from simulator.kinds.tensorcore.compiler.order import (
    COMPUTE,
    ROUTE_EXTRA,
    ROUTE_INPUT,
    ROUTE_OUT,
    ROUTE_WEIGHTS,
    step_seq,
)
from simulator.kinds.tensorcore.compiler.tiling import TileStep, tile_steps
from simulator.kinds.tensorcore.compiler.units import Unit


@dataclass(slots=True)
class BufferSlot:
    """One slot (half) of a core buffer: the route that filled it and the last compute that
    read it (the slot is free again once that compute is done)."""

    route: int
    compute: int | None = None


@dataclass
class OperandBuffer:
    """A core's input or weight buffer: the block it holds and its slots, oldest first."""

    held: tuple | None = None
    slots: deque[BufferSlot] = field(default_factory=deque)

    def free_dep(self, nslots: int) -> int | None:
        """The compute a new route into this buffer must wait for (its oldest slot)."""
        return self.slots[0].compute if len(self.slots) >= nslots else None

    def fill(self, block: tuple, route: int, nslots: int) -> None:
        self.held = block
        self.slots.append(BufferSlot(route))
        if len(self.slots) > nslots:
            self.slots.popleft()


@dataclass
class CoreState:
    """What one core's buffers hold across the tile steps of a unit (and across the passes of
    an LSTM's time steps: weights may stay, inputs are new every pass)."""

    inputs: OperandBuffer = field(default_factory=OperandBuffer)
    weights: OperandBuffer = field(default_factory=OperandBuffer)
    #: routes out of the accumulator slots, oldest first (a slot is free once routed out)
    out_routes: deque[int] = field(default_factory=deque)
    last_compute: int | None = None


@dataclass
class PassState:
    """What a MAC pass hands to the next pass of the same unit (LSTM steps): the sequence
    number the pass starts at, the time step (None for a plain layer), the per-core buffer
    state and the weight blocks already staged from DRAM."""

    start: int = 0
    step: int | None = None
    cores: dict[int, CoreState] | None = None
    staged_weights: set[tuple] = field(default_factory=set)


def emit_mac_pass(em: Emitter, workload: Workload, u: int, unit: Unit, barrier: list[int],
                  spec: MacSpec, srcs: list[tuple[Tensor, int, int]], out: Tensor,
                  extras: list[Tensor], mapping: PassMapping, resident: bool,
                  state: PassState, rhs: Tensor | None = None) -> None:
    """The tiled instruction stream of one GEMM/conv pass, split over cores and tiled as
    `mapping` says (mapper.py). `srcs` maps the input channel range [lo, hi) of the reduction
    to the tensor holding it (one tensor for a layer; x_t and h_{t-1} for an LSTM step);
    `extras` are the other operands of fused add/mul post-ops; `resident`: the unit's weights
    are resident in the shared SRAM (routed only). `state` carries what persists across the
    steps of an LSTM. `rhs`: the tensor holding the right operand of an activation x
    activation product (read through the bridge like a weight block; default: the input)."""
    target = em.target
    nslots = target.slots
    wb = spec.operand_bytes(target)
    head = workload.layers[unit.layer]
    name = head.name
    w_label = f"{name} {'kv' if spec.kv_cache else 'w'}"
    rhs_label, in_label, out_label = f"{name} rhs", f"{name} in", f"{name} out"
    compute_label = f"{name} {unit.ops_label}"
    extra_labels = [f"{name} {e.name}" for e in extras]
    layer_i = unit.layer
    src = srcs[0][0]
    m_all, n_all = spec.m, spec.cout
    shares = mapping.shares
    tiling = mapping.tiling
    ncores = len(mapping.cores)
    multicast = em.arch.bridge.multicast
    # all of the unit's weights fit the staging area: each block comes from DRAM once
    weights_fit = spec.stationary_bytes(wb) <= em.arch.sram.weight_staging_bytes
    from_dram_weights = spec.weights_from_dram
    rhs = rhs or src
    w_ordinal: dict[tuple, int] = {}
    # per-core step lists (lockstep across cores so that shared blocks can be multicast)
    plans = [(s.core, tile_steps(spec, s, tiling)) for s in shares]
    out_frac_rows = out.rows / max(1, spec.batch * spec.ho)
    post_ops = unit.post_ops
    post_per_out = post_ops / max(1, m_all * n_all)
    rows, cols, lanes, mac = target.rows, target.cols, target.element_lanes, target.mac
    count_only = em.count_only
    if state.cores is None:
        state.cores = {core: CoreState() for core, _ in plans}
    cores = state.cores
    core_resources = {core: (f"core{core}",) for core, _ in plans}
    for st in cores.values():
        st.inputs.held = None  # new input data every pass (LSTM step); weights may stay
    # what does not change from tile to tile, computed once per distinct value
    in_chans: dict[tuple, tuple] = {}       # (channel block, chunk) -> input channels
    cycles_of: dict[tuple, int] = {}        # (pixels, channels, chunk, last chunk) -> cycles
    dest_keys: dict[tuple, tuple] = {}      # cores -> the tuple naming them in stream keys
    in_reads: dict[tuple, list] = {}        # input block -> its reads (_input_reads)
    n_steps = max(len(s) for _, s in plans)
    for t in range(n_steps):
        base = step_seq(state.start, t)
        active: list[tuple[int, TileStep]] = [(core, steps[t]) for core, steps in plans
                                              if t < len(steps)]
        # ---- input routes (grouped by identical block -> multicast)
        groups: dict[tuple, list[int]] = {}
        for core, step in active:
            key = (step.n, step.k)
            chans = in_chans.get(key)
            if chans is None:
                chans = in_chans[key] = spec.in_channels(*step.n, *step.k)
            block = ("in", step.m, *chans)
            if cores[core].inputs.held != block:
                groups.setdefault(block, []).append(core)
        for block, dest in groups.items():
            for ds in ([dest] if multicast else [[d] for d in dest]):
                deps = list(barrier)
                for core in ds:   # each slot is freed by its last compute (free_dep)
                    slots = cores[core].inputs.slots
                    deps.append(slots[0].compute if len(slots) >= nslots else None)
                dkey = tuple(ds)
                dkey = dest_keys.setdefault(dkey, dkey)
                reads = in_reads.get(block)
                if reads is None:
                    reads = in_reads[block] = _input_reads(spec, srcs, block, tiling.mt,
                                                           state.step)
                rid = _route_input(em, reads, ds, dkey, deps, base, u, layer_i, in_label,
                                   state.step)
                for core in ds:
                    cores[core].inputs.fill(block, rid, nslots)
        # ---- weight routes (grouped likewise)
        groups = {}
        for core, step in active:
            block = ("w", step.n, step.k)
            if cores[core].weights.held != block:
                groups.setdefault(block, []).append(core)
        for block, dest in groups.items():
            for ds in ([dest] if multicast else [[d] for d in dest]):
                deps = list(barrier)
                for core in ds:
                    slots = cores[core].weights.slots
                    deps.append(slots[0].compute if len(slots) >= nslots else None)
                _, nb, kb = block
                nbytes = spec.weight_bytes(nb[1] - nb[0], kb[1] - kb[0], wb)
                if from_dram_weights:
                    staged = resident or (weights_fit and block in state.staged_weights)
                    state.staged_weights.add(block)
                    # tile-interleaved: the unit's weight blocks take consecutive banks in
                    # emission order, so blocks routed to different cores in the same step
                    # sit in different banks
                    ordinal = w_ordinal.setdefault(block, len(w_ordinal))
                    rid = em.weight_block(u, layer_i, ordinal, nbytes, ds, deps,
                                          base + ROUTE_WEIGHTS, not staged, w_label)
                else:
                    # an activation operand: on chip, or loaded from DRAM per block
                    rdeps = deps + em.producer_deps(rhs, 0, rhs.rows)
                    rid = em.read_block(rhs, nb[0] + kb[0], nbytes, ds, layer_i, rdeps,
                                        base + ROUTE_WEIGHTS, ("w", u, tuple(ds)), rhs_label)
                for core in ds:
                    cores[core].weights.fill(block, rid, nslots)
        # ---- extra operands of fused add/mul (routed with the last k step), compute, out
        for core, step in active:
            mb, nb, kb = step.m, step.n, step.k
            last_k = step.last_k
            if count_only:
                # the same transfers counted, the same ops unrecorded; no dependencies
                if last_k:
                    for e, label in zip(extras, extra_labels):
                        em.read_block(e, t, _extra_bytes(e, mb, nb, m_all, n_all), [core],
                                      layer_i, [], base + ROUTE_EXTRA, ("x", u, core, e.name),
                                      label)
                cid = em.emit("compute", layer_i, core_resources[core], 0, 0, [],
                              base + COMPUTE, label=compute_label)
                if last_k:
                    _write_out(em, out, spec, mb, nb, t * ncores + core, core, layer_i, cid,
                               base, out_frac_rows, out_label)
                continue
            st = cores[core]
            deps: list[int | None] = list(barrier)
            in_slots, w_slots = st.inputs.slots, st.weights.slots
            if in_slots:
                deps.append(in_slots[-1].route)
            if w_slots:
                deps.append(w_slots[-1].route)
            if last_k:
                for e, label in zip(extras, extra_labels):
                    ebytes = _extra_bytes(e, mb, nb, m_all, n_all)
                    lo = int(mb[0] / m_all * e.rows)
                    hi = max(lo + 1, int(math.ceil(mb[1] / m_all * e.rows)))
                    edeps = list(barrier) + em.producer_deps(e, lo, hi)
                    deps.append(em.read_block(e, t, ebytes, [core], layer_i, edeps,
                                              base + ROUTE_EXTRA, ("x", u, core, e.name),
                                              label))
            if step.first_k and len(st.out_routes) >= nslots:
                deps.append(st.out_routes[0])  # accumulator slot free once routed out
            if st.last_compute is not None:
                deps.append(st.last_compute)
            m, n = mb[1] - mb[0], nb[1] - nb[0]
            ckey = (m, n, kb[1] - kb[0], last_k)
            cycles = cycles_of.get(ckey)
            if cycles is None:
                cycles = mac.cycles(spec.array_cycles(m, n, kb[1] - kb[0], rows, cols))
                if last_k and post_ops:
                    cycles = max(cycles, math.ceil(post_per_out * m * n / lanes))
                cycles_of[ckey] = cycles
            cid = em.emit("compute", layer_i, core_resources[core], cycles, 0, deps,
                          base + COMPUTE, label=compute_label)
            st.last_compute = cid
            if in_slots:
                in_slots[-1].compute = cid
            if w_slots:
                w_slots[-1].compute = cid
            if last_k:
                wid = _write_out(em, out, spec, mb, nb, t * ncores + core, core, layer_i, cid,
                                 base, out_frac_rows, out_label)
                # the accumulator slot is free once the route out is done
                route_out = wid if not out.in_dram else em.ops[wid].deps[0]
                st.out_routes.append(route_out)
                if len(st.out_routes) > nslots:
                    st.out_routes.popleft()


def _extra_bytes(e: Tensor, mb: tuple[int, int], nb: tuple[int, int], m_all: int,
                 n_all: int) -> int:
    """Bytes of a fused operand's block for output pixels mb x channels nb."""
    if e.rows > 1:
        return share_bytes(e.nbytes, mb[0], mb[1], m_all, nb[0], nb[1], n_all)
    # a one-row operand (a per-channel vector): its channels' share
    return share_bytes(e.nbytes, nb[0], nb[1], n_all)


def _write_out(em: Emitter, out: Tensor, spec: MacSpec, mb: tuple[int, int],
               nb: tuple[int, int], block: int, core: int, layer_i: int, cid: int, base: int,
               out_frac_rows: float, label: str) -> int:
    """Route a finished output tile (pixels mb x channels nb, computed by op `cid`) to the
    shared SRAM (and DRAM); the last op's id."""
    wo = spec.wo
    orow_lo = int(mb[0] // wo * out_frac_rows)
    orow_hi = max(orow_lo + 1, int(math.ceil(((mb[1] - 1) // wo + 1) * out_frac_rows)))
    nbytes = share_bytes(out.nbytes, mb[0], mb[1], spec.m, nb[0], nb[1], spec.cout)
    return em.write_block(out, block, nbytes, core, layer_i, [cid], base + ROUTE_OUT,
                          (orow_lo, orow_hi), label)


def _input_reads(spec: MacSpec, srcs: list[tuple[Tensor, int, int]], block: tuple, mt: int,
                 lstm_step: int | None) -> list[tuple[Tensor, int, float, tuple[int, int]]]:
    """The reads that bring the input block ("in", pixels, c0, c1): per source tensor holding
    part of channels [c0, c1), (tensor, block index, bytes, the tensor's rows it reads)."""
    _, mb, c0, c1 = block
    orow_lo, orow_hi = mb[0] // spec.wo, (mb[1] - 1) // spec.wo
    r0, r1 = spec.in_rows(orow_lo, orow_hi)
    reads = []
    for tensor, lo, hi in srcs:
        a, b = max(c0, lo), min(c1, hi)
        if a >= b:
            continue
        nbytes = (r1 - r0) * spec.w * (b - a) * tensor.element_bytes
        if lstm_step is None:
            src_rows = (int(r0 * tensor.rows / max(1, spec.batch * spec.h)),
                        int(math.ceil(r1 * tensor.rows / max(1, spec.batch * spec.h))))
        else:  # an LSTM step reads one row per sequence: all rows
            src_rows = (0, tensor.rows)
        reads.append((tensor, mb[0] // max(1, mt) + a, nbytes, src_rows))
    return reads


def _route_input(em: Emitter, reads: list[tuple[Tensor, int, float, tuple[int, int]]],
                 dests: list[int], dest_key: tuple, deps: list, base: int, u: int,
                 layer_i: int, label: str, lstm_step: int | None) -> int:
    """Route an input block to `dests` (`dest_key`: them as a tuple) by its `_input_reads`,
    joined by a barrier when there are several."""
    ids = []
    for tensor, block_index, nbytes, src_rows in reads:
        rdeps = deps + em.producer_deps(tensor, *src_rows)
        ids.append(em.read_block(tensor, block_index, nbytes, dests, layer_i, rdeps,
                                 base + ROUTE_INPUT, ("in", u, dest_key, tensor.name), label,
                                 count=lstm_step is None))
    if len(ids) == 1:
        return ids[0]
    return em.emit("barrier", layer_i, (), 0, 0, ids, base + ROUTE_INPUT, label=label)
