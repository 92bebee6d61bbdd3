"""The mapper's per-problem choice (`mapper.lexmin_per_segment`) is what a stable lexicographic
sort would put first in each problem, NaN and infinities included, whatever form the keys take
(per loop order, the same in every order, rounded)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.systolic.mapper import lexmin_per_segment

_VALUES = st.sampled_from([0.0, 1.5, 2.0, float("inf"), float("nan")])


@st.composite
def _problems(draw):
    counts = draw(st.lists(st.integers(1, 6), min_size=1, max_size=5))  # candidates per problem
    seg = np.repeat(np.arange(len(counts)), counts)
    blocks = draw(st.integers(1, 4))                                     # loop orders
    size = blocks * len(seg)
    keys = []
    for _ in range(draw(st.integers(0, 5))):
        form = draw(st.sampled_from(["bool", "float", "per_entry", "rounded"]))
        if form == "bool":
            keys.append(np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size))))
        elif form == "per_entry":      # the same in every block: given as (N,)
            keys.append(np.array(draw(st.lists(_VALUES, min_size=len(seg),
                                               max_size=len(seg)))))
        else:
            values = np.array(draw(st.lists(_VALUES | st.floats(0, 2), min_size=size,
                                            max_size=size)))
            keys.append((values, 1) if form == "rounded" else values)
    return seg, blocks, keys


def _flat(key, blocks: int, n: int) -> np.ndarray:
    """A key as the (blocks * N,) values a sort ranks."""
    if isinstance(key, tuple):
        key = np.round(*key)
    return key if key.size == blocks * n else np.tile(key, blocks)


def _shaped(key, blocks: int, n: int):
    """A key in the form lexmin_per_segment takes: (blocks, N), (N,) or (array, decimals)."""
    if isinstance(key, tuple):
        return key[0].reshape(blocks, n), key[1]
    return key if key.size == n else key.reshape(blocks, n)


@settings(max_examples=300)
@given(_problems())
def test_lexmin_is_the_head_of_a_stable_lexicographic_sort(problem):
    seg, blocks, keys = problem
    flat_seg = np.broadcast_to(seg, (blocks, len(seg))).ravel()
    n = len(seg)
    flat = [_flat(key, blocks, n) for key in keys]
    ranked = np.lexsort([flat_seg, *flat][::-1])  # np.lexsort: last key is the primary one
    ordered = flat_seg[ranked]
    heads = ranked[np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])]
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    shaped = [_shaped(key, blocks, n) for key in keys]
    assert np.array_equal(lexmin_per_segment(shaped, seg, starts, blocks), heads)
