"""Cycle-level timing of EIE's activation broadcast and per-PE activation queues.

Han et al., EIE, ISCA 2016, Sec. IV ("Activation Queue and Load Balancing"): the central unit
broadcasts one non-zero input activation per cycle to all PEs; each PE buffers it in a FIFO of
depth D and works through the matching column of its slice, one entry per cycle. The broadcast
stalls when any PE's queue is full.

Exact recurrence (our formulation of that behaviour), over broadcast steps t = 0..T-1, vectorized
over the P PEs:

    b_t      = max(b_{t-1} + 1, max_k f_{k, t-D})     broadcast cycle (f_{k, <0} = 0, b_{-1} = -1)
    s_{k,t}  = max(f_{k, t-1}, b_t + 1)               PE k starts activation t
    f_{k,t}  = s_{k,t} + w_{k,t}                      ... and finishes it
    cycles   = max_k f_{k, T-1}

A queue slot is held from the broadcast until the PE finishes the activation (the head of the
queue is the activation being worked on), so D = 1 is lock-step: every broadcast waits for the
slowest PE. The value broadcast in cycle b reaches the PEs in cycle b + 1. w_{k,t} is the PE's
work for that activation: its stored entries (non-zeros plus padding) of the column, and at least
one cycle, the pointer read (both pointers in one cycle from the even/odd banks), which overlaps
the previous column's entries but cannot be skipped for an empty slice.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: From this depth on, D steps at a time beat one step at a time (measured:
#: benchmarks/bench_sparse.py).
BLOCK_MIN_DEPTH = 8


@dataclass(frozen=True)
class QueueTiming:
    """What the broadcast/queue simulation yields for one sequence of broadcasts."""

    cycles: int
    busy_cycles_per_pe: np.ndarray   # sum of w over steps, per PE
    queue_full_stall_cycles: int     # cycles the broadcast unit waited for a free slot

    @property
    def load_balance_efficiency(self) -> float:
        """Mean PE busy time over the elapsed time."""
        pes = self.busy_cycles_per_pe.size
        return float(self.busy_cycles_per_pe.sum()) / (pes * self.cycles) if self.cycles else 1.0


def simulate_queues(work: np.ndarray, queue_depth: int) -> QueueTiming:
    """Run the recurrence above on `work` [T steps, P PEs] (cycles per activation per PE).

    Exact integer arithmetic, vectorized over PEs and over blocks of D steps (see
    `_block_finish`); D = 1 has a closed form. The stall total telescopes:
    sum_t (b_t - b_{t-1} - 1) = b_{T-1} + 1 - T.
    """
    work = np.asarray(work, dtype=np.int64)
    steps, pes = work.shape
    if steps == 0:
        return QueueTiming(0, np.zeros(pes, dtype=np.int64), 0)
    busy = work.sum(axis=0)
    if queue_depth == 1:
        # lock-step: every f_{k,t-1} <= S_{t-1} = b_t, so f_{k,t} = b_t + 1 + w_{k,t} and
        # b_t = sum_{s<t} (1 + max_k w_{k,s})
        per_step = 1 + work.max(axis=1)
        cycles = int(per_step.sum())
        return QueueTiming(cycles, busy, cycles - int(per_step[-1]) + 1 - steps)
    if queue_depth < BLOCK_MIN_DEPTH:
        finish, last_broadcast = _step_by_step(work, queue_depth)
    else:
        finish, last_broadcast = _blocks(work, queue_depth)
    return QueueTiming(int(finish.max()), busy, last_broadcast + 1 - steps)


def _step_by_step(work: np.ndarray, queue_depth: int) -> tuple[np.ndarray, int]:
    """The recurrence one step at a time (fewest numpy calls per step for tiny D)."""
    steps, pes = work.shape
    finish = np.zeros(pes, dtype=np.int64)
    slowest: list[int] = []                        # S_t = max_k f_{k,t}
    broadcast = -1
    rows = list(work)                              # row views: cheaper than work[t] in the loop
    top, higher = np.maximum.reduce, np.maximum    # skip the ndarray.max wrapper
    for t in range(steps):
        ready = slowest[t - queue_depth] if t >= queue_depth else 0
        broadcast = broadcast + 1 if broadcast + 1 >= ready else ready
        higher(finish, broadcast + 1, out=finish)
        finish += rows[t]
        slowest.append(int(top(finish)))
    return finish, broadcast


def _blocks(work: np.ndarray, queue_depth: int) -> tuple[np.ndarray, int]:
    """The recurrence D steps at a time. The broadcasts of steps t0..t0+D-1 wait only on
    S_{t-D} of earlier steps, so, unrolling b_t = max(b_{t-1} + 1, S_{t-D}) and
    f_{k,t} = max(f_{k,t-1}, b_t + 1) + w_{k,t} over the block (cummax: running maximum from t0):

        b_t     = t + max(b_{t0-1} + 1 - t0, cummax_{s<=t} (S_{s-D} - s))
        f_{k,t} = C_{k,t} + max(f_{k,t0-1} - C_{k,t0-1}, cummax_{s<=t} (b_s + 1 - C_{k,s-1}))

    with C_{k,t} = sum_{s<=t} w_{k,s} (C_{k,-1} = 0).
    """
    steps, pes = work.shape
    done = np.cumsum(work, axis=0)                  # C_{k,t}
    before = np.zeros_like(done)                    # C_{k,t-1}
    before[1:] = done[:-1]
    index = np.arange(steps, dtype=np.int64)
    slowest = np.zeros(steps, dtype=np.int64)       # S_t = max_k f_{k,t}
    lead = np.zeros(pes, dtype=np.int64)            # f_{k,t0-1} - C_{k,t0-1}
    broadcast = -1
    for t0 in range(0, steps, queue_depth):
        t1 = min(t0 + queue_depth, steps)
        t = index[t0:t1]
        if t0 >= queue_depth:
            wait = np.maximum.accumulate(slowest[t0 - queue_depth:t1 - queue_depth] - t)
            b = t + np.maximum(wait, broadcast + 1 - t0)
        else:
            b = t + (broadcast + 1 - t0)            # S_{<0} = 0 never binds: b_t >= t
        start = (b + 1)[:, None] - before[t0:t1]
        np.maximum.accumulate(start, axis=0, out=start)
        np.maximum(start, lead, out=start)
        lead = start[-1].copy()
        start += done[t0:t1]
        slowest[t0:t1] = start.max(axis=1)
        broadcast = int(b[-1])
    return lead + done[-1], broadcast
