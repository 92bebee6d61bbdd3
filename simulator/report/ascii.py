"""Compact text views for the terminal: a log-log roofline on a character grid, and bars.

Only draws: the roofs, ridge and points come from `simulator.core.roofline_plot.roofline_plot_data`.
Plain ASCII, so it survives any terminal, pipe or log file.
"""

from __future__ import annotations

import math
from typing import Sequence

from simulator.core.roofline_plot import RooflinePlotData
from simulator.report.units import plain, si

#: Characters: layer point, several layers in one cell, whole network, ridge, roofs.
LAYER, MANY, NETWORK, RIDGE, COMPUTE_ROOF, BW_ROOF = "o", "O", "*", "+", "-", "/"


def _scale(value: float, lo: float, hi: float, cells: int) -> int:
    """Cell index of `value` on a log axis from lo to hi with `cells` cells."""
    frac = (math.log10(value) - math.log10(lo)) / (math.log10(hi) - math.log10(lo))
    return min(max(int(round(frac * (cells - 1))), 0), cells - 1)


def roofline(data: RooflinePlotData, width: int = 64, height: int = 16) -> str:
    """The roofline as text: `/` the memory roof (DRAM, or SRAM on the on-chip axis), `-` the
    compute roof, `+` the ridge, `o` a
    layer (`O` several), `*` the whole network. Axes are log10, labelled with SI prefixes."""
    (x_lo, x_hi), (y_lo, y_hi) = data.x_range, data.y_range
    grid = [[" "] * width for _ in range(height)]

    def put(x: float, y: float, ch: str, overwrite: bool = True) -> None:
        if x <= 0 or y <= 0:
            return
        col = _scale(x, x_lo, x_hi, width)
        row = height - 1 - _scale(y, y_lo, y_hi, height)
        if overwrite or grid[row][col] == " ":
            if ch == LAYER and grid[row][col] in (LAYER, MANY):
                ch = MANY
            grid[row][col] = ch

    dram = next(r for r in data.roofs if r.kind != "compute")  # this axis' memory roof
    for col in range(width):  # the roofs, one sample per column
        x = 10 ** (math.log10(x_lo) + col / (width - 1) * (math.log10(x_hi) - math.log10(x_lo)))
        y = min(data.peak_ops_per_s, x * dram.slope_ops_per_unit)
        put(x, y, COMPUTE_ROOF if x >= data.ridge_x else BW_ROOF, overwrite=False)
    put(data.ridge_x, data.peak_ops_per_s, RIDGE)
    for p in data.points:
        put(p.x, p.achieved_ops_per_s, LAYER)
    if data.network is not None:
        put(data.network.x, data.network.achieved_ops_per_s, NETWORK)

    label_w = 9
    lines = []
    for i, row in enumerate(grid):
        label = ""
        if i == 0:
            label = si(y_hi, "OP/s")
        elif i == height - 1:
            label = si(y_lo, "OP/s")
        elif i == height - 1 - _scale(data.peak_ops_per_s, y_lo, y_hi, height):
            label = "peak"
        lines.append(f"{label:>{label_w}} |" + "".join(row))
    lines.append(" " * label_w + " +" + "-" * width)
    left, right = plain(x_lo), plain(x_hi)
    lines.append(" " * (label_w + 2) + left + " " * max(width - len(left) - len(right), 1) + right)
    unit = {"ops_per_dram_byte": "ops per DRAM byte", "ops_per_sram_byte": "ops per SRAM byte",
            "macs_per_weight_byte": "MACs per weight byte"}[data.x_axis]
    lines.append(" " * (label_w + 2) + f"x: {unit} (log); ridge {RIDGE} at {data.ridge_x:,.4g}; "
                 f"{LAYER} layer, {MANY} several, {NETWORK} network")
    return "\n".join(lines)


def bars(labels: Sequence[str], values: Sequence[float], unit: str = "", width: int = 40) -> str:
    """Horizontal bars scaled to the largest value, with the value printed after each bar."""
    if not values:
        return ""
    top = max(values) or 1.0
    name_w = min(max(len(str(l)) for l in labels), 24)
    out = []
    for label, value in zip(labels, values):
        n = int(round(width * value / top)) if value > 0 else 0
        out.append(f"{str(label)[:name_w]:<{name_w}} {'#' * n}{' ' * (width - n)} "
                   f"{si(value, unit)}")
    return "\n".join(out)
