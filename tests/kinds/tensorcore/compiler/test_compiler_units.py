"""Compiler step 1 alone: grouping layers into units (docs/models/tensorcore.md §3, step 1)."""

from __future__ import annotations

import pytest

from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import build_units


def net(*layers, input=(64, 56, 56), batch=1):
    return workload_from_dict({"name": "t", "input": list(input), "batch": batch,
                               "layers": list(layers)})


CONV = {"name": "c", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}
RELU = {"name": "r", "type": "activation", "function": "relu"}
POOL = {"name": "p", "type": "maxpool", "kernel": 2}


def test_conv_absorbs_the_following_relu_and_pool():
    # bpu lists relu and maxpool as fusable post-ops, and each layer is the only consumer of
    # the previous one: one unit. On the core's output path: relu, hard-wired, applied as the
    # results drain (no cycles, one op's energy per conv output: 64 x 56 x 56 = 200,704),
    # then the 2x2 max pool on the element path, 4 compares per pooled output
    # (64 x 28 x 28 x 4 = 200,704).
    plan = build_units(load_arch("bpu"), net(CONV, RELU, POOL))
    (unit,) = plan.units
    assert (unit.kind, unit.engine, unit.layers) == ("mac", "core", [0, 1, 2])
    assert unit.ops_label == "conv+relu+maxpool"
    assert (unit.act_ops, unit.post_ops) == (200_704, 200_704)
    assert unit.output == "p" and unit.inputs == ["__input__"]
    # the closed form of the head on one 32x32 array: M = 3136 pixels, K = 576 -> 18 folds,
    # N = 64 -> 2 column folds: 3136 x 18 x 2 = 112,896 cycles
    assert plan.analytic == {0: 112_896}


def test_without_fusion_each_post_op_is_its_own_pass_on_the_core():
    plan = build_units(load_arch("bpu", ["compiler.fusion=false"]), net(CONV, RELU, POOL))
    assert [(u.kind, u.engine, u.ops_label) for u in plan.units] == [
        ("mac", "core", "conv"), ("elt", "core", "relu"), ("elt", "core", "maxpool")]
    # each pass reads the previous one's tensor
    assert [u.inputs for u in plan.units] == [["__input__"], ["c"], ["r"]]


def test_a_tensor_with_two_consumers_is_not_fused_away():
    # c feeds both r and the add, so its output must reach the shared SRAM: the conv does not
    # absorb r. Only a MAC head absorbs post-ops, so r and the add are element passes of their
    # own (on the core, which hard-wires both).
    add = {"name": "a", "type": "add", "inputs": ["c", "r"]}
    plan = build_units(load_arch("bpu"), net(CONV, RELU, add))
    assert [(u.kind, u.layers) for u in plan.units] == [("mac", [0]), ("elt", [1]), ("elt", [2])]
    assert plan.units[2].inputs == ["c", "r"]


def test_a_residual_add_fuses_into_the_conv_that_feeds_it_alone():
    # c2 is the add's only producer from the chain; the add's other operand (c1's output)
    # is routed in alongside: one unit c2+add, reading c1 and c1 (its two inputs).
    c1 = dict(CONV, name="c1")
    c2 = dict(CONV, name="c2")
    add = {"name": "a", "type": "add", "inputs": ["c2", "c1"]}
    plan = build_units(load_arch("bpu"), net(c1, c2, add))
    assert [u.layers for u in plan.units] == [[0], [1, 2]]
    assert plan.units[1].inputs == ["c1", "c1"] and plan.units[1].output == "a"
    assert plan.units[1].post_ops == 64 * 56 * 56  # one add per output element


def test_an_activation_the_core_cannot_apply_goes_to_the_vector_unit():
    # bpu_no_hswish does not hard-wire hardswish: the conv writes its pre-activation map
    # ("c#pre") and a vector-unit pass applies hardswish at 5 ops per element:
    # 64 x 56 x 56 x 5 = 1,003,520 element ops.
    conv = dict(CONV, activation="hardswish")
    plan = build_units(load_arch("bpu_no_hswish"), net(conv))
    mac, vec = plan.units
    assert (mac.output, mac.post_ops) == ("c#pre", 0)
    assert (vec.kind, vec.engine, vec.inputs, vec.output) == ("elt", "vector", ["c#pre"], "c")
    assert vec.vector_ops == 1_003_520
    # on bpu it is hard-wired and fused: one unit, applied as results drain (no element-path
    # cycles, one op's energy per element)
    (fused,) = build_units(load_arch("bpu"), net(conv)).units
    assert fused.ops_label == "conv+hardswish"
    assert (fused.act_ops, fused.post_ops) == (64 * 56 * 56, 0)


def test_activations_off_the_fast_path_cost_their_vector_work():
    # core/activations.py: swish 8 ops per element, gelu 16, softmax 8 over two passes, on a
    # 64 x 56 x 56 = 200,704-element map; none is hard-wired on bpu
    for function, per, passes in (("swish", 8, 1), ("gelu", 16, 1), ("softmax", 8, 2)):
        act = {"name": "a", "type": "activation", "function": function}
        mac, vec = build_units(load_arch("bpu"), net(CONV, act)).units
        assert (vec.engine, vec.vector_ops, vec.passes) == ("vector", 200_704 * per, passes)
        assert mac.act_ops == 0


def test_views_and_fresh_inputs():
    # flatten is a view (no data moves); a layer with its own `input:` reads a fresh tensor
    # from DRAM instead of the previous layer's output
    layers = [dict(CONV, name="c"), {"name": "f", "type": "flatten"},
              {"name": "fc", "type": "linear", "in_features": 100, "out_features": 10,
               "input": [100]}]
    plan = build_units(load_arch("bpu"), net(*layers, input=(64, 8, 8)))
    assert [u.kind for u in plan.units] == ["mac", "view", "mac"]
    assert plan.fresh_inputs == {"__input__:fc": 2}
    assert plan.units[2].inputs == ["__input__:fc"]


def test_lstm_gate_math_runs_where_the_cores_allow():
    lstm = {"name": "l", "type": "lstm", "hidden_size": 64}
    (unit,) = build_units(load_arch("bpu"), net(lstm, input=(5, 32))).units  # 5 steps
    # bpu does not list lstm: the gate GEMM runs as `linear` on the array, the gate math on
    # the vector unit: 13 element ops per hidden unit and step, 1 x 5 x 64 x 13 = 4,160
    assert unit.ops_label == "linear+gates@vector"
    assert unit.gate_engine == "vector" and unit.vector_ops == 4_160


def test_a_mac_layer_no_core_runs_is_a_one_line_error():
    arch = load_arch("bpu", ["core.hardwired_ops=[relu]"])
    with pytest.raises(NpusimError, match="no core hard-wires conv"):
        build_units(arch, net(CONV))


def test_a_squeeze_excite_scale_fuses_into_the_next_dense_conv_input_path():
    # the SE scale multiplies a 64 x 14 x 14 map by a 64-vector; its only consumer is a 1x1
    # conv. bpu lists mul in fusable_pre_ops: the conv scales each input channel as it reads
    # its input (12,544 multiplies, one element op's energy each, no cycles), so the scaled
    # map never goes back to the SRAM. bpu_no_hswish has no such path (and no hard-wired mul):
    # the scale is a vector-unit pass.
    layers = [{"name": "dw", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1,
               "groups": 64},
              {"name": "pool", "type": "globalavgpool"},
              {"name": "fc", "type": "conv", "out_channels": 64, "kernel": 1,
               "activation": "hardsigmoid"},
              {"name": "scale", "type": "mul", "inputs": ["dw", "fc"]},
              {"name": "project", "type": "conv", "out_channels": 32, "kernel": 1}]
    wl = net(*layers, input=(64, 14, 14))
    units = build_units(load_arch("bpu"), wl).units
    project = units[-1]
    assert project.layer == 4 and project.pre_layers == [3]
    assert project.inputs == ["dw", "fc"] and project.act_ops == 64 * 14 * 14
    assert project.ops_label == "mul>conv"
    assert all(3 not in u.layers for u in units)
    soft = build_units(load_arch("bpu_no_hswish"), wl).units
    assert [(u.engine, u.ops_label) for u in soft if u.layer == 3] == [("vector", "mul")]
