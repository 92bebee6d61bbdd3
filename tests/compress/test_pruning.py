"""Unstructured and structured pruning on small networks, counts derived by hand."""

import pytest

from simulator.compress import model_size, prune, prune_channels
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict


def chain(*layers, input=(4, 8, 8)):
    return workload_from_dict({"name": "t", "input": list(input), "layers": list(layers)})


def conv(name, out, kernel=3, **extra):
    return {"name": name, "type": "conv", "out_channels": out, "kernel": kernel,
            "padding": kernel // 2, **extra}


def one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


# ---- unstructured ------------------------------------------------------------------------
def test_prune_sets_density_keeps_macs_and_records():
    w = chain(conv("a", 8), {"name": "fc", "type": "linear", "out_features": 10})
    p = prune(w, 0.25, activation_density=0.5)
    assert [l.weight_density for l in p.layers] == [0.25, 0.25]
    assert [l.activation_density for l in p.layers] == [0.5, 0.5]
    assert p.layers[0].sparse_index_bits == 4
    # dense MACs do not change: 64 x 36 x 8 and 512 x 10
    assert p.macs == w.macs == 64 * 36 * 8 + 512 * 10
    assert p.transforms[-1].name == "prune" and p.transforms[-1].layers == ["a", "fc"]
    assert w.layers[0].weight_density == 1.0 and not w.transforms       # input untouched


def test_prune_per_layer_mapping():
    w = chain(conv("a", 8), conv("b", 8))
    p = prune(w, {"b": 0.1}, index_bits=5)
    assert (p.layers[0].weight_density, p.layers[1].weight_density) == (1.0, 0.1)
    assert p.layers[1].sparse_index_bits == 5 and p.layers[0].sparse_index_bits is None


def test_prune_skips_layers_without_weights():
    w = chain(conv("a", 8), {"name": "pool", "type": "maxpool", "kernel": 2})
    assert prune(w, 0.5).transforms[-1].layers == ["a"]
    with pytest.raises(NpusimError) as info:
        prune(w, 0.5, layers=["pool"])
    assert "pool.weight_density" in one_line(info) and "no weights" in str(info.value)


@pytest.mark.parametrize("density", [0, -0.1, 1.5, float("nan"), "half"])
def test_prune_refuses_density_outside_0_1(density):
    with pytest.raises(NpusimError) as info:
        prune(chain(conv("a", 8)), density)
    assert "density" in one_line(info)


def test_prune_never_restores_weights():
    w = prune(chain(conv("a", 8)), 0.1)
    with pytest.raises(NpusimError) as info:
        prune(w, 0.5)
    assert "cannot restore" in one_line(info) and "a.weight_density" in str(info.value)
    assert prune(w, 0.05).layers[0].weight_density == 0.05


def test_prune_unknown_layer():
    with pytest.raises(NpusimError) as info:
        prune(chain(conv("a", 8)), 0.5, layers=["nope"])
    assert "no layer named 'nope'" in one_line(info)


# ---- structured --------------------------------------------------------------------------
def test_channels_shrink_the_next_layer():
    # a: 4 -> 8 filters 3x3, b: 8 -> 6, fc: 6*8*8 -> 10. Remove half of a's filters (8 -> 4):
    # a MACs 64 x 36 x 4 = 9216 (was 18432), b MACs 64 x 36 x 6 = 13824 (was 27648), fc same
    w = chain(conv("a", 8), conv("b", 6), {"name": "fc", "type": "linear", "in_features": 384,
                                           "out_features": 10})
    p = prune_channels(w, 0.5, layers=["a"])
    a, b, fc = p.layers
    assert a.out_channels == 4 and a.macs == 9216 and b.macs == 13824 and fc.macs == 3840
    assert a.weight_params == 4 * 36 and b.weight_params == 6 * 9 * 4
    # network-wide: a 8 -> 4, b 6 -> 3 (fc defines the output and is kept); fc reads 3 x 64
    q = prune_channels(w, 0.5)
    assert [l.name for l in q.layers if l.name in q.transforms[-1].layers] == ["a", "b"]
    assert q.layers[2].in_features == 192 and q.layers[2].macs == 1920


def test_kept_channels_round_half_up():
    from simulator.compress.pruning import kept_channels
    assert kept_channels(64, 0.25) == 48 and kept_channels(10, 0.25) == 8   # 7.5 -> 8
    assert kept_channels(3, 0.9) == 1                                     # never zero


def test_depthwise_follows_its_input():
    w = chain(conv("expand", 8, kernel=1), conv("dw", 8, groups=8), conv("project", 4, kernel=1))
    p = prune_channels(w, 0.5, layers=["expand"])
    dw = p.layers[1]
    # 8 -> 4 channels: the depthwise conv keeps one 3x3 filter per channel: 4 groups
    assert (dw.groups, dw.out_channels, dw.weight_params) == (4, 4, 36)
    assert p.layers[2].weight_params == 4 * 4
    with pytest.raises(NpusimError) as info:
        prune_channels(w, 0.5, layers=["dw"])
    assert "depthwise" in one_line(info) and "dw.out_channels" in str(info.value)


def test_residual_add_stays_consistent_or_is_refused():
    w = chain(conv("a", 8), conv("b", 8), {"name": "add", "type": "add", "inputs": ["b", "a"]},
              conv("c", 4))
    # pruning both inputs of the add by the same ratio keeps it consistent
    p = prune_channels(w, 0.5)
    assert p.layer("add").output_shape == (4, 8, 8)
    # pruning only one of them breaks the add: refused in one line naming it
    with pytest.raises(NpusimError) as info:
        prune_channels(w, 0.5, layers=["b"])
    text = one_line(info)
    assert "breaks a shape" in text and "(add)" in text


def test_grouped_conv_divisibility_refused():
    w = chain(conv("a", 8), conv("g", 8, groups=2))
    with pytest.raises(NpusimError) as info:     # 8 -> 3 channels, not divisible by 2 groups
        prune_channels(w, 0.6, layers=["a"])
    assert "groups" in one_line(info)
    with pytest.raises(NpusimError) as info:     # g itself: 8 -> 5 filters over 2 groups
        prune_channels(w, 0.4, layers=["g"])
    assert "g.out_channels" in one_line(info)


def test_output_layer_refused():
    w = chain(conv("a", 8), {"name": "gap", "type": "globalavgpool"})
    with pytest.raises(NpusimError) as info:
        prune_channels(w, 0.5, layers=["a"])
    assert "network's outputs" in one_line(info)


@pytest.mark.parametrize("ratio", [1, 1.5, -0.1])
def test_channels_ratio_range(ratio):
    with pytest.raises(NpusimError):
        prune_channels(chain(conv("a", 8), conv("b", 8)), ratio)


def test_structured_pruning_of_bundled_networks():
    # every bundled CNN prunes consistently network-wide (residual adds, depthwise, concat,
    # squeeze-excite) and loses MACs and weights
    from simulator.io.load import load_workload
    for name in ("resnet50", "mobilenet_v2", "mobilenet_v3_large", "googlenet", "squeezenet"):
        w = load_workload(name)
        p = prune_channels(w, 0.25)
        assert p.macs < w.macs and p.params < w.params, name
        assert p.layers[-1].output_shape == w.layers[-1].output_shape, name
        assert model_size(p, reference=w).ratios["dense"] > 1.2, name
