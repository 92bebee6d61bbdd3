"""Sweep plots (matplotlib, Agg; optional extra `plots`, imported lazily): PE x SRAM heatmaps of
latency / energy / EDP, Pareto scatter (latency vs energy, colour = area), DRAM traffic and
latency against SRAM size per PE count, and utilization by layer class against PE count."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Sequence

from simulator.core.errors import NpusimError
from simulator.dse.analysis import pivot, utilization_by_pe


def _plt():
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise NpusimError("plots need matplotlib", field="--plots",
                          fix="pip install 'npusim[plots]'") from None
    return plt


def _size_label(n_bytes: float) -> str:
    for unit, scale in (("MiB", 2 ** 20), ("KiB", 2 ** 10)):
        if n_bytes >= scale:
            return f"{n_bytes / scale:g} {unit}"
    return f"{n_bytes:g} B"


_SCALES = {"latency_s": (1e3, "latency (ms)"), "energy_pj": (1e-9, "energy (mJ)"),
           "edp_js": (1e6, "EDP (mJ x s)"), "dram_bytes": (1e-6, "DRAM traffic (MB)")}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def heatmaps(rows: Sequence[dict[str, Any]], title: str, axis_label: str = "on-chip SRAM"):
    """Latency, energy and EDP over PE count (y) x on-chip SRAM (x); log colour scale."""
    plt = _plt()
    from matplotlib.colors import LogNorm
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.4), constrained_layout=True)
    for ax, metric in zip(axes, ("latency_s", "energy_pj", "edp_js")):
        pes, srams, cells = pivot(rows, metric)
        scale, label = _SCALES[metric]
        grid = [[cells.get((pe, s), float("nan")) * scale for s in srams] for pe in pes]
        values = [v for line in grid for v in line if v == v and v > 0]
        norm = LogNorm(min(values), max(values)) if values and min(values) > 0 else None
        image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis_r", norm=norm)
        ax.set_xticks(range(len(srams)), [_size_label(s) for s in srams], rotation=45,
                      ha="right")
        ax.set_yticks(range(len(pes)), [f"{pe:,}" for pe in pes])
        ax.set_xlabel(f"{axis_label} (bytes)")
        ax.set_ylabel("PE count (MACs)")
        ax.set_title(label)
        fig.colorbar(image, ax=ax, label=label)
    fig.suptitle(f"{title}: best value per cell (lower is better)")
    return fig


def pareto_scatter(rows: Sequence[dict[str, Any]], front_rows: Sequence[dict[str, Any]],
                   title: str):
    """All points as latency vs energy, coloured by area; the Pareto front highlighted."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.5, 5.2), constrained_layout=True)
    xs = [r["latency_s"] * 1e3 for r in rows]
    ys = [r["energy_pj"] * 1e-9 for r in rows]
    points = ax.scatter(xs, ys, c=[r["area_mm2"] for r in rows], cmap="plasma", s=22,
                        alpha=0.8)
    fig.colorbar(points, ax=ax, label="area (mm^2)")
    fx = [r["latency_s"] * 1e3 for r in front_rows]
    fy = [r["energy_pj"] * 1e-9 for r in front_rows]
    ax.scatter(fx, fy, facecolors="none", edgecolors="black", s=90, linewidths=1.4,
               label=f"Pareto front of the feasible points ({len(front_rows)})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("latency (ms)")
    ax.set_ylabel("energy (mJ)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(loc="best")
    return fig


def sram_tradeoff(rows: Sequence[dict[str, Any]], title: str, axis_label: str = "on-chip SRAM"):
    """DRAM traffic and latency against SRAM size, one line per PE count."""
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.4), constrained_layout=True)
    for ax, metric in zip(axes, ("dram_bytes", "latency_s")):
        pes, srams, cells = pivot(rows, metric)
        scale, label = _SCALES[metric]
        for pe in pes:
            xs = [s for s in srams if (pe, s) in cells]
            ax.plot([s / 2 ** 20 for s in xs], [cells[(pe, s)] * scale for s in xs],
                    marker="o", label=f"{pe:,} PEs")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(f"{axis_label} (MiB)")
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.25)
        ax.legend(fontsize=8)
    fig.suptitle(f"{title}: DRAM traffic and latency fall with SRAM until the working set fits")
    return fig


def utilization_plot(rows: Sequence[dict[str, Any]], title: str):
    """Utilization by layer class against PE count (at each PE count's largest SRAM)."""
    plt = _plt()
    pes, classes, table = utilization_by_pe(rows)
    fig, ax = plt.subplots(figsize=(7, 4.4), constrained_layout=True)
    for cls in classes:
        ax.plot(pes, [100 * table[pe].get(cls, float("nan")) for pe in pes], marker="o",
                label=cls)
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("PE count (MACs)")
    ax.set_ylabel("utilization (% of peak MACs/cycle)")
    ax.set_title(f"{title}: utilization by layer class")
    ax.grid(True, which="both", alpha=0.25)
    ax.legend()
    return fig


def write_plots(data, fronts: dict[str, list], out_dir: Path) -> list[Path]:
    """Write every plot for every workload as PNG into `out_dir`; return the paths."""
    plt = _plt()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NpusimError(f"cannot create the plot directory: {exc.strerror}", file=out_dir,
                          field="--plots") from None
    with plt.rc_context({"text.parse_math": False}):  # names are data, never mathtext
        return _write_plots(plt, data, fronts, out_dir)


def _write_plots(plt, data, fronts: dict[str, list], out_dir: Path) -> list[Path]:
    written = []
    for workload, rows in data.rows_by_workload.items():
        if not rows:
            continue
        title = f"{data.name} / {workload}"
        axis = data.sram_axis.split(".")[-1]
        figures = {"heatmap": heatmaps(rows, title, axis),
                   "pareto": pareto_scatter(rows, fronts.get(workload, []), title),
                   "sram_tradeoff": sram_tradeoff(rows, title, axis)}
        if any(r.get("util_by_class") for r in rows):
            figures["utilization"] = utilization_plot(rows, title)
        for kind, fig in figures.items():
            path = out_dir / f"{_slug(workload)}_{kind}.png"
            fig.savefig(path, dpi=110)
            plt.close(fig)
            written.append(path)
    return written
