"""The closed-form `macs` of the layer types with GEMMs equal the MACs of their lowered GEMMs
(`sum(g.macs for g in layer.gemms())`, the definition `LayerBase.macs` keeps) for every shape:
conv (grouped, depthwise, dilated, rectangular, Winograd), linear (flattened and per token),
matmul (weights or activations on the right), LSTM."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.layer_base import LayerBase
from simulator.core.workload import workload_from_dict


def bound(layer: dict, input_shape: list[int], batch: int):
    return workload_from_dict({"name": "t", "batch": batch, "input": input_shape,
                               "layers": [{"name": "x", **layer}]}).layers[0]


def assert_gemm_macs(layer) -> None:
    gemm_sum = sum(g.macs for g in layer.gemms())
    assert layer.macs == gemm_sum == LayerBase.macs.fget(layer)
    assert type(layer.macs) is int


@settings(max_examples=150, deadline=None)
@given(c=st.integers(1, 6), f=st.integers(1, 6), g=st.sampled_from([1, 2, 3]),
       h=st.integers(5, 17), w=st.integers(5, 17), kh=st.integers(1, 3), kw=st.integers(1, 3),
       s=st.integers(1, 3), d=st.integers(1, 2), p=st.integers(0, 2), batch=st.integers(1, 3),
       winograd=st.sampled_from([None, "f2", "f4"]), depthwise=st.booleans())
def test_conv_macs_are_its_gemms(c, f, g, h, w, kh, kw, s, d, p, batch, winograd,
                                 depthwise) -> None:
    c, f = c * g, f * g
    if depthwise:
        g = f = c
    layer = {"type": "conv", "out_channels": f, "kernel": [kh, kw], "stride": s,
             "dilation": d, "padding": p, "groups": g}
    if winograd:  # Winograd needs a 3x3 stride-1 undilated kernel
        layer.update(kernel=3, stride=1, dilation=1, winograd=winograd)
    assert_gemm_macs(bound(layer, [c, h, w], batch))


@settings(max_examples=80, deadline=None)
@given(shape=st.lists(st.integers(1, 9), min_size=1, max_size=3), out=st.integers(1, 9),
       per_token=st.booleans(), batch=st.integers(1, 3))
def test_linear_macs_are_its_gemms(shape, out, per_token, batch) -> None:
    layer = {"type": "linear", "out_features": out}
    if per_token and len(shape) >= 2:
        layer["in_features"] = shape[-1]  # applied to each position of the other axes
    assert_gemm_macs(bound(layer, shape, batch))


@settings(max_examples=80, deadline=None)
@given(m=st.integers(1, 9), k=st.integers(1, 9), n=st.integers(1, 9), count=st.integers(1, 4),
       weights=st.booleans(), batch=st.integers(1, 3))
def test_matmul_macs_are_its_gemms(m, k, n, count, weights, batch) -> None:
    layer = bound({"type": "matmul", "m": m, "k": k, "n": n, "count": count,
                   "weights": weights}, [count, m, k] if count > 1 else [m, k], batch)
    assert_gemm_macs(layer)


@settings(max_examples=60, deadline=None)
@given(steps=st.integers(1, 6), features=st.integers(1, 9), hidden=st.integers(1, 9),
       flat=st.booleans(), batch=st.integers(1, 3))
def test_lstm_macs_are_its_gemms(steps, features, hidden, flat, batch) -> None:
    layer = {"type": "lstm", "hidden_size": hidden}
    if flat:  # a 1-D input: seq_len steps of the whole vector
        layer["seq_len"] = steps
        shape = [features]
    else:
        shape = [steps, features]
    assert_gemm_macs(bound(layer, shape, batch))


def test_a_changed_field_changes_the_macs() -> None:
    """The closed forms read the fields as they are (no cache): a layer changed and bound again
    reports its new MACs. ResNet's first conv: 112 x 112 x 64 x 7 x 7 x 3 = 118,013,952; with
    half the filters it is half that, and a batch of 2 doubles it again."""
    conv = bound({"type": "conv", "out_channels": 64, "kernel": 7, "stride": 2, "padding": 3},
                 [3, 224, 224], 1)
    assert conv.macs == 118_013_952
    conv.out_channels = 32
    assert conv.macs == 118_013_952 // 2
    conv.bind(conv.input_shapes, 2)
    assert conv.macs == 118_013_952 == sum(g.macs for g in conv.gemms())
