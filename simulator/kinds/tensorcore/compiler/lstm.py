"""Op emission of an LSTM layer: `steps` sequential gate GEMMs, each followed by its gate math.

Layer.gemms() lowers an LSTM to `steps` repeats that reuse the weights, each depending on the
previous step's output (docs/models/tensorcore.md §3c). Step t: the gate GEMM
[x_t, h_{t-1}] (batch x (I+H)) @ W ((I+H) x 4H) on the cores (x_t read from the layer's input,
h_{t-1} from its output tensor; h_0 = 0 is not read), gates to the shared SRAM; then the
element-wise gate math (sigmoid/tanh LUTs, products, c_t = f c_{t-1} + i g, h_t = o tanh(c_t):
Layer.vector_ops per step) reads the gates and c_{t-1} and writes h_t and c_t; a barrier,
because every core's next GEMM needs all of h_t. Weights: resident in the shared SRAM or staged
(loaded from DRAM once when they fit the staging area, else re-streamed every step); a core
whose whole weight share is one block keeps it in its weight buffer across steps.
"""

from __future__ import annotations

import math
from collections import deque

from simulator.core.errors import NpusimError
from simulator.core.layers import LstmLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.compiler.allocation import Tensor
from simulator.kinds.tensorcore.compiler.emitter import Emitter
from simulator.kinds.tensorcore.compiler.mac_pass import PassState, emit_mac_pass
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compiler.mapper import PassMapping
from simulator.kinds.tensorcore.compiler.order import (
    COMPUTE,
    HOST_READ,
    LOAD_BEFORE_ROUTE,
    ROUTE_INPUT,
    ROUTE_OUT,
    STORE_AFTER_ROUTE,
    step_seq,
)
from simulator.kinds.tensorcore.compiler.units import Unit
from simulator.kinds.tensorcore.schedule import Repeat


def emit_lstm_unit(em: Emitter, workload: Workload, tensors: dict[str, Tensor], u: int,
                   unit: Unit, spec: MacSpec, mapping: PassMapping, resident: bool,
                   barrier: list[int]) -> None:
    """An LSTM layer as `steps` sequential passes of `spec` (module docstring)."""
    head = workload.layers[unit.layer]
    assert isinstance(head, LstmLayer)
    ab = em.target.activation_bytes
    src = tensors[unit.inputs[0]]
    out = tensors[unit.output]
    gates = tensors[unit.output + "#gates"]
    cell = tensors[unit.output + "#c"]
    xh = tensors[unit.output + "#xh"]
    cores = list(mapping.cores)
    gate_clients: list = cores if unit.gate_engine == "core" else ["vector"]
    state = PassState()
    fin = em.mark()
    deps = list(barrier)
    n_in = head.features_in
    x_bytes = head.batch * n_in * ab
    h_bytes = head.batch * head.hidden_size * ab
    gemm_done: int | None = None
    steps: list[tuple[int, int]] = []   # (first op, step-done join) of each emitted step
    snapshots: list[list[dict]] = []    # the byte counts at the start of each step
    for t in range(spec.steps):
        if (em.repeat_steps and t == REPEAT_FROM + 1 and spec.steps > t + 1
                and _signature(em, *steps[-1], steps[0][0]) == _signature(em, *steps[-2],
                                                                          steps[0][0])
                and (not em.count_only or _delta(snapshots[-1], _counts(em))
                     == _delta(snapshots[-2], snapshots[-1]))):
            # steps REPEAT_FROM - 1 and REPEAT_FROM were emitted alike, and the machine is idle
            # at each step's end (split placement: nothing else in flight): the remaining
            # steps repeat the last one; the scheduler times one copy (and checks that it took
            # the same relative times as the step before) and delays what follows
            (a, b), (ra, rb), (_, pb) = steps[-1], steps[-2], steps[-3]
            em.repeats.append(Repeat(a, b, spec.steps - t, anchor=rb, ref_first=ra,
                                     ref_anchor=pb))
            for counts, before in zip((em.traffic.weight_dram_bytes,
                                       em.traffic.tensor_dram_bytes,
                                       em.traffic.tensor_sram_extra_bytes), snapshots[-1]):
                for key in list(counts):
                    counts[key] += (counts[key] - before.get(key, 0)) * (spec.steps - t)
            break
        snapshots.append(_counts(em))
        first = em.mark()
        state.start = em.order.floor
        state.step = t
        # x_t: one row per sequence of the input; staged into the SRAM scratch by one DMA
        # load when the input lives in DRAM (after the previous GEMM has read x_{t-1})
        em.traffic.tensor_dram_bytes[src.name] += int(math.ceil(x_bytes))
        step_deps = list(deps)
        x_src = src
        if src.in_dram:
            x_src = xh
            step_deps.append(em.dma("dma_load", unit.layer, x_bytes,
                                    list(barrier) + ([gemm_done] if gemm_done is not None else []),
                                    state.start + LOAD_BEFORE_ROUTE, f"{head.name} x_t"))
        h_src = xh if out.in_dram else out
        parts = [(x_src, 0, n_in)] + ([(h_src, n_in, spec.cin)] if t > 0 else [])
        emit_mac_pass(em, workload, u, unit, step_deps, spec, parts, gates, [], mapping,
                      resident, state)
        gemm_done = em.join(unit.layer, fin, "gemm done")
        fin = em.mark()
        _emit_gates(em, u, unit, head, t, gates, cell, out, xh, gate_clients, [gemm_done])
        em.traffic.tensor_dram_bytes[out.name] += int(math.ceil(h_bytes))  # h_t stored once
        deps = [em.join(unit.layer, fin, "step done")]
        steps.append((first, deps[0]))
        fin = em.mark()


def _counts(em: Emitter) -> list[dict]:
    """A snapshot of the byte counts (traffic.TrafficCounts' three tables)."""
    return [dict(em.traffic.weight_dram_bytes), dict(em.traffic.tensor_dram_bytes),
            dict(em.traffic.tensor_sram_extra_bytes)]


def _delta(before: list[dict], after: list[dict]) -> list[dict]:
    """The bytes counted between two snapshots of the traffic counts."""
    return [{k: v - b.get(k, 0) for k, v in a.items() if v != b.get(k, 0)}
            for b, a in zip(before, after)]


#: the step from which an LSTM's remaining steps may repeat (steps before it are emitted)
REPEAT_FROM = 3


def _signature(em: Emitter, first: int, last: int, base: int) -> list[tuple]:
    """What the ops first..last do, with dependencies inside the layer's steps (ids >= base)
    relative to `first`: equal signatures of consecutive steps mean the same instructions.
    Counting only, the ops are not recorded: their number stands for them (the counted bytes
    of the two steps are compared by the caller's repeat, which scales them)."""
    if em.count_only:
        return [last - first]
    out = []
    for op in em.ops[first:last + 1]:
        deps = tuple(("rel", d - first) if d >= base else ("abs", d) for d in op.deps)
        out.append((op.kind, op.resources, op.busy_cycles, op.latency_cycles, op.nbytes,
                    op.seq - em.ops[first].seq, deps))
    return out


def _emit_gates(em: Emitter, u: int, unit: Unit, head: LstmLayer, t: int, gates: Tensor,
                cell: Tensor, out: Tensor, xh: Tensor, clients: list, deps: list[int]) -> None:
    """Element-wise gate math of step t over batch x H hidden units, tiled to the buffers of
    the clients (the vector unit: a quarter of its buffer in, a quarter out, each ping-pong; a
    core: its input / output buffer slots). Per hidden unit: 4 gate values and c_{t-1} in
    (c_0 = 0 is not read), h_t and c_t out, `vector_ops / (batch x steps x H)` element ops at
    the client's lanes per cycle."""
    target, arch = em.target, em.arch
    nslots, ab = target.slots, target.activation_bytes
    on_vector = clients == ["vector"]
    host = on_vector and arch.vector_unit.location == "host"
    if on_vector:
        lanes = target.vector_ops_per_cycle
        cap_in = cap_out = arch.vector_unit.buffer_bytes / 4
    else:
        lanes = target.element_lanes
        cap_in, cap_out = target.input_half_bytes, target.output_half_bytes
    hidden = gates.channels // 4
    elements = head.batch * hidden
    ops_per_element = head.vector_ops / max(1, head.batch * head.steps * hidden)
    in_per = (4 + (1 if t > 0 else 0)) * ab
    out_per = 2 * ab
    tile = int(min(cap_in // in_per, cap_out // out_per))
    if tile < 1:
        raise NpusimError(f"layer {head.name}: one hidden unit's gate math does not fit the "
                          "buffer", field="vector_unit.buffer_bytes" if on_vector
                          else "core.input_buffer_bytes", fix="increase the buffer size")
    per_client = -(-elements // len(clients))
    start = em.order.floor
    # h_t goes to the output (via the SRAM scratch and one DMA store when the output lives in
    # DRAM: the next step reads h_t from the scratch), c_t to its tensor
    h_dst = xh if out.in_dram else out
    for slot, c in enumerate(clients):
        lo0, hi0 = slot * per_client, min(elements, (slot + 1) * per_client)
        computes: deque[int] = deque()   # computes reading the input slots, oldest first
        writes: deque[int] = deque()     # writes freeing the output slots, oldest first
        last = None
        for k, lo in enumerate(range(lo0, hi0, tile)):
            e = min(hi0, lo + tile) - lo
            base = step_seq(start, k)
            rdeps = list(deps) + ([computes[0]] if len(computes) >= nslots else [])
            arrivals = []
            for tensor, per in ((gates, 4), (cell, 1 if t > 0 else 0)):
                if per == 0:
                    continue
                nbytes = e * per * ab
                if host:
                    arrivals.append(em.host_read(tensor, nbytes, head.name, unit.layer, rdeps,
                                                 base + HOST_READ))
                else:
                    arrivals.append(em.read_block(
                        tensor, 2 * k + len(arrivals) + slot, nbytes, [c], unit.layer, rdeps,
                        base + ROUTE_INPUT, ("g", u, c, tensor.name), f"{head.name} gates in"))
            cdeps = arrivals + ([last] if last is not None else []) \
                + ([writes[0]] if len(writes) >= nslots else [])
            cid = em.emit("vector" if on_vector else "compute", unit.layer,
                          ("vector",) if on_vector else (f"core{c}",),
                          math.ceil(ops_per_element * e / lanes), 0, cdeps, base + COMPUTE,
                          label=f"{head.name} gates t{t}")
            last = cid
            computes.append(cid)
            if len(computes) > nslots:
                computes.popleft()
            wid = None
            for tensor, rows in ((h_dst, (0, out.rows)), (cell, (0, cell.rows))):
                nbytes = e * ab
                wdeps = [cid] + ([wid] if wid is not None else [])
                if host:
                    wid = em.host_write(tensor, nbytes, unit.layer, wdeps, base + ROUTE_OUT, rows)
                else:
                    wid = em.write_block(tensor, 2 * k + slot, nbytes, c, unit.layer, wdeps,
                                         base + ROUTE_OUT, rows, f"{head.name} h,c out",
                                         count=tensor is cell)
                if tensor is xh:
                    store = em.dma("dma_store", unit.layer, nbytes, [wid],
                                   base + ROUTE_OUT + STORE_AFTER_ROUTE, f"store {head.name} h")
                    out.writes.append((0, out.rows, store))
            writes.append(wid)
            if len(writes) > nslots:
                writes.popleft()
