"""Showing run-level figures to people: the styles of `simulator.core.metrics` rendered.

`show(name, value)` formats a figure as its table entry says (`1.09 ms`, `22.1 mJ`, `32.7%`,
`0.37 TOPS/W`); `unit=False` leaves the unit out where a column header already states it
(`npusim compare` shows `0.37` under `TOPS/W`). Undefined values (None, NaN) show as `-`.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from simulator.core.metrics import METRICS, Metric
from simulator.report.units import energy, nbytes, pct, seconds, si


def _with(unit: str, text: str) -> str:
    return f"{text} {unit}" if unit else text


def _ratio(value: float) -> str:
    return f"{value:.2f}x" if value >= 0.01 else f"{value:.2g}x"


#: style -> f(value, unit or "") -> text; the unit is "" when the caller leaves it out.
FORMATTERS: dict[str, Callable[[Any, str], str]] = {
    "seconds": lambda v, unit: seconds(v),
    "energy": lambda v, unit: energy(v),
    "bytes": lambda v, unit: nbytes(v),
    "si": lambda v, unit: si(v, unit),
    "count": lambda v, unit: _with(unit, f"{v:,}" if isinstance(v, int) else f"{v:.4g}"),
    "sig3": lambda v, unit: _with(unit, f"{v:.3g}"),
    "fixed2": lambda v, unit: _with(unit, f"{v:.2f}"),
    "pct": lambda v, unit: pct(v),
    "ratio": lambda v, unit: _ratio(v),
    "text": lambda v, unit: str(v),
}


def show(metric: str | Metric, value: Any, unit: bool = True) -> str:
    """`value` of the figure `metric` as text for people (`-` when undefined)."""
    m = METRICS[metric] if isinstance(metric, str) else metric
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return FORMATTERS[m.style](value, m.unit if unit else "")
