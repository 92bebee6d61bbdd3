"""Layer model: shape inference, MACs, parameters and operand bytes on hand-computed cases.

Output size convention (PyTorch): floor((H + 2p - d(R-1) - 1) / s) + 1, ceil with ceil_mode
(dropping a last window that would start past the left-padded input).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict

INT8 = Precision(weight_bits=8, activation_bits=8)


def net(layers: list[dict], input_shape: list[int] | None = None, batch: int = 1, **extra):
    data = {"name": "t", "batch": batch, "layers": layers, **extra}
    if input_shape is not None:
        data["input"] = input_shape
    return workload_from_dict(data)


def one(layer: dict, input_shape: list[int] | None = None, batch: int = 1):
    return net([{"name": "x", **layer}], input_shape, batch).layers[0]


# ---- conv ---------------------------------------------------------------------------------
def test_conv_stride_padding() -> None:
    # Ho = floor((32 + 2 - 3) / 2) + 1 = 16; MACs = 16*16 * 16 * 3*3*3 = 110,592
    conv = one({"type": "conv", "out_channels": 16, "kernel": 3, "stride": 2, "padding": 1,
                "bias": True}, [3, 32, 32])
    assert conv.output_shape == (16, 16, 16)
    assert conv.macs == 110_592
    assert conv.params == 16 * 27 + 16                    # weights + bias


def test_conv_rectangular_kernel_and_same_padding() -> None:
    # kernel 1x7, 'same' pads (0, 3): output stays 17x17; MACs = 289 * 8 * 7 * 4
    conv = one({"type": "conv", "out_channels": 8, "kernel": [1, 7], "padding": "same"},
               [4, 17, 17])
    assert conv.output_shape == (8, 17, 17)
    assert conv.macs == 289 * 8 * 7 * 4


def test_grouped_conv() -> None:
    # groups 4: each group 2 in -> 4 out channels; weights 16 * 3*3 * 8/4 = 288
    # MACs = 10*10 * 16 * 9 * 2 = 28,800 = GEMM m=100, k=18, n=4, 4 groups
    conv = one({"type": "conv", "out_channels": 16, "kernel": 3, "padding": 1, "groups": 4},
               [8, 10, 10])
    assert conv.weight_params == 288
    assert conv.macs == 28_800
    (g,) = conv.gemms()
    assert (g.m, g.k, g.n, g.groups) == (100, 18, 4, 4)
    assert not conv.is_depthwise


def test_depthwise_conv_with_batchnorm() -> None:
    # 32 channels, 3x3, 14x14 kept: MACs = 196 * 32 * 9 = 56,448; params 32*9 + 2*32 (BN)
    conv = one({"type": "conv", "out_channels": 32, "kernel": 3, "padding": 1, "groups": 32,
                "batchnorm": True}, [32, 14, 14], batch=2)
    assert conv.is_depthwise
    assert conv.macs == 2 * 56_448
    assert conv.params == 288 + 64
    (g,) = conv.gemms()
    assert (g.m, g.k, g.n, g.groups) == (2 * 196, 9, 1, 32)


def test_dilated_conv() -> None:
    # effective kernel d(R-1)+1 = 5: Ho = floor((10 - 4 - 1) / 1) + 1 = 6
    conv = one({"type": "conv", "out_channels": 2, "kernel": 3, "dilation": 2}, [1, 10, 10])
    assert conv.output_shape == (2, 6, 6)
    assert conv.macs == 36 * 2 * 9


def test_ceil_mode_pool() -> None:
    # 112 -> floor((112 - 3) / 2) + 1 = 55; ceil_mode -> ceil(109 / 2) + 1 = 56
    assert one({"type": "maxpool", "kernel": 3, "stride": 2}, [8, 112, 112]).output_shape == (8, 55, 55)
    assert one({"type": "maxpool", "kernel": 3, "stride": 2, "ceil_mode": True},
               [8, 112, 112]).output_shape == (8, 56, 56)


def test_ceil_mode_drops_window_past_input_but_scalesim_rule_keeps_it() -> None:
    # 1x1 stride 2 on 8: ceil(7 / 2) + 1 = 5, but the 5th window starts at 8 >= 8: PyTorch -> 4;
    # SCALE-Sim: ceil((8 - 1 + 2) / 2) = 5
    pt = one({"type": "conv", "out_channels": 4, "kernel": 1, "stride": 2, "ceil_mode": True},
             [4, 8, 8])
    ss = one({"type": "conv", "out_channels": 4, "kernel": 1, "stride": 2, "ofmap_rule": "scalesim"},
             [4, 8, 8])
    assert pt.output_shape == (4, 4, 4)
    assert ss.output_shape == (4, 5, 5)
    # R >= s: the two rules agree, ceil((13 - 3 + 2) / 2) = 6 = ceil(10 / 2) + 1
    a = one({"type": "conv", "out_channels": 1, "kernel": 3, "stride": 2, "ceil_mode": True}, [1, 13, 13])
    b = one({"type": "conv", "out_channels": 1, "kernel": 3, "stride": 2, "ofmap_rule": "scalesim"}, [1, 13, 13])
    assert a.output_shape == b.output_shape == (1, 6, 6)


# ---- linear, matmul, lstm -------------------------------------------------------------------
def test_linear_flattens_feature_map() -> None:
    # 256x6x6 flattens to 9216; batch 3: MACs = 3 * 9216 * 10
    fc = one({"type": "linear", "in_features": 9216, "out_features": 10}, [256, 6, 6], batch=3)
    assert fc.output_shape == (10,)
    assert fc.macs == 3 * 9216 * 10
    assert fc.params == 9216 * 10 + 10


def test_linear_per_token_on_sequence() -> None:
    # (T=35, F=650) -> per token: 35 * 650 * 100 MACs, output (35, 100)
    fc = one({"type": "linear", "in_features": 650, "out_features": 100}, [35, 650])
    assert fc.output_shape == (35, 100)
    assert fc.macs == 35 * 650 * 100


def test_matmul_count_and_activation_operands() -> None:
    # 12 heads of (128 x 64) @ (64 x 128), batch 2: 2 * 12 * 128*64*128 MACs
    mm = one({"type": "matmul", "m": 128, "k": 64, "n": 128, "count": 12}, batch=2)
    assert mm.macs == 25_165_824
    assert mm.weight_params == 0
    assert mm.operand_bytes(INT8) == {"weights": 0, "ifmap": 2 * 12 * 2 * 128 * 64,
                                      "ofmap": 2 * 12 * 128 * 128}
    w = one({"type": "matmul", "m": 4, "k": 5, "n": 6, "weights": True})
    assert w.weight_params == 30 and w.operand_bytes(INT8)["ifmap"] == 20


def test_lstm_gates() -> None:
    # MACs = T * B * 4H * (I + H) = 10 * 4 * 800 * 300; params 4H(I+H) + 8H
    lstm = one({"type": "lstm", "input_size": 100, "hidden_size": 200}, [10, 100], batch=4)
    assert lstm.output_shape == (10, 200)
    assert lstm.macs == 9_600_000
    assert lstm.params == 240_000 + 1_600
    (g,) = lstm.gemms()
    assert (g.m, g.k, g.n, g.steps) == (4, 300, 800, 10)


# ---- pools, eltwise, concat ---------------------------------------------------------------
def test_adaptive_avgpool_windows() -> None:
    # 13 -> 6: windows [floor(13i/6), ceil(13(i+1)/6)) are all 3 long: 18 per axis
    pool = one({"type": "adaptiveavgpool", "output_size": 6}, [2, 13, 13])
    assert pool.output_shape == (2, 6, 6)
    assert pool.vector_ops == 2 * 18 * 18
    # same size in and out: every window is one element
    assert one({"type": "adaptiveavgpool", "output_size": [6, 6]}, [4, 6, 6]).vector_ops == 4 * 36


def test_residual_add_and_broadcast_mul_and_concat() -> None:
    w = net([
        {"name": "a", "type": "conv", "out_channels": 8, "kernel": 3, "padding": 1},
        {"name": "b", "type": "conv", "out_channels": 8, "kernel": 1},
        {"name": "sum", "type": "add", "inputs": ["a", "b"], "activation": "relu"},
        {"name": "gp", "type": "globalavgpool"},
        {"name": "scale", "type": "mul", "inputs": ["sum", "gp"]},
        {"name": "cat", "type": "concat", "inputs": ["a", "scale", "b"]},
    ], [8, 5, 5])
    assert w.layer("sum").output_shape == (8, 5, 5)
    assert w.layer("sum").vector_ops == 2 * 200             # one add + one relu per element
    assert w.layer("scale").output_shape == (8, 5, 5)        # (8,1,1) broadcasts
    assert w.layer("cat").output_shape == (24, 5, 5)
    assert w.macs == 25 * 8 * 72 + 25 * 8 * 8


def test_defaults_apply_and_layer_fields_win() -> None:
    w = net([{"name": "a", "type": "conv", "out_channels": 4, "kernel": 1},
             {"name": "b", "type": "conv", "out_channels": 4, "kernel": 1, "batchnorm": False}],
            [4, 2, 2], defaults={"conv": {"batchnorm": True}})
    assert w.layer("a").params == 16 + 8 and w.layer("b").params == 16



@pytest.mark.parametrize("bad_type", [[], {"a": 1}])
def test_defaults_with_an_unhashable_layer_type_is_one_error(bad_type) -> None:
    # fuzz finding (thorough profile, test_hostile_workloads_end_in_one_line[tensorcore]):
    # `type: []` next to `defaults:` hashed the list (TypeError, exit 1) before validation
    with pytest.raises(NpusimError, match="layers\\[0\\]"):
        net([{"type": bad_type, "hidden_size": 1},
             {"name": "fc1", "type": "linear", "out_features": 1}],
            [1], defaults={"conv": {"bias": 0}})

# ---- operand bytes ------------------------------------------------------------------------
def test_operand_and_compulsory_bytes() -> None:
    # conv 3x32x32 -> 16x16x16, batch 2: weights 432, ifmap 2*3072, ofmap 2*4096 elements
    conv = one({"type": "conv", "out_channels": 16, "kernel": 3, "stride": 2, "padding": 1},
               [3, 32, 32], batch=2)
    assert conv.operand_bytes(INT8) == {"weights": 432, "ifmap": 6144, "ofmap": 8192}
    mixed = Precision(weight_bits=8, activation_bits=16)
    assert conv.operand_bytes(mixed) == {"weights": 432, "ifmap": 12288, "ofmap": 16384}
    int4 = Precision(weight_bits=4, activation_bits=4)
    assert conv.operand_bytes(int4) == {"weights": 216, "ifmap": 3072, "ofmap": 4096}
    assert conv.compulsory_dram_bytes(INT8) == {"read": 432 + 6144, "write": 8192}


def test_flatten_moves_nothing() -> None:
    w = net([{"name": "f", "type": "flatten"}, {"name": "fc", "type": "linear", "out_features": 2}],
            [2, 3, 3])
    assert w.layer("f").output_shape == (18,)
    assert w.layer("f").operand_bytes(INT8) == {"weights": 0, "ifmap": 0, "ofmap": 0}
    assert w.layer("fc").operand_bytes(INT8) == {"weights": 36, "ifmap": 18, "ofmap": 2}


# ---- shape errors ---------------------------------------------------------------------------
@pytest.mark.parametrize("layers, field", [
    ([{"name": "fc", "type": "linear", "in_features": 100, "out_features": 2}], "in_features"),
    ([{"name": "c", "type": "conv", "out_channels": 2, "kernel": 9}], "kernel"),
    ([{"name": "c", "type": "conv", "out_channels": 2, "kernel": 1, "groups": 2}], "groups"),
    ([{"name": "a", "type": "conv", "out_channels": 2, "kernel": 1},
      {"name": "b", "type": "conv", "out_channels": 2, "kernel": 3},
      {"name": "s", "type": "add", "inputs": ["a", "b"]}], "inputs"),
    ([{"name": "s", "type": "add", "inputs": ["nope", "x"]}], "inputs"),
])
def test_shape_errors_name_the_field(layers: list[dict], field: str) -> None:
    with pytest.raises(NpusimError) as err:
        net(layers, [3, 5, 5])
    assert err.value.field is not None and err.value.field.endswith(field)


# ---- invariants ---------------------------------------------------------------------------
@settings(max_examples=60, deadline=None)
@given(c=st.integers(1, 8), f=st.integers(1, 8), g=st.sampled_from([1, 2, 4]),
       h=st.integers(4, 20), k=st.integers(1, 4), s=st.integers(1, 3), p=st.integers(0, 2),
       batch=st.integers(1, 3))
def test_conv_macs_formula_and_lowering(c, f, g, h, k, s, p, batch) -> None:
    c, f = c * g, f * g
    conv = one({"type": "conv", "out_channels": f, "kernel": k, "stride": s, "padding": p,
                "groups": g}, [c, h, h], batch=batch)
    _, ho, wo = conv.output_shape
    assert ho == (h + 2 * p - k) // s + 1
    # direct definition vs the lowered GEMMs
    assert conv.macs == batch * ho * wo * f * k * k * (c // g)
    assert conv.macs == sum(gm.macs for gm in conv.gemms())
    b = conv.operand_bytes(INT8)
    assert b["weights"] == conv.weight_params
    assert b["ifmap"] == batch * c * h * h and b["ofmap"] == batch * f * ho * wo


def test_type_labels_tell_conv_shapes_apart() -> None:
    """Reports show conv/dw, conv/g, conv/pw and conv (issue 13), from the shape alone."""
    from simulator.core.layers import type_label

    shape = [8, 10, 10]
    label = lambda fields: type_label(one({"type": "conv", **fields}, shape))  # noqa: E731
    assert label({"out_channels": 8, "kernel": 3, "padding": 1, "groups": 8}) == "conv/dw"
    assert label({"out_channels": 16, "kernel": 3, "groups": 8}) == "conv/dw"  # multiplier 2
    assert label({"out_channels": 16, "kernel": 3, "padding": 1, "groups": 4}) == "conv/g"
    assert label({"out_channels": 16, "kernel": 1, "groups": 2}) == "conv/g"
    assert label({"out_channels": 16, "kernel": 1}) == "conv/pw"
    assert label({"out_channels": 16, "kernel": [1, 7], "padding": "same"}) == "conv"
    assert label({"out_channels": 16, "kernel": 3}) == "conv"
    assert type_label(one({"type": "linear", "out_features": 4}, [32])) == "linear"
