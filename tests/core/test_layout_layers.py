"""The data-movement and normalisation layer types: shapes, counts, errors, and what the
engines charge for them (views nothing, moves a pass, lookups their rows from DRAM).
Counts derived by hand in the comments."""

from __future__ import annotations

import pytest

from simulator import api
from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict

INT8 = Precision(weight_bits=8, activation_bits=8, accumulator_bits=32)


def wl(layers, input_shape, **extra):
    return workload_from_dict({"name": "t", "input": input_shape, "layers": layers, **extra})


def test_views_cost_nothing_and_keep_their_elements():
    w = wl([{"name": "r", "type": "reshape", "shape": [4, -1, 8]},
            {"name": "s", "type": "slice", "axis": 1, "start": 1, "end": None, "step": 2},
            {"name": "i", "type": "slice", "axis": -1, "index": -1},
            {"name": "e", "type": "expand", "shape": [3, 4, 2]}],
           [4, 4, 8])
    r, s, i, e = w.layers
    assert r.output_shape == (4, 4, 8)
    assert s.output_shape == (4, 2, 8)       # positions 1 and 3 of 4
    assert i.output_shape == (4, 2)          # the last of 8, axis dropped
    assert e.output_shape == (3, 4, 2)       # a new leading axis of 3
    for layer in (r, s, i, e):
        assert layer.is_view and layer.vector_ops == 0 and layer.macs == 0
        assert layer.operand_bytes(INT8) == {"weights": 0, "ifmap": 0, "ofmap": 0}


def test_transpose_moves_data_only_when_sizes_above_one_change_order():
    w = wl([{"name": "swap", "type": "transpose", "perm": [1, 0, 2]},
            {"name": "unit", "type": "transpose", "perm": [0, 2, 1], "input": [5, 1, 6]}],
           [3, 5, 6])
    swap, unit = w.layers
    # (3, 5, 6) -> (5, 3, 6): every one of the 90 elements read and written once
    assert swap.moves_data and swap.vector_ops == 90 and not swap.is_view
    assert swap.operand_bytes(INT8) == {"weights": 0, "ifmap": 90, "ofmap": 90}
    # (5, 1, 6) -> (5, 6, 1): the size-1 axis moves, the data order does not
    assert not unit.moves_data and unit.is_view and unit.vector_ops == 0


def test_norm_parameters_and_vector_work():
    w = wl([{"name": "ln", "type": "norm", "kind": "layernorm"},
            {"name": "rms", "type": "norm", "kind": "rmsnorm"},
            {"name": "bn", "type": "norm", "kind": "batchnorm", "input": [16, 4, 4]},
            {"name": "ln_all", "type": "norm", "kind": "layernorm", "axis": 0, "bias": False,
             "input": [10, 64]}],
           [10, 64])
    ln, rms, bn, ln_all = w.layers
    # nn.LayerNorm(64): weight + bias = 128; 640 elements x (3 statistics + 2 normalise + 2
    # affine) = 4,480 ops
    assert (ln.params, ln.vector_ops) == (128, 4_480)
    # RMSNorm(64): weight only = 64; 640 x (2 + 1 + 1) = 2,560
    assert (rms.params, rms.vector_ops) == (64, 2_560)
    # BatchNorm2d(16): weight + bias = 32 (running statistics are buffers); 256 x 2 = 512
    assert (bn.params, bn.vector_ops) == (32, 512)
    # LayerNorm over both axes, no bias: 640 scale values; 640 x 6
    assert (ln_all.params, ln_all.vector_ops) == (640, 3_840)


def test_constant_operands_broadcast_and_count_their_learned_parameters():
    w = wl([{"name": "pos", "type": "add", "constant": [10, 64]},
            {"name": "rope", "type": "mul", "constant": [10, 1], "constant_params": 0},
            {"name": "cls", "type": "concat", "constant": [1, 64]},
            {"name": "ls", "type": "mul", "constant": [64]},
            {"name": "mask", "type": "where", "constant": [11, 11], "constant_params": 0,
             "input": [4, 11, 11]},
            {"name": "red", "type": "reduce", "op": "mean", "axes": [-1], "keepdims": False}],
           [10, 64])
    pos, rope, cls, ls, mask, red = w.layers
    assert pos.params == 640 and pos.weight_params == 640 and pos.vector_ops == 640
    assert rope.params == 0 and rope.weight_params == 10 and rope.output_shape == (10, 64)
    assert cls.output_shape == (11, 64) and cls.params == 64 and cls.is_view
    assert ls.params == 64 and ls.output_shape == (11, 64)
    # one select per output element: 4 * 11 * 11 = 484
    assert mask.output_shape == (4, 11, 11) and mask.vector_ops == 484 and mask.params == 0
    # mean over 11: 484 adds + 44 divides
    assert red.output_shape == (4, 11) and red.vector_ops == 484 + 44


@pytest.mark.parametrize("layer, message", [
    ({"name": "r", "type": "reshape", "shape": [7, 3]}, "cannot reshape"),
    ({"name": "s", "type": "slice", "axis": 0, "start": 9}, "is empty"),
    ({"name": "s", "type": "slice", "axis": 4, "index": 0}, "outside"),
    ({"name": "e", "type": "expand", "shape": [5, 9]}, "cannot expand"),
    ({"name": "t", "type": "transpose", "perm": [0, 0]}, "not a permutation"),
    ({"name": "a", "type": "add", "constant": [3]}, "do not match"),
])
def test_bad_layout_fields_are_one_line_errors(layer, message):
    with pytest.raises(NpusimError, match=message) as info:
        wl([layer], [4, 5])
    assert "\n" not in str(info.value) and "layers[0]" in str(info.value)


def test_engines_charge_moves_and_lookups_and_nothing_for_views():
    w = wl([{"name": "emb", "type": "embedding", "vocab": 1000, "dim": 64},
            {"name": "view", "type": "reshape", "shape": [16, 4, 16]},
            {"name": "move", "type": "transpose", "perm": [1, 0, 2]},
            {"name": "fc", "type": "linear", "in_features": 16, "out_features": 16}],
           [16])
    tpu = {layer.name: layer for layer in api.simulate("tpu_v1", w).layers}
    # the lookup reads 16 rows of 64 int8 weights = 1,024 bytes from DRAM, plus the 16 ids
    assert tpu["emb"].dram_bytes_by_operand["filter"] == 1_024
    assert tpu["emb"].dram_read_bytes == 1_024 + 16
    assert tpu["view"].cycles == 0 and tpu["view"].energy_pj == 0
    # 1,024 elements through TPUv1's 256-wide vector unit: at least 4 cycles
    assert tpu["move"].cycles >= 4 and tpu["move"].energy_pj > 0
    bpu = {layer.name: layer for layer in api.simulate("bpu", w).layers}
    assert bpu["emb"].dram_bytes_by_operand["filter"] == 1_024
    assert bpu["view"].cycles == 0 and bpu["view"].sram_read_bytes == 0
    assert bpu["move"].cycles > 0
    assert workload_params(w) == 1000 * 64 + 16 * 16 + 16


def workload_params(w) -> int:
    return sum(layer.params for layer in w.layers)
