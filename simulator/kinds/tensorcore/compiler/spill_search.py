"""The spill traffic of the greedy interval allocation at lower and lower activation budgets,
re-walking only where the allocation's decisions change (for the weight-residency planner).

The planner asks for the spill traffic at budget B' = room - resident - w for each candidate,
always below the budget B of its current plan. Keep the run at B: for each tensor i (production
order) the occupancy o_i it met and whether it was placed. The run at B' takes the same
decisions up to the first tensor that was placed at B with o_i + n_i > B' (below it every
tensor meets the same occupancy, and o_i + n_i <= B' exactly when it did at B or it spilled at
both). From there the walk carries the difference between the two runs' occupancies (tensors
decided differently, until their last use); whenever none is live, the runs agree again up to
the next such tensor, found in O(log n) with a max-tree over o_i + n_i of the placed tensors,
and the spill traffic in between is a range sum (Fenwick tree). When a candidate is admitted,
the tensors walked update the kept run.

A candidate whose budget changes decisions only around a few tensors (the usual case: the
activation peak is local) costs O(log n) plus those tensors. A budget can still change
decisions in a cascade down the whole network (each tensor fitting only because the previous
one spilled), which needs a walk of that length: the worst case stays O(n) per candidate.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping

from simulator.kinds.tensorcore.compiler.allocation import SpillAllocator

_NONE = -(1 << 62)   # key of a tensor that cannot start a divergence (it spilled at B)


class _MaxTree:
    """Point updates and 'first index >= start whose value exceeds x' in O(log n)."""

    def __init__(self, values: list[int]) -> None:
        self.n = len(values)
        size = 1
        while size < max(1, self.n):
            size *= 2
        self.size = size
        self.tree = [_NONE] * (2 * size)
        self.tree[size:size + self.n] = values
        for i in range(size - 1, 0, -1):
            self.tree[i] = max(self.tree[2 * i], self.tree[2 * i + 1])

    def update(self, i: int, value: int) -> None:
        i += self.size
        self.tree[i] = value
        i //= 2
        while i:
            self.tree[i] = max(self.tree[2 * i], self.tree[2 * i + 1])
            i //= 2

    def first_greater(self, start: int, x: int) -> int:
        """The first index >= start whose value is > x, or n when there is none."""
        if start >= self.n:
            return self.n
        tree, i = self.tree, start + self.size
        if tree[i] > x:
            return start
        while i > 1:
            if i % 2 == 0 and tree[i + 1] > x:
                i += 1
                while i < self.size:
                    i = 2 * i if tree[2 * i] > x else 2 * i + 1
                return min(i - self.size, self.n)
            i //= 2
        return self.n


class _Fenwick:
    """Prefix sums with point updates in O(log n)."""

    def __init__(self, values: list[int]) -> None:
        self.n = len(values)
        self.tree = [0] * (self.n + 1)
        for i, v in enumerate(values):
            self.add(i, v)

    def add(self, i: int, delta: int) -> None:
        i += 1
        while i <= self.n:
            self.tree[i] += delta
            i += i & -i

    def prefix(self, i: int) -> int:
        """Sum of values [0, i)."""
        total = 0
        while i > 0:
            total += self.tree[i]
            i -= i & -i
        return total


class SpillSearch:
    """The greedy allocation's spill traffic at budgets below the current one (module
    docstring). `costs`: tensor name -> DRAM bytes per run it costs when it spills."""

    def __init__(self, allocator: SpillAllocator, costs: Mapping[str, int], budget: int) -> None:
        ivs = allocator.intervals
        self.first = [iv.first for iv in ivs]
        self.last = [iv.last for iv in ivs]
        self.size = [iv.nbytes for iv in ivs]
        self.cost = [costs[iv.name] for iv in ivs]
        self.budget = budget
        # the run at `budget`, walked in full once (as SpillAllocator does)
        self.occ: list[int] = []
        self.placed: list[bool] = []
        expire = [0] * allocator.horizon
        occupancy = k = 0
        for first, last, size in zip(self.first, self.last, self.size):
            while k < first:
                occupancy -= expire[k]
                k += 1
            self.occ.append(occupancy)
            fits = occupancy + size <= budget
            self.placed.append(fits)
            if fits:
                occupancy += size
                expire[last] += size
        self.keys = _MaxTree([o + s if p else _NONE
                              for o, s, p in zip(self.occ, self.size, self.placed)])
        self.spilled_cost = _Fenwick([0 if p else c for p, c in zip(self.placed, self.cost)])
        self.total = self.spilled_cost.prefix(len(self.cost))

    def evaluate(self, budget: int, limit: int | None = None
                 ) -> tuple[int, list[tuple[int, int, bool]] | None]:
        """Spill traffic at `budget` (<= the current budget) and the changes to the kept run
        (tensor, occupancy it meets, placed) that `commit` applies. With `limit` (only valid
        when every cost is >= 0) the walk stops once the traffic reaches it: the value is
        then >= limit and no changes are returned."""
        if budget > self.budget:
            raise ValueError("SpillSearch only evaluates budgets below the current one")
        n = len(self.first)
        first, last, size, cost, occ, placed = (self.first, self.last, self.size, self.cost,
                                                self.occ, self.placed)
        total = 0
        live: list[tuple[int, int]] = []   # (last use, +/- bytes) of tensors decided differently
        delta = 0                          # occupancy at `budget` minus the kept run's
        changes: list[tuple[int, int, bool]] = []
        i = 0
        while i < n:
            while live and live[0][0] < first[i]:
                delta -= heapq.heappop(live)[1]
            if not live:
                j = self.keys.first_greater(i, budget)
                total += self.spilled_cost.prefix(j) - self.spilled_cost.prefix(i)
                if limit is not None and total >= limit:
                    return total, None
                if j >= n:
                    break
                i = j
            o = occ[i] + delta
            fits = o + size[i] <= budget
            if fits != placed[i]:
                step = size[i] if fits else -size[i]
                heapq.heappush(live, (last[i], step))
                delta += step
            if not fits:
                total += cost[i]
                if limit is not None and total >= limit:
                    return total, None
            if fits != placed[i] or o != occ[i]:
                changes.append((i, o, fits))
            i += 1
        return total, changes

    def commit(self, budget: int, total: int, changes: list[tuple[int, int, bool]]) -> None:
        """Make the run at `budget` (whose evaluation gave `total` and `changes`) the kept one."""
        for i, o, fits in changes:
            if fits != self.placed[i]:
                self.spilled_cost.add(i, -self.cost[i] if fits else self.cost[i])
                self.placed[i] = fits
            self.occ[i] = o
            self.keys.update(i, o + self.size[i] if fits else _NONE)
        self.budget = budget
        self.total = total
