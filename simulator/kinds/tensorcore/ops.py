"""The instruction format shared by the tensor-core compiler and its event simulation.

An `Op` is one instruction of the stream: a DMA transfer, a bridge route, a core compute tile or
a vector-unit tile. It holds a list of resources exclusively for `busy_cycles` (bandwidth), then
completes `latency_cycles` later (pipeline latency: the resources are free again meanwhile, so
latencies of back-to-back transfers overlap). It may start only when every op in `deps` is done
(data and buffer dependencies) and when every resource it holds has finished its previous op in
program order (resources are in-order queues, as in a statically scheduled NPU).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Op kinds and the cause a critical-path segment of that kind is charged to.
KIND_CATEGORY = {
    "dma_load": "dram", "dma_store": "dram", "host_read": "dram", "host_write": "dram",
    "route_in": "bridge", "route_out": "bridge", "compute": "compute", "vector": "vector_unit",
    "barrier": "dependency",
}


@dataclass(slots=True)
class Op:
    """One instruction (see module docstring). Times are in core clock cycles."""

    id: int
    kind: str
    layer: int
    resources: tuple[str, ...]
    busy_cycles: int
    latency_cycles: int = 0
    deps: list[int] = field(default_factory=list)
    #: program order: ops run in (seq, id) order on every resource they hold
    seq: int = 0
    nbytes: int = 0
    label: str = ""


def resource_category(resource: str) -> str:
    """Which stall cause waiting on `resource` is charged to."""
    if resource.startswith("port"):
        return "bridge"
    if resource.startswith("bank"):
        return "sram_bank"
    if resource.startswith("core"):
        return "compute"
    if resource == "dram":
        return "dram"
    if resource == "vector":
        return "vector_unit"
    return resource
