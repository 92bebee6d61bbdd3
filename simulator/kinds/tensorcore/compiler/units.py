"""Step 1 of the compiler: group the workload's layers into compile units.

A unit is one pass over the data on a core or on the vector unit (docs/models/tensorcore.md §3,
step 1). A conv/linear head absorbs the following layers the core lists in
`fusable_post_ops` (an activation, a pool, an add/mul whose other operands are routed in
alongside) when each is the only consumer of the previous one (`compiler.fusion`), and an
inline `activation:` the core can apply. An activation the core cannot apply becomes a separate
pass through the shared SRAM (a core pass when the core hard-wires it, else the vector unit).
Non-MAC layers run on a core when it hard-wires them, else on the vector unit; concat/flatten
are views (no data moves).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from simulator.core.activations import activation_cost
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LstmLayer, MatmulLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.arch import TensorCoreArch
from simulator.kinds.tensorcore.compiler.macspec import MacSpec
from simulator.kinds.tensorcore.compression import (
    skipped_fraction,
    weight_travel_fraction,
    winograd_on_chip,
)

#: Layer types whose element work is a reduction over rows: the vector unit (or a core that
#: hard-wires them) reads each row twice, once for the statistics and once to normalise.
TWO_PASS_TYPES = ("norm",)
MAC_TYPES = ("conv", "linear", "matmul", "lstm")
#: the tensor holding the network input
INPUT = "__input__"


def op_name(layer: LayerBase) -> str:
    """The op name a core lists for this layer (see simulator.kinds.tensorcore.arch)."""
    if isinstance(layer, ConvLayer):
        return "depthwise" if layer.groups > 1 and layer.groups == layer.in_channels else "conv"
    if layer.type == "activation":
        return layer.function  # type: ignore[attr-defined]
    if layer.type == "norm" and getattr(layer, "kind", "") == "layernorm":
        return "layernorm"   # a core listing layernorm runs it
    return {"adaptiveavgpool": "avgpool", "adaptivemaxpool": "maxpool"}.get(layer.type, layer.type)


@dataclass
class Unit:
    """A compile unit: one pass over the data on a core or on the vector unit."""

    kind: str                      # mac | elt | view
    layer: int                     # layer the cycles are reported under
    layers: list[int]              # workload layers it covers (head first)
    engine: str                    # core | vector
    inputs: list[str]              # tensors it reads (the head's first)
    output: str                    # tensor it writes
    post_ops: int = 0              # fused pool / add / mul element ops on the core's
    #                                output path (its `vector_lanes` per cycle)
    act_ops: int = 0               # fused hard-wired activations: applied as results drain,
    #                                no cycles, one element op's energy each
    gate_engine: str = ""          # lstm units: where the element-wise gate math runs
    vector_ops: int = 0            # element ops of an elt unit (at the unit's cost per element)
    passes: int = 1                # reads of each input row (2: a two-pass reduction)
    ops_label: str = ""
    pre_layers: list[int] = field(default_factory=list)  # layers fused on the input path
    rhs: str = ""                  # activation x activation: the tensor of the right operand


@dataclass
class UnitPlan:
    """What step 1 hands on: the units in program order, the external inputs a layer reads
    fresh from DRAM (tensor name -> layer index) and, per MAC layer, its closed-form compute
    cycles on one core (`analytic`, reported as analytic_compute_cycles_one_core)."""

    units: list[Unit]
    fresh_inputs: dict[str, int] = field(default_factory=dict)
    analytic: dict[int, int] = field(default_factory=dict)


def mac_spec(layer: LayerBase, arch: TensorCoreArch) -> MacSpec:
    """The layer's MacSpec as the cores run it: depthwise mode or grouped, Winograd or direct,
    the fraction of the work zero skipping leaves (compression.py)."""
    spec = MacSpec.of(layer, depthwise_mode="depthwise" in arch.core.hardwired_ops,
                      winograd=winograd_on_chip(layer, arch))
    spec.work_fraction = skipped_fraction(layer, arch)
    return spec


def unit_spec(layer: LayerBase, arch: TensorCoreArch, weight_bits: int) -> MacSpec:
    """mac_spec, plus the bytes the layer's weights travel as (encoded when the chip decodes
    them; `weight_bits`: the width its MACs run at)."""
    spec = mac_spec(layer, arch)
    if not spec.kv_cache and spec.weights_from_dram:
        spec.travel_fraction = weight_travel_fraction(layer, arch, weight_bits)
    return spec


def mac_op_label(layer: LayerBase, hardwired_ops: set[str] | frozenset[str]) -> str:
    """The core op a MAC layer runs as, or a one-line error when no core can run it.

    conv needs `conv`; depthwise runs in the depthwise mode when listed, else as a grouped
    conv when `conv` is listed; linear, matmul and the LSTM gate GEMM are GEMMs on the
    array: they need their own op name or `linear` (a GEMM is a 1x1 conv over tokens).
    The vector unit has no MAC array, so a MAC layer no core runs is rejected."""
    name = op_name(layer)
    if name in hardwired_ops:
        return name
    if name == "depthwise" and "conv" in hardwired_ops:
        return "conv(depthwise as grouped)"
    if name in ("matmul", "lstm") and "linear" in hardwired_ops:
        return "linear"
    need = {"depthwise": "depthwise or conv", "matmul": "matmul or linear",
            "lstm": "lstm or linear"}.get(name, name)
    raise NpusimError(f"layer {layer.name}: no core hard-wires {need} and the vector unit "
                      "has no MAC array", field="core.hardwired_ops",
                      fix=f"add {need.split(' or ')[-1]} to core.hardwired_ops")


def layer_sources(workload: Workload) -> tuple[list[list[str]], dict[str, int]]:
    """The tensors each layer reads, and the external inputs some layers read fresh.

    A layer naming `inputs:` reads those; the first layer reads the network input; a layer
    with its own `input:` shape (or a matmul stating its own operands) starts a new external
    input (Workload.resolve), read from DRAM; any other layer reads the previous one."""
    layers = workload.layers
    sources: list[list[str]] = []
    fresh: dict[str, int] = {}
    for i, layer in enumerate(layers):
        if layer.inputs:
            sources.append(list(layer.inputs))
        elif i == 0:
            sources.append([INPUT])
        elif layer.input is not None or isinstance(layer, MatmulLayer):
            name = f"{INPUT}:{layer.name}"
            fresh[name] = i
            sources.append([name])
        else:
            sources.append([layers[i - 1].name])
    return sources, fresh


def _channel_scale(workload: Workload, sources: list[list[str]],
                   consumers: dict[str, list[int]], i: int) -> tuple[str, str, int] | None:
    """(map source, scale source, consumer) when layer i is a squeeze-excite scale that a
    core can apply on its consumer's input path: a `mul` of a map by a per-channel vector whose
    only consumer is a dense conv or linear layer reading nothing else; None otherwise."""
    layers = workload.layers
    layer = layers[i]
    if (layer.type != "mul" or len(sources[i]) != 2 or getattr(layer, "constant", None)
            or getattr(layer, "activation", None)):
        return None
    users = consumers.get(layer.name, [])
    if len(users) != 1 or sources[users[0]] != [layer.name]:
        return None
    k = users[0]
    consumer = layers[k]
    if not (consumer.type == "linear" or (isinstance(consumer, ConvLayer)
                                          and consumer.groups == 1)):
        return None
    shapes = layer.input_shapes
    small = [n for n, shape in zip(sources[i], shapes) if math.prod(shape) == shape[0]]
    big = [n for n, shape in zip(sources[i], shapes) if math.prod(shape) > shape[0]]
    if len(small) != 1 or len(big) != 1:
        return None
    return big[0], small[0], k


def build_units(arch: TensorCoreArch, workload: Workload) -> UnitPlan:
    """Group the layers into units (module docstring; docs/models/tensorcore.md §3, step 1)."""
    layers = workload.layers
    hard = set(arch.core.hardwired_ops)
    fusable = set(arch.core.fusable_post_ops)
    rows, cols = arch.core.mac_rows, arch.core.mac_cols
    sources, fresh = layer_sources(workload)
    plan = UnitPlan([], fresh)
    units = plan.units
    consumers: dict[str, list[int]] = {}
    for i, srcs in enumerate(sources):
        for s in srcs:
            consumers.setdefault(s, []).append(i)
    fusion = arch.compiler.fusion
    alias: dict[str, str] = {}  # layer name -> tensor name holding its data
    # squeeze-excite scales applied on their consumer's input path: consumer -> (mul layer,
    # map source, scale source)
    pre: dict[int, tuple[int, str, str]] = {}
    if fusion and "mul" in arch.core.fusable_pre_ops and "mul" in hard:
        for k in range(len(layers)):
            found = _channel_scale(workload, sources, consumers, k)
            if found is not None:
                pre[found[2]] = (k, found[0], found[1])
    pre_fused = {k for k, _, _ in pre.values()}
    i = 0
    while i < len(layers):
        layer = layers[i]
        if i in pre_fused:   # applied by its consumer as it reads its input
            i += 1
            continue
        ins = [alias.get(s, s) for s in sources[i]]
        if i in pre:
            k, map_src, scale_src = pre[i]
            ins = [alias.get(map_src, map_src), alias.get(scale_src, scale_src)]
        name = op_name(layer)
        act = getattr(layer, "activation", None) if layer.type != "activation" else None
        if layer.is_view:  # concat, flatten, reshape, slice, expand: no data moves
            units.append(Unit("view", i, [i], "core", ins, layer.name))
            i += 1
            continue
        if layer.type in MAC_TYPES:
            unit = Unit("mac", i, [i], "core", ins, layer.name, ops_label=mac_op_label(layer, hard))
            if (isinstance(layer, MatmulLayer) and not layer.weights and not layer.kv_cache
                    and len(ins) > 1):
                # Q K^T or scores x V: the right operand is the second input's tensor, read
                # through the bridge like a weight block (no DRAM weights)
                unit.rhs = ins[1]
            plan.analytic[i] = mac_spec(layer, arch).analytic_cycles(rows, cols)
            if winograd_on_chip(layer, arch):
                # the input and output transforms on the cores' paths as data streams in and
                # out: their element ops cost energy, no cycles (compression.py)
                unit.act_ops += layer.winograd_transform_ops
            if i in pre:
                # one multiply per input element on the input path, as fast as the dense array
                # reads its input (no cycles), one element op's energy each
                k = pre[i][0]
                unit.pre_layers.append(k)
                unit.act_ops += layers[k].output_elements
                unit.ops_label = f"{layers[k].type}>" + unit.ops_label
            if isinstance(layer, LstmLayer):
                # the gate GEMM of every step on the cores, then the element-wise gate math
                # (on the cores' element path when they hard-wire lstm, else on the vector
                # unit) with an SRAM round trip per step: see lstm.py
                unit.vector_ops = layer.vector_ops
                unit.gate_engine = "core" if "lstm" in hard else "vector"
                unit.ops_label += f"+gates@{unit.gate_engine}"
                units.append(unit)
                i += 1
                continue
        else:
            engine = "core" if name in hard else "vector"
            ops = layer.vector_ops - (layer.output_elements if act else 0)
            # a norm over rows is a two-pass reduction (statistics, then normalise); inference
            # batchnorm has its statistics stored: one pass
            passes = 2 if (layer.type in TWO_PASS_TYPES
                           and getattr(layer, "kind", "") != "batchnorm") else 1
            if layer.type == "activation":
                # a hard-wired function streams through a core's element path at one op per
                # element; elsewhere it costs its vector-unit work (core/activations.py)
                cost = activation_cost(name)
                passes = cost.passes
                if engine == "vector":
                    ops = layer.output_elements * cost.ops_per_element
            unit = Unit("elt", i, [i], engine, ins, layer.name, vector_ops=ops, passes=passes,
                        ops_label=name)
        pending_act = act
        if act and unit.engine == "core":
            can_fuse = act in fusable if unit.kind == "mac" else act in hard | fusable
            if (fusion or unit.kind == "elt") and can_fuse and activation_cost(act).passes == 1:
                # applied on the output path as results drain, whatever the layer (depthwise
                # or not): no cycles, one element op's energy per output (core/activations.py)
                unit.act_ops += layer.output_elements
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
            if (nxt.type in MAC_TYPES or nxt.is_view or nname not in fusable or j in pre_fused
                    or tail not in sources[j] or consumers.get(tail, []) != [j]
                    or (nact and nact not in fusable)
                    or (nxt.type == "activation" and activation_cost(nname).passes > 1)):
                break
            unit.layers.append(j)
            unit.inputs += [alias.get(s, s) for s in sources[j] if s != tail]
            if nxt.type == "activation":
                unit.act_ops += nxt.output_elements
            else:
                unit.post_ops += nxt.vector_ops - (nxt.output_elements if nact else 0)
                unit.act_ops += nxt.output_elements if nact else 0
            unit.ops_label += f"+{nname}" + (f"+{nact}" if nact else "")
            tail = nxt.name
            j += 1
        for k in unit.layers:
            alias[layers[k].name] = tail
        unit.output = tail if pending_act is None else layer.name + "#pre"
        units.append(unit)
        if pending_act is not None:
            # the core cannot apply it: a separate pass through SRAM (a core pass when the
            # core hard-wires it but fusion is off, else the vector unit)
            engine = "core" if pending_act in hard else "vector"
            cost = activation_cost(pending_act)
            per = 1 if engine == "core" else cost.ops_per_element
            units.append(Unit("elt", i, [i], engine, [unit.output], layer.name,
                              vector_ops=layer.output_elements * per, passes=cost.passes,
                              ops_label=pending_act))
        i = j
    return plan
