"""Op emission of an element-wise, pooling or vector-unit pass (docs/models/tensorcore.md §3b).

The pass runs on the cores' element path (a core that hard-wires the op) or on the vector unit
(whose input and output get a quarter of its buffer each, ping-pong), over rows of its tensors
split evenly among its clients. When one row of every operand plus the whole of the single-row
operands (an SE scale vector, a 1-D tensor such as a linear output) exceeds the buffer, the
work splits into the fewest equal channel slices that fit; each slice takes its share of every
operand (single-row operands are loaded once per slice) and rows tile inside a slice. A global
pool tiles over its input rows and writes its small output once, at the end of each slice. With
the vector unit on the host (`vector_unit.location: host`) tiles go through DRAM.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from simulator.core.errors import NpusimError
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.compiler.allocation import Tensor
from simulator.kinds.tensorcore.compiler.emitter import Emitter, share_bytes, xfer_cycles
from simulator.kinds.tensorcore.compiler.order import (
    COMPUTE,
    HOST_READ,
    ROUTE_INPUT,
    ROUTE_OUT,
    step_seq,
)
from simulator.kinds.tensorcore.compiler.units import Unit


@dataclass
class ClientState:
    """One client's (core or vector unit) progress through its tiles."""

    computes: deque[int] = field(default_factory=deque)  # reading the input slots, oldest first
    writes: deque[int] = field(default_factory=deque)    # freeing the output slots
    last: int | None = None                              # its last compute
    chunk: int | None = None                             # channel slice being worked on
    fixed_loaded: bool = False                           # the slice's single-row operands are in


def emit_elt_unit(em: Emitter, workload: Workload, tensors: dict[str, Tensor], u: int,
                  unit: Unit, cores: list[int], barrier: list[int]) -> None:
    """The tiled instruction stream of an element-wise unit (module docstring)."""
    target, arch = em.target, em.arch
    nslots = target.slots
    layer = workload.layers[unit.layer]
    out = tensors[unit.output]
    ins = [tensors[n] for n in unit.inputs]
    on_vector = unit.engine == "vector"
    host = on_vector and arch.vector_unit.location == "host"
    if on_vector:
        lanes = target.vector_ops_per_cycle
        clients: list = ["vector"]
        cap_in = cap_out = arch.vector_unit.buffer_bytes / 4
    else:
        lanes = target.element_lanes
        clients = cores
        cap_in, cap_out = target.input_half_bytes, target.output_half_bytes
    global_pool = out.rows < max(t.rows for t in ins) and out.nbytes < min(t.nbytes for t in ins)
    # a global pool tiles over the input rows; the small output is written once at the end
    rows_total = max(t.rows for t in ins) if global_pool else out.rows
    per_row_in = sum(t.nbytes / rows_total for t in ins if t.rows > 1)
    per_row_out = 0 if global_pool else out.nbytes / rows_total
    fixed_in = sum(t.nbytes for t in ins if t.rows <= 1)
    # channel slices: the fewest that let one row of every operand plus the single-row
    # operands fit the buffer; the smallest tile is one row of one element per operand
    pool_out = out.nbytes / len(clients) if global_pool else 0.0
    chunks = max(1, math.ceil(max((fixed_in + per_row_in) / cap_in,
                                  (per_row_out + pool_out) / cap_out)))
    if chunks > max([t.nbytes for t in ins] + [1]):
        raise NpusimError(f"layer {layer.name}: not even one element of each operand fits "
                          "the buffer", field="vector_unit.buffer_bytes" if on_vector
                          else "core.input_buffer_bytes", fix="increase the buffer size")
    rows_fit = min((cap_in - fixed_in / chunks) / (per_row_in / chunks) if per_row_in
                   else rows_total,
                   (cap_out - pool_out / chunks) / (per_row_out / chunks) if per_row_out
                   else rows_total)
    tile_rows = max(1, int(rows_fit))
    # split rows over the clients
    per_client = -(-rows_total // len(clients))
    tile_rows = min(tile_rows, per_client)
    ops_per_row = (unit.vector_ops / rows_total + unit.post_ops / rows_total) / chunks
    # weights of a layer without MACs (an embedding's rows, a stored constant operand), not of
    # a MAC head whose activation runs here: each tile loads its share from DRAM
    w_total = 0 if layer.is_compute else layer.operand_bytes(target.precision)["weights"]
    state = {c: ClientState() for c in clients}
    # per client: slice outer (its part of the single-row operands stays), rows inner
    blocks = {c: [(a, min(rows_total, (i + 1) * per_client, a + tile_rows), ch)
                  for ch in range(chunks)
                  for a in range(i * per_client, min(rows_total, (i + 1) * per_client), tile_rows)]
              for i, c in enumerate(clients)}
    slot = {c: i for i, c in enumerate(clients)}
    n_steps = max(len(b) for b in blocks.values())
    start = em.order.floor   # tile steps are counted from the pass's start
    for t in range(n_steps):
        base = step_seq(start, t)
        for c in clients:
            if t >= len(blocks[c]):
                continue
            lo, hi, chunk = blocks[c][t]
            st = state[c]
            if st.chunk != chunk:
                st.chunk, st.fixed_loaded = chunk, False  # next slice of the 1-row operands
            deps = list(barrier)
            if len(st.computes) >= nslots:
                deps.append(st.computes[0])
            arrivals = []
            for tin in ins:
                if tin.rows <= 1:
                    if st.fixed_loaded:
                        continue
                    nbytes, rlo, rhi = share_bytes(tin.nbytes, chunk, chunk + 1, chunks), 0, 1
                else:
                    rlo = int(lo / rows_total * tin.rows)
                    rhi = max(rlo + 1, int(math.ceil(hi / rows_total * tin.rows)))
                    nbytes = share_bytes(tin.nbytes, lo, hi, rows_total, chunk, chunk + 1,
                                         chunks)
                rdeps = deps + em.producer_deps(tin, rlo, rhi)
                if host:
                    arrivals.append(em.host_read(tin, nbytes, layer.name, unit.layer, rdeps,
                                                 base + HOST_READ))
                else:
                    arrivals.append(em.read_block(tin, (t * len(clients) + slot[c]) * len(ins)
                                                  + len(arrivals), nbytes, [c], unit.layer,
                                                  rdeps, base + ROUTE_INPUT,
                                                  ("e", u, c, tin.name), f"{layer.name} in"))
            st.fixed_loaded = True
            if w_total:  # this tile's share of the stored operand
                nbytes = share_bytes(w_total, lo, hi, rows_total, chunk, chunk + 1, chunks)
                if host:
                    arrivals.append(em.emit(
                        "host_read", unit.layer, ("dram",),
                        xfer_cycles(nbytes, target.dram_bytes_per_cycle),
                        target.dram_latency_cycles, deps, base, int(math.ceil(nbytes)),
                        f"host read {layer.name} w"))
                else:
                    arrivals.append(em.weight_block(
                        u, unit.layer, t * len(clients) + slot[c], nbytes, [c], deps,
                        base + ROUTE_INPUT, True, f"{layer.name} w"))
            cdeps = arrivals + ([st.last] if st.last is not None else [])
            if len(st.writes) >= nslots:
                cdeps.append(st.writes[0])
            cycles = math.ceil(ops_per_row * (hi - lo) / lanes)
            resource = ("vector",) if on_vector else (f"core{c}",)
            kind = "vector" if on_vector else "compute"
            if unit.passes > 1:
                # a two-pass reduction: the statistics pass (half the ops) over the rows, then
                # the rows are read again for the normalising pass (the other half)
                stats = em.emit(kind, unit.layer, resource, cycles // 2, 0, cdeps,
                                base + COMPUTE, label=f"{layer.name} {unit.ops_label} stats")
                cdeps = [stats]
                for tin in ins:
                    if tin.rows > 1:
                        cdeps.append(em.read_block(
                            tin, (t * len(clients) + slot[c]) * len(ins), share_bytes(
                                tin.nbytes, lo, hi, rows_total, chunk, chunk + 1, chunks),
                            [c], unit.layer, [stats],
                            base + COMPUTE, ("e2", u, c, tin.name), f"{layer.name} in 2"))
                cycles -= cycles // 2
            cid = em.emit(kind, unit.layer, resource, cycles, 0, cdeps, base + COMPUTE,
                          label=f"{layer.name} {unit.ops_label}")
            st.last = cid
            st.computes.append(cid)
            if len(st.computes) > nslots:
                st.computes.popleft()
            last_tile = t == len(blocks[c]) - 1 or blocks[c][t + 1][2] != chunk
            if global_pool and not last_tile:
                continue
            if global_pool:
                nbytes = share_bytes(out.nbytes, slot[c], slot[c] + 1, len(clients), chunk,
                                     chunk + 1, chunks)
                olo, ohi = 0, out.rows
            else:
                nbytes = share_bytes(out.nbytes, lo, hi, rows_total, chunk, chunk + 1, chunks)
                olo, ohi = lo, hi
            if host:
                wid = em.host_write(out, nbytes, unit.layer, [cid], base + ROUTE_OUT, (olo, ohi))
            else:
                wid = em.write_block(out, t * len(clients) + slot[c], nbytes, c, unit.layer,
                                     [cid], base + ROUTE_OUT, (olo, ohi), f"{layer.name} out")
            st.writes.append(wid)
            if len(st.writes) > nslots:
                st.writes.popleft()
