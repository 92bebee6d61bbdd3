"""Tensor-core compiler: workload -> instruction stream (DMA, route, compute, vector ops).

Steps (docs/models/tensorcore.md gives the rules in prose):

1. **Units.** Layers are grouped into compile units. A conv/linear head absorbs the following
   layers that the core lists in `fusable_post_ops` (activation, pooling, add/mul) when each is
   the only consumer of the previous one (`compiler.fusion`). An inline `activation:` the core
   cannot apply becomes a separate vector-unit unit. Non-MAC layers run on a core when it
   hard-wires them, else on the vector unit; concat/flatten are views (no data moves).
2. **Allocation.** Each unit's output tensor stays in the shared SRAM when, over its lifetime
   (producer to last consumer), the live tensors still fit next to the weight staging area and
   the resident weights; otherwise it lives in DRAM (greedy interval allocation in production
   order). The network input and the final output are in DRAM.
   **Weight residency** (`compiler.weight_residency`). `stream`: every run loads all weights
   from DRAM. `resident` (steady-state streaming inference): the compiler first compiles a
   streaming plan to measure, exactly, the DRAM bytes each unit's weights cost per run and the
   DRAM bytes each activation tensor would cost if it spilled; then it admits units' weights
   to a resident SRAM region greedily in decreasing order of DRAM bytes saved per byte of SRAM
   (ties: layer order), each admission only if the weight bytes it saves exceed the activation
   spill traffic that the smaller activation budget causes (the allocation is re-run for each
   candidate). Resident weights are loaded once with the model (`resident_weight_bytes`, not
   part of a run) and are still routed SRAM -> cores every run.
3. **Tiling.** Tiles are sized to half of each core buffer (ping-pong). Conv/linear:
   tile = (output pixels) x (output channels, multiples of the array width) x (input channels,
   split only when the weights of one array-width of channels do not fit); the loop order
   (channels outer or pixels outer) is the one that routes fewer bytes; the operand that stays
   the same across consecutive tiles is not routed again. Depthwise: channels x pixels.
   Oversized layers split the reduction down to one input channel (partial sums in the output
   buffer) and the channel tile below the array width; element-wise passes split into channel
   slices. Only a layer whose smallest tile does not fit is rejected.
   LSTM: one gate GEMM per time step, each after the previous step's gate math (_lstm_unit).
4. **Placement.** `split`: every unit across all cores (by output channels when there are at
   least cores x array-width channels, the input tile then multicast; else by output rows,
   weights multicast) with a barrier between units. `pipeline`: units round-robin over cores,
   consecutive units overlapped by tile through row-level data dependencies.
5. **Program order.** Each op gets a key (software-pipelined: loads two tiles ahead, routes
   one tile ahead); sorted keys are the program order, which every resource obeys. Keys are
   strictly increasing along dependencies, so the order is a topological order (no deadlock).
"""

from __future__ import annotations

import math
from collections import defaultdict, deque
from dataclasses import dataclass, field

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LinearLayer, LstmLayer, MatmulLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.ops import Op

#: Element operations per element on the vector unit (int8, a LUT for transcendental ones).
#: hardswish = x * relu6(x + 3) / 6: add, 2 clamps, 2 multiplies -> 5; hardsigmoid: add,
#: 2 clamps, multiply -> 4; relu 1 (max); relu6 2 (clamp); sigmoid/tanh: LUT + interpolation 4;
#: swish = x * sigmoid(x) 5; gelu 6; softmax (exp LUT, sum, divide) 5; layernorm 6.
VECTOR_OPS_PER_ELEMENT = {"relu": 1, "relu6": 2, "hardsigmoid": 4, "hardswish": 5, "sigmoid": 4,
                          "tanh": 4, "swish": 5, "gelu": 6, "softmax": 5, "layernorm": 6,
                          "identity": 0}
MAC_TYPES = ("conv", "linear", "matmul", "lstm")
VIEW_TYPES = ("concat", "flatten")
INPUT = "__input__"
#: sequence-number ticks per tile step (program order)
TICKS = 1000


def op_name(layer: LayerBase) -> str:
    """The op name a core lists for this layer (see simulator.kinds.tensorcore.arch)."""
    if isinstance(layer, ConvLayer):
        return "depthwise" if layer.groups > 1 and layer.groups == layer.in_channels else "conv"
    if layer.type == "activation":
        return layer.function  # type: ignore[attr-defined]
    return {"adaptiveavgpool": "avgpool", "adaptivemaxpool": "maxpool"}.get(layer.type, layer.type)


def _rows_of(shape: tuple[int, ...], batch: int) -> int:
    """Rows a tensor is produced and consumed in (dependency granularity)."""
    if len(shape) == 3:
        return batch * shape[1]
    if len(shape) == 2:
        return batch * shape[0]
    return batch


@dataclass
class Tensor:
    name: str
    nbytes: int
    rows: int
    channels: int
    in_dram: bool = False
    base_bank: int = 0
    producer: int | None = None
    last_use: int = -1
    writes: list[tuple[int, int, int]] = field(default_factory=list)  # (row_lo, row_hi, op)


@dataclass
class Unit:
    """A compile unit: one pass over the data on a core or on the vector unit."""

    kind: str                      # mac | elt | view
    layer: int                     # layer the cycles are reported under
    layers: list[int]              # workload layers it covers (head first)
    engine: str                    # core | vector
    inputs: list[str]
    output: str
    post_ops: int = 0              # fused element ops on the core's output path
    gate_engine: str = ""          # lstm units: where the element-wise gate math runs
    vector_ops: int = 0            # element ops of an elt unit (at the unit's cost per element)
    ops_label: str = ""


@dataclass
class MacSpec:
    """A conv-like layer in the compiler's terms (linear: 1x1 over `tokens` rows)."""

    batch: int
    cin: int
    h: int
    w: int
    cout: int
    ho: int
    wo: int
    r: int
    s: int
    stride: int
    dilation: int
    pad: int
    groups: int
    weights_from_dram: bool = True
    #: sequential repeats of this GEMM with the same weights, each depending on the previous
    #: one (LSTM time steps: the spec then describes ONE step)
    steps: int = 1
    #: run depthwise conv in the core's depthwise mode; False when the core hard-wires only
    #: dense conv: a depthwise layer then runs as a grouped conv (one channel per group)
    depthwise_mode: bool = True

    @property
    def depthwise(self) -> bool:
        return self.depthwise_mode and self.groups > 1 and self.groups == self.cin

    @property
    def m(self) -> int:
        return self.batch * self.ho * self.wo

    @property
    def cin_g(self) -> int:
        return self.cin // self.groups

    @property
    def cout_g(self) -> int:
        return self.cout // self.groups

    @property
    def taps(self) -> int:
        return self.r * self.s

    @classmethod
    def of(cls, layer: LayerBase, depthwise_mode: bool = True) -> "MacSpec":
        b = layer.batch
        if isinstance(layer, ConvLayer):
            c, h, w = layer.input_shape
            co, ho, wo = layer.output_shape
            (r, s), (st, _), (dil, _) = pair(layer.kernel), pair(layer.stride), pair(layer.dilation)
            pad = layer.pads[0]
            return cls(b, c, h, w, co, ho, wo, r, s, st, dil, pad, layer.groups,
                       depthwise_mode=depthwise_mode)
        if isinstance(layer, LinearLayer):
            # tokens are output pixels: M = batch x tokens rows share the weights
            t = layer.token_count
            return cls(b, layer.features_in, t, 1, layer.out_features, t, 1, 1, 1, 1, 1, 0, 1)
        if isinstance(layer, MatmulLayer):
            # `count` independent (m x k) @ (k x n) products, each with its own left operand
            # and its own right operand: a grouped GEMM with count groups (K = k, N = n per
            # group), as Layer.gemms() lowers it
            c = layer.count
            return cls(b, layer.k * c, layer.m, 1, layer.n * c, layer.m, 1, 1, 1, 1, 1, 0,
                       c, weights_from_dram=layer.weights)
        if isinstance(layer, LstmLayer):
            # ONE time step: [x_t, h_{t-1}] (batch x (I+H)) @ W ((I+H) x 4H); `steps` of them
            # in sequence (h_{t-1} comes from the previous step), as Layer.gemms() lowers it
            return cls(b, layer.features_in + layer.hidden_size, 1, 1, 4 * layer.hidden_size,
                       1, 1, 1, 1, 1, 1, 0, 1, steps=layer.steps)
        raise TypeError(f"not a MAC layer: {layer.type}")

    @property
    def macs(self) -> int:
        """MACs of all steps (equals Layer.macs)."""
        return self.steps * self.m * self.cout_g * self.cin_g * self.taps * self.groups

    def array_cycles(self, m: int, n: int, k_channels: int, rows: int, cols: int) -> int:
        """Cycles of the MAC array for m output pixels x n output channels over k_channels
        input channels (all of a group's channels for grouped/depthwise conv).

        Dense (im2col on the array): reduction K = taps x k_channels over the `rows` lanes,
        output channels over the `cols` lanes, one output pixel per cycle:
            m x ceil(K / rows) x ceil(n / cols).
        Grouped: the same per group, gt = n / cout_g groups one after another.
        Depthwise: pixels over rows, channels over cols, taps in time:
            ceil(m / rows) x ceil(n / cols) x taps.
        """
        if self.depthwise:
            return -(-m // rows) * -(-n // cols) * self.taps
        if self.groups > 1:
            gt = max(1, n // self.cout_g)
            return gt * m * -(-(self.taps * self.cin_g) // rows) * -(-self.cout_g // cols)
        return m * -(-(self.taps * k_channels) // rows) * -(-n // cols)

    def analytic_cycles(self, rows: int, cols: int) -> int:
        """Compute cycles of the whole layer on one rows x cols array (the closed form the
        tiled schedule must add up to): dense G x M x ceil(K/rows) x ceil(N/cols);
        depthwise ceil(M/rows) x ceil(C/cols) x R x S."""
        if self.depthwise:
            return self.steps * -(-self.m // rows) * -(-self.cout // cols) * self.taps
        return (self.steps * self.groups * self.m * -(-(self.taps * self.cin_g) // rows)
                * -(-self.cout_g // cols))

    def in_rows(self, out_lo: int, out_hi: int) -> tuple[int, int]:
        """Input rows [lo, hi) needed for output rows [out_lo, out_hi] (batch folded in rows)."""
        lo = out_lo * self.stride - self.pad
        hi = out_hi * self.stride - self.pad + self.dilation * (self.r - 1) + 1
        total = self.batch * self.h
        return max(0, lo), min(total, max(hi, lo + 1))


@dataclass
class PassCtx:
    """What one MAC pass hands to the next pass of the same unit (LSTM steps): the key the
    pass's program order starts at, the per-core routing state (which weight block each core
    holds, buffer-half queues) and the weight blocks already staged from DRAM."""

    key0: float = 0.0
    step: int | None = None
    state: dict | None = None
    w_staged: set | None = None


@dataclass
class Tiling:
    mt: int
    nt: int
    kc: int
    channels_outer: bool


class Compiler:
    """Builds the instruction stream for one workload on one tensor-core arch."""

    def __init__(self, arch: TensorCoreArch, precision: Precision, workload: Workload,
                 residency: str | None = None) -> None:
        self.arch = arch
        self.wl = workload
        self.precision = precision
        self.residency = residency or arch.compiler.weight_residency
        self.ab = precision.activation_bits / 8
        self.wb = precision.weight_bits / 8
        self.accb = precision.accumulator_bits / 8
        core = arch.core
        div = 2 if core.double_buffering else 1
        self.slots = div
        self.ibh = core.input_buffer_bytes // div
        self.wbh = core.weight_buffer_bytes // div
        self.obh = core.output_buffer_bytes // div
        self.rows, self.cols = core.mac_rows, core.mac_cols
        self.ncores = arch.cores
        self.hard = set(core.hardwired_ops)
        self.fusable = set(core.fusable_post_ops)
        self.ops: list[Op] = []
        self.tensors: dict[str, Tensor] = {}
        self.units: list[Unit] = []
        self.warnings: list[str] = []
        self.dram_latency = int(round(arch.dram.latency_ns * arch.clock_mhz / 1000))
        self.dram_bw = arch.dram_bytes_per_cycle
        self.port_bw = arch.bridge.bytes_per_cycle_per_port
        self.bank_bw = arch.sram.bytes_per_cycle_per_bank
        self.analytic: dict[int, int] = {}  # layer index -> closed-form compute cycles (1 core)
        self._staging: dict[tuple, deque] = {}
        self._next_core = 0
        self._unit_floor = 0.0
        # weight residency (step 2) and the byte counts the residency planner reads
        self.resident_units: set[int] = set()
        self.resident_weight_bytes = 0
        self.weight_bytes_of: dict[int, int] = {}          # unit -> stored weight bytes
        self.weight_dram_bytes: dict[int, int] = defaultdict(int)  # unit -> streamed per run
        self.tensor_dram_bytes: dict[str, int] = defaultdict(int)  # DMA bytes if in DRAM
        self.tensor_sram_extra_bytes: dict[str, int] = defaultdict(int)  # host fallback, if in SRAM

    # ------------------------------------------------------------------ resources
    def port(self, client: str | int) -> str:
        """Bridge port of a client: core c -> c, DMA -> cores, vector unit -> cores + 1."""
        index = {"dma": self.ncores, "vector": self.ncores + 1}.get(client, client)  # type: ignore[arg-type]
        return f"port{int(index) % self.arch.bridge.ports}"

    def bank(self, tensor_bank: int, block: int) -> str:
        return f"bank{(tensor_bank + block) % self.arch.sram.banks}"

    @staticmethod
    def _xfer(nbytes: float, bandwidth: float) -> int:
        return 0 if nbytes <= 0 or math.isinf(bandwidth) else math.ceil(nbytes / bandwidth)

    def emit(self, kind: str, layer: int, resources: tuple[str, ...], busy: int, latency: int,
             deps: list[int], key: float, nbytes: int = 0, label: str = "") -> int:
        deps = sorted(set(d for d in deps if d is not None and d >= 0))
        # the program order counts in integer ticks, TICKS per tile step (the key offsets
        # below are multiples of 0.05 steps): an op is one tick after its dependencies
        seq = round(key * TICKS)
        if deps:
            seq = max(seq, max(self.ops[d].seq for d in deps) + 1)
        seq = max(seq, round(self._unit_floor * TICKS))
        op = Op(len(self.ops), kind, layer, resources, int(busy), int(latency), deps, seq,
                int(nbytes), label)
        self.ops.append(op)
        return op.id

    # ------------------------------------------------------------------ data movement
    def read_block(self, tensor: Tensor, block: int, nbytes: float, dests: list[str], layer: int,
                   deps: list[int], key: float, stream: tuple, label: str,
                   count: bool = True) -> int:
        """Move a block of `tensor` to the clients `dests` (core indices or 'vector'): a DMA
        load first when the tensor lives in DRAM, then one (multicast) route. Returns the
        route op (the block has arrived when it is done). `count`: add the bytes to the
        tensor's would-be DRAM traffic (False when the caller accounts for it)."""
        nbytes = max(1, int(math.ceil(nbytes)))
        bank = self.bank(tensor.base_bank, block)
        if count:
            self.tensor_dram_bytes[tensor.name] += nbytes  # a DMA load if the tensor is in DRAM
        return self._staged_route(layer, bank, nbytes, dests, deps, key, stream, tensor.in_dram,
                                  label)

    def _staged_route(self, layer: int, bank: str, nbytes: int, dests: list, deps: list[int],
                      key: float, stream: tuple, from_dram: bool, label: str) -> int:
        """Route a block from SRAM bank `bank` to `dests` (multicast), preceded by a DMA load
        into a double-buffered staging slot when it comes from DRAM: a load may start once the
        route two blocks back on the same stream has freed its slot."""
        if from_dram:
            queue = self._staging.setdefault(stream, deque())
            slot_dep = queue[0] if len(queue) >= 2 else None
            load = self.emit("dma_load", layer, ("dram", self.port("dma")),
                             self._xfer(nbytes, min(self.dram_bw, self.port_bw, self.bank_bw)),
                             self.dram_latency, deps + [slot_dep], key - 1.0, nbytes,
                             f"load {label}")
            deps = [load]
        ports = tuple(sorted({self.port(d) for d in dests}))
        route = self.emit("route_in", layer, ports + (bank,),
                          self._xfer(nbytes, min(self.port_bw, self.bank_bw)),
                          self.arch.bridge.hop_latency_cycles, deps, key, nbytes, label)
        if from_dram:
            queue = self._staging[stream]
            queue.append(route)
            if len(queue) > 2:
                queue.popleft()
        return route

    def write_block(self, tensor: Tensor, block: int, nbytes: float, src: str | int, layer: int,
                    deps: list[int], key: float, rows: tuple[int, int], label: str,
                    count: bool = True) -> int:
        """Route a finished block to the shared SRAM, then DMA it out when the tensor lives in
        DRAM. Records the write so that consumers can depend on these rows."""
        nbytes = max(1, int(math.ceil(nbytes)))
        bank = self.bank(tensor.base_bank, block)
        if count:
            self.tensor_dram_bytes[tensor.name] += nbytes  # a DMA store if the tensor is in DRAM
        last = self.emit("route_out", layer, (self.port(src), bank),
                         self._xfer(nbytes, min(self.port_bw, self.bank_bw)),
                         self.arch.bridge.hop_latency_cycles, deps, key, nbytes, label)
        if tensor.in_dram:
            last = self.emit("dma_store", layer, ("dram", self.port("dma")),
                             self._xfer(nbytes, min(self.dram_bw, self.port_bw, self.bank_bw)),
                             self.dram_latency, [last], key + 0.1, nbytes, f"store {label}")
        tensor.writes.append((rows[0], rows[1], last))
        return last

    def producer_deps(self, tensor: Tensor, lo: int, hi: int) -> list[int]:
        """Ops that complete rows [lo, hi) of `tensor` (pipeline placement only; split
        placement has a barrier between units)."""
        if self.arch.compiler.placement == "split":
            return []
        return [op for (a, b, op) in tensor.writes if a < hi and b > lo]

    def weight_block(self, unit_i: int, layer: int, block: int, nbytes: float, dests: list[str],
                     deps: list[int], key: float, from_dram: bool, label: str) -> int:
        """Weights: DMA DRAM -> SRAM staging (once per block when all the unit's weights fit
        the staging area, else every time), then route to the cores."""
        nbytes = max(1, int(math.ceil(nbytes)))
        bank = self.bank(7 * unit_i + 3, block)
        stream = ("w", unit_i, tuple(dests))
        if from_dram:
            self.weight_dram_bytes[unit_i] += nbytes
        return self._staged_route(layer, bank, nbytes, dests, deps, key, stream, from_dram, label)

    # ------------------------------------------------------------------ step 1: units
    def build_units(self) -> None:
        layers = self.wl.layers
        sources: list[list[str]] = []
        self.fresh_inputs: dict[str, int] = {}  # external input tensor -> its layer
        for i, layer in enumerate(layers):
            if layer.inputs:
                sources.append(list(layer.inputs))
            elif i == 0:
                sources.append([INPUT])
            elif layer.input is not None or isinstance(layer, MatmulLayer):
                # an explicit input shape (or a matmul stating its own operands) starts a new
                # external input (Workload.resolve): it comes from DRAM, not from layer i-1
                name = f"{INPUT}:{layer.name}"
                self.fresh_inputs[name] = i
                sources.append([name])
            else:
                sources.append([layers[i - 1].name])
        consumers: dict[str, list[int]] = {}
        for i, srcs in enumerate(sources):
            for s in srcs:
                consumers.setdefault(s, []).append(i)
        fusion = self.arch.compiler.fusion
        alias: dict[str, str] = {}  # layer name -> tensor name holding its data
        i = 0
        while i < len(layers):
            layer = layers[i]
            ins = [alias.get(s, s) for s in sources[i]]
            name = op_name(layer)
            act = getattr(layer, "activation", None) if layer.type != "activation" else None
            if layer.type in VIEW_TYPES:
                self.units.append(Unit("view", i, [i], "core", ins, layer.name))
                i += 1
                continue
            if layer.type in MAC_TYPES:
                unit = Unit("mac", i, [i], "core", ins, layer.name,
                            ops_label=self._mac_op_label(layer))
                self.analytic[i] = self.mac_spec(layer).analytic_cycles(self.rows, self.cols)
                if isinstance(layer, LstmLayer):
                    # the gate GEMM of every step on the cores, then the element-wise gate
                    # math (on the cores' element path when they hard-wire lstm, else on the
                    # vector unit) with an SRAM round trip per step: see _lstm_unit
                    unit.vector_ops = layer.vector_ops
                    unit.gate_engine = "core" if "lstm" in self.hard else "vector"
                    unit.ops_label += f"+gates@{unit.gate_engine}"
                    self.units.append(unit)
                    i += 1
                    continue
            else:
                engine = "core" if name in self.hard else "vector"
                ops = layer.vector_ops - (layer.output_elements if act else 0)
                if engine == "vector" and layer.type == "activation":
                    ops = layer.output_elements * VECTOR_OPS_PER_ELEMENT.get(name, 4)
                unit = Unit("elt", i, [i], engine, ins, layer.name, vector_ops=ops, ops_label=name)
            pending_act = act
            if act and unit.engine == "core":
                can_fuse = act in self.fusable if unit.kind == "mac" else act in self.hard | self.fusable
                if (fusion or unit.kind == "elt") and can_fuse:
                    unit.post_ops += layer.output_elements
                    unit.ops_label += f"+{act}"
                    pending_act = None
            # absorb following post-op layers into a MAC head
            tail = layer.name
            j = i + 1
            while (fusion and unit.kind == "mac" and unit.engine == "core" and pending_act is None
                   and j < len(layers)):
                nxt = layers[j]
                nname = op_name(nxt)
                nact = getattr(nxt, "activation", None) if nxt.type != "activation" else None
                if (nxt.type in MAC_TYPES or nxt.type in VIEW_TYPES or nname not in self.fusable
                        or tail not in sources[j] or consumers.get(tail, []) != [j]
                        or (nact and nact not in self.fusable)):
                    break
                unit.layers.append(j)
                unit.inputs += [alias.get(s, s) for s in sources[j] if s != tail]
                unit.post_ops += nxt.vector_ops
                unit.ops_label += f"+{nname}" + (f"+{nact}" if nact else "")
                tail = nxt.name
                j += 1
            for k in unit.layers:
                alias[layers[k].name] = tail
            unit.output = tail if pending_act is None else layer.name + "#pre"
            self.units.append(unit)
            if pending_act is not None:
                # the core cannot apply it: a separate pass through SRAM (a core pass when the
                # core hard-wires it but fusion is off, else the vector unit)
                engine = "core" if pending_act in self.hard else "vector"
                per = 1 if engine == "core" else VECTOR_OPS_PER_ELEMENT.get(pending_act, 4)
                self.units.append(Unit("elt", i, [i], engine, [unit.output], layer.name,
                                       vector_ops=layer.output_elements * per,
                                       ops_label=pending_act))
            i = j

    def _mac_op_label(self, layer: LayerBase) -> str:
        """The core op a MAC layer runs as, or a one-line error when no core can run it.

        conv needs `conv`; depthwise runs in the depthwise mode when listed, else as a grouped
        conv when `conv` is listed; linear, matmul and the LSTM gate GEMM are GEMMs on the
        array: they need their own op name or `linear` (a GEMM is a 1x1 conv over tokens).
        The vector unit has no MAC array, so a MAC layer no core runs is rejected."""
        name = op_name(layer)
        if name in self.hard:
            return name
        if name == "depthwise" and "conv" in self.hard:
            return "conv(depthwise as grouped)"
        if name in ("matmul", "lstm") and "linear" in self.hard:
            return "linear"
        need = {"depthwise": "depthwise or conv", "matmul": "matmul or linear",
                "lstm": "lstm or linear"}.get(name, name)
        raise NpusimError(f"layer {layer.name}: no core hard-wires {need} and the vector unit "
                          "has no MAC array", field="core.hardwired_ops",
                          fix=f"add {need.split(' or ')[-1]} to core.hardwired_ops")

    def mac_spec(self, layer: LayerBase) -> MacSpec:
        """The layer's MacSpec in the mode the cores run it (depthwise mode or grouped)."""
        return MacSpec.of(layer, depthwise_mode="depthwise" in self.hard)

    # ------------------------------------------------------------------ step 2: allocation
    def make_tensors(self) -> None:
        """One tensor per unit output (plus the network input) with its lifetime in units."""
        wl = self.wl
        first = wl.layers[0]
        in_shape = first.input_shapes[0] if first.input_shapes else (1,)
        self.tensors[INPUT] = Tensor(INPUT, int(math.ceil(first.input_elements * self.ab)),
                                     _rows_of(in_shape, wl.batch), in_shape[0], in_dram=True,
                                     base_bank=0, last_use=0)
        for name, i in self.fresh_inputs.items():
            layer = wl.layers[i]
            shape = layer.input_shapes[0]
            self.tensors[name] = Tensor(name, int(math.ceil(layer.input_elements * self.ab)),
                                        _rows_of(shape, wl.batch), shape[0], in_dram=True,
                                        base_bank=(3 * i) % self.arch.sram.banks, last_use=0)
        for u, unit in enumerate(self.units):
            layer = wl.layers[unit.layers[-1]] if not unit.output.endswith("#pre") else wl.layers[unit.layer]
            shape = layer.output_shape
            self.tensors[unit.output] = Tensor(
                unit.output, int(math.ceil(layer.output_elements * self.ab)),
                _rows_of(shape, wl.batch), shape[0], producer=u, last_use=u,
                base_bank=(5 * u + 1) % self.arch.sram.banks)
            for name in unit.inputs:
                self.tensors[name].last_use = max(self.tensors[name].last_use, u)
            if isinstance(layer, LstmLayer) and unit.kind == "mac":
                # per-step scratch tensors: the gates of one step (batch x 4H, requantised to
                # the activation width), the cell state c (batch x H) and the staged GEMM
                # input [x_t, h_{t-1}] (batch x (I+H)) when x or h lives in DRAM
                for suffix, elements in (("#gates", 4 * layer.hidden_size),
                                         ("#c", layer.hidden_size),
                                         ("#xh", layer.features_in + layer.hidden_size)):
                    self.tensors[unit.output + suffix] = Tensor(
                        unit.output + suffix, int(math.ceil(wl.batch * elements * self.ab)),
                        wl.batch, elements, producer=u, last_use=u,
                        base_bank=(5 * u + 3 + len(suffix)) % self.arch.sram.banks)
        last = self.tensors[self.units[-1].output]
        last.in_dram = True
        last.last_use = len(self.units)

    def activation_budget_bytes(self, resident_bytes: int = 0) -> int:
        """Shared SRAM left to activations: size - weight staging - resident weights."""
        return self.arch.sram.size_bytes - self.arch.sram.weight_staging_bytes - resident_bytes

    def spilled(self, budget: int) -> list[str]:
        """Tensors that go to DRAM with `budget` bytes of SRAM for activations: greedy interval
        allocation in production order (a tensor stays on chip when it fits at every unit of
        its lifetime next to those already placed). The network input and output are in DRAM
        regardless and are not listed."""
        occupancy = [0] * (len(self.units) + 1)
        out = []
        for t in self.tensors.values():
            if t.in_dram or t.producer is None:
                continue
            span = range(t.producer, max(t.last_use, t.producer) + 1)
            if t.nbytes <= budget and all(occupancy[k] + t.nbytes <= budget for k in span):
                for k in span:
                    occupancy[k] += t.nbytes
            else:
                out.append(t.name)
        return out

    def allocate(self) -> None:
        self.make_tensors()
        if self.residency == "resident":
            self.plan_residency()
        for name in self.spilled(self.activation_budget_bytes(self.resident_weight_bytes)):
            self.tensors[name].in_dram = True

    def plan_residency(self) -> None:
        """Choose the units whose weights stay resident in the shared SRAM across runs.

        Exact byte counts come from a streaming compile of the same workload (tiling, and
        therefore every block transfer, does not depend on the allocation): per unit, the
        weight bytes it loads from DRAM per run (more than its weights when blocks are
        re-fetched per pixel tile); per tensor, the DMA bytes it moves if it lives in DRAM.
        Greedy (a knapsack heuristic): candidates by DRAM bytes saved per SRAM byte, largest
        first, ties in layer order; a candidate is admitted when it fits what is left of
        size - staging and the DRAM bytes it saves exceed the extra activation spill traffic
        of the reduced activation budget. Per-run DRAM bytes therefore never exceed streaming.
        """
        dry = Compiler(self.arch, self.precision, self.wl, residency="stream")
        dry.compile()

        def spill_bytes(budget: int) -> int:
            return sum(dry.tensor_dram_bytes[n] - dry.tensor_sram_extra_bytes[n]
                       for n in self.spilled(budget))

        for u, unit in enumerate(self.units):
            if unit.kind == "mac" and unit.engine == "core" and dry.weight_dram_bytes.get(u):
                head = self.wl.layers[unit.layer]
                self.weight_bytes_of[u] = int(math.ceil(head.weight_params * self.wb))
        candidates = sorted((u for u, w in self.weight_bytes_of.items() if w > 0),
                            key=lambda u: (-dry.weight_dram_bytes[u] / self.weight_bytes_of[u], u))
        room = self.activation_budget_bytes()
        current = spill_bytes(room)
        for u in candidates:
            w = self.weight_bytes_of[u]
            if self.resident_weight_bytes + w > room:
                continue
            trial = spill_bytes(room - self.resident_weight_bytes - w)
            if dry.weight_dram_bytes[u] > trial - current:
                self.resident_units.add(u)
                self.resident_weight_bytes += w
                current = trial

    # ------------------------------------------------------------------ step 3-5: ops
    def compile(self) -> list[Op]:
        self.build_units()
        self.allocate()
        prev_ops: tuple[int, int] = (0, 0)
        for u, unit in enumerate(self.units):
            start = len(self.ops)
            barrier: list[int] = []
            if self.arch.compiler.placement == "split" and prev_ops[1] > prev_ops[0]:
                # every op of the previous unit must be done (layer-by-layer schedule)
                b = self.emit("barrier", unit.layer, (), 0, 0, list(range(*prev_ops)),
                              0.0, label="barrier")
                self._unit_floor = self.ops[b].seq / TICKS
                barrier = [b]
            if unit.kind == "view":
                continue
            if unit.kind == "mac" and unit.engine == "core":
                self._mac_unit(u, unit, barrier)
            else:
                self._elt_unit(u, unit, barrier)
            if self.arch.compiler.placement == "pipeline":
                computes = [op.seq for op in self.ops[start:] if op.kind in ("compute", "vector")]
                self._unit_floor = min(computes) / TICKS if computes else self._unit_floor
            prev_ops = (start, len(self.ops))
        order = sorted(range(len(self.ops)), key=lambda i: (self.ops[i].seq, i))
        return [self.ops[i] for i in order]

    def _cores_for(self, unit: Unit) -> list[int]:
        if self.arch.compiler.placement == "split":
            return list(range(self.ncores))
        core = self._next_core % self.ncores
        self._next_core += 1
        return [core]

    # ---- MAC units ----------------------------------------------------------------------
    def _choose_tiling(self, spec: MacSpec, m_share: int, n_share: int, extra_row_bytes: float,
                       name: str) -> Tiling:
        """Largest tiles that fit the half buffers; among them the loop order and channel tile
        that route the fewest bytes (ties: fewer tiles)."""
        rows, cols = self.rows, self.cols
        rwin = spec.dilation * (spec.r - 1) + 1
        chan_unit = cols if spec.groups == 1 or spec.depthwise else spec.cout_g * max(1, cols // spec.cout_g)
        chan_unit = min(chan_unit, n_share)
        if spec.groups == 1:
            kc_unit = rows // math.gcd(rows, spec.taps)
            # the whole reduction if one array width of channels fits, else the largest chunk
            # of a multiple of kc_unit channels (so that every chunk but the last fills whole
            # row folds: sum of ceil(K_chunk / rows) == ceil(K / rows)) and smaller ones
            fit_raw = int(self.wbh // (min(cols, n_share) * spec.taps * self.wb))
            fit = fit_raw // kc_unit * kc_unit
            kcs = [spec.cin] if fit_raw >= spec.cin else []
            k = min(fit, (spec.cin - 1) // kc_unit * kc_unit)
            while k >= kc_unit and len(kcs) < 6:
                kcs.append(k)
                k = k // 2 // kc_unit * kc_unit
            if not kcs:
                # not even kc_unit channels of an array width fit (large kernels: 11x11 needs
                # kc_unit = 32 channels x 121 taps x 32 columns = 124 KB): chunks that do not
                # fill whole row folds, each paying its own last partial fold; down to one
                # input channel (partial sums accumulate in the output buffer)
                k = min(max(1, fit_raw), spec.cin - 1)
                while k >= 1 and len(kcs) < 6:
                    kcs.append(k)
                    k //= 2
        else:
            kcs = [spec.cin_g]
        best: tuple | None = None
        for kc in kcs:
            if spec.depthwise:
                w_per_chan = spec.taps * self.wb
            elif spec.groups > 1:
                w_per_chan = spec.cin_g * spec.taps * self.wb
            else:
                w_per_chan = kc * spec.taps * self.wb
            nt_max = min(n_share, int(self.wbh // w_per_chan) // chan_unit * chan_unit)
            if nt_max < 1 and spec.groups == 1:
                # fewer output channels than the array width (idle columns): the smallest tile
                nt_max = min(n_share, int(self.wbh // w_per_chan))
            if nt_max < 1:
                continue
            # candidate channel tiles: the largest that fits, powers of two of the unit and
            # even splits of the share (rounded up to the unit)
            nts = {nt_max}
            k = chan_unit
            while k < nt_max:
                nts.add(k)
                k *= 2
            for parts in range(1, 9):
                cand = -(-(-(-n_share // parts)) // chan_unit) * chan_unit
                if cand <= nt_max:
                    nts.add(cand)
            for nt in sorted(nts, reverse=True):
                in_ch = kc if spec.groups == 1 else (nt // spec.cout_g if not spec.depthwise else nt) * spec.cin_g
                if spec.depthwise:
                    in_ch = max(1, nt * spec.cin // spec.cout)
                    wbytes = nt * spec.taps * self.wb
                elif spec.groups > 1:
                    wbytes = nt * spec.cin_g * spec.taps * self.wb
                else:
                    wbytes = nt * kc * spec.taps * self.wb
                if wbytes > self.wbh and spec.weights_from_dram is not None:
                    continue
                row_bytes = spec.w * in_ch * self.ab
                max_in_rows = int((self.ibh - extra_row_bytes) // row_bytes) if row_bytes else 0
                max_in_rows = min(max_in_rows, spec.batch * spec.h + rwin)
                if max_in_rows < min(rwin, spec.batch * spec.h):
                    continue
                span = (max_in_rows - rwin) // spec.stride + 1
                if spec.depthwise:
                    mt = (span - 1) * spec.wo + 1
                    mt = mt // rows * rows if mt >= rows else mt
                else:
                    mt = span * spec.wo
                mt = min(mt, m_share, int(self.obh // (nt * self.accb)))
                if not spec.depthwise and mt >= spec.wo and mt < m_share:
                    mt = mt // spec.wo * spec.wo  # whole output rows: no re-read input halo
                if mt < 1:
                    continue
                m_tiles = -(-m_share // mt)
                n_tiles = -(-n_share // nt)
                k_tiles = -(-spec.cin // kc) if spec.groups == 1 else 1
                in_all = m_share / max(1, spec.ho * spec.wo * spec.batch) * spec.batch * spec.h * spec.w \
                    * spec.cin * self.ab * (1 + (rwin - spec.stride) * m_tiles / max(1, spec.batch * spec.h))
                w_all = n_share * spec.cin_g * spec.taps * self.wb
                if spec.groups > 1:
                    in_all *= n_share / spec.cout
                for channels_outer in (True, False):
                    if channels_outer:
                        traffic = n_tiles * in_all if spec.groups == 1 else in_all
                        traffic += w_all * (1 if k_tiles == 1 else m_tiles)
                    else:
                        traffic = in_all * (1 if (k_tiles == 1 or spec.groups > 1) else n_tiles)
                        traffic += w_all * (1 if (n_tiles == 1 and k_tiles == 1) else m_tiles)
                    steps = m_tiles * n_tiles * k_tiles
                    cand = (traffic, steps, Tiling(mt, nt, kc, channels_outer))
                    if best is None or cand[:2] < best[:2]:
                        best = cand
        if best is None:
            raise NpusimError(f"layer {name} does not fit the core buffers even as its smallest "
                              f"tile (one output row of one output channel over one input "
                              f"channel's {spec.r}x{spec.s} window)", field="core",
                              fix="increase core.input_buffer_bytes / weight_buffer_bytes / "
                                  "output_buffer_bytes")
        return best[2]

    def _mac_unit(self, u: int, unit: Unit, barrier: list[int]) -> None:
        head = self.wl.layers[unit.layer]
        if isinstance(head, LstmLayer):
            self._lstm_unit(u, unit, barrier)
            return
        spec = self.mac_spec(head)
        src = self.tensors[unit.inputs[0]]
        self._mac_pass(u, unit, barrier, spec, [(src, 0, spec.cin)], self.tensors[unit.output],
                       [self.tensors[n] for n in unit.inputs[1:]], self._cores_for(unit),
                       PassCtx())

    def _lstm_unit(self, u: int, unit: Unit, barrier: list[int]) -> None:
        """An LSTM layer as `steps` sequential passes (Layer.gemms(): steps repeats that reuse
        the weights, each depending on the previous step's output).

        Step t: the gate GEMM [x_t, h_{t-1}] (batch x (I+H)) @ W ((I+H) x 4H) on the cores
        (x_t read from the layer's input, h_{t-1} from its output tensor; h_0 = 0 is not read),
        gates to the shared SRAM; then the element-wise gate math (sigmoid/tanh LUTs, products,
        c_t = f c_{t-1} + i g, h_t = o tanh(c_t): Layer.vector_ops per step) reads the gates
        and c_{t-1}, writes h_t and c_t; a barrier, because every core's next GEMM needs all
        of h_t. Weights: resident in the shared SRAM or staged (then loaded from DRAM once when
        they fit the staging area, else re-streamed every step); a core whose whole weight
        share is one block keeps it in its weight buffer across steps (not routed again)."""
        head = self.wl.layers[unit.layer]
        assert isinstance(head, LstmLayer)
        spec = self.mac_spec(head)
        src = self.tensors[unit.inputs[0]]
        out = self.tensors[unit.output]
        gates = self.tensors[unit.output + "#gates"]
        cell = self.tensors[unit.output + "#c"]
        cores = self._cores_for(unit)
        gate_clients: list = cores if unit.gate_engine == "core" else ["vector"]
        xh = self.tensors[unit.output + "#xh"]
        ctx = PassCtx()
        fin = self.fresh_ops_mark()
        deps = list(barrier)
        n_in = head.features_in
        x_bytes = head.batch * n_in * self.ab
        h_bytes = head.batch * head.hidden_size * self.ab
        gemm_done: int | None = None
        for t in range(spec.steps):
            ctx.key0 = self._unit_floor
            ctx.step = t
            # x_t: one row per sequence of the input; staged into the SRAM scratch by one DMA
            # load when the input lives in DRAM (after the previous GEMM has read x_{t-1})
            self.tensor_dram_bytes[src.name] += int(math.ceil(x_bytes))
            step_deps = list(deps)
            x_src = src
            if src.in_dram:
                x_src = xh
                step_deps.append(self._dma("dma_load", unit.layer, x_bytes,
                                           list(barrier) + ([gemm_done] if gemm_done else []),
                                           ctx.key0 - 1.0, f"{head.name} x_t"))
            h_src = xh if out.in_dram else out
            parts = [(x_src, 0, n_in)] + ([(h_src, n_in, spec.cin)] if t > 0 else [])
            self._mac_pass(u, unit, step_deps, spec, parts, gates, [], cores, ctx)
            gemm_done = self._join(unit.layer, fin, "gemm done")
            fin = self.fresh_ops_mark()
            self._lstm_gates(u, unit, head, t, gates, cell, out, xh, gate_clients, [gemm_done])
            self.tensor_dram_bytes[out.name] += int(math.ceil(h_bytes))  # h_t stored once
            deps = [self._join(unit.layer, fin, "step done")]
            fin = self.fresh_ops_mark()

    def _dma(self, kind: str, layer: int, nbytes: float, deps: list[int], key: float,
             label: str) -> int:
        """One DMA transfer between DRAM and the shared SRAM (load or store)."""
        nbytes = max(1, int(math.ceil(nbytes)))
        return self.emit(kind, layer, ("dram", self.port("dma")),
                         self._xfer(nbytes, min(self.dram_bw, self.port_bw, self.bank_bw)),
                         self.dram_latency, deps, key, nbytes, label)

    def fresh_ops_mark(self) -> int:
        return len(self.ops)

    def _join(self, layer: int, since: int, label: str) -> int:
        """A zero-time barrier on every op emitted since `since`; later ops sort after it."""
        b = self.emit("barrier", layer, (), 0, 0, list(range(since, len(self.ops))), 0.0,
                      label=label)
        self._unit_floor = self.ops[b].seq / TICKS
        return b

    def _lstm_gates(self, u: int, unit: Unit, head: LstmLayer, t: int, gates: Tensor,
                    cell: Tensor, out: Tensor, xh: Tensor, clients: list,
                    deps: list[int]) -> None:
        """Element-wise gate math of step t over batch x H hidden units, tiled to the buffers
        of the clients (the vector unit: half of its buffer in, half out, each ping-pong; a
        core: its input / output buffer halves). Per hidden unit: 4 gate values and c_{t-1}
        in (c_0 = 0 is not read), h_t and c_t out, `vector_ops / (batch x steps x H)` element
        ops at the client's lanes per cycle."""
        on_vector = clients == ["vector"]
        host = on_vector and self.arch.vector_unit.location == "host"
        if on_vector:
            lanes = self.arch.vector_unit.ops_per_cycle
            cap_in = cap_out = self.arch.vector_unit.buffer_bytes / 4
        else:
            lanes = self.arch.core.vector_lanes
            cap_in, cap_out = self.ibh, self.obh
        hidden = gates.channels // 4
        elements = head.batch * hidden
        ops_per_element = head.vector_ops / max(1, head.batch * head.steps * hidden)
        in_per = (4 + (1 if t > 0 else 0)) * self.ab
        out_per = 2 * self.ab
        tile = int(min(cap_in // in_per, cap_out // out_per))
        if tile < 1:
            raise NpusimError(f"layer {head.name}: one hidden unit's gate math does not fit the "
                              "buffer", field="vector_unit.buffer_bytes" if on_vector
                              else "core.input_buffer_bytes", fix="increase the buffer size")
        per_client = -(-elements // len(clients))
        key0 = self._unit_floor
        for slot, c in enumerate(clients):
            lo0, hi0 = slot * per_client, min(elements, (slot + 1) * per_client)
            q: deque = deque()
            oq: deque = deque()
            last = None
            for k, lo in enumerate(range(lo0, hi0, tile)):
                e = min(hi0, lo + tile) - lo
                key = key0 + k
                rdeps = list(deps) + ([q[0]] if len(q) >= self.slots else [])
                arrivals = []
                for tensor, per in ((gates, 4), (cell, 1 if t > 0 else 0)):
                    if per == 0:
                        continue
                    nbytes = e * per * self.ab
                    if host:
                        arrivals.append(self._host_read(tensor, k, nbytes, head, unit.layer,
                                                        rdeps, key - 1))
                    else:
                        arrivals.append(self.read_block(
                            tensor, 2 * k + len(arrivals) + slot, nbytes, [c], unit.layer, rdeps,
                            key - 1 + 0.1, ("g", u, c, tensor.name), f"{head.name} gates in"))
                cdeps = arrivals + ([last] if last is not None else []) \
                    + ([oq[0]] if len(oq) >= self.slots else [])
                cid = self.emit("vector" if on_vector else "compute", unit.layer,
                                ("vector",) if on_vector else (f"core{c}",),
                                math.ceil(ops_per_element * e / lanes), 0, cdeps, key + 0.2,
                                label=f"{head.name} gates t{t}")
                last = cid
                q.append(cid)
                if len(q) > self.slots:
                    q.popleft()
                wid = None
                # h_t to the output (via the SRAM scratch and one DMA store when the output
                # lives in DRAM: the next step reads h_t from the scratch), c_t to its tensor
                h_dst = xh if out.in_dram else out
                for tensor, rows in ((h_dst, (0, out.rows)), (cell, (0, cell.rows))):
                    nbytes = e * self.ab
                    wdeps = [cid] + ([wid] if wid is not None else [])
                    if host:
                        wid = self._host_write(tensor, k, nbytes, unit.layer, wdeps, key + 0.3,
                                               rows)
                    else:
                        wid = self.write_block(tensor, 2 * k + slot, nbytes, c, unit.layer,
                                               wdeps, key + 0.3, rows, f"{head.name} h,c out",
                                               count=tensor is cell)
                    if tensor is xh:
                        store = self._dma("dma_store", unit.layer, nbytes, [wid], key + 0.4,
                                          f"store {head.name} h")
                        out.writes.append((0, out.rows, store))
                oq.append(wid)
                if len(oq) > self.slots:
                    oq.popleft()

    def _mac_pass(self, u: int, unit: Unit, barrier: list[int], spec: MacSpec,
                  srcs: list[tuple[Tensor, int, int]], out: Tensor, extras: list[Tensor],
                  cores: list[int], ctx: "PassCtx") -> None:
        """The tiled instruction stream of one GEMM/conv pass on `cores`. `srcs` maps the
        input channel range [lo, hi) of the reduction to the tensor holding it (one tensor for
        a layer; x_t and h_{t-1} for an LSTM step); `extras` are the other operands of fused
        add/mul post-ops. `ctx` carries what persists across the steps of an LSTM."""
        wl = self.wl
        head = wl.layers[unit.layer]
        src = srcs[0][0]
        ncores = len(cores)
        m_all, n_all = spec.m, spec.cout
        # split dimension: output channels when every core gets a full array width of them
        chan_step = spec.cout_g if (spec.groups > 1 and not spec.depthwise) else 1
        by_channels = ncores > 1 and n_all >= ncores * self.cols and (
            spec.groups == 1 or spec.depthwise or spec.groups >= ncores)
        shares = []
        for idx, core in enumerate(cores):
            if ncores == 1:
                shares.append((core, 0, m_all, 0, n_all))
            elif by_channels:
                per = -(-n_all // ncores)
                per = -(-per // max(self.cols, chan_step)) * max(self.cols, chan_step) if spec.groups == 1 else -(-per // chan_step) * chan_step
                lo, hi = idx * per, min(n_all, (idx + 1) * per)
                if lo < hi:
                    shares.append((core, 0, m_all, lo, hi))
            else:
                per = -(-m_all // ncores)
                if spec.depthwise:
                    per = -(-per // self.rows) * self.rows
                lo, hi = idx * per, min(m_all, (idx + 1) * per)
                if lo < hi:
                    shares.append((core, lo, hi, 0, n_all))
        m_share = max(s[2] - s[1] for s in shares)
        n_share = max(s[4] - s[3] for s in shares)
        extra_row_bytes = sum(e.nbytes / max(1, e.rows) for e in extras if e.rows > 1)
        tiling = self._choose_tiling(spec, m_share, n_share, extra_row_bytes, head.name)
        k_all = spec.cin if spec.groups == 1 else spec.cin_g
        # all of the unit's weights fit the staging area: each block comes from DRAM once
        weights_fit = head.weight_params * self.wb <= self.arch.sram.weight_staging_bytes
        # resident weights are already in the shared SRAM (loaded with the model): routed only
        resident = u in self.resident_units
        if ctx.w_staged is None:
            ctx.w_staged = set()
        self._w_staged = ctx.w_staged
        w_ordinal: dict[tuple, int] = {}
        # per-core step lists (lockstep across cores so that shared blocks can be multicast)
        plans = []
        for core, m0, m1, n0, n1 in shares:
            m_blocks = [(a, min(m1, a + tiling.mt)) for a in range(m0, m1, tiling.mt)]
            n_blocks = [(a, min(n1, a + tiling.nt)) for a in range(n0, n1, tiling.nt)]
            k_blocks = [(a, min(k_all, a + tiling.kc)) for a in range(0, k_all, tiling.kc)] \
                if spec.groups == 1 else [(0, k_all)]
            steps = []
            outer, inner = (n_blocks, m_blocks) if tiling.channels_outer else (m_blocks, n_blocks)
            for a in outer:
                for b in inner:
                    mb, nb = (b, a) if tiling.channels_outer else (a, b)
                    for ki, kb in enumerate(k_blocks):
                        steps.append((mb, nb, kb, ki == 0, ki == len(k_blocks) - 1))
            plans.append((core, steps))
        out_frac_rows = out.rows / max(1, spec.batch * spec.ho)
        post_per_out = unit.post_ops / max(1, m_all * n_all)
        if ctx.state is None:
            ctx.state = {core: {"in": None, "w": None, "in_q": deque(), "w_q": deque(),
                                "o_q": deque(), "last_compute": None, "out_route": None}
                         for core, _ in plans}
        state = ctx.state
        for st in state.values():
            st["in"] = None  # new input data every pass (LSTM step); weights may stay
        n_steps = max(len(s) for _, s in plans)
        layer_i = unit.layer
        for t in range(n_steps):
            base = ctx.key0 + t
            active = [(core, steps[t]) for core, steps in plans if t < len(steps)]
            # ---- input and weight routes (grouped by identical block -> multicast)
            routes: dict[int, dict[str, int]] = {core: {} for core, _ in active}
            for operand in ("in", "w"):
                groups: dict[tuple, list[int]] = {}
                for core, (mb, nb, kb, first, last) in active:
                    if operand == "in":
                        if spec.depthwise:
                            c0 = nb[0] * spec.cin // spec.cout
                            c1 = max(c0 + 1, nb[1] * spec.cin // spec.cout)
                        elif spec.groups > 1:
                            c0, c1 = nb[0] // spec.cout_g * spec.cin_g, -(-nb[1] // spec.cout_g) * spec.cin_g
                        else:
                            c0, c1 = kb
                        key = ("in", mb, c0, c1)
                    else:
                        key = ("w", nb, kb)
                    if state[core][operand] == key:
                        continue
                    groups.setdefault(key, []).append(core)
                for key, dest in groups.items():
                    if not self.arch.bridge.multicast:
                        dest_sets = [[d] for d in dest]
                    else:
                        dest_sets = [dest]
                    for ds in dest_sets:
                        deps = list(barrier)
                        for core in ds:
                            q = state[core][operand + "_q"]
                            if len(q) >= self.slots:
                                deps.append(q[0][1])  # buffer half freed by its last compute
                        if key[0] == "in":
                            _, mb, c0, c1 = key
                            orow_lo, orow_hi = mb[0] // spec.wo, (mb[1] - 1) // spec.wo
                            r0, r1 = spec.in_rows(orow_lo, orow_hi)
                            reads = []
                            for tensor, lo, hi in srcs:
                                a, b = max(c0, lo), min(c1, hi)
                                if a >= b:
                                    continue
                                nbytes = (r1 - r0) * spec.w * (b - a) * self.ab
                                if ctx.step is None:
                                    src_rows = (int(r0 * tensor.rows / max(1, spec.batch * spec.h)),
                                                int(math.ceil(r1 * tensor.rows / max(1, spec.batch * spec.h))))
                                else:  # an LSTM step reads one row per sequence: all rows
                                    src_rows = (0, tensor.rows)
                                rdeps = deps + self.producer_deps(tensor, *src_rows)
                                reads.append(self.read_block(
                                    tensor, mb[0] // max(1, tiling.mt) + a, nbytes, ds, layer_i,
                                    rdeps, base - 1 + 0.1, ("in", u, tuple(ds), tensor.name),
                                    f"{head.name} in", count=ctx.step is None))
                            rid = reads[0] if len(reads) == 1 else self.emit(
                                "barrier", layer_i, (), 0, 0, reads, base - 1 + 0.1,
                                label=f"{head.name} in")
                        else:
                            _, nb, kb = key
                            if spec.depthwise:
                                nbytes = (nb[1] - nb[0]) * spec.taps * self.wb
                            elif spec.groups > 1:
                                nbytes = (nb[1] - nb[0]) * spec.cin_g * spec.taps * self.wb
                            else:
                                nbytes = (nb[1] - nb[0]) * (kb[1] - kb[0]) * spec.taps * self.wb
                            if spec.weights_from_dram:
                                staged = resident or (weights_fit and key in self._w_staged)
                                self._w_staged.add(key)
                                # tile-interleaved: the unit's weight blocks take consecutive
                                # banks in emission order, so blocks routed to different cores
                                # in the same step sit in different banks
                                ordinal = w_ordinal.setdefault(key, len(w_ordinal))
                                rid = self.weight_block(u, layer_i, ordinal,
                                                        nbytes, ds, deps, base - 1 + 0.15,
                                                        not staged, f"{head.name} w")
                            else:
                                rid = self.read_block(src, nb[0] + kb[0], nbytes, ds, layer_i,
                                                      deps, base - 1 + 0.15, ("w", u, tuple(ds)),
                                                      f"{head.name} w")
                        for core in ds:
                            st = state[core]
                            st[operand] = key
                            st[operand + "_q"].append([rid, None])
                            if len(st[operand + "_q"]) > self.slots:
                                st[operand + "_q"].popleft()
                            routes[core][operand] = rid
            # ---- extra operands of fused add/mul, routed with the last k step
            for core, (mb, nb, kb, first, last) in active:
                st = state[core]
                deps = list(barrier)
                if st["in_q"]:
                    deps.append(st["in_q"][-1][0])
                if st["w_q"]:
                    deps.append(st["w_q"][-1][0])
                if last:
                    for e in extras:
                        share = (nb[1] - nb[0]) / n_all
                        if e.rows > 1:
                            share *= (mb[1] - mb[0]) / m_all
                        lo = int(mb[0] / m_all * e.rows)
                        hi = max(lo + 1, int(math.ceil(mb[1] / m_all * e.rows)))
                        edeps = list(barrier) + self.producer_deps(e, lo, hi)
                        deps.append(self.read_block(e, t, e.nbytes * share, [core], layer_i, edeps,
                                                    base - 1 + 0.2, ("x", u, core, e.name),
                                                    f"{head.name} {e.name}"))
                if first and len(st["o_q"]) >= self.slots:
                    deps.append(st["o_q"][0])  # accumulator half free once routed out
                if st["last_compute"] is not None:
                    deps.append(st["last_compute"])
                m, n = mb[1] - mb[0], nb[1] - nb[0]
                cycles = spec.array_cycles(m, n, kb[1] - kb[0], self.rows, self.cols)
                if last and unit.post_ops:
                    cycles = max(cycles, math.ceil(post_per_out * m * n / self.arch.core.vector_lanes))
                cid = self.emit("compute", layer_i, (f"core{core}",), cycles, 0, deps, base + 0.2,
                                label=f"{head.name} {unit.ops_label}")
                st["last_compute"] = cid
                for q in (st["in_q"], st["w_q"]):
                    if q:
                        q[-1][1] = cid
                if last:
                    orow_lo = int(mb[0] // spec.wo * out_frac_rows)
                    orow_hi = max(orow_lo + 1, int(math.ceil(((mb[1] - 1) // spec.wo + 1) * out_frac_rows)))
                    nbytes = out.nbytes * (m / m_all) * (n / n_all)
                    wid = self.write_block(out, t * ncores + core, nbytes, core, layer_i,
                                           [cid], base + 0.3, (orow_lo, orow_hi),
                                           f"{head.name} out")
                    # the accumulator half is free once the route out is done
                    route_out = wid if not out.in_dram else self.ops[wid].deps[0]
                    st["o_q"].append(route_out)
                    if len(st["o_q"]) > self.slots:
                        st["o_q"].popleft()

    # ---- element-wise / pooling / vector units ---------------------------------------------
    def _elt_unit(self, u: int, unit: Unit, barrier: list[int]) -> None:
        wl = self.wl
        layer = wl.layers[unit.layer]
        out = self.tensors[unit.output]
        ins = [self.tensors[n] for n in unit.inputs]
        on_vector = unit.engine == "vector"
        host = on_vector and self.arch.vector_unit.location == "host"
        if on_vector:
            lanes = self.arch.vector_unit.ops_per_cycle
            clients: list = ["vector"]
            cap_in = cap_out = self.arch.vector_unit.buffer_bytes / 4
        else:
            lanes = self.arch.core.vector_lanes
            clients = self._cores_for(unit)
            cap_in, cap_out = self.ibh, self.obh
        global_pool = out.rows < max(t.rows for t in ins) and out.nbytes < min(t.nbytes for t in ins)
        if global_pool:
            # tile over the input rows; the small output is written once at the end
            rows_total = max(t.rows for t in ins)
        else:
            rows_total = out.rows
        per_row_in = sum(t.nbytes / rows_total for t in ins if t.rows > 1)
        per_row_out = 0 if global_pool else out.nbytes / rows_total
        fixed_in = sum(t.nbytes for t in ins if t.rows <= 1)
        # Channel chunks: when one row of every operand plus the whole of the single-row
        # operands (a broadcast SE scale vector, or a 1-D tensor such as a linear output) do
        # not fit the buffer, the element work is split into `chunks` equal slices of the
        # channel (element) dimension, each with its slice of every operand; the single-row
        # operands are then loaded once per chunk instead of once. Smallest tile: one row of
        # one element per operand.
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
        state = {c: {"q": deque(), "oq": deque(), "last": None, "fixed": False} for c in clients}
        # per client: chunk outer (its slice of the single-row operands stays), rows inner
        blocks = {c: [(a, min(rows_total, (i + 1) * per_client, a + tile_rows), ch)
                      for ch in range(chunks)
                      for a in range(i * per_client, min(rows_total, (i + 1) * per_client), tile_rows)]
                  for i, c in enumerate(clients)}
        slot = {c: i for i, c in enumerate(clients)}
        n_steps = max(len(b) for b in blocks.values())
        for t in range(n_steps):
            for c in clients:
                if t >= len(blocks[c]):
                    continue
                lo, hi, chunk = blocks[c][t]
                st = state[c]
                if st.get("chunk") != chunk:
                    st["chunk"], st["fixed"] = chunk, False  # next slice of the 1-row operands
                deps = list(barrier)
                if len(st["q"]) >= self.slots:
                    deps.append(st["q"][0])
                arrivals = []
                for tin in ins:
                    if tin.rows <= 1:
                        if st["fixed"]:
                            continue
                        nbytes, rlo, rhi = tin.nbytes / chunks, 0, 1
                    else:
                        frac = (hi - lo) / rows_total
                        rlo = int(lo / rows_total * tin.rows)
                        rhi = max(rlo + 1, int(math.ceil(hi / rows_total * tin.rows)))
                        nbytes = tin.nbytes * frac / chunks
                    rdeps = deps + self.producer_deps(tin, rlo, rhi)
                    if host:
                        arrivals.append(self._host_read(tin, t, nbytes, layer, unit.layer, rdeps, t - 1))
                    else:
                        arrivals.append(self.read_block(tin, (t * len(clients) + slot[c]) * len(ins)
                                                        + len(arrivals), nbytes, [c],
                                                        unit.layer, rdeps, t - 1 + 0.1,
                                                        ("e", u, c, tin.name), f"{layer.name} in"))
                st["fixed"] = True
                cdeps = arrivals + ([st["last"]] if st["last"] is not None else [])
                if len(st["oq"]) >= self.slots:
                    cdeps.append(st["oq"][0])
                cycles = math.ceil(ops_per_row * (hi - lo) / lanes)
                cid = self.emit("vector" if on_vector else "compute", unit.layer,
                                ("vector",) if on_vector else (f"core{c}",), cycles, 0, cdeps,
                                t + 0.2, label=f"{layer.name} {unit.ops_label}")
                st["last"] = cid
                st["q"].append(cid)
                if len(st["q"]) > self.slots:
                    st["q"].popleft()
                last_tile = t == len(blocks[c]) - 1 or blocks[c][t + 1][2] != chunk
                if global_pool and not last_tile:
                    continue
                if global_pool:
                    nbytes, olo, ohi = out.nbytes / len(clients) / chunks, 0, out.rows
                else:
                    nbytes = out.nbytes * (hi - lo) / rows_total / chunks
                    olo, ohi = lo, hi
                if host:
                    wid = self._host_write(out, t, nbytes, unit.layer, [cid], t + 0.3, (olo, ohi))
                else:
                    wid = self.write_block(out, t * len(clients) + slot[c], nbytes, c,
                                           unit.layer, [cid], t + 0.3,
                                           (olo, ohi), f"{layer.name} out")
                st["oq"].append(wid)
                if len(st["oq"]) > self.slots:
                    st["oq"].popleft()

    def _host_read(self, tensor: Tensor, block: int, nbytes: float, layer: LayerBase, layer_i: int,
                   deps: list[int], key: float) -> int:
        """Host fallback: the tensor must be in DRAM (a DMA store first if it is in SRAM), then
        the host reads it over the DRAM interface."""
        self.tensor_sram_extra_bytes[tensor.name] += int(nbytes)
        if not tensor.in_dram:
            deps = [self.emit("dma_store", layer_i, ("dram", self.port("dma")),
                              self._xfer(nbytes, min(self.dram_bw, self.port_bw, self.bank_bw)),
                              self.dram_latency, deps, key - 0.5, int(nbytes),
                              f"spill {layer.name}")]
        return self.emit("host_read", layer_i, ("dram",), self._xfer(nbytes, self.dram_bw),
                         self.dram_latency, deps, key, int(nbytes), f"host read {layer.name}")

    def _host_write(self, tensor: Tensor, block: int, nbytes: float, layer_i: int,
                    deps: list[int], key: float, rows: tuple[int, int]) -> int:
        last = self.emit("host_write", layer_i, ("dram",), self._xfer(nbytes, self.dram_bw),
                         self.dram_latency, deps, key, int(nbytes), "host write")
        self.tensor_sram_extra_bytes[tensor.name] += int(nbytes)
        if not tensor.in_dram:
            last = self.emit("dma_load", layer_i, ("dram", self.port("dma")),
                             self._xfer(nbytes, min(self.dram_bw, self.port_bw, self.bank_bw)),
                             self.dram_latency, [last], key + 0.1, int(nbytes), "reload")
        tensor.writes.append((rows[0], rows[1], last))
        return last
