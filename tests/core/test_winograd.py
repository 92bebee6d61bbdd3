"""Winograd F(2x2,3x3) and F(4x4,3x3) on the layer model: the matrices (checked against direct
correlation), the counts per tile, and a conv's MACs, transform work and stored weights."""

import numpy as np
import pytest

from simulator.core.errors import NpusimError
from simulator.core.winograd import ALGORITHMS, matrix_adds, output_tiles
from simulator.core.workload import workload_from_dict


def conv(h: int, winograd: str | None, **extra) -> object:
    layer = {"name": "c", "type": "conv", "input": [4, h, h], "out_channels": 6, "kernel": 3,
             "padding": 1, **extra}
    if winograd:
        layer["winograd"] = winograd
    return workload_from_dict({"name": "w", "layers": [layer]}).layers[0]


@pytest.mark.parametrize("variant", ["f2", "f4"])
def test_matrices_compute_the_correlation(variant):
    # Y = A^T [(G g G^T) * (B^T d B)] A equals the 3x3 correlation of d (Lavin & Gray eq. 8)
    algo = ALGORITHMS[variant]
    bt, g, at = (np.array(m, dtype=float) for m in (algo.bt, algo.g, algo.at))
    rng = np.random.default_rng(1)
    d, w = rng.normal(size=(algo.alpha, algo.alpha)), rng.normal(size=(3, 3))
    y = at @ ((g @ w @ g.T) * (bt @ d @ bt.T)) @ at.T
    direct = [[np.sum(d[i:i + 3, j:j + 3] * w) for j in range(algo.m)] for i in range(algo.m)]
    np.testing.assert_allclose(y, direct, atol=1e-12)


def test_transform_counts_per_tile():
    f2, f4 = ALGORITHMS["f2"], ALGORITHMS["f4"]
    # F(2x2): each row of B^T has 2 non-zeros -> 1 add per row, 4 per vector; B^T d B applies it
    # to 4 columns then 4 rows: 32 adds. A^T rows have 3 non-zeros -> 2 + 2 = 4 adds per vector,
    # on 4 columns then 2 rows: 24 adds. No constants other than +-1.
    assert matrix_adds(f2.bt) == 4 and f2.input_transform_adds == 32
    assert matrix_adds(f2.at) == 4 and f2.output_transform_adds == 24
    assert f2.input_transform_scalings == f2.output_transform_scalings == 0
    # F(4x4): B^T rows have 3,4,4,4,4,3 non-zeros -> 16 adds per vector, x (6 + 6) = 192;
    # 12 coefficients in {+-2, +-4, -5} -> 144 scalings. A^T rows 5,4,4,5 -> 14 adds, x (6 + 4)
    # = 140; 6 coefficients in {+-2, 4, +-8} -> 60 scalings.
    assert f4.input_transform_adds == 192 and f4.input_transform_scalings == 144
    assert f4.output_transform_adds == 140 and f4.output_transform_scalings == 60
    assert f2.mult_reduction == pytest.approx(2.25) and f4.mult_reduction == 4
    assert f2.weight_growth == pytest.approx(16 / 9) and f4.weight_growth == 4


def test_winograd_conv_counts_by_hand():
    # 8x8 output, C=4, F=6: direct MACs 64 x 9 x 4 x 6 = 13824
    direct, f2, f4 = conv(8, None), conv(8, "f2"), conv(8, "f4")
    assert direct.macs == 13824
    # F(2x2): 16 tiles of 16 products per (c, f): 16 x 16 x 24 = 6144 = 13824 / 2.25
    assert f2.winograd_tiles == 16 and f2.macs == 6144
    # F(4x4): 4 tiles of 36 products: 4 x 36 x 24 = 3456 = 13824 / 4
    assert f4.winograd_tiles == 4 and f4.macs == 3456
    # transforms: tiles x (C x input ops + F x output ops)
    assert f2.vector_ops == 16 * (4 * 32 + 6 * 24) == 4352
    assert f4.vector_ops == 4 * (4 * (192 + 144) + 6 * (140 + 60)) == 10176
    # stored (transformed) weights grow 16/9 and 36/9; the model's parameters do not
    assert direct.stored_weight_elements == direct.weight_params == 216
    assert f2.stored_weight_elements == 384 and f4.stored_weight_elements == 864
    assert f2.params == f4.params == direct.params
    # the GEMM view: alpha^2 independent (tiles x C) @ (C x F) products
    (gemm,) = f2.gemms()
    assert (gemm.m, gemm.k, gemm.n, gemm.groups) == (16, 4, 6, 16)
    assert f2.direct_gemms() == direct.gemms()


def test_edge_tiles_are_wasted_work():
    # 7x7 output: F(2x2) still needs 4 x 4 tiles, so MACs are 16 x 16 x 24 = 6144, not 10584/2.25
    layer = conv(7, "f2")
    assert output_tiles(7, 7, 2) == 16 and layer.macs == 6144
    assert conv(7, None).macs == 49 * 9 * 24 == 10584


def test_fused_activation_still_counted():
    layer = conv(8, "f2", activation="relu")
    assert layer.vector_ops == 4352 + 6 * 64


@pytest.mark.parametrize("extra,what", [({"kernel": 5, "padding": 2}, "kernel 5x5"),
                                        ({"stride": 2}, "stride 2x2"),
                                        ({"dilation": 2, "padding": 2}, "dilation 2x2")])
def test_winograd_refused_outside_3x3_stride_1(extra, what):
    layer = {"name": "c5", "type": "conv", "input": [4, 8, 8], "out_channels": 6, "kernel": 3,
             "padding": 1, "winograd": "f2", **extra}
    with pytest.raises(NpusimError) as info:
        workload_from_dict({"name": "w", "layers": [layer]}, "net.yaml")
    text = str(info.value)
    assert "layers[0] (c5).winograd" in text and what in text and "\n" not in text


def test_stored_weights_equal_parameters_without_winograd():
    from simulator.io.bundled import bundled_names, workload_dir
    from simulator.io.load import load_workload
    for name in bundled_names(workload_dir(), (".yaml",)):
        for layer in load_workload(name).layers:
            assert layer.stored_weight_elements == layer.weight_params, (name, layer.name)
