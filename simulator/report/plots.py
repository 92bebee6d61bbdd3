"""Matplotlib figures of a run: roofline, energy breakdown, latency split, utilization.

This module only draws. Every number it shows comes from the `RunResult` or from
`simulator.core.roofline.roofline_plot_data` (roofs, ridge and points are computed there, not here).

Headless-safe: figures are built with the object-oriented API (`matplotlib.figure.Figure`)
rendered by the Agg/SVG canvases, so no GUI backend is ever selected and the global pyplot
state is untouched. matplotlib is an optional extra (`pip install npusim[plots]`): it is imported
only when a figure is made, so `import simulator` never needs it.
"""

from __future__ import annotations

import functools
import io
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Sequence

from simulator.core.errors import NpusimError
from simulator.core.roofline import RooflinePlotData, roofline_plot_data
from simulator.report.units import si

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from simulator.core.results import RunResult

#: Output formats of saved figures.
FORMATS = ("png", "svg")
#: rcParams that make the output reproducible and self-contained: text drawn as paths (no font
#: files or names referenced by the SVG), a fixed hash salt for SVG ids, no creation date.
# text.parse_math off: layer, workload and arch names are data, never markup (a `$` in a name
# would start matplotlib's mathtext and a stray `\frac{` would crash the plot)
_RC = {"svg.fonttype": "path", "svg.hashsalt": "npusim", "font.size": 9,
       "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8, "text.parse_math": False}
_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
            "#7f7f7f", "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896")


def _matplotlib():
    """Import matplotlib lazily; a missing install is a one-line user error."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the environment
        raise NpusimError("plots need matplotlib, which is not installed", field="--report",
                          fix="pip install 'npusim[plots]'") from None
    return matplotlib, Figure


def _with_rc(func):
    """Build a figure under the module's rcParams (font sizes are read when text is made)."""
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        matplotlib, _ = _matplotlib()
        with matplotlib.rc_context(_RC):
            return func(*args, **kwargs)
    return wrapper


def _figure(width_in: float, height_in: float) -> "Figure":
    _, Figure = _matplotlib()
    return Figure(figsize=(width_in, height_in), layout="constrained")


def colors_for(keys: Iterable[str]) -> dict[str, str]:
    """A stable colour per key (sorted, so a layer type keeps its colour across figures)."""
    return {key: _PALETTE[i % len(_PALETTE)] for i, key in enumerate(sorted(set(keys)))}


def _time_unit(seconds: float) -> tuple[float, str]:
    for scale, unit in ((1.0, "s"), (1e-3, "ms"), (1e-6, "us"), (1e-9, "ns")):
        if seconds >= scale:
            return scale, unit
    return 1e-9, "ns"


def _energy_unit(pj: float) -> tuple[float, str]:
    for scale, unit in ((1e12, "J"), (1e9, "mJ"), (1e6, "uJ"), (1e3, "nJ")):
        if pj >= scale:
            return scale, unit
    return 1.0, "pJ"


def _layer_axis(ax, names: Sequence[str]) -> None:
    """Layer names as x tick labels; thinned out when there are many."""
    step = max(1, math.ceil(len(names) / 60))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks)
    ax.set_xticklabels([names[i] for i in ticks], rotation=90,
                       fontsize=7 if len(names) > 30 else 8)
    ax.set_xlim(-0.6, len(names) - 0.4)


def _width_for(n_layers: int) -> float:
    return min(max(6.0, 0.16 * n_layers + 2.5), 22.0)


# ------------------------------------------------------------------------------------------
# roofline
# ------------------------------------------------------------------------------------------
_ROOF_STYLE = {"compute": "-", "dram": "-", "sram": "--"}


def _draw_roofs(ax, data: RooflinePlotData, color: str, label_prefix: str = "",
                annotate: bool = True) -> None:
    for roof in data.roofs:
        if roof.kind == "compute":
            label = f"{label_prefix}peak {si(roof.ceiling_ops_per_s, 'OP/s')}"
        else:
            label = f"{label_prefix}{roof.label}"
        ax.plot(roof.xs, roof.ys, _ROOF_STYLE[roof.kind], color=color,
                lw=2.0 if roof.kind != "sram" else 1.2, label=label, zorder=2)
    ax.plot([data.ridge_x], [data.peak_ops_per_s], "D", color=color, ms=6, zorder=4)
    if annotate:
        unit = "ops/B" if data.x_axis == "ops_per_dram_byte" else "MACs/weight B"
        ax.annotate(f"ridge {data.ridge_x:,.4g} {unit}", (data.ridge_x, data.peak_ops_per_s),
                    xytext=(6, -14), textcoords="offset points", fontsize=8, color=color)


def _log_grid(ax) -> None:
    """Decade grid only: minor log ticks cost a lot of text layout and add little."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    # SI labels (1k, 10 T) instead of mathtext 10^n: readable, and no mathtext parsing cost
    for axis, unit in ((ax.xaxis, ""), (ax.yaxis, "")):
        axis.set_major_locator(LogLocator(base=10, numticks=20))
        axis.set_minor_locator(NullLocator())
        axis.set_major_formatter(FuncFormatter(lambda v, _pos, u=unit: si(v, u, digits=3)))
    ax.grid(True, which="major", alpha=0.3)


def _marker_area(macs: int, max_macs: int) -> float:
    """Marker area proportional to MACs (20 to 400 pt^2), so big layers look big."""
    return 20.0 + 380.0 * (macs / max_macs if max_macs else 0.0)


@_with_rc
def roofline_figure(data: RooflinePlotData, title: str = "") -> "Figure":
    """Log-log roofline: roofs, ridge, one point per layer (area ~ MACs, colour = layer type)
    and the whole-network point (black star)."""
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    _draw_roofs(ax, data, "#333333")
    colors = colors_for(p.type for p in data.points)
    max_macs = max((p.macs for p in data.points), default=0)
    for type_, color in colors.items():
        pts = [p for p in data.points if p.type == type_ and p.achieved_ops_per_s > 0]
        if not pts:
            continue
        ax.scatter([p.x for p in pts], [p.achieved_ops_per_s for p in pts],
                   s=[_marker_area(p.macs, max_macs) for p in pts], c=color, alpha=0.7,
                   edgecolors="white", linewidths=0.5, label=f"{type_} ({len(pts)})", zorder=3,
                   marker="o")
    clipped = [p for p in data.points if p.x_clipped]
    if clipped:
        ax.scatter([p.x for p in clipped], [p.achieved_ops_per_s for p in clipped], marker=">",
                   s=40, facecolors="none", edgecolors="#555555", zorder=3, clip_on=False,
                   label="no DRAM/weight bytes (at edge)")
    if data.network is not None:
        ax.scatter([data.network.x], [data.network.achieved_ops_per_s], marker="*", s=260,
                   c="black", edgecolors="white", zorder=5, label="whole network")
    ax.set_xlim(*data.x_range)
    ax.set_ylim(*data.y_range)
    ax.set_xlabel(data.x_label)
    ax.set_ylabel(data.y_label)
    _log_grid(ax)
    ax.set_title(title or "Roofline")
    legend = ax.legend(loc="lower right", framealpha=0.9)
    for handle, text in zip(legend.legend_handles, legend.get_texts()):
        if hasattr(handle, "set_sizes"):  # equal-size legend markers (areas mean MACs on the plot)
            handle.set_sizes([120 if text.get_text() == "whole network" else 40])
    return fig


@_with_rc
def compare_roofline_figure(runs: Sequence[tuple[str, RooflinePlotData]],
                            title: str = "") -> "Figure":
    """Several runs' rooflines overlaid: one colour per run, its roofs and its network point
    (layer points faint), so machines with different roofs can be read on one chart."""
    fig = _figure(7.5, 5.0)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    ax.set_yscale("log")
    colors = {label: _PALETTE[i % len(_PALETTE)] for i, (label, _) in enumerate(runs)}
    x_lo = min(d.x_range[0] for _, d in runs)
    x_hi = max(d.x_range[1] for _, d in runs)
    y_lo = min(d.y_range[0] for _, d in runs)
    y_hi = max(d.y_range[1] for _, d in runs)
    drawn_roofs: set[tuple] = set()
    for label, data in runs:
        color = colors[label]
        key = (data.peak_ops_per_s, data.dram_bytes_per_s, data.sram_bytes_per_s)
        if key not in drawn_roofs:  # the same chip on two workloads: draw its roofs once
            _draw_roofs(ax, data, color, label_prefix=f"{label}: ", annotate=False)
            drawn_roofs.add(key)
        pts = [p for p in data.points if p.achieved_ops_per_s > 0]
        ax.scatter([p.x for p in pts], [p.achieved_ops_per_s for p in pts], s=10, c=color,
                   alpha=0.25, zorder=3)
        if data.network is not None:
            ax.scatter([data.network.x], [data.network.achieved_ops_per_s], marker="*", s=220,
                       c=color, edgecolors="black", linewidths=0.6, zorder=5,
                       label=f"{label}: network")
    ax.set_xlim(x_lo, x_hi)
    ax.set_ylim(y_lo, y_hi)
    ax.set_xlabel(runs[0][1].x_label)
    ax.set_ylabel(runs[0][1].y_label)
    _log_grid(ax)
    ax.set_title(title or "Rooflines (stars: whole network, dots: layers)")
    ax.legend(loc="lower right", fontsize=7, framealpha=0.9)
    return fig


# ------------------------------------------------------------------------------------------
# per-layer breakdowns
# ------------------------------------------------------------------------------------------
@_with_rc
def energy_figure(result: "RunResult") -> "Figure":
    """Energy by component: stacked bars per layer (left) and for the whole network (right)."""
    layers = result.layers
    components = sorted(result.totals.energy_breakdown_pj,
                        key=lambda k: -result.totals.energy_breakdown_pj[k])
    colors = colors_for(components)
    fig = _figure(_width_for(len(layers)) + 1.5, 4.6)
    grid = fig.add_gridspec(1, 2, width_ratios=[max(len(layers), 1), max(len(layers) / 12, 1.5)])
    ax, ax_total = fig.add_subplot(grid[0]), fig.add_subplot(grid[1])
    scale, unit = _energy_unit(max((l.energy_pj for l in layers), default=0.0))
    tscale, tunit = _energy_unit(result.totals.energy_pj)
    xs = range(len(layers))
    bottom = [0.0] * len(layers)
    total_bottom = 0.0
    for comp in components:
        vals = [l.energy_breakdown_pj.get(comp, 0.0) / scale for l in layers]
        ax.bar(xs, vals, bottom=bottom, color=colors[comp], label=comp, width=0.8)
        bottom = [b + v for b, v in zip(bottom, vals)]
        tval = result.totals.energy_breakdown_pj.get(comp, 0.0) / tscale
        ax_total.bar([0], [tval], bottom=[total_bottom], color=colors[comp], width=0.6)
        total_bottom += tval
    unattributed = [(l.energy_pj - sum(l.energy_breakdown_pj.values())) / scale for l in layers]
    if any(u > 1e-9 * max(bottom + [1.0]) for u in unattributed):
        ax.bar(xs, [max(u, 0.0) for u in unattributed], bottom=bottom, color="#dddddd",
               label="not broken down", width=0.8)
    _layer_axis(ax, [l.name for l in layers])
    ax.set_ylabel(f"energy per layer ({unit})")
    ax.set_title("Energy by component, per layer")
    ax.legend(fontsize=7, ncols=min(len(components), 4) or 1)
    ax_total.set_xticks([0])
    ax_total.set_xticklabels(["network"])
    ax_total.set_ylabel(f"total energy ({tunit})")
    ax_total.set_title(f"Total {si(result.totals.energy_pj * 1e-12, 'J')}")
    return fig


@_with_rc
def latency_figure(result: "RunResult") -> "Figure":
    """Per-layer latency split into compute time and stall time by cause (stacked)."""
    layers = result.layers
    causes = sorted(result.totals.stall_breakdown_cycles,
                    key=lambda k: -result.totals.stall_breakdown_cycles[k])
    warm = ("#dd8452", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#ccb974")
    colors = {cause: warm[i % len(warm)] for i, cause in enumerate(causes)}
    scale, unit = _time_unit(max((l.latency_s for l in layers), default=0.0))

    def seconds_per_cycle(l) -> float:
        return l.latency_s / l.cycles if l.cycles else 0.0

    fig = _figure(_width_for(len(layers)), 4.6)
    ax = fig.add_subplot()
    xs = range(len(layers))
    compute = [l.compute_cycles * seconds_per_cycle(l) / scale for l in layers]
    ax.bar(xs, compute, color="#4c72b0", label="compute", width=0.8)
    bottom = list(compute)
    for cause in causes:
        vals = [l.stall_breakdown_cycles.get(cause, 0) * seconds_per_cycle(l) / scale
                for l in layers]
        ax.bar(xs, vals, bottom=bottom, color=colors[cause],
               label=f"stall: {cause}", width=0.8, hatch="//", edgecolor="white", lw=0)
        bottom = [b + v for b, v in zip(bottom, vals)]
    other = [max(l.stall_cycles - sum(l.stall_breakdown_cycles.values()), 0)
             * seconds_per_cycle(l) / scale for l in layers]
    if any(other):
        ax.bar(xs, other, bottom=bottom, color="#999999", label="stall: unattributed", width=0.8)
    _layer_axis(ax, [l.name for l in layers])
    ax.set_ylabel(f"latency ({unit})")
    t = result.totals
    share = t.stall_cycles / t.cycles if t.cycles else 0.0
    ax.set_title(f"Latency per layer: compute vs stall (network {si(t.latency_s, 's')}, "
                 f"{share:.0%} stalled)")
    ax.legend(fontsize=7)
    return fig


@_with_rc
def utilization_figure(result: "RunResult") -> "Figure":
    """Per-layer MAC utilization (MACs / (cycles x peak MACs per cycle)), network line."""
    layers = result.layers
    colors = colors_for(l.type for l in layers)
    fig = _figure(_width_for(len(layers)), 4.0)
    ax = fig.add_subplot()
    ax.bar(range(len(layers)), [100 * l.utilization for l in layers],
           color=[colors[l.type] for l in layers], width=0.8)
    total = 100 * result.totals.utilization
    ax.axhline(total, color="black", ls="--", lw=1, label=f"network {total:.1f}%")
    from matplotlib.patches import Patch
    handles = [Patch(color=c, label=t) for t, c in colors.items()]
    handles.append(ax.get_legend_handles_labels()[0][0])
    ax.legend(handles=handles, fontsize=7, ncols=min(len(handles), 5))
    _layer_axis(ax, [l.name for l in layers])
    ax.set_ylim(0, 105)
    ax.set_ylabel("MAC utilization (%)")
    ax.set_title("Utilization per layer (of peak MACs per cycle)")
    return fig


@_with_rc
def compare_bars_figure(rows: Sequence[dict], group_key: str = "workload",
                        series_key: str = "arch") -> "Figure":
    """Grouped bars of the headline metrics, one group per workload and one bar per arch.

    `rows` are flat dicts as made by `simulator.report.compare.summary_row` (keys: arch, workload,
    latency_s, energy_pj, tops, tops_per_watt, utilization)."""
    groups = list(dict.fromkeys(r[group_key] for r in rows))
    series = list(dict.fromkeys(r[series_key] for r in rows))
    colors = {s: _PALETTE[i % len(_PALETTE)] for i, s in enumerate(series)}
    metrics = (("latency_s", "latency", "s"), ("energy_pj", "energy", "J"),
               ("tops", "achieved throughput", "OP/s"), ("tops_per_watt", "efficiency", "OP/s/W"),
               ("utilization", "MAC utilization (%)", None))
    scale = {"energy_pj": 1e-12, "tops": 1e12, "tops_per_watt": 1e12, "utilization": 100.0}
    fig = _figure(max(8.0, 1.6 * len(groups) * max(len(series), 1) + 3), 6.5)
    axes = fig.subplots(2, 3).ravel()
    width = 0.8 / max(len(series), 1)
    by_key = {(r[group_key], r[series_key]): r for r in rows}
    from matplotlib.ticker import FuncFormatter, NullFormatter

    for ax, (key, label, unit) in zip(axes, metrics):
        values = []
        for j, s in enumerate(series):
            xs, vals = [], []
            for i, g in enumerate(groups):
                row = by_key.get((g, s))
                if row is None:
                    continue
                xs.append(i + (j - (len(series) - 1) / 2) * width)
                vals.append(row[key] * scale.get(key, 1.0))
            ax.bar(xs, vals, width=width, color=colors[s], label=s)
            values += vals
        ax.set_xticks(range(len(groups)))
        ax.set_xticklabels(groups, rotation=20, fontsize=8)
        ax.set_title(f"{label} ({unit})" if unit else label)
        positive = [v for v in values if v > 0]
        # bars start at zero on a linear axis; only a spread over 30x switches to log
        if unit and positive and len(positive) == len(values) and max(positive) / min(positive) > 30:
            ax.set_yscale("log")
            ax.yaxis.set_minor_formatter(NullFormatter())
            ax.set_title(f"{label} ({unit}, log scale)")
        if unit:
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p, u=unit: si(v, u)))
        ax.grid(True, axis="y", alpha=0.3)
    axes[-1].axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    axes[-1].legend(handles, labels, loc="center", title=series_key)
    fig.suptitle("Side by side (lower latency and energy are better; higher throughput, "
                 "efficiency and utilization are better)", fontsize=9)
    return fig


# ------------------------------------------------------------------------------------------
# rendering
# ------------------------------------------------------------------------------------------
def run_figures(result: "RunResult") -> dict[str, "Figure"]:
    """All figures of a run by file stem: roofline, roofline_tpu (when the layers know their
    weight bytes), energy, latency, utilization."""
    title = f"{result.workload.get('name', '')} on {result.arch.get('name', '')}"
    figures: dict[str, "Figure"] = {}
    if result.roofline.get("peak_ops_per_s") and result.roofline.get("dram_bytes_per_s"):
        figures["roofline"] = roofline_figure(roofline_plot_data(result),
                                              f"Roofline: {title}")
        if any(l.weight_bytes for l in result.layers):
            figures["roofline_tpu"] = roofline_figure(
                roofline_plot_data(result, "macs_per_weight_byte"),
                f"Roofline, TPU-paper axis (MACs per weight byte): {title}")
    if result.layers:
        figures["energy"] = energy_figure(result)
        figures["latency"] = latency_figure(result)
        figures["utilization"] = utilization_figure(result)
    return figures


def figure_bytes(fig: "Figure", fmt: str, dpi: int = 110) -> bytes:
    """Render a figure to PNG or SVG bytes, reproducibly (no dates, fixed SVG ids)."""
    matplotlib, _ = _matplotlib()
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}")
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    buffer = io.BytesIO()
    with matplotlib.rc_context(_RC):
        fig.savefig(buffer, format=fmt, dpi=dpi, metadata=metadata)
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


