"""Chrome trace-event export (the JSON format chrome://tracing and Perfetto open).

One thread (`tid`) per resource, named with a `thread_name` metadata event; every op that holds a
resource for a non-zero time becomes a complete event (`ph: "X"`) on that resource's track, with
`ts` and `dur` in microseconds. See "Trace Event Format", Google, for the format.
"""

from __future__ import annotations

import re

from simulator.kinds.tensorcore.timeline import Timeline


def _natural(name: str) -> tuple:
    head = re.match(r"[a-z_]+", name)
    num = re.search(r"\d+$", name)
    order = {"core": 0, "vector": 1, "port": 2, "bank": 3, "dram": 4}
    prefix = head.group(0) if head else name
    return (order.get(prefix, 9), prefix, int(num.group(0)) if num else 0)


def trace_events(tl: Timeline, clock_mhz: float, layer_names: list[str],
                 process_name: str = "npusim tensorcore") -> list[dict]:
    """Trace events of a timed program (times converted from cycles to microseconds); every
    copy of a repeated step is drawn at its own time."""
    ops = tl.ops
    resources = sorted({r for op in ops for r in op.resources}, key=_natural)
    tid = {r: i + 1 for i, r in enumerate(resources)}
    events: list[dict] = [{"name": "process_name", "ph": "M", "pid": 0, "tid": 0,
                           "args": {"name": process_name}}]
    for r in resources:
        events.append({"name": "thread_name", "ph": "M", "pid": 0, "tid": tid[r],
                       "args": {"name": r}})
        events.append({"name": "thread_sort_index", "ph": "M", "pid": 0, "tid": tid[r],
                       "args": {"sort_index": tid[r]}})
    us_per_cycle = 1.0 / clock_mhz
    for op in ops:
        t = tl.timing[op.id]
        if op.busy_cycles <= 0:
            continue
        rep = tl.block_of.get(op.id)
        offsets = [k * tl.periods[rep.first] for k in range(rep.count + 1)] if rep else [0.0]
        for r in op.resources:
            for off in offsets:
                events.append({"name": op.label or op.kind, "cat": op.kind, "ph": "X", "pid": 0,
                               "tid": tid[r], "ts": (t.start + off) * us_per_cycle,
                               "dur": (t.release - t.start) * us_per_cycle,
                               "args": {"layer": layer_names[op.layer], "bytes": op.nbytes,
                                        "cycles": op.busy_cycles}})
    return events
