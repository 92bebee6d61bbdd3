"""Timing of a tensor-core instruction stream: discrete events on in-order resources.

Every op waits for its dependencies (the `done` of other ops), then for the previous op in
program order on each resource it holds (resources are in-order queues, as in a statically
scheduled NPU), holds them for `busy_cycles`, releases them, and is done `latency_cycles` later.

Because every resource serves its ops in a fixed (compiler) order, the start times are a
max-plus recurrence over the ops in program order:

    ready(op) = max over deps of done(dep)
    start(op) = max(ready(op), max over resources of release(previous op on the resource))
    release = start + busy,  done = release + latency

`schedule_ops` evaluates it directly (the engine's scheduler: one pass, no event queue);
`simulate_ops_simpy` runs the same machine as simpy processes, one per op, as the event-driven
reference (the tests check that both give every op the same times and binding predecessor).
Making any transfer slower can never make anything finish earlier (property-tested).

**Repeated steps.** A `Repeat(first, last, count)` says that the ops with ids first..last (one
LSTM time step, bracketed by barriers with nothing else in flight) are followed by `count`
identical copies that were not emitted: each copy starts when the previous one is done and
takes the same time, so the ops after the block run `count` block durations later. Their
timings are those of the real machine; the block's own ops keep the times of its first copy.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.kinds.tensorcore.ops import Op


@dataclass(slots=True)
class OpTiming:
    """When an op became ready (dependencies done), started (resources free), released its
    resources and was done; and which predecessor bound its start (`via`: dep | resource)."""

    ready: float = 0.0
    start: float = 0.0
    release: float = 0.0
    done: float = 0.0
    binding: int = -1
    via: str = ""


@dataclass(frozen=True)
class Repeat:
    """Ops with ids first..last (one step, emitted), followed by `count` copies that were not
    emitted. `anchor` is the op whose done the step is timed from (the previous step's end);
    `ref_first` / `ref_anchor` are the same for the step before, which must have taken exactly
    the same relative times (then every later copy does too: the machine is periodic)."""

    first: int
    last: int
    count: int
    anchor: int
    ref_first: int
    ref_anchor: int


class NotPeriodic(Exception):
    """A repeated step did not take the same relative times as the step before it."""


def _predecessors(ops: list[Op]) -> dict[int, list[tuple[str, int]]]:
    """For each op id, the previous op (in program order) on each resource it holds."""
    last: dict[str, int] = {}
    prev: dict[int, list[tuple[str, int]]] = {}
    for op in ops:
        items = []
        for res in op.resources:
            if res in last:
                items.append((res, last[res]))
            last[res] = op.id
        prev[op.id] = items
    return prev


def schedule_ops(ops: list[Op], repeats: list[Repeat] | tuple = ()
                 ) -> tuple[dict[int, OpTiming], dict[int, float]]:
    """Times of the ops (given in program order) and, per repeat (by its first op id), the
    cycles of one copy. Ties between predecessors resolve as in the simpy reference: the first
    dependency with the latest done, the first resource with the latest release. Raises
    NotPeriodic when a repeated step's relative times differ from the step before it."""
    timing: dict[int, OpTiming] = {}
    last: dict[str, int] = {}
    block_of = {i: rep for rep in repeats for i in range(rep.first, rep.last + 1)}
    pending = {rep.first: rep.last - rep.first + 1 for rep in repeats}
    shift: dict[int, float] = {}       # op id -> delay of its last copy (successors see it)
    durations: dict[int, float] = {}
    for op in ops:
        ready, dep = 0.0, -1
        for d in op.deps:
            done = timing[d].done + shift.get(d, 0.0)
            if dep < 0 or done > ready:
                ready, dep = done, d
        start, pred, res_name = ready, -1, ""
        for res in op.resources:
            p = last.get(res)
            if p is not None:
                rel = timing[p].release + shift.get(p, 0.0)
                if rel > start:
                    start, pred, res_name = rel, p, res
            last[res] = op.id
        release = start + op.busy_cycles
        if pred >= 0:
            t = OpTiming(ready, start, release, release + op.latency_cycles, pred, res_name)
        elif dep >= 0:
            t = OpTiming(ready, start, release, release + op.latency_cycles, dep, "dep")
        else:
            t = OpTiming(ready, start, release, release + op.latency_cycles)
        timing[op.id] = t
        if block_of:
            rep = block_of.get(op.id)
            if rep is not None:
                pending[rep.first] -= 1
                if pending[rep.first] == 0:
                    durations[rep.first] = _close(rep, timing, shift)
    return timing, durations


def _close(rep: Repeat, timing: dict[int, OpTiming], shift: dict[int, float]) -> float:
    """Check that the repeated step is periodic and delay its successors by `count` copies."""
    base, ref = timing[rep.anchor].done, timing[rep.ref_anchor].done
    n = rep.last - rep.first + 1
    for k in range(n):
        a, b = timing[rep.first + k], timing[rep.ref_first + k]
        if a.start - base != b.start - ref or a.done - base != b.done - ref:
            raise NotPeriodic(f"op {rep.first + k}")
    duration = base - ref
    for i in range(rep.first, rep.last + 1):
        shift[i] = rep.count * duration
    return duration


def simulate_ops(ops: list[Op]) -> dict[int, OpTiming]:
    """The timing of each op id (no repeats): `schedule_ops` without repeat durations."""
    return schedule_ops(ops)[0]


def simulate_ops_simpy(ops: list[Op]) -> dict[int, OpTiming]:
    """The same machine as simpy processes, one per op (the event-driven reference)."""
    import simpy

    env = simpy.Environment()
    prev = _predecessors(ops)
    done = {op.id: env.event() for op in ops}
    released = {op.id: env.event() for op in ops}
    timing = {op.id: OpTiming() for op in ops}

    def run(op: Op):
        t = timing[op.id]
        if op.deps:
            events = [done[d] for d in op.deps]
            yield events[0] if len(events) == 1 else env.all_of(events)
        t.ready = env.now
        preds = prev[op.id]
        if preds:
            events = [released[p] for _, p in preds]
            yield events[0] if len(events) == 1 else env.all_of(events)
        t.start = env.now
        if t.start > t.ready:
            # bound by the resource freed last
            res, pred = max(preds, key=lambda rp: timing[rp[1]].release)
            t.binding, t.via = pred, res
        elif op.deps:
            t.binding = max(op.deps, key=lambda d: timing[d].done)
            t.via = "dep"
        if op.busy_cycles:
            yield env.timeout(op.busy_cycles)
        t.release = env.now
        released[op.id].succeed()
        if op.latency_cycles:
            yield env.timeout(op.latency_cycles)
        t.done = env.now
        done[op.id].succeed()

    for op in ops:
        env.process(run(op))
    env.run()
    return timing


def schedule_reference(ops: list[Op]) -> dict[int, tuple[float, float]]:
    """The recurrence in its plainest form: {op id: (start, done)} (a second oracle)."""
    prev = _predecessors(ops)
    out: dict[int, tuple[float, float]] = {}
    release: dict[int, float] = {}
    for op in ops:
        start = max([out[d][1] for d in op.deps] + [release[p] for _, p in prev[op.id]] + [0.0])
        release[op.id] = start + op.busy_cycles
        out[op.id] = (start, release[op.id] + op.latency_cycles)
    return out
