"""Bundled workloads: MAC and parameter totals against torchvision's published figures.

Reference figures (torchvision model metadata, 224x224, 1000 classes; GMACs as printed there,
3-4 significant digits): see ../shared/refs/README.md. torchvision counts BatchNorm weight and
bias as parameters and only conv + linear multiply-accumulates as MACs, as npusim does.
SqueezeNet 1.1 (torchvision squeezenet1_1): 1,235,496 parameters, 0.349 GMACs (docs print 0.35).
"""

from __future__ import annotations

import pytest

from simulator.core.layers import ConvLayer
from simulator.io.bundled import bundled_names, workload_dir
from simulator.io.load import load_workload
from simulator.io.yaml import read_yaml

TORCHVISION = {  # name: (parameters, MACs)
    "alexnet": (61_100_840, 0.714e9),
    "vgg16": (138_357_544, 15.47e9),
    "googlenet": (6_624_904, 1.498e9),
    "resnet50": (25_557_032, 4.089e9),
    "mobilenet_v2": (3_504_872, 0.301e9),
    "mobilenet_v3_large": (5_483_032, 0.217e9),
    "squeezenet": (1_235_496, 0.349e9),
}
TOLERANCE = 0.02


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_totals_match_torchvision(name: str) -> None:
    workload = load_workload(name)
    params, macs = TORCHVISION[name]
    d_params = (workload.params - params) / params
    d_macs = (workload.macs - macs) / macs
    assert abs(d_params) <= TOLERANCE, (
        f"{name}: {workload.params:,} params vs torchvision {params:,} ({d_params:+.3%})")
    assert abs(d_macs) <= TOLERANCE, (
        f"{name}: {workload.macs / 1e9:.4f} GMACs vs torchvision {macs / 1e9:.3f} ({d_macs:+.3%})")


@pytest.mark.parametrize("name", sorted(TORCHVISION))
def test_classifier_has_1000_outputs(name: str) -> None:
    out = load_workload(name).layers[-1].output_shape
    assert out[0] == 1000 and all(d == 1 for d in out[1:])


def test_alexnet_layer_shapes() -> None:
    # conv1: floor((224 + 2*2 - 11) / 4) + 1 = 55; pools 3/2: 55 -> 27 -> 13 -> 6
    w = load_workload("alexnet")
    assert w.layer("conv1").output_shape == (64, 55, 55)
    assert w.layer("pool2").output_shape == (192, 13, 13)
    assert w.layer("avgpool").output_shape == (256, 6, 6)
    # conv1 MACs = 55*55 * 64 * 11*11*3 = 70,276,800
    assert w.layer("conv1").macs == 70_276_800


def test_googlenet_ceil_mode_pools_and_concat() -> None:
    # pool1 ceil_mode: ceil((112 - 3) / 2) + 1 = 56 (floor would give 55)
    w = load_workload("googlenet")
    assert w.layer("pool1").output_shape == (64, 56, 56)
    assert w.layer("i3a_concat").output_shape == (256, 28, 28)       # 64 + 128 + 32 + 32
    assert w.layer("i5b_concat").output_shape == (1024, 7, 7)        # 384 + 384 + 128 + 128
    # torchvision's "5x5" branch is a 3x3 conv
    assert w.layer("i4a_5x5").kernel == 3


def test_resnet50_downsampling_and_adds() -> None:
    w = load_workload("resnet50")
    assert w.layer("l2b0_c2").output_shape == (128, 28, 28)          # v1.5: stride on the 3x3
    assert w.layer("l4b2_add").output_shape == (2048, 7, 7)
    adds = [layer for layer in w.layers if layer.type == "add"]
    assert len(adds) == 16                                           # 3 + 4 + 6 + 3 bottlenecks


def test_mobilenet_v3_squeeze_excite_visible() -> None:
    w = load_workload("mobilenet_v3_large")
    # bneck 4: 24 -> 72 expanded; SE squeeze = make_divisible(72 // 4, 8) = 24
    assert w.layer("b4_se_pool").output_shape == (72, 1, 1)
    assert w.layer("b4_se_fc1").out_channels == 24 and w.layer("b4_se_fc1").bias
    assert w.layer("b4_se_fc2").activation == "hardsigmoid"
    scale = w.layer("b4_se_scale")
    assert scale.input_shapes == [(72, 28, 28), (72, 1, 1)] and scale.output_shape == (72, 28, 28)
    assert sum(1 for layer in w.layers if getattr(layer, "activation", None) == "hardswish") > 10


def test_mobilenet_depthwise_layers() -> None:
    w = load_workload("mobilenet_v2")
    dws = [l for l in w.layers if isinstance(l, ConvLayer) and l.is_depthwise]
    assert len(dws) == 17
    # b2_dw: 96 channels, 3x3, stride 2, 112 -> 56: one 1-column GEMM per channel
    gemm = w.layer("b2_dw").gemms()[0]
    assert (gemm.m, gemm.k, gemm.n, gemm.groups) == (56 * 56, 9, 1, 96)


def test_tpu_mlp0_matches_table1() -> None:
    # Jouppi et al., ISCA 2017, Table 1: 5 FC layers, 20M weights, batch 200, and
    # 200 ops per weight byte at int8 (MACs per weight byte = batch)
    w = load_workload("tpu_mlp0")
    weights = sum(layer.weight_params for layer in w.layers)
    assert len(w.layers) == 5 and weights == 20_000_000 and w.batch == 200
    weight_bytes = sum(l.operand_bytes(w.precision)["weights"] for l in w.layers)
    assert w.macs / weight_bytes == 200


def test_lstm_lm_counts() -> None:
    # per sequence: 35 * (2 * 4*650*(650+650) + 650*10000) = 464,100,000 MACs, batch 64
    w = load_workload("lstm_lm")
    assert w.macs == 64 * 464_100_000
    assert w.params == 2 * (4 * 650 * 1300 + 8 * 650) + 650 * 10_000 + 10_000
    assert w.layer("decoder").output_shape == (35, 10_000)


def test_every_bundled_workload_loads_with_description_and_source() -> None:
    names = bundled_names(workload_dir(), (".yaml", ".yml"))
    assert set(TORCHVISION) | {"tpu_mlp0", "lstm_lm"} <= set(names)
    for name in names:
        data = read_yaml(workload_dir() / f"{name}.yaml")
        assert data.get("description"), name
        assert data.get("source"), name
        assert load_workload(name).macs > 0
