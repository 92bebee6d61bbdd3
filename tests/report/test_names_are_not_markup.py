"""Names are data, never markup, in plots too (issue 15): a `$` in a layer, workload or arch
name used to start matplotlib's mathtext, and `\\frac{` in one crashed `--report` and sweep
plots with a parse error."""

from __future__ import annotations

import pytest
from helpers.report_fixtures import layer, synthetic_result

from simulator.report import plots

MATH = ["c$\\frac{1$", "fc$^$", "$x_{", "a$b"]


def test_run_figures_draw_dollar_names_literally(tmp_path):
    layers = [layer(name, "conv", 1000, 100, 10, 64, 32) for name in MATH]
    result = synthetic_result(layers, arch_name="tpu$\\alpha$", workload_name="net$^{$")
    figures = plots.run_figures(result)
    # drawing is where mathtext raised (ValueError: Expected \frac{num}{den}); the latency
    # figure carries the layer names, the title the workload and arch names
    assert plots.figure_bytes(figures["latency"], "png").startswith(b"\x89PNG")
    labels = [t.get_text() for t in figures["latency"].axes[0].get_xticklabels()]
    assert any("$" in text for text in labels)  # the name as written, not rendered math


@pytest.mark.filterwarnings("ignore:No artists with labels")
def test_sweep_plots_draw_dollar_names_literally(tmp_path):
    from simulator.dse.analysis import SweepData
    from simulator.dse.plots import write_plots

    rows = [{"key": str(i), "point": {}, "point_json": "{}", "pe_count": pe,
             "sram_axis": sram, "sram_bytes": sram, "latency_s": 1e-3 * i, "energy_pj": 1e6 * i,
             "area_mm2": 1.0 * i, "utilization": 0.5, "edp_js": 1e-9 * i,
             "tops_per_watt": 1.0, "util_by_class": {"conv$^": 0.5}}
            for i, (pe, sram) in enumerate([(64, 1024), (64, 2048), (256, 1024),
                                            (256, 2048)], start=1)]
    data = SweepData({"w$\\frac{": rows}, ["array.rows"], ["latency_s", "energy_pj"], [],
                     name="sweep$_{")
    written = write_plots(data, {"w$\\frac{": rows[:1]}, tmp_path)
    assert len(written) == 4 and all(path.stat().st_size > 1000 for path in written)
