"""Step 2 of the compiler: tensors, their lifetimes, and which of them live in DRAM.

One tensor per unit output (plus the network input, the external inputs some layers read fresh,
and an LSTM's per-step scratch tensors), each with its lifetime in units (producer to last
consumer, residual shortcuts included). The network input, external inputs, the final output
and every other output no later unit reads (a side output, a KV-cache append) live in DRAM. Every other tensor stays in the shared SRAM when, over its whole lifetime, the live
tensors fit the activation budget `size - weight_staging - resident weights`; otherwise it lives
in DRAM: greedy interval allocation in production order (docs/models/tensorcore.md §3, step 2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from simulator.core.layers import LstmLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler.units import INPUT, UnitPlan


def rows_of(shape: tuple[int, ...], batch: int) -> int:
    """Rows a tensor is produced and consumed in (dependency granularity)."""
    if len(shape) == 3:
        return batch * shape[1]
    if len(shape) == 2:
        return batch * shape[0]
    return batch


@dataclass
class Tensor:
    """An activation tensor: its size, where it lives, and (filled in while ops are emitted) the
    ops that write which of its rows, so that a consumer can depend on the rows it reads."""

    name: str
    nbytes: int
    rows: int
    channels: int
    in_dram: bool = False
    base_bank: int = 0
    element_bytes: float = 1.0     # bytes per element (the producer's activation width)
    producer: int | None = None    # unit that writes it (None: an input from DRAM)
    last_use: int = -1             # last unit that reads it
    writes: list[tuple[int, int, int]] = field(default_factory=list)  # (row_lo, row_hi, op)


def make_tensors(workload: Workload, plan: UnitPlan, activation_bytes: float,
                 banks: int, layer_bytes: Callable[[int], float] | None = None
                 ) -> dict[str, Tensor]:
    """One tensor per unit output (plus the inputs), in production order, with lifetimes.

    `activation_bytes` is bytes per activation element (`layer_bytes(i)`: of layer i's output,
    when layers are quantized differently); a tensor's first bank spreads
    tensors over the `banks` banks (network input 0, fresh input of layer i 3i, output of
    unit u 5u + 1, LSTM scratch 5u + 3 + len(suffix), all mod banks)."""
    first = workload.layers[0]
    in_shape = first.input_shapes[0] if first.input_shapes else (1,)
    tensors: dict[str, Tensor] = {}
    tensors[INPUT] = Tensor(INPUT, int(math.ceil(first.input_elements * activation_bytes)),
                            rows_of(in_shape, workload.batch), in_shape[0],
                            element_bytes=activation_bytes, in_dram=True,
                            base_bank=0, last_use=0)
    for name, i in plan.fresh_inputs.items():
        layer = workload.layers[i]
        shape = layer.input_shapes[0]
        tensors[name] = Tensor(name, int(math.ceil(layer.input_elements * activation_bytes)),
                               rows_of(shape, workload.batch), shape[0],
                               element_bytes=activation_bytes, in_dram=True,
                               base_bank=(3 * i) % banks, last_use=0)
    for u, unit in enumerate(plan.units):
        pre = unit.output.endswith("#pre")
        index = unit.layer if pre else unit.layers[-1]
        layer = workload.layers[index]
        shape = layer.output_shape
        element = layer_bytes(index) if layer_bytes is not None else activation_bytes
        tensors[unit.output] = Tensor(
            unit.output, int(math.ceil(layer.output_elements * element)),
            rows_of(shape, workload.batch), shape[0], element_bytes=element, producer=u,
            last_use=u, base_bank=(5 * u + 1) % banks)
        for name in unit.inputs:
            tensors[name].last_use = max(tensors[name].last_use, u)
        if isinstance(layer, LstmLayer) and unit.kind == "mac":
            # per-step scratch tensors: the gates of one step (batch x 4H, requantised to the
            # activation width), the cell state c (batch x H) and the staged GEMM input
            # [x_t, h_{t-1}] (batch x (I+H)) when x or h lives in DRAM
            for suffix, elements in (("#gates", 4 * layer.hidden_size),
                                     ("#c", layer.hidden_size),
                                     ("#xh", layer.features_in + layer.hidden_size)):
                tensors[unit.output + suffix] = Tensor(
                    unit.output + suffix,
                    int(math.ceil(workload.batch * elements * activation_bytes)),
                    workload.batch, elements, producer=u, last_use=u,
                    base_bank=(5 * u + 3 + len(suffix)) % banks)
    last = tensors[plan.units[-1].output]
    last.in_dram = True
    last.last_use = len(plan.units)
    # a unit output no later unit reads leaves the step like the final output (a side output;
    # an LLM decode step's KV-cache append, docs/llm.md section 2): it is written to DRAM,
    # never left in the SRAM to be overwritten (LSTM scratch and pre-op outputs are internal)
    for unit in plan.units:
        tensor = tensors[unit.output]
        if not unit.output.endswith("#pre") and tensor.last_use == tensor.producer:
            tensor.in_dram = True
    return tensors


def activation_budget_bytes(arch: TensorCoreArch, resident_bytes: int = 0) -> int:
    """Shared SRAM left to activations: size - weight staging - resident weights."""
    return arch.sram.size_bytes - arch.sram.weight_staging_bytes - resident_bytes


@dataclass(frozen=True)
class Interval:
    """A tensor the allocator may keep on chip: `nbytes` live from unit `first` to `last`."""

    name: str
    nbytes: int
    first: int
    last: int


class SpillAllocator:
    """Greedy interval allocation in production order, evaluated for any activation budget.

    The rule (docs/models/tensorcore.md §3, step 2): in production order, a tensor stays on
    chip when it fits next to the tensors already placed at every unit of its lifetime; else it
    spills to DRAM. Because tensors come in production order, every tensor placed before
    tensor i was produced no later than i, so the occupancy over i's lifetime, at unit k, is
    the bytes of placed tensors still live at k: non-increasing in k. Its maximum over the
    lifetime is the occupancy at i's producer, kept as a running sum (tensors leave it when
    their last use is behind). One evaluation is O(tensors + units), not O(sum of lifetimes).

    Tensors already in DRAM (the network input and output, external inputs) are not candidates.
    """

    def __init__(self, tensors: Iterable[Tensor]) -> None:
        self.intervals = [Interval(t.name, t.nbytes, t.producer, max(t.last_use, t.producer))
                          for t in tensors if not t.in_dram and t.producer is not None]
        firsts = [iv.first for iv in self.intervals]
        if any(b < a for a, b in zip(firsts, firsts[1:])):
            raise ValueError("tensors must be given in production order")
        self.horizon = max((iv.last for iv in self.intervals), default=0) + 2
        # the peak of all candidates live at once: a budget at least this large spills nothing
        delta = [0] * (self.horizon + 1)
        for iv in self.intervals:
            delta[iv.first] += iv.nbytes
            delta[iv.last + 1] -= iv.nbytes
        live = peak = 0
        for d in delta:
            live += d
            peak = max(peak, live)
        self.peak_bytes = peak

    def spilled(self, budget: int) -> list[str]:
        """Names of the tensors that go to DRAM with `budget` bytes for activations."""
        return [iv.name for iv in self._spilled_intervals(budget)]

    def spill_cost(self, budget: int, cost: Mapping[str, int], limit: int | None = None) -> int:
        """Sum of `cost[name]` over the spilled tensors. With `limit` (valid only when every
        cost is >= 0, so that the partial sum never falls) the walk stops as soon as the sum
        reaches `limit`: the result is then some value >= limit, exact only below it."""
        total = 0
        for iv in self._spilled_intervals(budget):
            total += cost[iv.name]
            if limit is not None and total >= limit:
                return total
        return total

    def _spilled_intervals(self, budget: int):
        if budget >= self.peak_bytes:
            return
        expire = [0] * self.horizon   # bytes of placed tensors whose last use is unit k
        occupancy = 0                 # placed bytes live at the current producer
        k = 0                         # units before k have had their tensors expire
        for iv in self.intervals:
            while k < iv.first:
                occupancy -= expire[k]
                k += 1
            if occupancy + iv.nbytes <= budget:
                occupancy += iv.nbytes
                expire[iv.last] += iv.nbytes
            else:
                yield iv

