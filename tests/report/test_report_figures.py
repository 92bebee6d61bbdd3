"""Showing figures (`simulator.report.figures`): every style of the figure table renders, as the
sweep report and `npusim compare` print them."""

from __future__ import annotations

import math

import pytest

from simulator.core.metrics import METRICS
from simulator.report.figures import FORMATTERS, show


def test_every_figure_has_a_formatter():
    assert {m.style for m in METRICS.values()} <= set(FORMATTERS)


@pytest.mark.parametrize("name, value, with_unit, text", [
    ("latency_s", 1.09e-3, True, "1.09 ms"),
    ("energy_pj", 22.1e9, True, "22.1 mJ"),            # 22.1e9 pJ = 22.1 mJ
    ("dram_bytes", 25_800_000, True, "25.8 MB"),
    ("edp_js", 2.41e-5, True, "2.41e-05 J*s"),
    ("area_mm2", 14.036, True, "14.04 mm^2"),
    ("tops_per_watt", 0.3701, True, "0.37 TOPS/W"),
    ("tops_per_watt", 0.3701, False, "0.37"),          # compare: the header says TOPS/W
    ("utilization", 0.327, True, "32.7%"),
    ("cycles", 692_858, False, "692,858"),
    ("macs", 4.09e9, False, "4.09 G"),
    ("speedup", 0.0969, False, "0.10x"),
    ("speedup", 0.0042, False, "0.0042x"),
    ("operational_intensity", math.inf, False, "inf"),
    ("bound", "memory", False, "memory"),
])
def test_show(name, value, with_unit, text):
    assert show(name, value, unit=with_unit) == text


def test_undefined_values_show_as_a_dash():
    assert show("utilization", None) == "-" and show("speedup", float("nan")) == "-"
