"""Chrome trace-event export (the JSON format chrome://tracing and Perfetto open).

One thread (`tid`) per resource, named with a `thread_name` metadata event; every op that holds a
resource for a non-zero time becomes a complete event (`ph: "X"`) on that resource's track, with
`ts` and `dur` in microseconds. See "Trace Event Format", Google, for the format.
"""

from __future__ import annotations

import re

from simulator.kinds.tensorcore.ops import Op
from simulator.kinds.tensorcore.schedule import OpTiming


def _natural(name: str) -> tuple:
    head = re.match(r"[a-z_]+", name)
    num = re.search(r"\d+$", name)
    order = {"core": 0, "vector": 1, "port": 2, "bank": 3, "dram": 4}
    prefix = head.group(0) if head else name
    return (order.get(prefix, 9), prefix, int(num.group(0)) if num else 0)


def trace_events(ops: list[Op], timing: dict[int, OpTiming], clock_mhz: float,
                 layer_names: list[str], process_name: str = "npusim tensorcore") -> list[dict]:
    """Trace events for a simulated op list (times converted from cycles to microseconds)."""
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
        t = timing[op.id]
        if op.busy_cycles <= 0:
            continue
        for r in op.resources:
            events.append({"name": op.label or op.kind, "cat": op.kind, "ph": "X", "pid": 0,
                           "tid": tid[r], "ts": t.start * us_per_cycle,
                           "dur": (t.release - t.start) * us_per_cycle,
                           "args": {"layer": layer_names[op.layer], "bytes": op.nbytes,
                                    "cycles": op.busy_cycles}})
    return events
