"""Op emission: the instruction stream under construction and the data movements every pass
uses (DMA loads and stores through double-buffered staging slots, multicast routes, host
fallback transfers), with the bytes each tensor and unit would move to or from DRAM.

Resources (docs/models/tensorcore.md §4): `core<i>`, `port<p>` (bridge ports; client c uses
port c mod P, the clients being the cores, the DMA and the vector unit), `bank<b>` (a block of a
tensor lives in one bank, tile-interleaved from the tensor's first bank), `dram`, `vector`. A
transfer holds its resources for ceil(bytes / the smallest bandwidth among them) cycles.
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

from simulator.kinds.tensorcore.compiler.allocation import Tensor
from simulator.kinds.tensorcore.compiler.order import (
    LOAD_BEFORE_ROUTE,
    RELOAD_AFTER_HOST_WRITE,
    SPILL_BEFORE_HOST_READ,
    STORE_AFTER_ROUTE,
    ProgramOrder,
)
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.ops import Op


@dataclass
class TrafficCounts:
    """Bytes the residency planner reads from a streaming compile: per unit, the weight bytes
    it loads from DRAM; per tensor, the DMA bytes it would move if it lived in DRAM, and the
    host-fallback DMA bytes it moves only because it lives in SRAM."""

    weight_dram_bytes: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    tensor_dram_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    tensor_sram_extra_bytes: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def spill_cost_bytes(self, name: str) -> int:
        """DRAM bytes per run that tensor `name` costs by living in DRAM instead of SRAM."""
        return self.tensor_dram_bytes.get(name, 0) - self.tensor_sram_extra_bytes.get(name, 0)


def share_bytes(total: int, a0: int, a1: int, a_all: int, b0: int = 0, b1: int = 1,
                b_all: int = 1) -> int:
    """Whole bytes of the block [a0, a1) x [b0, b1) of a tensor of `total` bytes cut along two
    axes of a_all and b_all: differences of floor(total x a x b / (a_all x b_all)), so that
    the blocks of any partition add up to `total` exactly (no rounding up per tile)."""
    den = max(1, a_all) * max(1, b_all)

    def f(a: int, b: int) -> int:
        return total * a * b // den

    return f(a1, b1) - f(a0, b1) - f(a1, b0) + f(a0, b0)


def xfer_cycles(nbytes: float, bandwidth: float) -> int:
    """Cycles a transfer holds its resources: ceil(bytes / bandwidth); 0 when unbounded."""
    return 0 if nbytes <= 0 or math.isinf(bandwidth) else math.ceil(nbytes / bandwidth)


class Emitter:
    """The op list under construction, its program order and the shared data movements."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.arch = target.arch
        self.ops: list[Op] = []
        self.order = ProgramOrder()
        self.traffic = TrafficCounts()
        self.split = self.arch.compiler.placement == "split"
        #: steps that repeat (LSTM time steps, schedule.Repeat) and whether to collapse them
        self.repeats: list = []
        self.repeat_steps = self.split
        #: count bytes only (the residency planner's streaming compile): no ops are recorded
        self.count_only = False
        #: weight blocks moved so far (replay.py: whether a unit's weight bank matters)
        self.weight_blocks = 0
        self._ports: dict[tuple, str] = {}
        #: route op id -> (first bank of its stream, block index) of the bank it holds, when
        #: recorded (replay.py compares the banks of repeated units)
        self.bank_src: dict[int, tuple[int, int]] | None = None
        self._port_sets: dict[tuple, tuple[str, ...]] = {}
        #: DMA staging slots per stream (double buffered): the last two routes they fed
        self._staging: dict[tuple, deque] = {}
        self._dma_bw = min(target.dram_bytes_per_cycle, target.port_bytes_per_cycle,
                           target.bank_bytes_per_cycle)
        self._route_bw = min(target.port_bytes_per_cycle, target.bank_bytes_per_cycle)
        self._banks = [f"bank{b}" for b in range(self.arch.sram.banks)]
        # arch figures every transfer reads (the same for every unit's target)
        self._hop = self.arch.bridge.hop_latency_cycles
        self._dram_latency = target.dram_latency_cycles
        self._dma_resources = ("dram", self.port("dma"))
        #: (destinations, bank) -> the resources of a route in
        self._route_resources: dict[tuple, tuple[str, ...]] = {}

    # ------------------------------------------------------------------ resources
    def port(self, client: str | int) -> str:
        """Bridge port of a client: core c -> c, DMA -> cores, vector unit -> cores + 1."""
        key = (client, self.target.cores)
        name = self._ports.get(key)
        if name is None:
            index = {"dma": self.target.cores,
                     "vector": self.target.cores + 1}.get(client, client)  # type: ignore[arg-type]
            name = self._ports[key] = f"port{int(index) % self.arch.bridge.ports}"
        return name

    def ports(self, dests: list) -> tuple[str, ...]:
        """The bridge ports of a (multicast) route's destinations, sorted."""
        key = (tuple(dests), self.target.cores)
        names = self._port_sets.get(key)
        if names is None:
            names = self._port_sets[key] = tuple(sorted({self.port(d) for d in dests}))
        return names

    def bank(self, tensor_bank: int, block: int) -> str:
        banks = self._banks
        return banks[(tensor_bank + block) % len(banks)]

    # ------------------------------------------------------------------ ops
    def emit(self, kind: str, layer: int, resources: tuple[str, ...], busy: int, latency: int,
             deps: list[int | None], seq: int, nbytes: int = 0, label: str = "") -> int:
        """Append an op asked for at sequence number `seq`; return its id. Counting only
        (`count_only`): the op is not recorded (the bytes are counted by the callers)."""
        ops = self.ops
        if self.count_only:
            ops.append(None)
            return len(ops) - 1
        clean = []
        for d in deps:
            if d is not None and d >= 0:
                clean.append(d)
        if len(clean) > 1:
            clean = sorted(set(clean))
        # placed one tick after its latest dependency, never below the floor (order.py)
        for d in clean:
            after = ops[d].seq + 1
            if after > seq:
                seq = after
        floor = self.order.floor
        if seq < floor:
            seq = floor
        op = Op(len(ops), kind, layer, resources, int(busy), int(latency), clean, seq,
                int(nbytes), label)
        ops.append(op)
        return op.id

    def _unrecorded(self, n: int) -> int:
        """Counting only: n ops emitted but not recorded (as `emit` does); the last one's id."""
        ops = self.ops
        for _ in range(n):
            ops.append(None)
        return len(ops) - 1

    def mark(self) -> int:
        """A mark for `join`: the ops emitted from now on."""
        return len(self.ops)

    def barrier(self, layer: int, deps: list[int], label: str) -> int:
        """A zero-time op on `deps`; every op emitted later sorts after it."""
        b = self.emit("barrier", layer, (), 0, 0, list(deps), 0, label=label)
        if not self.count_only:
            self.order.floor = self.ops[b].seq
        return b

    def join(self, layer: int, since: int, label: str) -> int:
        """A barrier on every op emitted since the mark `since`."""
        return self.barrier(layer, [] if self.count_only else list(range(since, len(self.ops))),
                            label)

    def dma(self, kind: str, layer: int, nbytes: float, deps: list[int | None], seq: int,
            label: str) -> int:
        """One DMA transfer between DRAM and the shared SRAM (load or store)."""
        nbytes = int(math.ceil(nbytes))
        return self.emit(kind, layer, ("dram", self.port("dma")), xfer_cycles(nbytes, self._dma_bw),
                         self.target.dram_latency_cycles, deps, seq, nbytes, label)

    # ------------------------------------------------------------------ data movement
    def read_block(self, tensor: Tensor, block: int, nbytes: float, dests: list, layer: int,
                   deps: list[int], seq: int, stream: tuple, label: str,
                   count: bool = True) -> int:
        """Move a block of `tensor` to the clients `dests` (core indices or 'vector'): a DMA
        load first when the tensor lives in DRAM, then one (multicast) route. Returns the
        route op (the block has arrived when it is done). `count`: add the bytes to the
        tensor's would-be DRAM traffic (False when the caller accounts for it)."""
        nbytes = int(math.ceil(nbytes))
        if count:
            self.traffic.tensor_dram_bytes[tensor.name] += nbytes  # a DMA load if in DRAM
        if self.count_only:     # the load (from DRAM) and the route, not recorded
            return self._unrecorded(2 if tensor.in_dram else 1)
        banks = self._banks
        route = self.staged_route(layer, banks[(tensor.base_bank + block) % len(banks)], nbytes,
                                  dests, deps, seq, stream, tensor.in_dram, label)
        if self.bank_src is not None:
            self.bank_src[route] = (tensor.base_bank, block)
        return route

    def staged_route(self, layer: int, bank: str, nbytes: int, dests: list, deps: list[int],
                     seq: int, stream: tuple, from_dram: bool, label: str) -> int:
        """Route a block from SRAM bank `bank` to `dests` (multicast), preceded by a DMA load
        into a double-buffered staging slot when it comes from DRAM: a load may start once the
        route two blocks back on the same stream has freed its slot."""
        if from_dram:
            queue = self._staging.setdefault(stream, deque())
            slot_dep = queue[0] if len(queue) >= 2 else None
            load = self.emit("dma_load", layer, self._dma_resources,
                             xfer_cycles(nbytes, self._dma_bw), self._dram_latency,
                             deps + [slot_dep], seq + LOAD_BEFORE_ROUTE, nbytes, f"load {label}")
            deps = [load]
        key = (tuple(dests), bank)
        resources = self._route_resources.get(key)
        if resources is None:
            resources = self._route_resources[key] = self.ports(dests) + (bank,)
        route = self.emit("route_in", layer, resources, xfer_cycles(nbytes, self._route_bw),
                          self._hop, deps, seq, nbytes, label)
        if from_dram:
            queue = self._staging[stream]
            queue.append(route)
            if len(queue) > 2:
                queue.popleft()
        return route

    def write_block(self, tensor: Tensor, block: int, nbytes: float, src: str | int, layer: int,
                    deps: list[int], seq: int, rows: tuple[int, int], label: str,
                    count: bool = True) -> int:
        """Route a finished block to the shared SRAM, then DMA it out when the tensor lives in
        DRAM. Records the write so that consumers can depend on these rows."""
        nbytes = int(math.ceil(nbytes))
        if count:
            self.traffic.tensor_dram_bytes[tensor.name] += nbytes  # a DMA store if in DRAM
        if self.count_only:     # the route out and the store (to DRAM), not recorded
            last = self._unrecorded(2 if tensor.in_dram else 1)
            tensor.writes.append((rows[0], rows[1], last))
            return last
        bank = self.bank(tensor.base_bank, block)
        last = self.emit("route_out", layer, (self.port(src), bank),
                         xfer_cycles(nbytes, self._route_bw), self._hop, deps, seq, nbytes,
                         label)
        if self.bank_src is not None:
            self.bank_src[last] = (tensor.base_bank, block)
        if tensor.in_dram:
            last = self.emit("dma_store", layer, self._dma_resources,
                             xfer_cycles(nbytes, self._dma_bw), self._dram_latency,
                             [last], seq + STORE_AFTER_ROUTE, nbytes, f"store {label}")
        tensor.writes.append((rows[0], rows[1], last))
        return last

    def weight_block(self, unit_i: int, layer: int, block: int, nbytes: float, dests: list,
                     deps: list[int], seq: int, from_dram: bool, label: str) -> int:
        """Weights: DMA DRAM -> SRAM staging (when `from_dram`), then route to the cores."""
        nbytes = int(math.ceil(nbytes))
        self.weight_blocks += 1
        if from_dram:
            self.traffic.weight_dram_bytes[unit_i] += nbytes
        if self.count_only:     # the load (from DRAM) and the route, not recorded
            return self._unrecorded(2 if from_dram else 1)
        bank = self.bank(7 * unit_i + 3, block)
        stream = ("w", unit_i, tuple(dests))
        route = self.staged_route(layer, bank, nbytes, dests, deps, seq, stream, from_dram, label)
        if self.bank_src is not None:
            self.bank_src[route] = (7 * unit_i + 3, block)
        return route

    def producer_deps(self, tensor: Tensor, lo: int, hi: int) -> list[int]:
        """Ops that complete rows [lo, hi) of `tensor` (pipeline placement only; split
        placement has a barrier between units). Writes that each cover every row (an LSTM's
        h_t, step after step) are folded into one zero-time join once there are many of them:
        a read overlapping one overlaps all, so depending on the join is the same dependency,
        and reads no longer scan every earlier write."""
        if self.split or self.count_only:
            return []
        writes = tensor.writes
        if len(writes) > 32:
            full = [op for (a, b, op) in writes if a <= 0 and b >= tensor.rows]
            if len(full) > 16:
                join = self.emit("barrier", self.ops[full[-1]].layer, (), 0, 0, full, 0,
                                 label=f"{tensor.name} written")
                tensor.writes = [w for w in writes if not (w[0] <= 0 and w[1] >= tensor.rows)]
                tensor.writes.append((0, tensor.rows, join))
                writes = tensor.writes
        return [op for (a, b, op) in writes if a < hi and b > lo]

    # ------------------------------------------------------------------ host fallback
    def host_read(self, tensor: Tensor, nbytes: float, name: str, layer: int, deps: list[int],
                  seq: int) -> int:
        """Host fallback: the tensor must be in DRAM (a DMA store first if it is in SRAM), then
        the host reads it over the DRAM interface."""
        self.traffic.tensor_sram_extra_bytes[tensor.name] += int(nbytes)
        if not tensor.in_dram:
            deps = [self.emit("dma_store", layer, ("dram", self.port("dma")),
                              xfer_cycles(nbytes, self._dma_bw), self.target.dram_latency_cycles,
                              deps, seq + SPILL_BEFORE_HOST_READ, int(nbytes), f"spill {name}")]
        return self.emit("host_read", layer, ("dram",),
                         xfer_cycles(nbytes, self.target.dram_bytes_per_cycle),
                         self.target.dram_latency_cycles, deps, seq, int(nbytes),
                         f"host read {name}")

    def host_write(self, tensor: Tensor, nbytes: float, layer: int, deps: list[int], seq: int,
                   rows: tuple[int, int]) -> int:
        """Host fallback: the host writes a tile to DRAM; a DMA load brings it back into the
        shared SRAM when the tensor lives there."""
        last = self.emit("host_write", layer, ("dram",),
                         xfer_cycles(nbytes, self.target.dram_bytes_per_cycle),
                         self.target.dram_latency_cycles, deps, seq, int(nbytes), "host write")
        self.traffic.tensor_sram_extra_bytes[tensor.name] += int(nbytes)
        if not tensor.in_dram:
            last = self.emit("dma_load", layer, ("dram", self.port("dma")),
                             xfer_cycles(nbytes, self._dma_bw), self.target.dram_latency_cycles,
                             [last], seq + RELOAD_AFTER_HOST_WRITE, int(nbytes), "reload")
        tensor.writes.append((rows[0], rows[1], last))
        return last

