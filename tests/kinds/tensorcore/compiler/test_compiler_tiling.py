"""Compiler step 3 alone: tiling a MAC pass to the core buffers (docs/models/tensorcore.md §3)."""

from __future__ import annotations

import pytest
from helpers.archs import ideal_arch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.core.errors import NpusimError
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import MacSpec, Tiling, choose_tiling
from simulator.kinds.tensorcore.compiler.placement import CoreShare
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.tiling import tile_steps


def conv(cin, h, cout, k=1, stride=1, groups=1, batch=1):
    pad = k // 2
    ho = (h + 2 * pad - k) // stride + 1
    return MacSpec(batch, cin, h, h, cout, ho, ho, k, k, stride, 1, pad, groups)


def target(arch):
    return Target.of(arch, arch.precision)


def test_a_layer_that_fits_is_one_tile():
    # 1x1, 64 -> 64 on 8x8, bpu's 64 KiB buffer halves: weights 64 x 64 = 4 KiB, input
    # 8 rows x 8 x 64 = 4 KiB, accumulators 64 px x 64 ch x 4 B = 16 KiB all fit: one tile,
    # and each operand routed once (8,192 B). Ties between the loop orders keep the first
    # (channels outer).
    spec = conv(64, 8, 64)
    tiling = choose_tiling(spec, target(load_arch("bpu")), spec.m, spec.cout, 0.0, "l")
    assert tiling == Tiling(mt=64, nt=64, kc=64, channels_outer=True)


def test_weights_that_do_not_fit_split_the_reduction_in_whole_row_folds():
    # 3x3, 256 -> 64 on 14x14 with a 32 KiB weight buffer (16 KiB halves): one array width of
    # output channels over all 256 inputs is 32 x 2304 = 73,728 B. kc_unit = 32 / gcd(32, 9)
    # = 32 channels (32 x 9 = 288 = 9 full row folds); 16,384 // (32 x 9) = 56 channels fit
    # -> chunks of 32. Channel tile: 16,384 // 288 = 56 -> 32 (a multiple of the array width).
    spec = conv(256, 14, 64, k=3)
    t = target(ideal_arch(weight_buffer_bytes=32768))
    tiling = choose_tiling(spec, t, spec.m, spec.cout, 0.0, "l")
    assert (tiling.kc, tiling.nt) == (32, 32)
    steps = tile_steps(spec, CoreShare(0, 0, spec.m, 0, spec.cout), tiling)
    # every chunk fills whole folds: 8 chunks x 9 folds = 72 = ceil(2304 / 32), so the tiles
    # add up to the closed form 196 x 72 x 2 = 28,224 cycles
    chunks = {s.k for s in steps}
    assert sum(-(-(k1 - k0) * 9 // 32) for k0, k1 in chunks) == 72
    assert sum(spec.array_cycles(s.m[1] - s.m[0], s.n[1] - s.n[0], s.k[1] - s.k[0], 32, 32)
               for s in steps) == 28_224 == spec.analytic_cycles(32, 32)
    assert [s.first_k for s in steps[:8]] == [True] + [False] * 7
    assert [s.last_k for s in steps[:8]] == [False] * 7 + [True]


def test_a_layer_whose_smallest_tile_does_not_fit_is_a_one_line_error():
    # 11x11 over 3 x 224 x 224: one input row of one channel is 224 B, more than a 128 B
    # input half-buffer
    spec = conv(3, 224, 64, k=11, stride=4)
    t = target(ideal_arch(input_buffer_bytes=256))
    with pytest.raises(NpusimError, match="layer big does not fit the core buffers"):
        choose_tiling(spec, t, spec.m, spec.cout, 0.0, "big")


@st.composite
def specs_and_buffers(draw):
    k = draw(st.sampled_from([1, 3, 5, 7]))
    cin = draw(st.integers(1, 300))
    depthwise = draw(st.booleans()) and cin > 1
    cout = cin if depthwise else draw(st.integers(1, 300))
    spec = conv(cin, draw(st.integers(k, 40)), cout, k=k, stride=draw(st.sampled_from([1, 2])),
                groups=cin if depthwise else 1, batch=draw(st.integers(1, 2)))
    sizes = st.sampled_from([2048, 8192, 32768, 131072])
    arch = ideal_arch(input_buffer_bytes=draw(sizes), weight_buffer_bytes=draw(sizes),
                      output_buffer_bytes=draw(sizes))
    return spec, target(arch)


@settings(max_examples=60, deadline=None)
@given(specs_and_buffers())
def test_every_tile_fits_its_buffer_slot(problem):
    spec, t = problem
    try:
        tiling = choose_tiling(spec, t, spec.m, spec.cout, 0.0, "l")
    except NpusimError:
        assume(False)
    steps = tile_steps(spec, CoreShare(0, 0, spec.m, 0, spec.cout), tiling)
    # the tiles cover the layer's output exactly once per reduction chunk
    assert sum((s.m[1] - s.m[0]) * (s.n[1] - s.n[0]) for s in steps if s.last_k) == spec.m * spec.cout
    for s in steps:
        m, n, k = s.m[1] - s.m[0], s.n[1] - s.n[0], s.k[1] - s.k[0]
        assert spec.weight_bytes(n, k, t.weight_bytes) <= t.weight_half_bytes
        assert m * n * t.accumulator_bytes <= t.output_half_bytes
        if not spec.depthwise and (tiling.mt % spec.wo == 0 or tiling.mt == spec.m):
            # a tile of whole output rows: its input rows (with the halo) fit the input slot
            r0, r1 = spec.in_rows(s.m[0] // spec.wo, (s.m[1] - 1) // spec.wo)
            assert (r1 - r0) * spec.w * k * t.activation_bytes <= t.input_half_bytes
