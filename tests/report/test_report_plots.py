"""Image smoke tests: the figures render, decode and are not blank; matplotlib stays optional."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET

import numpy as np
from helpers.report_fixtures import synthetic_result

from simulator.report import plots


def test_figures_render_to_png_and_svg(tmp_path):
    figures = plots.run_figures(synthetic_result(sram_bytes_per_s=700e9))
    assert set(figures) == {"roofline", "roofline_tpu", "energy", "latency", "utilization"}
    from matplotlib.image import imread

    for stem, fig in figures.items():
        paths = plots.save_figure(fig, tmp_path, stem)
        image = imread(paths["png"])                     # decodes
        height, width = image.shape[:2]
        assert width >= 500 and height >= 300, stem
        assert paths["png"].stat().st_size > 10_000, stem
        assert float(np.std(image[..., :3])) > 0.05, f"{stem} looks blank"
        root = ET.fromstring(paths["svg"].read_bytes())
        assert root.tag.endswith("svg")
        # text is drawn as paths: no font files or names to fetch
        assert b"@font-face" not in paths["svg"].read_bytes()


def test_svg_output_is_reproducible():
    fig = plots.run_figures(synthetic_result())["roofline"]
    assert plots.figure_bytes(fig, "svg") == plots.figure_bytes(fig, "svg")


def test_svg_fragment_prefixes_ids():
    svg = ('<?xml version="1.0"?><!-- c --><svg><defs><path id="a"/></defs>'
           '<use xlink:href="#a"/><g clip-path="url(#a)"/></svg>')
    out = plots.svg_fragment(svg, "f-")
    assert out.startswith("<svg") and 'id="f-a"' in out and 'href="#f-a"' in out
    assert "url(#f-a)" in out and "<!--" not in out


def test_compare_figures(tmp_path):
    from simulator.core.roofline_plot import roofline_plot_data
    from simulator.report.compare import summary_rows

    a = synthetic_result()
    b = synthetic_result(arch_name="small", peak_macs_per_cycle=32 * 32)
    rows = summary_rows([a, b])
    for stem, fig in {"bars": plots.compare_bars_figure(rows),
                      "roofs": plots.compare_roofline_figure(
                          [("a", roofline_plot_data(a)), ("b", roofline_plot_data(b))])}.items():
        path = plots.save_figure(fig, tmp_path, stem, formats=("png",))["png"]
        assert path.stat().st_size > 10_000


def test_importing_the_package_does_not_import_matplotlib():
    code = ("import sys, simulator, simulator.report.html, simulator.report.plots, "
            "simulator.cli.compare, simulator.cli.main; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
