"""What every npusim figure shares: lazy matplotlib, style, plain tick labels, fast stacked
bars, a layout computed once, and rendering to PNG / SVG bytes.

Figures are `NpusimFigure`s built with matplotlib's object API on the Agg/SVG canvases: no GUI
backend is selected and pyplot's global state is untouched, so this is safe on headless
machines, in CI and in Jupyter (where a figure shows itself through `_repr_png_`).
matplotlib is an optional extra (`pip install 'npusim[plots]'`), imported only when a figure is
made, so `import simulator` never needs it.

Names (layers, archs, workloads) are data, never markup: `text.parse_math` is off for every
figure, so a layer called `$x^2$` is drawn as those five characters.
"""

from __future__ import annotations

import functools
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from simulator.core.errors import NpusimError
from simulator.report.units import plain, si

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

#: Output formats of saved figures.
FORMATS = ("png", "svg")
#: rcParams that make the output reproducible and self-contained: SVG text kept as text (no
#: font files embedded or fetched: the viewer's sans-serif draws it, so layer names in an
#: inlined plot are searchable; a third faster than text as paths), a fixed hash salt for SVG
#: ids, no creation date; no mathtext in names; no layout engine from the user's rcParams.
RC = {"svg.fonttype": "none", "svg.hashsalt": "npusim", "font.size": 9,
      "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
      "text.parse_math": False, "figure.autolayout": False,
      "figure.constrained_layout.use": False}
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")
#: Dots per inch of PNG files (SVG is vector).
DPI = 110

_FIGURE_CLASS: type | None = None


def matplotlib_modules():
    """Import matplotlib lazily; a missing install is a one-line user error."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise NpusimError("plots need matplotlib, which is not installed", field="plots",
                          fix="pip install 'npusim[plots]'") from None
    return matplotlib, Figure


def _figure_class() -> type:
    """`NpusimFigure`: a matplotlib Figure that renders itself in Jupyter (PNG and SVG) under
    npusim's rcParams, without pyplot."""
    global _FIGURE_CLASS
    if _FIGURE_CLASS is None:
        _, Figure = matplotlib_modules()

        class NpusimFigure(Figure):
            def _repr_png_(self) -> bytes:
                return figure_bytes(self, "png")

            def _repr_svg_(self) -> str:
                return figure_bytes(self, "svg").decode("utf-8")

        _FIGURE_CLASS = NpusimFigure
    return _FIGURE_CLASS


def with_rc(func):
    """Build a figure under the module's rcParams (read when text is made)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        matplotlib, _ = matplotlib_modules()
        with matplotlib.rc_context(RC):
            return func(*args, **kwargs)
    return wrapper


def new_figure(width_in: float, height_in: float, layout: str | None = "constrained",
               **margins: float) -> "Figure":
    """An empty figure with constrained layout (run once, in `figure_bytes`), or, with
    `layout=None`, fixed margins (`left`, `right`, `bottom`, `top`, `wspace` as figure
    fractions, `subplots_adjust`): for figures whose labels are known in advance that skips
    measuring every text to lay them out."""
    fig = _figure_class()(figsize=(width_in, height_in), dpi=DPI, layout=layout)
    if margins:
        fig.subplots_adjust(**margins)
    return fig


def colors_for(keys: Iterable[str]) -> dict[str, str]:
    """A stable colour per key (sorted, so a layer type keeps its colour across figures)."""
    return {key: PALETTE[i % len(PALETTE)] for i, key in enumerate(sorted(set(keys)))}


# ---- numbers on axes -----------------------------------------------------------------------
def plain_log_axis(axis, unit: str = "", si_prefixes: bool = False) -> None:
    """Decade ticks on a log axis labelled in plain numbers (`plain`) or with SI prefixes and
    a unit (`si`, e.g. 10 TOP/s); no minor tick labels."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter, NullLocator

    axis.set_major_locator(LogLocator(base=10, numticks=20))
    axis.set_minor_locator(NullLocator())
    axis.set_minor_formatter(NullFormatter())
    if si_prefixes:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: si(v, unit, digits=3)))
    else:
        axis.set_major_formatter(FuncFormatter(lambda v, _pos: plain(v) + unit))


def si_axis(axis, unit: str) -> None:
    """Linear axis labelled with SI prefixes (`2 ms`, `5 mJ`)."""
    from matplotlib.ticker import FuncFormatter
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: si(v, unit, digits=3)))


def time_unit(seconds: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def energy_unit(pj: float) -> tuple[float, str]:
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if pj >= scale:
            return scale, unit
    return 1.0, "pJ"


# ---- per-layer bar charts ------------------------------------------------------------------
def width_for(n_layers: int) -> float:
    """Figure width (inches) for a chart with one bar per layer: about 0.16 in per bar."""
    return min(max(6.0, 0.16 * n_layers + 2.5), 22.0)


def _layer_ticks(names: Sequence[str]) -> tuple[list[int], list[str], float]:
    """Every layer's name under its bar (8 pt up to 40 layers, 7 pt up to 90, 6 pt up to 140);
    beyond that every k-th, with the layer index so the rest can be found."""
    n = len(names)
    step = 1 if n <= 140 else -(-n // 140)
    ticks = list(range(0, n, step))
    labels = [names[i] if step == 1 else f"{i}: {names[i]}" for i in ticks]
    return ticks, labels, 8.0 if n <= 40 else 7.0 if n <= 90 else 6.0


def layer_axis(ax, names: Sequence[str]) -> None:
    """Layer names as x tick labels (see `_layer_ticks`), rotated; never mathtext."""
    ticks, labels, size = _layer_ticks(names)
    ax.set_xticks(ticks, labels, rotation=90, fontsize=size, parse_math=False)
    ax.tick_params(axis="x", bottom=False, pad=3)  # no tick marks: a label per bar says it
    ax.set_xlim(-0.6, len(names) - 0.4)


def layer_chart(names: Sequence[str], height_in: float, legend_rows: int,
                total_panel_in: float = 0.0):
    """A figure for one bar per layer, its axes placed from measured margins instead of a
    layout engine (constrained layout would measure all tick labels once more per figure):
    the bottom margin fits the longest layer name, the top one the title and `legend_rows`
    rows of legend. With `total_panel_in`, a narrow second axes on the right (a network
    total). Returns (figure, axes, total axes or None)."""
    from matplotlib.font_manager import FontProperties

    fig = _figure_class()(figsize=(width_for(len(names)) + total_panel_in, height_in), dpi=DPI)
    _, labels, size = _layer_ticks(names)
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    renderer = FigureCanvasAgg(fig).get_renderer()  # the renderer the PNG will be drawn by
    font = FontProperties(size=size)
    longest_px = max((renderer.get_text_width_height_descent(label, font, ismath=False)[0]
                      for label in labels), default=0.0)
    width_in, _ = fig.get_size_inches()
    bottom_in = longest_px / fig.dpi + 0.12          # rotated names + tick and padding
    top_in = 0.30 + 0.19 * legend_rows               # title + legend rows
    left_in, right_in, gap_in = 0.78, 0.12, 0.85     # y tick labels + axis label
    chart_w = width_in - left_in - right_in - (total_panel_in + gap_in if total_panel_in else 0)
    frac = lambda x_in, y_in, w_in, h_in: (x_in / width_in, y_in / height_in,  # noqa: E731
                                           w_in / width_in, h_in / height_in)
    ax = fig.add_axes(frac(left_in, bottom_in, chart_w, height_in - bottom_in - top_in))
    ax_total = None
    if total_panel_in:
        ax_total = fig.add_axes(frac(left_in + chart_w + gap_in, bottom_in,
                                     total_panel_in - right_in, height_in - bottom_in - top_in))
    return fig, ax, ax_total


def stacked_bars(ax, series: Sequence[tuple[str, Sequence[float], dict[str, Any]]],
                 width: float = 0.8, base: Sequence[float] | None = None) -> list[float]:
    """Stacked bars at x = 0..n-1, one `PolyCollection` per series (far cheaper to draw than
    one Rectangle per bar). `series` is (label, heights, style: facecolor, hatch, ...); returns
    the tops. Legend handles come from `legend_patches`."""
    import numpy as np
    from matplotlib.collections import PolyCollection

    n = len(series[0][1]) if series else 0
    bottom = np.zeros(n) if base is None else np.asarray(base, dtype=float)
    xs = np.arange(n, dtype=float)
    for label, heights, style in series:
        h = np.asarray(heights, dtype=float)
        keep = h > 0
        left, right = xs[keep] - width / 2, xs[keep] + width / 2
        lo, hi = bottom[keep], bottom[keep] + h[keep]
        verts = np.stack([np.stack([left, lo], 1), np.stack([left, hi], 1),
                          np.stack([right, hi], 1), np.stack([right, lo], 1)], 1)
        style = {"linewidths": 0, "edgecolors": "white", **style}
        ax.add_collection(PolyCollection(verts, label=label, **style))
        bottom = bottom + h
    return list(bottom)


def legend_patches(entries: Sequence[tuple[str, dict[str, Any]]]) -> list:
    """Legend handles for `stacked_bars` series: (label, style with facecolor / hatch)."""
    from matplotlib.patches import Patch
    return [Patch(facecolor=style.get("facecolors", style.get("facecolor")),
                  hatch=style.get("hatch"), edgecolor="white", label=label)
            for label, style in entries]


def headroom(ax, top: float, share: float = 0.12) -> None:
    """y from 0 to `top` plus `share` of it, so the tallest bar never touches the frame."""
    ax.set_ylim(0, top * (1 + share) if top > 0 else 1.0)


def legend_rows(n_entries: int, ncols: int = 8) -> int:
    return -(-n_entries // min(max(n_entries, 1), ncols))


def legend_above(ax, handles: list, title: str, ncols: int = 8) -> None:
    """A legend in rows above the axes, where it cannot cover a bar, and the title above it."""
    ncols = min(len(handles), ncols)
    rows = legend_rows(len(handles), ncols)
    legend = ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0, 1.01),
                       ncols=ncols, frameon=False, fontsize=7, borderaxespad=0,
                       handlelength=1.6, columnspacing=1.2)
    for text in legend.get_texts():
        text.set_parse_math(False)
    ax.set_title(title, loc="left", pad=6 + 12 * rows, parse_math=False)


# ---- rendering -----------------------------------------------------------------------------
def freeze_layout(fig: "Figure") -> None:
    """Run constrained layout once and keep it. With a layout engine set, every `savefig`
    draws the figure twice (once to lay it out, once to render), and saving PNG and SVG
    would lay it out again: measuring every tick label each time. Called under `RC`, where
    `set_layout_engine(None)` removes the engine (no placeholder that would still cost a
    draw)."""
    engine = fig.get_layout_engine()
    if engine is None:
        return
    engine.execute(fig)
    fig.set_layout_engine(None)


def figure_bytes(fig: "Figure", fmt: str, dpi: int = DPI) -> bytes:
    """Render a figure to PNG or SVG bytes, reproducibly (no dates, fixed SVG ids)."""
    matplotlib, _ = matplotlib_modules()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    options: dict[str, Any] = {"metadata": {"Date": None}}
    if fmt == "png":  # zlib level 3: a tenth of level 6's time, files about 10 % larger
        options = {"metadata": {"Software": None}, "pil_kwargs": {"compress_level": 3}}
    buffer = io.BytesIO()
    with matplotlib.rc_context(RC):
        freeze_layout(fig)
        fig.savefig(buffer, format=fmt, dpi=dpi, **options)
    return buffer.getvalue()


def svg_fragment(svg: bytes | str, id_prefix: str = "") -> str:
    """An SVG document reduced to its <svg> element, ready to inline in HTML.

    With `id_prefix`, every id (glyphs, clip paths, markers) and every reference to one is
    prefixed, so several figures inlined in one page never share an id."""
    text = svg.decode("utf-8") if isinstance(svg, bytes) else svg
    start = text.find("<svg")
    text = text[start:] if start >= 0 else text
    text = re.sub(r"\s*<!--.*?-->", "", text, flags=re.S).strip()
    if id_prefix:
        text = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{id_prefix}{m.group(1)}"', text)
        text = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{id_prefix}{m.group(1)}"', text)
        text = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{id_prefix}{m.group(1)})", text)
    return text


def save_figure(fig: "Figure", out_dir: Path, stem: str,
                formats: Sequence[str] = FORMATS) -> dict[str, Path]:
    """Write `stem.png` / `stem.svg` into `out_dir`; returns the paths by format."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {}
    for fmt in formats:
        path = out_dir / f"{stem}.{fmt}"
        path.write_bytes(figure_bytes(fig, fmt))
        paths[fmt] = path
    return paths
