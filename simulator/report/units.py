"""Human-readable numbers with units (reports state units everywhere)."""

from __future__ import annotations

import math


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """Format with an SI prefix: si(1.5e9, 'B') -> '1.50 GB'."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if math.isinf(value):
        return "inf"
    if value == 0:
        return f"0 {unit}".strip()
    prefixes = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k"), (1, ""),
                (1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")]
    for scale, prefix in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {prefix}{unit}".strip()
    return f"{value:.{digits}g} {unit}".strip()


def pct(value: float) -> str:
    """A share in percent, one decimal; below 0.1 % two significant digits, so a depthwise
    layer's 0.00088% does not read as 0.0%."""
    if value and abs(100 * value) < 0.05:
        return f"{100 * value:.2g}%"
    return f"{100 * value:.1f}%"


def energy(pj: float) -> str:
    """Energy given in pJ, shown in J with a prefix."""
    return si(pj * 1e-12, "J")


def seconds(s: float) -> str:
    return si(s, "s")


def nbytes(b: float) -> str:
    return si(b, "B")


def plain(value: float) -> str:
    """A ratio as people write it: 0.01, 0.5, 1, 20, 300, 4k, 50k, 6M (no 10^n, no `100 m`
    for a tenth): tick labels of dimensionless axes."""
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return si(value, "", digits=3).replace(" ", "")
    return f"{value:.3g}"
