"""The closed-form reuse counts of `tiling.candidates` (fetches, load events per step class,
steps per class) for every candidate tiling and loop order, against walking the loop nest step
by step: a tile is loaded whenever it differs from the one the previous step used."""

from __future__ import annotations

import itertools
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.systolic.tiling import INDEX, ORDERS, TilingProblem, candidates


def _walk(order: str, trips: dict[str, int]) -> tuple[dict, list, list]:
    """Loads of each operand, steps per class (which position advanced) and, per class, the
    operands loaded at such a step."""
    loads = dict.fromkeys("abc", 0)
    steps = [0, 0, 0]
    loaded_in: list[set] = [set(), set(), set()]
    previous = None
    for point in itertools.product(*(range(trips[d]) for d in order)):
        at = dict(zip(order, point))
        moved = None if previous is None else next(q for q in range(3)
                                                    if point[q] != previous[q])
        if moved is not None:
            steps[moved] += 1
        for x in "abc":
            tile = tuple(at[d] for d in sorted(INDEX[x]))
            before = None if previous is None else tuple(
                dict(zip(order, previous))[d] for d in sorted(INDEX[x]))
            if tile != before:
                loads[x] += 1
                if moved is not None:
                    loaded_in[moved].add(x)
        previous = point
    return loads, steps, loaded_in


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 9), st.integers(1, 9), st.integers(1, 9),
       st.sampled_from(["os", "ws", "is"]))
def test_reuse_counts_match_a_walk_of_the_loop_nest(m, k, n, dataflow):
    # 1-byte operands and buffers of 1 byte: nothing is resident, every tile counts
    p = TilingProblem(m=m, k=k, n=n, rows=2, cols=2, dataflow=dataflow, a_unique_bytes=m * k,
                      b_elem_bytes=1, out_elem_bytes=1, acc_elem_bytes=1, a_in_dram=True,
                      b_in_dram=True, c_to_dram=True, cap_a=1, cap_b=1, cap_c=1,
                      allow_psum_spill=True, conv_rows=m)
    c = candidates([p])
    for i in range(len(c.seg)):
        trips = dict(zip("mkn", (int(v) for v in c.trips[:, i])))
        for o, order in enumerate(ORDERS):
            loads, steps, loaded_in = _walk(order, trips)
            tiles = {x: math.prod(trips[d] for d in INDEX[x]) for x in "abc"}
            assert [int(v) for v in c.fetches[:, o, i]] == [loads[x] // tiles[x] for x in "abc"]
            assert [float(v) for v in c.counts[:, o, i]] == [float(s) for s in steps]
            event = {"a": c.a_bytes[o, i] / loads["a"], "b": c.b_bytes[o, i] / loads["b"]}
            for q in range(3):
                if steps[q] and "c" not in loaded_in[q]:
                    expected = sum(event[x] for x in "ab" if x in loaded_in[q])
                    assert c.class_bytes[q, o, i] == expected
