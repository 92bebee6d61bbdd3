"""Vector-unit work on a systolic chip: layers without MACs, and the element-wise work of MAC
layers (activations, Winograd transforms, the K^T layout of attention).

The chip has an activation / pooling (vector) unit of `arch.vector_rate` element operations per
cycle (TPUv1: 256, one accumulator row per cycle). Activation functions cost what the hardware
makes them cost (issue "co-design", docs/models.md 3.7):
- a function the output path hard-wires (`arch.hardwired_activations`; TPUv1: relu, sigmoid,
  tanh) is applied as results drain: fused on a MAC layer it costs no cycles, only one vector
  operation's energy per element, whatever the layer (depthwise or not); as a layer of its own
  the data streams through the unit once per pass;
- any other function runs on the vector unit at `simulator.core.activations`' operations per
  element (swish 8, GELU 16, hardswish 5, softmax 8 over 2 passes, layernorm 7 over 2 passes),
  after the MAC layer that produced its input: its outputs are read back from the buffer (once
  per pass) and written again. The cycles show as stall cause `vector_unit`.
`norm` layers (LayerNorm, RMSNorm) are two-pass reductions: their `vector_ops` on the vector
unit, or two streaming passes where the arch hard-wires `layernorm`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from simulator.core.activations import activation_cost
from simulator.core.explain import formula
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ActivationLayer, EltwiseLayer
from simulator.kinds.systolic.accounting import LayerCost


class VectorWork(NamedTuple):
    """Element operations that take vector-unit cycles, those that cost energy, and how many
    times the input is read (passes)."""

    cycle_ops: float
    energy_ops: float
    passes: int
    hardwired: bool


def activation_work(function: str, elements: float, hardwired: tuple[str, ...] | list[str],
                    fused: bool) -> VectorWork:
    """What applying `function` to `elements` outputs costs (see the module docstring)."""
    if function == "identity":
        return VectorWork(0.0, 0.0, 1, True)
    cost = activation_cost(function)
    if function in hardwired:
        # streams through the hard-wired unit: free when fused into the drain (one pass), one
        # element per lane per cycle for each further pass (a reduction's second pass)
        passes = cost.passes
        cycle_ops = elements * ((passes - 1) if fused else passes)
        return VectorWork(cycle_ops, elements * passes, passes, True)
    ops = elements * cost.ops_per_element
    return VectorWork(ops, ops, cost.passes, False)


def vector_layer_work(layer: LayerBase, hardwired: tuple[str, ...] | list[str]) -> VectorWork:
    """Vector work of a layer without MACs."""
    if isinstance(layer, ActivationLayer):
        return activation_work(layer.function, layer.output_elements, hardwired, fused=False)
    # by its type tag: the vector-layer family is imported only by workloads that use it
    if layer.type == "norm" and layer.kind != "batchnorm":
        if "layernorm" in hardwired:
            elements = layer.output_elements
            return VectorWork(2.0 * elements, float(layer.vector_ops), 2, True)
        return VectorWork(float(layer.vector_ops), float(layer.vector_ops), 2, False)
    if isinstance(layer, EltwiseLayer) and layer.activation:
        base = layer.vector_ops - layer.output_elements
        act = activation_work(layer.activation, layer.output_elements, hardwired, fused=True)
        return VectorWork(base + act.cycle_ops, base + act.energy_ops, 1, act.hardwired)
    ops = float(layer.vector_ops)
    return VectorWork(ops, ops, 1, True)


def cost_vector_layer(layer: LayerBase, cost: LayerCost, work: VectorWork, *, rate: float,
                      a_bytes: float, a_dram_flags: list[bool], out_dram: bool, unified: bool,
                      bytes_per_cycle: float, latency_cycles: float,
                      weight_bytes: float) -> None:
    """Tally a layer without MACs: vector cycles, or the DRAM time of its traffic if longer,
    plus one DRAM latency when it touches DRAM. Views (concat, flatten, reshape, slice, expand)
    have no work and are free (producers write in place, consumers read in place)."""
    cost.extras = {"dataflow": "vector", "folds": 0, "mapping_efficiency": 0.0}
    if work.cycle_ops == 0 and work.energy_ops == 0:
        return
    compute = work.cycle_ops / rate
    in_bytes_each = [layer.batch * math.prod(s) * a_bytes for s in layer.input_shapes]
    out_bytes = layer.output_elements * a_bytes
    flags = a_dram_flags + [a_dram_flags[-1]] * max(0, len(in_bytes_each) - len(a_dram_flags))
    dram_in = sum(b for b, d in zip(in_bytes_each, flags) if d)
    dram_out = out_bytes if (out_dram or not unified) else 0.0
    cost.dram_read["ifmap"] += dram_in
    # stored operands of a layer without MACs (an embedding's rows, an add's constant) stream
    # from DRAM like weights, through the buffer that stages weights
    cost.dram_read["filter"] += weight_bytes
    cost.dram_write["ofmap"] += dram_out
    in_buf, out_buf = ("unified_buffer", "unified_buffer") if unified else ("ifmap_sram",
                                                                           "ofmap_sram")
    cost.sram_add(in_buf, "ifmap", read=work.passes * sum(in_bytes_each), write=dram_in)
    if weight_bytes:
        cost.sram_add("unified_buffer" if unified else "filter_sram", "filter",
                      read=weight_bytes, write=weight_bytes)
    cost.sram_add(out_buf, "ofmap", write=out_bytes, read=dram_out)
    cost.compute_cycles = compute
    cost.vector_ops = work.energy_ops
    dram_total = dram_in + dram_out + weight_bytes
    latency = latency_cycles if dram_total else 0.0
    dram_cycles = dram_total / bytes_per_cycle
    cost.total_cycles = max(compute, dram_cycles) + latency
    cost.extras["activations_in"] = "dram" if dram_in else "on-chip"
    cost.extras["activations_out"] = "dram" if dram_out else "on-chip"
    if cost.explain is not None:
        cost.note(formula("vector_cycles", "element_ops / elements_per_cycle", "cycles",
                          element_ops=work.cycle_ops, elements_per_cycle=rate))
        cost.note(formula("pipeline_cycles", "max(vector_cycles, dram_bytes / dram_bytes_per_cycle) "
                          "+ latency", "cycles", vector_cycles=compute, dram_bytes=dram_total,
                          dram_bytes_per_cycle=bytes_per_cycle, latency=latency,
                          meaning="vector work overlaps its own DRAM traffic"))
        cost.line(f"vector unit: {work.cycle_ops:,.0f} element operations at {rate:g} per cycle"
                  + (f", {work.passes} passes over the input" if work.passes > 1 else ""))
