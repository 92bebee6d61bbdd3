"""Results in Jupyter: DataFrames, HTML reprs and figures, without a kernel (the example
notebook itself runs in tests/docs)."""

from __future__ import annotations

import math
import sys

import pytest
from helpers.report_fixtures import MALICIOUS, synthetic_result

from simulator.core.errors import NpusimError
from simulator.report.compare import Comparison


def test_to_pandas_has_one_row_per_layer_with_the_contract_figures():
    result = synthetic_result()
    df = result.to_pandas()
    assert list(df["name"]) == [l.name for l in result.layers]
    assert list(df["cycles"]) == [l.cycles for l in result.layers]
    assert df["cycles"].sum() == result.totals.cycles
    # breakdowns become columns; a layer without that part has NaN
    assert df["energy_breakdown_pj.dram"].iloc[1] == pytest.approx(20.0 * 2_048_000)
    assert math.isnan(df["stall_breakdown_cycles.dram_bandwidth"].iloc[2])
    # the pool moves no DRAM bytes: infinite intensity stays infinite (not null as in JSON)
    assert df["operational_intensity"].iloc[2] == math.inf


def test_to_pandas_without_pandas_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(NpusimError, match=r"pip install 'npusim\[notebook\]'"):
        synthetic_result().to_pandas()


def test_run_html_repr_escapes_names_and_lists_every_layer():
    result = synthetic_result(workload_name=MALICIOUS)
    html = result._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert html.count("<tr") >= len(result.layers) + 10      # totals rows + layer rows
    assert f"{result.totals.cycles:,}" in html


def test_comparison_in_a_notebook():
    a = synthetic_result()
    b = synthetic_result(arch_name="small", peak_macs_per_cycle=32 * 32)
    cmp = Comparison([a, b])
    df = cmp.to_pandas()
    assert list(df["arch"]) == ["madeup_tpu", "small"]
    assert df["speedup"].iloc[0] == 1.0
    assert df["latency_s"].iloc[1] == b.totals.latency_s
    html = cmp._repr_html_()
    assert "speedup vs first arch" in html and "small" in html
    for fig in (cmp.figure(), cmp.roofline()):
        assert fig._repr_png_().startswith(b"\x89PNG")       # draws itself, no pyplot


def test_importing_the_package_does_not_import_pandas():
    import subprocess

    code = ("import sys, simulator, simulator.report.notebook, simulator.report.compare; "
            "r = simulator.simulate('tpu_v1', 'tpu_mlp0'); r._repr_html_(); "
            "sys.exit(1 if 'pandas' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
