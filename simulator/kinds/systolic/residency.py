"""Unified-buffer residency: which activation tensors and KV caches live in the unified buffer,
and how much of it is left to stage DRAM-sourced tiles at each layer (docs/models.md, 3.4).

Activations (Belady's rule, `_fit_by_next_use`): a tensor is live from its producer to its last
consumer; wherever the resident live tensors overflow the buffer, the one whose next use lies
farthest ahead spills for its whole lifetime. The network input streams in from DRAM; a tensor
without consumers is a network output and goes to DRAM. The staging space for a DRAM-sourced
operand at layer i is the buffer minus the other resident tensors live at i.
KV caches (persistent across decode steps): in layer order, a cache stays on chip iff it, the
caches kept before it and the peak live activations all fit; the activations then share what
the kept caches leave (so keeping a cache never spills one).

The plan is a pure function of the workload's dataflow graph (each layer's producers), its
tensor and cache sizes in bytes and the capacity (`plan_residency`), so it is memoized on those
values: a sweep's points share a handful of unified-buffer sizes and the array shape does not
enter the plan. The key holds every value the plan reads, so a changed workload or capacity is
a new key, never a stale plan (tests/kinds/systolic/test_residency.py).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from functools import lru_cache
from typing import NamedTuple

from simulator.core.arch import Precision
from simulator.core.layer_base import LayerBase
from simulator.core.layers import MatmulLayer
from simulator.kinds.systolic.precision import layer_precision

#: plans kept (a sweep worker meets each unified-buffer size of its space again and again)
PLANS_KEPT = 16

#: producers of each layer's inputs in input order: a layer index, or None for the network input
Producers = tuple[tuple[int | None, ...], ...]


class LayerPlan(NamedTuple):
    """Where a layer's operands live (unified buffer residency): inputs in DRAM, the right
    operand of an activation x activation product in DRAM, output to DRAM, the unified-buffer
    bytes free to stage DRAM-sourced tiles, and whether its KV cache stays on chip. (A named
    tuple: one is built per layer and run, at a quarter of a frozen dataclass's cost.)"""

    a_dram_flags: tuple[bool, ...]
    out_dram: bool
    ub_free: float
    kv_resident: bool = False

    @property
    def a_in_dram(self) -> bool:
        return self.a_dram_flags[0]

    @property
    def b_in_dram(self) -> bool:
        return self.a_dram_flags[1] if len(self.a_dram_flags) > 1 else self.a_dram_flags[0]


def producers_of(layers: Sequence[LayerBase]) -> Producers:
    """Each layer's producers: the layers its `inputs` name, the previous layer by default, None
    where it reads the network input (an explicit `input` shape, or the first layer)."""
    index = {layer.name: i for i, layer in enumerate(layers)}
    out: list[tuple[int | None, ...]] = []
    for i, layer in enumerate(layers):
        names = layer.inputs
        if names:
            prods: list[int | None] = [index[name] for name in names]
            if layer.input is not None:
                prods[0] = None
            out.append(tuple(prods))
        elif layer.input is not None or i == 0:
            out.append((None,))
        else:
            out.append((i - 1,))
    return tuple(out)


def workload_residency(layers: Sequence[LayerBase], run: Precision, capacity_bytes: float,
                       scale: float = 1.0) -> list[LayerPlan]:
    """The residency plan of `layers` (bound) at the run's precision, with `scale` times their
    batch (activation and cache sizes are proportional to it), in a buffer of `capacity_bytes`.
    A new list of the (immutable) layer plans."""
    size = tuple([layer.output_elements * scale * layer_precision(layer, run).activation_bits / 8
                  for layer in layers])
    kv = tuple([(i, layer.k * layer.n * layer.count * layer.batch * scale
                 * layer_precision(layer, run).activation_bits / 8)
                for i, layer in enumerate(layers)
                if isinstance(layer, MatmulLayer) and layer.kv_cache and not layer.weights])
    return list(plan_residency(producers_of(layers), size, kv, float(capacity_bytes)))


@lru_cache(maxsize=PLANS_KEPT, typed=True)
def plan_residency(producers: Producers, size: tuple[float, ...],
                   kv: tuple[tuple[int, float], ...], capacity: float) -> tuple[LayerPlan, ...]:
    """The plan of every layer from the graph (`producers`), each layer's output bytes (`size`),
    its KV caches as (layer index, bytes) in layer order, and the buffer's `capacity` (module
    docstring). A pure function of its arguments, memoized on them."""
    n = len(size)
    last_use = list(range(n))
    consumed = [False] * n
    for i, prods in enumerate(producers):
        for p in prods:
            if p is not None:
                if i > last_use[p]:
                    last_use[p] = i
                consumed[p] = True
    kv_kept: set[int] = set()
    if kv:
        peak = _peak_live(size, last_use)
        kv_total = 0.0
        for i, cache in kv:
            if kv_total + cache + peak <= capacity:
                kv_kept.add(i)
                kv_total += cache
        capacity -= kv_total
    resident = _fit_by_next_use(producers, consumed, last_use, size, capacity)
    # only resident tensors occupy the buffer; spilled ones live in DRAM
    held = [0.0] * n
    for t in range(n):
        if resident[t]:
            for j in range(t, last_use[t] + 1):
                held[j] += size[t]
    plan = []
    for i, prods in enumerate(producers):
        flags = tuple([p is None or not resident[p] for p in prods])
        own = 0  # the layer's own resident operands and output, in the set's order
        for t in {i, *prods}:
            if t is not None and resident[t]:
                own += size[t]
        staging = max(0.0, capacity - (held[i] - own))
        plan.append(LayerPlan(flags, not resident[i], staging, i in kv_kept))
    return tuple(plan)


def _peak_live(size: Sequence[float], last_use: list[int]) -> float:
    """The largest footprint of live activations (every tensor from its producer to its last
    consumer) over the layers."""
    live = [0.0] * len(size)
    for t, bytes_ in enumerate(size):
        for j in range(t, last_use[t] + 1):
            live[j] += bytes_
    return max(live, default=0.0)


def _fit_by_next_use(producers: Producers, consumed: list[bool], last_use: list[int],
                     size: Sequence[float], capacity: float) -> list[bool]:
    """Which activation tensors stay in the unified buffer for their whole lifetime.

    Layer by layer, while the tensors held at that layer overflow the buffer, the one whose
    next use lies farthest ahead is sent to DRAM for its whole lifetime (Belady's rule, as a
    compiler that knows the schedule applies it; ties: the larger tensor). A tensor a layer
    consumes now has the nearest next use, so the operands of the layer in flight are the last
    to go: at a Llama FFN's down projection the block input (read again by the residual add)
    and the projection's output spill, while its 11008-wide input stays. A tensor without
    consumers is a network output and goes to DRAM."""
    n = len(size)
    uses: list[list[int]] = [[] for _ in range(n)]  # consumers of each tensor, ascending
    for i, prods in enumerate(producers):
        for p in prods:
            if p is not None and (not uses[p] or uses[p][-1] != i):
                uses[p].append(i)
    expiring: list[list[int]] = [[] for _ in range(n)]
    for t in range(n):
        if consumed[t]:
            expiring[last_use[t]].append(t)
    resident = list(consumed)
    active: set[int] = set()  # resident tensors live at the current layer
    held = 0.0
    for j in range(n):
        if resident[j]:
            active.add(j)
            held += size[j]
        if held > capacity:
            def next_use(t: int) -> int:
                k = bisect_left(uses[t], j if t != j else j + 1)
                return uses[t][k] if k < len(uses[t]) else n
            for t in sorted(active, key=lambda t: (-next_use(t), -size[t], t)):
                if held <= capacity:
                    break
                resident[t] = False
                active.discard(t)
                held -= size[t]
        for t in expiring[j]:
            if t in active:
                active.discard(t)
                held -= size[t]
    return resident
