"""`npusim sweep` / `npusim sweep-report` end to end, and a tiny sweep on the real engine."""

from __future__ import annotations

import csv
import json

import pytest
from helpers.sweep_fakes import SWEEP, fake_evaluate, write_files

from simulator.cli.main import main
from simulator.dse.analysis import combine, load_results, pivot
from simulator.dse.runner import run_sweep
from simulator.dse.spec import load_sweep
from simulator.dse.store import ResultStore
from simulator.kinds.registry import chip_area

TWO_WORKLOADS = SWEEP.replace("workloads: [tiny.yaml]",
                              "workloads: [tiny.yaml, {name: tiny.yaml, batch: 2}]")


def test_report_csv_front_and_plots(tmp_path, capsys):
    path = write_files(tmp_path, TWO_WORKLOADS)
    store = tmp_path / "r.sqlite"
    summary = run_sweep(path, store, workers=1, evaluate=fake_evaluate)
    assert summary.computed == 24  # 12 points x 2 workloads
    out_csv, plots = tmp_path / "r.csv", tmp_path / "plots"
    assert main(["sweep-report", str(store), "--csv", str(out_csv)]) == 0
    text = capsys.readouterr().out
    assert "Pareto front" in text and "all workloads (sum)" in text and "area_mm2 <= 0.05" in text
    rows = list(csv.DictReader(out_csv.open()))
    assert len(rows) == 24 and {r["workload"] for r in rows} == {"tiny", "tiny@b2"}
    # the fake's latency falls with PEs and is independent of SRAM, its energy falls with SRAM
    # and area rises with both: the feasible front must contain the fastest feasible point
    data = load_results(str(store))
    tiny = [r for r in data.rows_by_workload["tiny"] if r["area_mm2"] <= 0.05]
    fastest = min(tiny, key=lambda r: (r["latency_s"], r["energy_pj"], r["area_mm2"]))
    front_keys = {r["key"] for r in rows if r["pareto"] == "True" and r["workload"] == "tiny"}
    assert fastest["key"] in front_keys
    assert all(r["feasible"] == "False" for r in rows if float(r["area_mm2"]) > 0.05)
    # plots for one workload (matplotlib is slow; one set is enough to check they are drawn)
    assert main(["sweep-report", str(store), "--workload", "tiny", "--plots", str(plots)]) == 0
    assert sorted(p.name for p in plots.iterdir()) == [
        "tiny_heatmap.png", "tiny_pareto.png", "tiny_sram_tradeoff.png", "tiny_utilization.png"]
    assert all(p.stat().st_size > 10_000 for p in plots.iterdir())


def test_combined_rows_sum_workloads():
    a = {"point_json": "{}", "point": {}, "pe_count": 4, "sram_bytes": 8, "sram_axis": 8,
         "area_mm2": 1.0, "latency_s": 2.0, "energy_pj": 3e12, "ops": 10 ** 12, "cycles": 5,
         "dram_bytes": 7}
    b = dict(a, latency_s=1.0, energy_pj=1e12, ops=3 * 10 ** 12)
    (row,) = combine({"x": [a], "y": [b]})
    # latency 2 + 1 = 3 s, energy 3 + 1 = 4 J, EDP = 4 J x 3 s = 12 J*s,
    # TOPS/W = 4e12 ops / 4 J / 1e12 = 1
    assert row["latency_s"] == 3.0 and row["energy_pj"] == 4e12
    assert row["edp_js"] == pytest.approx(12.0) and row["tops_per_watt"] == pytest.approx(1.0)
    assert combine({"x": [a], "y": []}) == []  # a point missing a workload is left out


def test_pivot_keeps_best_value_per_cell():
    rows = [{"pe_count": 4, "sram_axis": 1, "latency_s": 3.0},
            {"pe_count": 4, "sram_axis": 1, "latency_s": 2.0},
            {"pe_count": 16, "sram_axis": 1, "latency_s": 1.0}]
    pes, srams, cells = pivot(rows, "latency_s")
    assert pes == [4, 16] and srams == [1] and cells[(4, 1)] == 2.0


def test_report_errors_are_one_line(tmp_path, capsys):
    assert main(["sweep-report", str(tmp_path / "missing.sqlite")]) == 2
    assert "results file not found" in capsys.readouterr().err
    bogus = tmp_path / "bogus.sqlite"
    bogus.write_text("not sqlite")
    assert main(["sweep-report", str(bogus)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_real_engine_tiny_sweep(tmp_path):
    """The real systolic engine through the sweep: every point evaluates, the stored area is
    the area model's, DRAM traffic does not grow with the ifmap SRAM for a fixed array."""
    path = write_files(tmp_path, SWEEP)
    store = tmp_path / "r.sqlite"
    summary = run_sweep(path, store, workers=2)
    assert summary.computed == 12 and summary.errors == 0 and summary.invalid == 0
    sweep = load_sweep(path)
    with ResultStore(store, create=False) as s:
        rows = s.rows()
    for row in rows:
        point = json.loads(row["point_json"])
        assert row["area_mm2"] == pytest.approx(chip_area(sweep.arch_for(point)).area_mm2)
        result = json.loads(row["result_json"])
        assert result["totals"]["area_mm2"] == pytest.approx(row["area_mm2"])
        assert row["latency_s"] == pytest.approx(result["totals"]["latency_s"])
    by_array: dict[int, list[tuple[int, int]]] = {}
    for row in rows:
        point = json.loads(row["point_json"])
        by_array.setdefault(point["array.rows"], []).append(
            (point["memory.ifmap_sram_bytes"], row["dram_bytes"]))
    for series in by_array.values():
        traffic = [dram for _, dram in sorted(series)]
        assert traffic == sorted(traffic, reverse=True)
