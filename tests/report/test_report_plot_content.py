"""What the figures show, read back from the matplotlib objects and the SVG text (issue 13):
every layer labelled, headroom, a utilization axis that fits the data, roofs told apart,
honest rooflines per kind, names drawn literally, plain tick labels and marked infeasible
points on sweep heatmaps."""

from __future__ import annotations

import re

import pytest
from helpers.report_fixtures import layer, synthetic_result

from simulator.core.roofline_plot import default_x_axis, roofline_plot_data
from simulator.report import plots
from simulator.report.plotting import figure_bytes, plain

NAMES = [f"l{i}_conv" for i in range(72)]


def many_layers(n: int = 72):
    """n convs, the tallest at 3x the others; utilization peaks well below 100 %."""
    return synthetic_result([layer(NAMES[i], "conv", 10_000_000 * (3 if i == 7 else 1),
                                   2_000, 500, 50_000, 9_000) for i in range(n)])


def _top_of_bars(ax) -> float:
    return max(max(path.vertices[:, 1].max() for path in c.get_paths())
               for c in ax.collections if c.get_paths())


def test_every_bar_is_labelled_and_the_tallest_has_room_above_it():
    result = many_layers()
    for fig in (plots.latency_figure(result), plots.energy_figure(result),
                plots.utilization_figure(result)):
        ax = fig.axes[0]
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert labels == NAMES                     # all 72, in order, not every other one
        assert ax.get_ylim()[1] >= 1.1 * _top_of_bars(ax)


def test_utilization_axis_fits_the_data():
    result = many_layers()
    peak = 100 * max(l.utilization for l in result.layers)
    ax = plots.utilization_figure(result).axes[0]
    # the peak layer: 30 MMACs / (2500 cycles x 65536) = 18.3 %; the axis ends at a round
    # value just above (here 25 %), not at 100 %
    assert peak == pytest.approx(100 * 30_000_000 / (2_500 * 65_536))
    assert peak < ax.get_ylim()[1] <= 1.5 * peak


def test_roofs_are_told_apart_and_the_axis_starts_near_the_data():
    data = roofline_plot_data(synthetic_result())
    fig = plots.roofline_figure(data)
    ax = fig.axes[0]
    handles = {t.get_text(): h for h, t in zip(ax.get_legend().legend_handles,
                                               ax.get_legend().get_texts())}
    compute = next(h for k, h in handles.items() if k.startswith("compute roof"))
    dram = next(h for k, h in handles.items() if k.startswith("DRAM roof"))
    assert compute.get_linestyle() != dram.get_linestyle()
    # the fc sits at 2 ops/B: the axis starts at 1 (1, 2 or 5 x 10^k below 2 / 1.5), not 0.1
    assert data.x_range[0] == 1.0
    assert plain(0.1) == "0.1" and plain(1000) == "1k" and plain(20_000) == "20k"
    # the legend is outside the axes: it cannot cover a point
    assert ax.get_legend().get_bbox_to_anchor().x0 > ax.get_window_extent().x1


def test_layers_without_dram_bytes_use_the_sram_roofline():
    """EIE-like: weights on chip, so no layer moves DRAM bytes; its roofline is on the SRAM
    axis (every point finite, none piled on the right edge) and there is no TPU-paper plot."""
    layers = [layer(f"fc{i}", "linear", 4_000_000, 10_000, 1_000, 0, 0) for i in range(5)]
    for l in layers:
        l.sram_read_bytes = 9_000_000
    result = synthetic_result(layers, sram_bytes_per_s=409.6e9)
    assert default_x_axis(result) == "ops_per_sram_byte"
    data = roofline_plot_data(result, "ops_per_sram_byte")
    assert not any(p.x_clipped for p in data.points)
    # 8 M ops / 9 MB = 0.889 ops per SRAM byte; SRAM ridge = 91.75 T / 409.6 G = 224 ops/B
    assert data.points[0].x == pytest.approx(8e6 / 9e6)
    assert data.ridge_x == pytest.approx(91.7504e12 / 409.6e9)
    assert {r.kind for r in data.roofs} == {"compute", "sram"}
    assert set(plots.run_figures(result)) == {"roofline", "energy", "latency", "utilization"}
    # with DRAM traffic the DRAM axis stays
    assert default_x_axis(synthetic_result(sram_bytes_per_s=409.6e9)) == "ops_per_dram_byte"


@pytest.mark.parametrize("name", ["$x^2$", "<b>bold</b>", "a & b"])
def test_names_are_drawn_literally(name):
    """Layer, workload and arch names are data: no mathtext, and the SVG holds the name as
    (escaped) text."""
    result = synthetic_result([layer(name, "conv", 1_000_000, 100, 0, 1_000, 100),
                               layer("fc", "linear", 1_000, 10, 5, 1_000, 1_000)],
                              workload_name=name, arch_name=name)
    escaped = name.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for stem, fig in plots.run_figures(result).items():
        svg = figure_bytes(fig, "svg").decode()
        figure_bytes(fig, "png")  # renders without a mathtext error
        texts = [t for ax in fig.axes for t in ax.texts + ax.get_xticklabels()
                 + [ax.title, ax._left_title]]
        assert not any(t.get_text() and t._parse_math for t in texts)
        if stem in ("energy", "latency", "utilization"):
            assert f">{escaped}</text>" in svg, stem      # the layer's tick label
        else:
            assert escaped in svg, stem                   # the title names the workload


def test_compare_caption_matches_its_linear_bars():
    from simulator.report.html import CAPTIONS
    assert "log scale except" not in CAPTIONS["compare_bars"]
    assert "linear" in CAPTIONS["compare_bars"]


def test_sweep_heatmap_ticks_are_plain_and_infeasible_cells_marked():
    from simulator.dse.plots import heatmaps
    from simulator.dse.spec import parse_constraint

    rows = []
    for pe in (1024, 4096):
        for sram in (2 ** 18, 2 ** 20, 2 ** 25):
            rows.append({"key": f"{pe}:{sram}", "pe_count": pe, "sram_axis": sram,
                         "latency_s": 3e-3 * 1024 / pe, "energy_pj": 3e10, "edp_js": 9e-5,
                         "area_mm2": pe / 200 + sram / 2 ** 20})
    fig = heatmaps(rows, "t", "unified buffer", [parse_constraint("area_mm2 <= 40")])
    svg = figure_bytes(fig, "svg").decode()
    texts = re.findall(r">([^<>]+)</text>", svg)
    assert not [t for t in texts if "^" in t or "\\times" in t or "10^" in t]
    assert "256 KiB" in texts and "32 MiB" in texts and "1,024" in texts
    # area = 5.12 or 20.48 (PEs) + 0.25, 1 or 32 (MiB): only 4096 x 32 MiB (52.48) exceeds 40
    hatched = [p for p in fig.axes[0].patches if p.get_hatch()]
    assert len(hatched) == 1
    assert "area_mm2 <= 40" in fig._suptitle.get_text()
