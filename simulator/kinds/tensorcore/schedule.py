"""Discrete-event simulation (simpy) of a tensor-core instruction stream.

Every op is a simpy process: it waits for its dependencies (`done` events of other ops), then
for the previous op in program order on each resource it holds (`release` events: resources are
in-order queues), holds them for `busy_cycles`, releases them, and is done `latency_cycles`
later. One process per tile transfer or compute, never per cycle.

Because every resource serves its ops in a fixed (compiler) order, start times are max-plus
functions of the durations: making any transfer slower (e.g. halving bridge bandwidth) can never
make anything finish earlier, which the property tests check. `schedule_reference` computes the
same recurrence directly, as an oracle for the tests.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy

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


def simulate_ops(ops: list[Op]) -> dict[int, OpTiming]:
    """Run the ops (given in program order) with simpy; return the timing of each op id."""
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
    """The same schedule without events: start = max(deps done, resource predecessors
    released), in program order. Returns {op id: (start, done)}; used to check the simpy run."""
    prev = _predecessors(ops)
    out: dict[int, tuple[float, float]] = {}
    release: dict[int, float] = {}
    for op in ops:
        start = max([out[d][1] for d in op.deps] + [release[p] for _, p in prev[op.id]] + [0.0])
        release[op.id] = start + op.busy_cycles
        out[op.id] = (start, release[op.id] + op.latency_cycles)
    return out
