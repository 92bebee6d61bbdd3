"""The figure table (`simulator.core.metrics`): values read from a run by hand, the sweep store's
columns, objective names, combination over workloads, and docs/formats.md listing the same
figures."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from helpers.report_fixtures import synthetic_result

from simulator.core import metrics
from simulator.core.area import AreaReport
from simulator.core.results import Totals

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_figures_of_the_synthetic_run_by_hand():
    result = synthetic_result()
    figures = metrics.run_figures(result, tuple(n for n, m in metrics.METRICS.items()
                                                if m.source == "run"))
    # cycles: conv 1,900 + 100, fc 40 + 42,160, pool 50 = 44,250 at 700 MHz
    assert figures["cycles"] == 44_250 and figures["stall_cycles"] == 42_260
    latency = 44_250 / 700e6
    assert figures["latency_s"] == pytest.approx(latency)
    # energy: 1 pJ per MAC + 20 pJ per DRAM byte: 118,013,952 + 2,048,000 + 20 x 2,148,000
    energy_pj = 118_013_952 + 2_048_000 + 20 * 2_148_000
    assert figures["energy_pj"] == pytest.approx(energy_pj)
    assert figures["edp_js"] == pytest.approx(energy_pj * 1e-12 * latency)
    assert figures["dram_bytes"] == 2_148_000 == figures["dram_read_bytes"]
    assert figures["stall_share"] == pytest.approx(42_260 / 44_250)
    # peak: 2 ops x 65,536 MACs x 700 MHz = 91.7504 TOPS
    assert figures["peak_tops"] == pytest.approx(91.7504)
    # throughput: 2 ops per MAC over the latency
    ops = 2 * (118_013_952 + 2_048_000)
    assert figures["tops"] == pytest.approx(ops / latency / 1e12)
    assert figures["tops_per_watt"] == pytest.approx(ops / (energy_pj * 1e-12) / 1e12)
    assert figures["bound"] == result.totals.bound and figures["bottleneck"].startswith("fc ")


def test_relative_and_design_figures():
    fast, slow = synthetic_result(), synthetic_result()
    for layer in slow.layers:  # every cycle count doubled: half the speed, the same energy
        layer.cycles *= 2
        layer.compute_cycles *= 2
        layer.stall_cycles *= 2
        layer.stall_breakdown_cycles = {k: 2 * v for k, v in layer.stall_breakdown_cycles.items()}
        layer.latency_s *= 2
    slow = type(slow).from_layers(arch=slow.arch, workload=slow.workload, layers=slow.layers,
                                  peak_macs_per_cycle=65536, clock_hz=700e6,
                                  roofline=slow.roofline)
    rel = metrics.relative_figures(slow, fast)
    assert rel["speedup"] == pytest.approx(0.5) and rel["energy_ratio"] == pytest.approx(1.0)
    assert all(v != v for v in metrics.relative_figures(fast, None).values())  # NaN
    area = AreaReport(area_mm2=3.5, pe_count=64, sram_bytes=1024)
    assert metrics.design_figures(area) == {"pe_count": 64, "sram_bytes": 1024, "area_mm2": 3.5}


def test_store_columns_and_objectives_are_the_table():
    from simulator.dse.spec import metric_name
    from simulator.dse.store import FIGURE_COLUMNS

    # the results file's schema: resuming a sweep written by an earlier version needs the same
    # columns in the same order
    assert [name for name, _ in FIGURE_COLUMNS] == [
        "pe_count", "sram_bytes", "area_mm2", "cycles", "latency_s", "energy_pj", "edp_js",
        "macs", "ops", "tops", "tops_per_watt", "utilization", "dram_read_bytes",
        "dram_write_bytes", "dram_bytes", "sram_read_bytes", "sram_write_bytes", "stall_cycles"]
    assert all(sql == ("INTEGER" if name in ("pe_count", "sram_bytes", "cycles", "macs", "ops",
                                             "stall_cycles") or name.endswith("_bytes")
                       else "REAL") for name, sql in FIGURE_COLUMNS)
    assert set(metrics.OBJECTIVES) <= {m.name for m in metrics.STORED}
    assert all(m.minimize is not None for m in metrics.OBJECTIVES.values())
    assert metric_name("TOPS/W", "x") == "tops_per_watt" and metric_name(" Latency", "x") == \
        "latency_s"


def test_run_figures_read_only_contract_keys():
    """Every `totals.<key>` a description names is a key of the JSON contract's totals."""
    for m in metrics.METRICS.values():
        for key in re.findall(r"`totals\.(\w+)`", m.description):
            assert key in Totals.model_fields, (m.name, key)


def test_combine_sums_keeps_and_recomputes():
    a = {"pe_count": 4, "sram_bytes": 8, "area_mm2": 1.0, "latency_s": 2.0, "energy_pj": 3e12,
         "ops": 10 ** 12, "cycles": 5, "dram_bytes": 7, "macs": 1, "utilization": 0.5}
    b = dict(a, latency_s=1.0, energy_pj=1e12, ops=3 * 10 ** 12)
    row = metrics.combine([a, b])
    # 3 s, 4 J, EDP 4 J x 3 s = 12 J*s; 4e12 ops / 3 s = 1.333 TOPS; 4e12 ops / 4 J = 1 TOPS/W
    assert row["latency_s"] == 3.0 and row["energy_pj"] == 4e12 and row["pe_count"] == 4
    assert row["edp_js"] == pytest.approx(12.0) and row["tops"] == pytest.approx(4 / 3)
    assert row["tops_per_watt"] == pytest.approx(1.0) and row["utilization"] is None
    assert row["stall_cycles"] is None  # missing in the rows: no sum


def _doc_table() -> dict[str, list[str]]:
    text = (DOCS / "formats.md").read_text(encoding="utf-8")
    section = text.split("### 4.1 Run-level figures", 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `"):
            rows[cells[0].strip("`")] = cells
    return rows


def test_docs_formats_lists_the_table():
    from simulator.report.compare import FIGURES as COMPARE_FIGURES

    rows = _doc_table()
    assert list(rows) == list(metrics.METRICS)
    for name, m in metrics.METRICS.items():
        _, unit, better, _, used = rows[name]
        assert unit == m.unit, name
        assert better == {True: "lower", False: "higher", None: ""}[m.minimize], name
        expected = [u for u, flag in (("sweep", m.stored), ("objective", m.objective),
                                      ("compare", name in COMPARE_FIGURES)) if flag]
        assert [u.strip() for u in used.split(",") if u.strip()] == expected, name


def test_docs_sweeps_names_every_objective_and_alias():
    text = (DOCS / "sweeps.md").read_text(encoding="utf-8")
    for name in metrics.OBJECTIVES:
        assert f"`{name}`" in text, name
    aliases = text.split("Aliases:", 1)[1].split(".", 1)[0]
    assert {a.strip() for a in aliases.split(",")} == set(metrics.ALIASES)
