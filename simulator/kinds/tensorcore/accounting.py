"""Per-layer accounting of a simulated tensor-core program: traffic, busy and wait time per
resource, lower bounds, and the counted actions the energy module prices.

* **Traffic.** DRAM: DMA loads/stores (and host reads/writes), by operand (`filter`: weight
  loads, `ifmap`: activation loads, `ofmap`: stores). Shared SRAM: route-ins and DMA stores read
  it (a multicast reads once), route-outs and DMA loads write it. Bridge: bytes per
  destination port. Every copy of a repeated step counts.
* **Bounds** (lower bounds on the layer's occupied cycles): compute = the busiest core or the
  vector unit, bridge = port-bytes / (ports x bytes per cycle per port), DRAM = bytes / DRAM
  bytes per cycle.
* **Counted actions** (priced by `simulator.core.energy`): MACs at the executed precision;
  core buffers `sram:core_input` (routed-in bytes + array reads, an input byte shared by up to
  `cols` output lanes; depthwise no sharing), `sram:core_weight` (write + read of routed
  weights), `sram:core_output` (accumulator read+write per K fold + read-out), each at its
  buffer size; `sram:shared` at the bank size; `bridge` per byte per destination; `dram`;
  `vector` (vector unit) and `core_vector` (cores' element path: pools, adds, hard-wired
  activations as results drain, input-path scales), one table add per element op.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from simulator.core.actions import (
    Action,
    DramAccess,
    Macs,
    SramAccess,
    VectorOps,
    WireTransfer,
)
from simulator.core.layer_base import LayerBase
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler import Program, Unit
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compression import mac_count
from simulator.kinds.tensorcore.ops import Op, resource_category
from simulator.kinds.tensorcore.timeline import Timeline

#: SRAM access width for energy (Horowitz's SRAM figures are for 64-bit reads)
SRAM_ACCESS_BITS = 64


@dataclass
class Traffic:
    """What a layer's ops moved and occupied (every copy of a repeated step counted)."""

    busy: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    wait: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    dram_read: float = 0
    dram_write: float = 0
    sram_read: float = 0
    sram_write: float = 0
    bridge: float = 0
    port_bytes: float = 0
    multicast_saved: float = 0
    weight_routed: float = 0
    input_routed: float = 0
    out_routed: float = 0
    route_reads: float = 0         # shared-SRAM reads by routes into the cores
    dma_load_bytes: float = 0
    dma_store_bytes: float = 0
    dram_by_operand: dict[str, float] = field(default_factory=lambda: defaultdict(float))

    def bounds(self, arch: TensorCoreArch) -> dict[str, float]:
        """Lower bounds on the layer's cycles (module docstring)."""
        busy = [self.busy.get(f"core{c}", 0.0) for c in range(arch.cores)]
        return {"compute": max(busy + [self.busy.get("vector", 0.0)]),
                "bridge": self.port_bytes / (arch.bridge.ports
                                             * arch.bridge.bytes_per_cycle_per_port),
                "dram": (self.dram_read + self.dram_write) / arch.dram_bytes_per_cycle}


def layer_traffic(layer_ops: list[Op], tl: Timeline, memo: dict | None = None) -> Traffic:
    """Sum a layer's ops into its traffic, busy and wait figures. `memo` keeps what each
    resource tuple stands for (busy keys, bridge ports) across the layers of one run."""
    memo = {} if memo is None else memo
    causes: dict[str, str] = {}     # binding resource -> the wait it is charged to
    tr = Traffic()
    busy, wait, by_operand = tr.busy, tr.wait, tr.dram_by_operand
    timing, mult = tl.timing, tl.mult
    # the sums, in locals (each adds its terms in op order, from 0 as the fields start)
    dram_read = dram_write = sram_read = sram_write = bridge = port_bytes = 0
    multicast_saved = weight_routed = input_routed = out_routed = route_reads = 0
    dma_load = dma_store = 0
    for op in layer_ops:
        t = timing[op.id]
        n = mult.get(op.id, 1)
        resources = op.resources
        info = memo.get(resources)
        if info is None:
            # the busy keys of the op's resources and how many bridge ports it holds
            info = memo[resources] = (
                tuple("sram_banks" if r.startswith("bank") else r for r in resources),
                sum(1 for r in resources if r.startswith("port")))
        keys, ports = info
        held = op.busy_cycles * n
        for key in keys:
            busy[key] += held
        via = t.via
        if t.start > t.ready and via and via != "dep":
            cat = causes.get(via)
            if cat is None:
                cat = resource_category(via)
                cat = causes[via] = "core" if cat == "compute" else cat
            wait[cat] += (t.start - t.ready) * n
        nbytes = op.nbytes * n
        port_bytes += nbytes * ports
        kind = op.kind
        if kind in ("dma_load", "host_read"):
            # operand names as the other engines: filter (weights), ifmap, ofmap
            by_operand["filter" if op.label.endswith(" w") else "ifmap"] += nbytes
        elif kind in ("dma_store", "host_write"):
            by_operand["ofmap"] += nbytes
        if kind == "dma_load":
            dram_read += nbytes
            sram_write += nbytes
            dma_load += nbytes
            bridge += nbytes
        elif kind == "dma_store":
            dram_write += nbytes
            sram_read += nbytes
            dma_store += nbytes
            bridge += nbytes
        elif kind == "host_read":
            dram_read += nbytes
        elif kind == "host_write":
            dram_write += nbytes
        elif kind == "route_in":
            sram_read += nbytes
            route_reads += nbytes
            bridge += nbytes * ports
            multicast_saved += nbytes * (ports - 1)
            if op.label.endswith((" w", " kv", " rhs")):   # the stationary operand
                weight_routed += nbytes * ports
            else:
                input_routed += nbytes * ports
        elif kind == "route_out":
            sram_write += nbytes
            bridge += nbytes
            out_routed += nbytes
    tr.dram_read, tr.dram_write, tr.sram_read, tr.sram_write = (dram_read, dram_write,
                                                                sram_read, sram_write)
    tr.bridge, tr.port_bytes, tr.multicast_saved = bridge, port_bytes, multicast_saved
    tr.weight_routed, tr.input_routed, tr.out_routed = weight_routed, input_routed, out_routed
    tr.route_reads, tr.dma_load_bytes, tr.dma_store_bytes = route_reads, dma_load, dma_store
    return tr


def _core_buffer(name: str, size_bytes: int, read_bytes: float, write_bytes: float) -> SramAccess:
    """Traffic of a core's input, weight or output buffer (`sram:core_<name>`)."""
    return SramAccess(component=f"sram:core_{name}", size_bytes=size_bytes,
                      width_bits=SRAM_ACCESS_BITS, read_bytes=read_bytes, write_bytes=write_bytes)


def element_ops(units: list[Unit]) -> tuple[int, int]:
    """(vector-unit element ops, cores' element-path ops) of a layer's units (an LSTM unit's
    gate math runs where its gate_engine says)."""
    vector = sum(u.vector_ops for u in units if (u.gate_engine or u.engine) == "vector")
    core = sum(u.post_ops + u.act_ops
               + (u.vector_ops if (u.gate_engine or u.engine) == "core" else 0) for u in units)
    return vector, core


def layer_actions(arch: TensorCoreArch, program: Program, layer: LayerBase, units: list[Unit],
                  tr: Traffic, target: Target) -> list[Action]:
    """The counted actions of one layer at its precision (`target`; module docstring)."""
    precision = target.precision
    ab = precision.activation_bits / 8
    accb = precision.accumulator_bits / 8
    macs = mac_count(layer, arch)
    actions: list[Action] = []
    if macs:
        # priced at the precision the array executes (operands widened to a width it supports)
        actions.append(Macs(component="mac", count=macs, precision=target.mac.executed))
    if layer.is_compute and any(u.kind == "mac" and u.engine == "core" for u in units):
        spec = program.mac_spec(layer)
        reuse = 1 if spec.depthwise else min(arch.core.mac_cols, spec.cout_g)
        kfolds = 1 if spec.depthwise else -(-(spec.taps * spec.cin_g) // arch.core.mac_rows)
        # the array reads each input byte once per `reuse` output channels
        in_reads = macs * ab / reuse
        # each output accumulates over kfolds reduction folds in the output buffer:
        # kfolds partial-sum writes and kfolds - 1 reads
        outputs = spec.steps * spec.m * spec.cout * spec.work_fraction
        actions += [
            _core_buffer("input", arch.core.input_buffer_bytes, in_reads, tr.input_routed),
            # weights: routed in (written), read once into the array
            _core_buffer("weight", arch.core.weight_buffer_bytes, tr.weight_routed,
                         tr.weight_routed),
            _core_buffer("output", arch.core.output_buffer_bytes,
                         outputs * (kfolds - 1) * accb + tr.out_routed,
                         outputs * kfolds * accb)]
    elif tr.input_routed or tr.out_routed:
        # element-wise pass on a core: each byte written into a buffer and read once
        actions += [
            _core_buffer("input", arch.core.input_buffer_bytes, tr.input_routed, tr.input_routed),
            _core_buffer("output", arch.core.output_buffer_bytes, tr.out_routed, tr.out_routed)]
    if tr.sram_read or tr.sram_write:
        actions.append(SramAccess(component="sram:shared", size_bytes=arch.sram.bank_bytes,
                                  width_bits=SRAM_ACCESS_BITS, read_bytes=tr.sram_read,
                                  write_bytes=tr.sram_write))
    if tr.bridge:
        actions.append(WireTransfer(component="bridge", nbytes=tr.bridge,
                                    pj_per_byte=arch.bridge.energy_pj_per_byte))
    if tr.dram_read or tr.dram_write:
        actions.append(DramAccess(nbytes=tr.dram_read + tr.dram_write))
    vector_ops, core_vector_ops = element_ops(units)
    for component, count in (("vector", vector_ops), ("core_vector", core_vector_ops)):
        if count:
            actions.append(VectorOps(component=component, count=count,
                                     bits=precision.activation_bits,
                                     number_format=precision.number_format))
    return actions
