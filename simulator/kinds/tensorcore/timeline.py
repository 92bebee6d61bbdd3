"""Where the time went: the op timings of a run (repeated steps resolved), each layer's window
and the cycles it occupies, and the critical path of a layer split by cause.

* **Repeated steps** (schedule.Repeat): the ops of a repeated block carry the times of their
  first copy and a multiplicity (1 + copies); copy k runs k periods later. A layer's figures
  count every copy.
* **Occupied cycles** of a layer: the measure of the union of its ops' [start, done]
  intervals (all copies). Every resource serves one op at a time, so the layer's busy time on
  any one resource (a core, the DRAM interface) fits inside it: cycles >= its compute and DRAM
  bounds and utilization <= 1, also when layers overlap in pipeline placement.
* **Critical path**: walking back from the layer's last op through whichever dependency or
  resource predecessor bound each start, split into compute and stall causes (`bridge`,
  `sram_bank`, `dram`, `bridge_latency`, `dram_latency`, `vector_unit`, `dependency`); a
  repeated block's period counts once per copy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from simulator.kinds.tensorcore.ops import KIND_CATEGORY, Op, resource_category
from simulator.kinds.tensorcore.schedule import OpTiming, Repeat

LATENCY_CATEGORY = {"route_in": "bridge_latency", "route_out": "bridge_latency",
                    "dma_load": "dram_latency", "dma_store": "dram_latency",
                    "host_read": "dram_latency", "host_write": "dram_latency"}


@dataclass
class Timeline:
    """Op timings (first copies), repeats and their periods, multiplicity of every op."""

    ops: list[Op]
    timing: dict[int, OpTiming]
    repeats: list[Repeat] = field(default_factory=list)
    periods: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_id = {op.id: op for op in self.ops}
        self.mult: dict[int, int] = {}
        self.shift: dict[int, float] = {}
        self.block_of: dict[int, Repeat] = {}
        for rep in self.repeats:
            for i in range(rep.first, rep.last + 1):
                self.mult[i] = 1 + rep.count
                self.shift[i] = rep.count * self.periods[rep.first]
                self.block_of[i] = rep

    def copies(self, op_id: int) -> int:
        return self.mult.get(op_id, 1)

    def last_done(self, op_id: int) -> float:
        """When the last copy of the op is done."""
        return self.timing[op_id].done + self.shift.get(op_id, 0.0)

    @property
    def span(self) -> float:
        """When the last op's last copy is done (0 without ops)."""
        shift = self.shift
        best = 0.0
        first = True
        for i, t in self.timing.items():
            done = t.done + shift.get(i, 0.0)
            if first or done > best:
                best, first = done, False
        return best

    def finish(self, ops: list[Op]) -> float | None:
        """When the last copy of the last of `ops` is done (None: no ops)."""
        timing, shift = self.timing, self.shift
        best = None
        for op in ops:
            done = timing[op.id].done + shift.get(op.id, 0.0)
            if best is None or done > best:
                best = done
        return best

    def last_op(self, ops: list[Op]) -> int:
        """The id of the op of `ops` whose last copy is done last (ties: the highest id)."""
        timing, shift = self.timing, self.shift
        best, best_id = None, -1
        for op in ops:
            key = (timing[op.id].done + shift.get(op.id, 0.0), op.id)
            if best is None or key > best:
                best, best_id = key, op.id
        return best_id


def occupancy(ops: list[Op], tl: Timeline) -> tuple[float, int]:
    """(start, occupied cycles) of a layer's ops, every copy included (module docstring)."""
    spans = []
    timing, block_of = tl.timing, tl.block_of
    for op in ops:
        t = timing[op.id]
        if t.done <= t.start:
            continue
        rep = block_of.get(op.id) if block_of else None
        if rep is None:
            spans.append((t.start, t.done))
        else:
            period = tl.periods[rep.first]
            spans.extend((t.start + k * period, t.done + k * period)
                         for k in range(rep.count + 1))
    if not spans:
        return 0.0, 0
    spans.sort()
    total = 0.0
    lo, hi = spans[0]
    for a, b in spans[1:]:
        if a > hi:
            total += hi - lo
            lo, hi = a, b
        elif b > hi:
            hi = b
    total += hi - lo
    return spans[0][0], int(-(-(total - 1e-9) // 1))


def critical_path(tl: Timeline, layer_ops: list[Op], window_start: float) -> dict[str, float]:
    """The layer's critical path split by cause (module docstring). Through a repeated block
    the walk goes as it would through every copy: when it leaves the block for the step before
    it (whose ops the copies mirror), it re-enters the block at the same op, one copy earlier,
    until the copies are used up."""
    if not layer_ops:
        return {}
    cur = tl.last_op(layer_ops)
    rep = tl.block_of.get(cur)
    wraps = rep.count if rep is not None else 0
    out: dict[str, float] = defaultdict(float)
    timing, by_id = tl.timing, tl.by_id
    mode, category = "done", None

    def add(cat: str, lo: float, hi: float) -> None:
        lo = max(lo, window_start)
        if hi > lo:
            out[cat] += hi - lo

    limit = len(by_id) * (wraps + 1) + 1
    for _ in range(limit):
        op, t = by_id[cur], timing[cur]
        if mode == "done":
            add(LATENCY_CATEGORY.get(op.kind, "dependency"), t.release, t.done)
        add(category or KIND_CATEGORY[op.kind], t.start, t.release)
        if t.start <= window_start and not wraps:
            break
        if t.binding < 0:
            add("dependency", window_start, t.start)
            break
        if t.via == "dep":
            mode, category = "done", None
        else:
            mode, category = "release", resource_category(t.via)
        nxt = t.binding
        if wraps and rep is not None and rep.first <= cur <= rep.last \
                and rep.ref_first <= nxt < rep.ref_first + (rep.last - rep.first + 1):
            nxt += rep.first - rep.ref_first     # the same op, one copy earlier
            wraps -= 1
        cur = nxt
    return dict(out)
