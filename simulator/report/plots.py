"""Matplotlib figures of a run and of a comparison: roofline, energy breakdown, latency split,
utilization, grouped headline bars, overlaid rooflines.

This module only draws. Every number it shows comes from the `RunResult` or from
`simulator.core.roofline_plot.roofline_plot_data` (roofs, ridge and points are computed there, not
here). Style, tick labels, bars and rendering are shared with the sweep plots in
`simulator.report.plotting`. Every function returns a matplotlib `Figure` (it shows itself in
Jupyter); `run_figures` gives all of a run's figures by file stem.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Sequence

from simulator.core.roofline_plot import RooflinePlotData, default_x_axis, roofline_plot_data
from simulator.report.plotting import (  # noqa: F401  (re-exported for callers)
    FORMATS,
    PALETTE,
    colors_for,
    energy_unit,
    figure_bytes,
    headroom,
    layer_axis,
    layer_chart,
    legend_above,
    legend_patches,
    legend_rows,
    new_figure,
    plain,
    plain_log_axis,
    save_figure,
    si_axis,
    stacked_bars,
    svg_fragment,
    time_unit,
    width_for,
    with_rc,
)
from simulator.report.units import si

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.figure import Figure

    from simulator.core.results import RunResult

# ------------------------------------------------------------------------------------------
# roofline
# ------------------------------------------------------------------------------------------
#: Line style per roof kind: the kind is told by the dash pattern (colour means the run on the
#: comparison plot), so "peak" and "DRAM" never look alike in the legend.
ROOF_STYLE = {"compute": {"ls": "-", "lw": 2.2}, "dram": {"ls": (0, (6, 3)), "lw": 2.0},
              "sram": {"ls": (0, (1.2, 2.2)), "lw": 2.2}}
#: The x unit in short, per axis.
X_UNIT = {"ops_per_dram_byte": "ops/DRAM B", "ops_per_sram_byte": "ops/SRAM B",
          "macs_per_weight_byte": "MACs/weight B"}
#: What a point drawn at the right edge lacks, per axis.
EDGE_NOTE = {"ops_per_dram_byte": "no DRAM bytes (infinite x): at the right edge",
             "ops_per_sram_byte": "no SRAM bytes (infinite x): at the right edge",
             "macs_per_weight_byte": "no stored weights (infinite x): at the right edge"}


def _roof_label(roof, prefix: str = "") -> str:
    if roof.kind == "compute":
        return f"{prefix}compute roof: peak {si(roof.ceiling_ops_per_s, 'OP/s')}"
    kind, _, bandwidth = roof.label.partition(" ")
    return f"{prefix}{kind} roof: {bandwidth}"


def _draw_roofs(ax, data: RooflinePlotData, color: str, prefix: str = "") -> list:
    handles = []
    for roof in data.roofs:
        (line,) = ax.plot(roof.xs, roof.ys, color=color, label=_roof_label(roof, prefix),
                          zorder=2, solid_capstyle="butt", **ROOF_STYLE[roof.kind])
        handles.append(line)
    ax.plot([data.ridge_x], [data.peak_ops_per_s], "D", color=color, ms=6, zorder=4)
    return handles


def _log_axes(ax, data: RooflinePlotData) -> None:
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(*data.x_range)
    ax.set_ylim(*data.y_range)
    ax.set_xlabel(data.x_label)
    ax.set_ylabel(data.y_label)
    plain_log_axis(ax.xaxis)                      # 0.1, 1, 10, 1k: ratios, not SI units
    plain_log_axis(ax.yaxis, si_prefixes=True)    # 10 G, 1 T
    ax.grid(True, which="major", alpha=0.3)


def _marker_area(macs: int, max_macs: int) -> float:
    """Marker area proportional to MACs (24 to 400 pt^2), so big layers look big."""
    return 24.0 + 376.0 * (macs / max_macs if max_macs else 0.0)


@with_rc
def roofline_figure(data: RooflinePlotData, title: str = "") -> "Figure":
    """Log-log roofline: roofs (compute solid, DRAM dashed, SRAM dotted), the ridge (diamond),
    one point per layer (area ~ MACs, colour = layer type; a triangle on the right edge when
    its intensity is infinite) and the whole network (star). The legend sits beside the axes."""
    from matplotlib.lines import Line2D

    fig = new_figure(9.2, 5.2)
    ax = fig.add_subplot()
    _log_axes(ax, data)
    handles = _draw_roofs(ax, data, "#222222")
    # above the ridge: nothing can be plotted there (no layer beats the compute roof)
    ax.annotate(f"ridge {plain(data.ridge_x)} {X_UNIT[data.x_axis]}",
                (data.ridge_x, data.peak_ops_per_s), xytext=(0, 9),
                textcoords="offset points", fontsize=8, color="#222222", ha="center")
    points = [p for p in data.points if p.achieved_ops_per_s > 0]
    colors = colors_for(p.type for p in points)
    max_macs = max((p.macs for p in points), default=0)
    for type_, color in colors.items():
        inside = [p for p in points if p.type == type_ and not p.x_clipped]
        edge = [p for p in points if p.type == type_ and p.x_clipped]
        if inside:
            ax.scatter([p.x for p in inside], [p.achieved_ops_per_s for p in inside],
                       s=[_marker_area(p.macs, max_macs) for p in inside], c=color,
                       alpha=0.75, edgecolors="white", linewidths=0.5, zorder=3)
        if edge:
            ax.scatter([p.x for p in edge], [p.achieved_ops_per_s for p in edge], marker=">",
                       s=55, c=color, edgecolors="#333333", linewidths=0.6, zorder=3,
                       clip_on=False)
        handles.append(Line2D([], [], ls="", marker="o", ms=7, color=color,
                              label=f"{type_} ({len(inside) + len(edge)})"))
    _count_edge_stacks(ax, [p for p in points if p.x_clipped])
    if any(p.x_clipped for p in points):
        handles.append(Line2D([], [], ls="", marker=">", ms=7, mfc="white", mec="#333333",
                              label=EDGE_NOTE[data.x_axis]))
    if data.network is not None:
        ax.scatter([data.network.x], [data.network.achieved_ops_per_s], marker="*", s=260,
                   c="black", edgecolors="white", zorder=5, clip_on=False)
        handles.append(Line2D([], [], ls="", marker="*", ms=12, color="black",
                              label="whole network"))
    ax.set_title(title or "Roofline", parse_math=False)
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       borderaxespad=0, frameon=False, handlelength=2.6)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return fig


def _count_edge_stacks(ax, edge: list) -> None:
    """Layers at the right edge often share a point (every element-wise layer runs at the
    vector unit's rate): say how many sit on each one."""
    stacks: dict[float, list] = {}
    for p in edge:
        stacks.setdefault(float(f"{p.achieved_ops_per_s:.3g}"), []).append(p)
    for y, group in stacks.items():
        if len(group) > 1:
            ax.annotate(f"{len(group)} layers", (group[0].x, y), xytext=(-9, 0),
                        textcoords="offset points", ha="right", va="center", fontsize=7,
                        color="#333333")


def compare_axis(results: Sequence["RunResult"]) -> str:
    """One x-axis for overlaid rooflines: ops per SRAM byte when every run prefers it, else
    ops per DRAM byte (runs without DRAM traffic then sit on the right edge)."""
    axes = {default_x_axis(r) for r in results}
    return "ops_per_sram_byte" if axes == {"ops_per_sram_byte"} else "ops_per_dram_byte"


@with_rc
def compare_roofline_figure(runs: Sequence[tuple[str, RooflinePlotData]],
                            title: str = "") -> "Figure":
    """Several runs' rooflines overlaid: one colour per run (its roofs, faint layer dots and
    its network star), the roof kind told by the line style."""
    from matplotlib.lines import Line2D

    fig = new_figure(9.2, 5.2)
    ax = fig.add_subplot()
    colors = {label: PALETTE[i % len(PALETTE)] for i, (label, _) in enumerate(runs)}
    first = runs[0][1]
    _log_axes(ax, first)
    x_hi = max(d.x_range[1] for _, d in runs)
    ax.set_xlim(min(d.x_range[0] for _, d in runs), x_hi)
    ax.set_ylim(min(d.y_range[0] for _, d in runs), max(d.y_range[1] for _, d in runs))

    def x_of(p) -> float:  # infinite intensity: the right edge of the shared axis
        return x_hi if p.x_clipped else p.x

    handles = []
    drawn_roofs: set[tuple] = set()
    for label, data in runs:
        color = colors[label]
        key = (data.peak_ops_per_s, data.dram_bytes_per_s, data.sram_bytes_per_s)
        if key not in drawn_roofs:  # the same chip on two workloads: its roofs once
            handles += _draw_roofs(ax, data, color, prefix=f"{label}: ")
            drawn_roofs.add(key)
        pts = [p for p in data.points if p.achieved_ops_per_s > 0]
        ax.scatter([x_of(p) for p in pts], [p.achieved_ops_per_s for p in pts], s=12, c=color,
                   alpha=0.3, zorder=3, clip_on=False)
        if data.network is not None:
            ax.scatter([x_of(data.network)], [data.network.achieved_ops_per_s], marker="*", s=220,
                       c=color, edgecolors="black", linewidths=0.6, zorder=5, clip_on=False)
            handles.append(Line2D([], [], ls="", marker="*", ms=12, mfc=color, mec="black",
                                  label=f"{label}: whole network"))
    ax.set_title(title or "Rooflines (stars: whole network, dots: layers)", parse_math=False)
    legend = ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0),
                       borderaxespad=0, frameon=False, fontsize=7, handlelength=2.6)
    for text in legend.get_texts():
        text.set_parse_math(False)
    return fig


# ------------------------------------------------------------------------------------------
# per-layer breakdowns
# ------------------------------------------------------------------------------------------
def _names(result: "RunResult") -> list[str]:
    return [l.name for l in result.layers]


@with_rc
def energy_figure(result: "RunResult") -> "Figure":
    """Energy by component: stacked bars per layer (left) and for the whole network (right)."""
    layers = result.layers
    t = result.totals
    components = sorted(t.energy_breakdown_pj, key=lambda k: -t.energy_breakdown_pj[k])
    colors = colors_for(components)
    scale, unit = energy_unit(max((l.energy_pj for l in layers), default=0.0))
    tscale, tunit = energy_unit(t.energy_pj)
    series = [(comp, [l.energy_breakdown_pj.get(comp, 0.0) / scale for l in layers],
               {"facecolors": colors[comp]}) for comp in components]
    unattributed = [max(l.energy_pj - sum(l.energy_breakdown_pj.values()), 0.0) / scale
                    for l in layers]
    if max(unattributed, default=0.0) > 1e-9 * max(l.energy_pj / scale for l in layers):
        series.append(("not broken down", unattributed, {"facecolors": "#dddddd"}))
    fig, ax, ax_total = layer_chart(_names(result), 4.8, legend_rows(len(series)),
                                    total_panel_in=1.3)
    tops = stacked_bars(ax, series)
    layer_axis(ax, _names(result))
    headroom(ax, max(tops, default=0.0))
    ax.set_ylabel(f"energy per layer ({unit})")
    legend_above(ax, legend_patches([(label, style) for label, _, style in series]),
                 "Energy by component, per layer")
    bottom = 0.0
    for comp in components:
        value = t.energy_breakdown_pj.get(comp, 0.0) / tscale
        ax_total.bar([0], [value], bottom=[bottom], color=colors[comp], width=0.6)
        bottom += value
    headroom(ax_total, bottom)
    ax_total.set_xticks([0], ["network"])
    ax_total.set_ylabel(f"total energy ({tunit})")
    ax_total.set_title(f"Total {si(t.energy_pj * 1e-12, 'J')}",
                       pad=6 + 12 * legend_rows(len(series)))
    return fig


@with_rc
def latency_figure(result: "RunResult") -> "Figure":
    """Per-layer latency split into compute time and stall time by cause (stacked)."""
    layers = result.layers
    t = result.totals
    causes = sorted(t.stall_breakdown_cycles, key=lambda k: -t.stall_breakdown_cycles[k])
    warm = ("#dd8452", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#ccb974")
    scale, unit = time_unit(max((l.latency_s for l in layers), default=0.0))

    def seconds_per_cycle(l) -> float:
        return l.latency_s / l.cycles / scale if l.cycles else 0.0

    series = [("compute", [l.compute_cycles * seconds_per_cycle(l) for l in layers],
               {"facecolors": "#4c72b0"})]
    for i, cause in enumerate(causes):
        series.append((f"stall: {cause}",
                       [l.stall_breakdown_cycles.get(cause, 0) * seconds_per_cycle(l)
                        for l in layers],
                       {"facecolors": warm[i % len(warm)], "hatch": "//"}))
    other = [max(l.stall_cycles - sum(l.stall_breakdown_cycles.values()), 0)
             * seconds_per_cycle(l) for l in layers]
    if any(other):
        series.append(("stall: unattributed", other, {"facecolors": "#999999"}))
    fig, ax, _ = layer_chart(_names(result), 4.8, legend_rows(len(series)))
    tops = stacked_bars(ax, series)
    layer_axis(ax, _names(result))
    headroom(ax, max(tops, default=0.0))
    ax.set_ylabel(f"latency ({unit})")
    share = t.stall_cycles / t.cycles if t.cycles else 0.0
    legend_above(ax, legend_patches([(label, style) for label, _, style in series]),
                 f"Latency per layer: compute vs stall (network {si(t.latency_s, 's')}, "
                 f"{share:.0%} stalled)")
    return fig


def _nice_ceil(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 x 10^k at or above `value`."""
    decade = 10.0 ** math.floor(math.log10(value))
    return min(m * decade for m in (1, 2, 2.5, 5, 10) if m * decade >= value * (1 - 1e-12))


@with_rc
def utilization_figure(result: "RunResult") -> "Figure":
    """Per-layer MAC utilization (MACs / (cycles x peak MACs per cycle)) coloured by layer
    type, the network's as a dashed line; the axis ends just above the data, not at 100 %."""
    from matplotlib.lines import Line2D

    layers = result.layers
    types = [l.shown_type for l in layers]
    colors = colors_for(types)
    util = [100 * l.utilization for l in layers]
    series = [(type_, [u if t == type_ else 0.0 for u, t in zip(util, types)],
               {"facecolors": color}) for type_, color in colors.items()]
    shown = [label for label, heights, _ in series if any(heights)]
    fig, ax, _ = layer_chart(_names(result), 4.2, legend_rows(len(shown) + 1))
    stacked_bars(ax, series)
    total = 100 * result.totals.utilization
    ax.axhline(total, color="black", ls="--", lw=1)
    top = max(util + [total])
    ax.set_ylim(0, min(100.0, _nice_ceil(top * 1.12)) if top > 0 else 1.0)
    from matplotlib.ticker import FuncFormatter
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}%"))
    layer_axis(ax, _names(result))
    ax.set_ylabel("MAC utilization (% of peak)")
    # types without MACs (pools, adds) have no bars and no legend entry
    handles = legend_patches([(label, style) for label, _, style in series
                              if label in shown])
    handles.append(Line2D([], [], color="black", ls="--", lw=1,
                          label=f"network {total:.3g}%"))
    legend_above(ax, handles, "Utilization per layer (of peak MACs per cycle)")
    return fig


# ------------------------------------------------------------------------------------------
# comparison
# ------------------------------------------------------------------------------------------
#: The grouped-bar panels: (row key, title, unit, scale to the unit).
COMPARE_METRICS = (("latency_s", "latency", "s", 1.0), ("energy_pj", "energy", "J", 1e-12),
                   ("tops", "achieved throughput", "OP/s", 1e12),
                   ("tops_per_watt", "efficiency", "OP/s/W", 1e12),
                   ("utilization", "MAC utilization", "%", 100.0))


@with_rc
def compare_bars_figure(rows: Sequence[dict], group_key: str = "workload",
                        series_key: str = "arch") -> "Figure":
    """Grouped bars of the headline metrics, one group per workload and one bar per arch.
    Linear axes from zero; a panel whose values span more than 30x is drawn on a log axis and
    says so in its title.

    `rows` are flat dicts as made by `simulator.report.compare.summary_row` (keys: arch, workload,
    latency_s, energy_pj, tops, tops_per_watt, utilization)."""
    from matplotlib.patches import Patch
    from matplotlib.ticker import FuncFormatter

    groups = list(dict.fromkeys(r[group_key] for r in rows))
    series = list(dict.fromkeys(r[series_key] for r in rows))
    colors = {s: PALETTE[i % len(PALETTE)] for i, s in enumerate(series)}
    fig = new_figure(max(8.0, 1.6 * len(groups) * max(len(series), 1) + 3), 6.5)
    axes = fig.subplots(2, 3).ravel()
    width = 0.8 / max(len(series), 1)
    by_key = {(r[group_key], r[series_key]): r for r in rows}
    for ax, (key, label, unit, scale) in zip(axes, COMPARE_METRICS):
        values = []
        for j, s in enumerate(series):
            xs, vals = [], []
            for i, g in enumerate(groups):
                row = by_key.get((g, s))
                if row is None:
                    continue
                xs.append(i + (j - (len(series) - 1) / 2) * width)
                vals.append(row[key] * scale)
            ax.bar(xs, vals, width=width, color=colors[s])
            values += vals
        ax.set_xticks(range(len(groups)), [str(g) for g in groups], rotation=20, fontsize=8,
                      parse_math=False)
        positive = [v for v in values if v > 0]
        log = (unit != "%" and positive and len(positive) == len(values)
               and max(positive) / min(positive) > 30)
        if log:
            ax.set_yscale("log")
            plain_log_axis(ax.yaxis, unit, si_prefixes=True)
        elif unit == "%":
            ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _p: f"{v:g}%"))
            headroom(ax, max(values, default=0.0))
        else:
            si_axis(ax.yaxis, unit)
            headroom(ax, max(values, default=0.0))
        ax.set_title(f"{label} ({unit}{', log scale' if log else ''})")
        ax.grid(True, axis="y", alpha=0.3)
    axes[-1].axis("off")
    legend = axes[-1].legend(handles=[Patch(color=colors[s], label=str(s)) for s in series],
                             loc="center", title=series_key)
    for text in legend.get_texts():
        text.set_parse_math(False)
    fig.suptitle("Side by side (lower latency and energy are better; higher throughput, "
                 "efficiency and utilization are better)", fontsize=9)
    return fig


# ------------------------------------------------------------------------------------------
# a run's figures, and figures for a notebook
# ------------------------------------------------------------------------------------------
def roofline(result: "RunResult", x_axis: str | None = None) -> "Figure":
    """The roofline of a run on `x_axis` (default: the honest one for its kind,
    `simulator.core.roofline_plot.default_x_axis`)."""
    axis = x_axis or default_x_axis(result)
    title = f"{result.workload.get('name', '')} on {result.arch.get('name', '')}"
    if axis == "macs_per_weight_byte":
        return roofline_figure(roofline_plot_data(result, axis),
                               f"Roofline, TPU-paper axis (MACs per weight byte): {title}")
    return roofline_figure(roofline_plot_data(result, axis), f"Roofline: {title}")


def run_figures(result: "RunResult") -> dict[str, "Figure"]:
    """All figures of a run by file stem: roofline (on the axis `default_x_axis` picks),
    roofline_tpu (MACs per weight byte, when weights stream from DRAM), energy, latency,
    utilization."""
    figures: dict[str, "Figure"] = {}
    if result.roofline.get("peak_ops_per_s") and result.roofline.get("dram_bytes_per_s"):
        axis = default_x_axis(result)
        figures["roofline"] = roofline(result, axis)
        if axis == "ops_per_dram_byte" and any(l.weight_bytes for l in result.layers):
            figures["roofline_tpu"] = roofline(result, "macs_per_weight_byte")
    if result.layers:
        figures["energy"] = energy_figure(result)
        figures["latency"] = latency_figure(result)
        figures["utilization"] = utilization_figure(result)
    return figures
