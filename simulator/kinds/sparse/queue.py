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
    """Run the recurrence above on `work` [T steps, P PEs] (cycles per activation per PE)."""
    work = np.asarray(work, dtype=np.int64)
    steps, pes = work.shape
    if steps == 0:
        return QueueTiming(0, np.zeros(pes, dtype=np.int64), 0)
    finish = np.zeros(pes, dtype=np.int64)
    slowest = np.zeros(steps, dtype=np.int64)      # max_k f_{k,t}
    broadcast = -1
    stall = 0
    rows = list(work)                              # row views: cheaper than work[t] in the loop
    for t in range(steps):
        earliest = broadcast + 1
        ready = int(slowest[t - queue_depth]) if t >= queue_depth else 0
        if ready > earliest:
            stall += ready - earliest
            broadcast = ready
        else:
            broadcast = earliest
        np.maximum(finish, broadcast + 1, out=finish)
        finish += rows[t]
        slowest[t] = finish.max()
    return QueueTiming(int(finish.max()), work.sum(axis=0), stall)
