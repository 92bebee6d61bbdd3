"""Activations cost what the hardware makes them cost (issue 12 item 3; issue 14 item 3 for
softmax and norms): hard-wired functions are free in the output path, the rest run on the
vector unit at simulator.core.activations' operations per element."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch

# 3x3 conv 64 -> 64 on 56x56: 64 * 56 * 56 = 200,704 outputs
OUTPUTS = 64 * 56 * 56


def conv(activation, groups=1):
    return workload_from_dict({"name": "a", "layers": [
        {"name": "c", "type": "conv", "input": [64, 56, 56], "out_channels": 64, "kernel": 3,
         "padding": 1, "groups": groups, "activation": activation}]})


@pytest.mark.parametrize("arch, rate", [("tpu_v1", 256), ("edge_32x32", 32)])
def test_fused_activation_cycles(arch, rate):
    base = simulate(arch, conv(None)).layers[0]
    cost = {}
    for fn, ops in (("relu", 0), ("sigmoid", None), ("swish", 8), ("gelu", 16),
                    ("hardswish", 5)):
        layer = simulate(arch, conv(fn)).layers[0]
        vector = layer.stall_breakdown_cycles.get("vector_unit", 0)
        cost[fn] = layer.cycles - base.cycles
        if ops == 0 or (ops is None and arch == "tpu_v1"):
            # hard-wired (relu everywhere here; sigmoid on TPUv1's activation unit): no cycles
            assert vector == 0 and layer.cycles == base.cycles
        elif ops is not None:
            # a vector-unit pass after the array: outputs x ops / elements per cycle
            # (tpu_v1 swish: 200,704 x 8 / 256 = 6,272 cycles; edge_32x32: / 32 = 50,176)
            assert vector == OUTPUTS * ops / rate
            assert layer.cycles == base.cycles + OUTPUTS * ops / rate
    assert cost["relu"] == 0 < cost["hardswish"] < cost["swish"] < cost["gelu"]


def test_a_hard_wired_activation_costs_the_same_on_a_depthwise_layer():
    # no +30 % for a fused ReLU on a depthwise layer: free whatever the layer
    for arch in ("tpu_v1", "edge_32x32"):
        plain = simulate(arch, conv(None, groups=64)).layers[0]
        relu = simulate(arch, conv("relu", groups=64)).layers[0]
        assert relu.cycles == plain.cycles
        # ... and its energy is one vector operation per output element (int8: one 8-bit add,
        # 0.03 pJ in Horowitz's table)
        assert relu.energy_breakdown_pj["vector"] == pytest.approx(OUTPUTS * 0.03)


def test_swish_costs_energy_and_shows_in_the_stall_breakdown():
    relu = simulate("tpu_v1", conv("relu"))
    swish = simulate("tpu_v1", conv("swish"))
    assert swish.totals.energy_pj > relu.totals.energy_pj
    # 8 operations per element instead of 1 (0.03 pJ each at 8 bits)
    assert swish.layers[0].energy_breakdown_pj["vector"] == pytest.approx(OUTPUTS * 8 * 0.03)
    assert swish.totals.stall_breakdown_cycles["vector_unit"] == OUTPUTS * 8 / 256
    # the outputs are read back (one pass) and written again in the unified buffer
    assert swish.layers[0].sram_read_bytes > relu.layers[0].sram_read_bytes


def standalone(layer, inp=(128, 768)):
    return workload_from_dict({"name": "v", "layers": [{"name": "x", "input": list(inp),
                                                        **layer}]})


def test_softmax_and_layernorm_are_two_pass_vector_work():
    tokens, dim = 128, 768
    elements = tokens * dim
    arch = load_arch("tpu_v1")
    soft = simulate(arch, standalone({"type": "activation", "function": "softmax"})).layers[0]
    # softmax: 8 operations per element over 2 passes (core/activations.py): 98,304 x 8 / 256
    assert soft.compute_cycles == elements * 8 / 256
    norm = simulate(arch, standalone({"type": "norm", "kind": "layernorm"})).layers[0]
    # layernorm with scale and shift: 7 operations per element (core/vector_layers.py)
    assert norm.compute_cycles == elements * 7 / 256
    rms = simulate(arch, standalone({"type": "norm", "kind": "rmsnorm"})).layers[0]
    assert rms.compute_cycles == elements * 4 / 256
    # both read their input twice from the unified buffer (the network input arrives from DRAM
    # into it: one write), and write the output once
    assert norm.sram_read_bytes >= 2 * elements
    # where the arch hard-wires layernorm, it streams twice through the unit: 2 x elements
    wired = simulate(load_arch("tpu_v1", ["hardwired_activations=[relu,layernorm]"]),
                     standalone({"type": "norm", "kind": "layernorm"})).layers[0]
    assert wired.compute_cycles == 2 * elements / 256


def test_standalone_activation_layer():
    arch = load_arch("edge_32x32")
    elements = 128 * 768
    relu = simulate(arch, standalone({"type": "activation", "function": "relu"})).layers[0]
    gelu = simulate(arch, standalone({"type": "activation", "function": "gelu"})).layers[0]
    # hard-wired relu streams through the unit once: elements / 32 per cycle
    assert relu.compute_cycles == elements / 32
    assert gelu.compute_cycles == elements * 16 / 32
