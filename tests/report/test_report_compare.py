"""`simulator.report.compare`: the rows of `npusim compare` (figures from the figure table,
speedup and energy ratio against the first run of each workload) and their formats."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from helpers.report_fixtures import MALICIOUS, synthetic_result

from simulator.core.metrics import METRICS
from simulator.report import compare


def test_speedup_and_energy_ratio_by_hand():
    big = synthetic_result(arch_name="big")
    # the same layer figures on a 32x32 machine (only the peak differs)
    small = synthetic_result(arch_name="small", peak_macs_per_cycle=32 * 32)
    rows = compare.summary_rows([big, small])
    assert rows[0]["speedup"] == 1.0 and rows[0]["energy_ratio"] == 1.0
    # same layer cycles and energy in both synthetic runs: speedup 1, energy ratio 1
    assert rows[1]["speedup"] == pytest.approx(1.0)
    # peak TOPS: 2 * 65536 * 700e6 = 91.75; 2 * 1024 * 700e6 = 1.4336
    assert rows[0]["peak_tops"] == pytest.approx(91.7504)
    assert rows[1]["peak_tops"] == pytest.approx(1.4336)
    # utilization is from the totals: MACs / (cycles x peak MACs per cycle)
    assert rows[1]["utilization"] == pytest.approx(small.totals.macs / (small.totals.cycles * 1024))


def test_baseline_is_the_first_run_of_each_workload():
    a1 = synthetic_result(arch_name="a", workload_name="w1")
    b1 = synthetic_result(arch_name="b", workload_name="w1")
    a2 = synthetic_result(arch_name="a", workload_name="w2")
    # make b twice as slow on w1: every layer's cycles doubled, latency doubles
    for l in b1.layers:
        l.cycles *= 2
        l.compute_cycles *= 2
        l.stall_cycles *= 2
        l.stall_breakdown_cycles = {k: 2 * v for k, v in l.stall_breakdown_cycles.items()}
        l.latency_s *= 2
    b1 = type(b1).from_layers(arch=b1.arch, workload=b1.workload, layers=b1.layers,
                              peak_macs_per_cycle=65536, clock_hz=700e6, roofline=b1.roofline)
    rows = compare.summary_rows([a1, b1, a2])
    assert [r["speedup"] for r in rows] == pytest.approx([1.0, 0.5, 1.0])


def test_formats_are_machine_readable():
    rows = compare.summary_rows([synthetic_result(arch_name="a"), synthetic_result(arch_name="b")])
    data = json.loads(compare.to_json(rows))
    assert [r["arch"] for r in data["runs"]] == ["a", "b"]
    assert "_shown" not in data["runs"][0]
    table = list(csv.DictReader(io.StringIO(compare.to_csv(rows))))
    assert len(table) == 2 and float(table[0]["latency_s"]) == pytest.approx(rows[0]["latency_s"])
    md = compare.to_markdown(rows).splitlines()
    assert md[0].startswith("| workload | arch |") and len(md[2].split("|")) == len(compare.COLUMNS) + 2


def test_nan_and_escaping_in_markdown_and_json():
    bad = synthetic_result(arch_name=MALICIOUS)
    row = compare.summary_row(bad)       # no baseline: ratios are NaN -> null / "-"
    assert math.isnan(row["speedup"])
    assert json.loads(compare.to_json([row]))["runs"][0]["speedup"] is None
    assert "<script>" not in compare.to_markdown([row])


def test_every_row_key_is_a_label_or_a_figure_of_the_table():
    row = compare.summary_row(synthetic_result())
    figures = [k for k in row if not k.startswith("_") and k not in compare.LABELS]
    assert figures == list(compare.FIGURES) and all(k in METRICS for k in figures)
    assert {k for k, _ in compare.COLUMNS} <= set(row)
    assert set(row["_shown"]) == set(row) - {"_shown"}


def test_shown_values_leave_units_to_the_headers():
    row = compare.summary_row(synthetic_result())
    # the column header says TOPS and TOPS/W; cells are 3 significant digits without units
    assert row["_shown"]["tops"] == f"{row['tops']:.3g}"
    assert row["_shown"]["tops_per_watt"] == f"{row['tops_per_watt']:.3g}"
    assert row["_shown"]["cycles"] == f"{row['cycles']:,}" == "44,250"
    assert row["_shown"]["speedup"] == "-"   # no baseline
