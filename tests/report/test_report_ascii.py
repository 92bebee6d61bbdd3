"""Text roofline and bars: positions follow the log scale of the data from roofline.py."""

from __future__ import annotations

import math

from helpers.report_fixtures import synthetic_result

from simulator.core.roofline_plot import roofline_plot_data
from simulator.report import ascii


def _grid(text: str) -> list[str]:
    return [line.split("|", 1)[1] for line in text.splitlines() if "|" in line]


def test_ridge_and_points_sit_where_the_log_scale_puts_them():
    data = roofline_plot_data(synthetic_result())
    grid = _grid(ascii.roofline(data, width=61, height=16))
    assert len(grid) == 16 and all(len(row) == 61 for row in grid)
    # x range 1 .. 1e5 over 61 columns: 60 / 5 = 12 columns per decade; ridge at
    # log10(2698.5) = 3.431 decades -> column round(3.431 * 12) = 41
    ridge_rows = [r for r in grid if "+" in r]
    assert len(ridge_rows) == 1 and ridge_rows[0].index("+") == round(math.log10(2698.54) * 12) == 41
    # the compute roof runs right of the ridge on the same row, the DRAM roof left of it
    assert set(ridge_rows[0][42:]) == {"-"}
    # network point at x = 111.8 ops/B -> column round(2.048 * 12) = 25
    star = next(r for r in grid if "*" in r)
    assert star.index("*") == round(math.log10(240_123_904 / 2_148_000) * 12) == 25
    assert sum(r.count("o") + r.count("O") for r in grid) == 2   # conv1 and fc


def test_bars_are_proportional():
    lines = ascii.bars(["a", "b"], [1.0, 4.0], "s", width=40).splitlines()
    assert lines[0].count("#") == 10 and lines[1].count("#") == 40
    assert lines[1].endswith("4 s")
    assert ascii.bars([], []) == ""
