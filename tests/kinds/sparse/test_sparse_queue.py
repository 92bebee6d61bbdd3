"""The vectorized queue recurrence (simulator/kinds/sparse/queue.py) against the recurrence
written out one broadcast at a time, as in docs/models/sparse.md ("Timing model")."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.sparse.queue import simulate_queues


def plain_recurrence(work: np.ndarray, depth: int) -> tuple[int, int]:
    """b_t = max(b_{t-1} + 1, max_k f(k, t - D)); f(k, t) = max(f(k, t-1), b_t + 1) + w(k, t).
    Returns (cycles, queue-full stall cycles), one plain Python step per broadcast."""
    steps, pes = work.shape
    finish = [0] * pes
    slowest: list[int] = []
    broadcast, stall = -1, 0
    for t in range(steps):
        ready = slowest[t - depth] if t >= depth else 0
        if ready > broadcast + 1:
            stall += ready - broadcast - 1
        broadcast = max(broadcast + 1, ready)
        finish = [max(f, broadcast + 1) + int(w) for f, w in zip(finish, work[t])]
        slowest.append(max(finish))
    return max(finish), stall


@settings(max_examples=150, deadline=None)
@given(steps=st.integers(1, 60), pes=st.integers(1, 6), depth=st.integers(1, 40),
       top=st.integers(0, 30), seed=st.integers(0, 2**32 - 1))
def test_vectorized_recurrence_matches_the_plain_one(steps, pes, depth, top, seed):
    # every depth path (closed form for D = 1, step by step, blocks of D steps) is exact
    work = np.random.default_rng(seed).integers(0, top + 1, size=(steps, pes))
    timing = simulate_queues(work, depth)
    assert (timing.cycles, timing.queue_full_stall_cycles) == plain_recurrence(work, depth)
    assert timing.busy_cycles_per_pe.tolist() == work.sum(axis=0).tolist()


def test_deep_queues_reach_the_busiest_pe_bound():
    # with D >= T nothing ever waits: cycles = 1 (first broadcast) + the busiest PE's total
    # work when that PE is busy from its first activation on (here every w >= 1)
    work = np.array([[3, 1], [1, 1], [4, 1], [1, 9]])
    timing = simulate_queues(work, 16)
    assert timing.cycles == 1 + max(3 + 1 + 4 + 1, 1 + 1 + 1 + 9) == 13
    assert timing.queue_full_stall_cycles == 0
