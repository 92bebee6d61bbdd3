"""Invariants of the transforms and of the model size, over random small networks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.compress import (
    huffman,
    model_size,
    prune,
    prune_channels,
    quantize,
    share_weights,
    winograd,
)
from simulator.compress.huffman_code import code_lengths, coded_stream_bits, entropy_bits
from simulator.core.workload import workload_from_dict

STAGES = ("dense", "pruned", "quantized", "huffman")


@st.composite
def networks(draw):
    channels = draw(st.integers(1, 12))
    size = draw(st.integers(3, 10))
    layers = []
    for i in range(draw(st.integers(1, 3))):
        layers.append({"name": f"c{i}", "type": "conv", "out_channels": draw(st.integers(1, 16)),
                       "kernel": draw(st.sampled_from([1, 3])), "padding": "same"})
    layers.append({"name": "gap", "type": "globalavgpool"})
    layers.append({"name": "fc", "type": "linear", "out_features": draw(st.integers(1, 64))})
    return workload_from_dict({"name": "r", "input": [channels, size, size], "layers": layers})


densities = st.floats(0.01, 1.0)


@settings(max_examples=40, deadline=None)
@given(networks(), densities, densities, st.integers(1, 16))
def test_pruning_never_increases_bytes_or_macs(net, d1, d2, bits):
    high, low = max(d1, d2), min(d1, d2)
    a = quantize(prune(net, high), bits)
    b = prune(a, low)
    sa, sb = model_size(a), model_size(b)
    for stage in STAGES:
        assert getattr(sb.totals, stage) <= getattr(sa.totals, stage)
    assert b.macs == a.macs == net.macs
    # structured pruning lowers MACs and weights too
    c = prune_channels(net, 0.5)
    assert c.macs <= net.macs and c.params <= net.params


@settings(max_examples=40, deadline=None)
@given(networks(), densities, st.integers(1, 8), st.booleans())
def test_huffman_never_larger_than_fixed_length(net, density, bits, shared):
    w = quantize(prune(net, density), bits)
    if shared and bits > 1:
        w = share_weights(w, 2 ** bits - 1)
    h = huffman(w)
    for before, after in zip(model_size(w).layers, model_size(h).layers):
        assert after.bytes.huffman <= before.bytes.quantized


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=64))
def test_huffman_code_bounds(counts):
    total = sum(counts)
    if total == 0:
        return
    lengths = code_lengths(counts)
    # a prefix code: Kraft sum <= 1 (== 1 for a full Huffman tree of >= 2 symbols)
    kraft = sum(2.0 ** -n for n in lengths if n)
    assert kraft <= 1 + 1e-12
    data, _, mean = coded_stream_bits(counts, total)
    live = sum(1 for c in counts if c)
    fixed = max(1, (live - 1).bit_length())
    assert data <= total * fixed                 # never worse than fixed length
    assert entropy_bits(counts) - 1e-9 <= mean <= entropy_bits(counts) + 1


@settings(max_examples=25, deadline=None)
@given(networks(), densities, st.integers(2, 8), st.sampled_from(["f2", "f4"]))
def test_transforms_never_mutate_their_input(net, density, bits, variant):
    before = net.model_dump()
    shapes = [layer.output_shape for layer in net.layers]
    steps = [lambda w: prune(w, density), lambda w: quantize(w, bits, bits),
             lambda w: share_weights(w, 2), lambda w: prune_channels(w, 0.5)]
    current = net
    for step in steps:
        snapshot = current.model_dump()
        nxt = step(current)
        assert current.model_dump() == snapshot and nxt is not current
        current = nxt
    try:
        winograd(net, variant)
    except Exception:
        pass          # no 3x3 layer in this network
    assert net.model_dump() == before and [l.output_shape for l in net.layers] == shapes
    assert not net.transforms


@settings(max_examples=25, deadline=None)
@given(networks(), densities, st.integers(1, 16))
def test_prune_and_quantize_commute(net, density, bits):
    a = quantize(prune(net, density), bits)
    b = prune(quantize(net, bits), density)
    assert model_size(a).totals == model_size(b).totals
