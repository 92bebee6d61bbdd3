"""The mapper's per-problem choice (`mapper.lexmin_per_segment`) is what a stable lexicographic
sort would put first in each problem, NaN and infinities included."""

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
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.booleans()):
            keys.append(np.array(draw(st.lists(st.booleans(), min_size=size, max_size=size))))
        else:
            keys.append(np.array(draw(st.lists(_VALUES, min_size=size, max_size=size))))
    return seg, blocks, keys


@settings(max_examples=300)
@given(_problems())
def test_lexmin_is_the_head_of_a_stable_lexicographic_sort(problem):
    seg, blocks, keys = problem
    flat_seg = np.broadcast_to(seg, (blocks, len(seg))).ravel()
    ranked = np.lexsort([flat_seg, *keys][::-1])  # np.lexsort: last key is the primary one
    ordered = flat_seg[ranked]
    heads = ranked[np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])]
    starts = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    assert np.array_equal(lexmin_per_segment(keys, seg, starts, blocks), heads)
