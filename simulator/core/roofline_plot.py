"""The data behind a roofline figure, computed from a `RunResult`: the roofs (compute, DRAM and,
when known, SRAM), the ridge, and a point per layer and for the network, on the chosen x-axis
(ops per DRAM byte, or the TPU paper's MACs per weight byte). The plotters (`report/plots.py`,
`report/ascii.py`, `report/html.py`) only draw what this computes; the model itself (roofs,
bounds, per-layer fields) is `simulator.core.roofline`."""

from __future__ import annotations

import math
from dataclasses import dataclass

from simulator.core.roofline import X_AXES, Roofs, operational_intensity, weight_intensity


@dataclass(frozen=True)
class RoofSegment:
    """One roof: `y = min(slope_ops_per_unit * x, ceiling_ops_per_s)` from x_min to x_max.

    Bandwidth roofs are diagonals (slope = bytes/s, or 2 x bytes/s on the MACs per weight byte
    axis since one MAC is two ops); the compute roof is the horizontal ceiling.
    """

    label: str
    kind: str                      # "compute" | "dram" | "sram"
    slope_ops_per_unit: float      # ops/s per unit of x (inf for the compute roof)
    ceiling_ops_per_s: float
    ridge_x: float                 # where this roof meets the compute roof
    xs: tuple[float, ...]
    ys: tuple[float, ...]


@dataclass(frozen=True)
class RooflinePoint:
    """One plotted point: a layer (or the whole network) at its intensity and achieved rate."""

    name: str
    type: str
    x: float                       # intensity on the chosen axis (finite; see x_clipped)
    achieved_ops_per_s: float
    attainable_ops_per_s: float    # the roof above x
    macs: int
    bound: str                     # "compute" | "memory" by this axis' ridge
    x_clipped: bool = False        # True when the true intensity is infinite (no DRAM bytes /
                                   # no weights) and the point is drawn at the right edge


@dataclass(frozen=True)
class RooflinePlotData:
    """Everything a roofline figure shows, computed from a `RunResult`."""

    x_axis: str
    x_label: str
    y_label: str
    peak_ops_per_s: float
    dram_bytes_per_s: float
    sram_bytes_per_s: float | None
    ridge_x: float                 # ridge of this axis' memory roof (DRAM, or SRAM on chip)
    roofs: tuple[RoofSegment, ...]
    points: tuple[RooflinePoint, ...]
    network: RooflinePoint | None
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    skipped: tuple[str, ...] = ()  # layers not plotted (no ops or no time), by name


def roofs_of(result) -> Roofs:
    """The `Roofs` recorded in a `RunResult` (`result.roofline`)."""
    roof = result.roofline
    if not roof.get("peak_ops_per_s") or not roof.get("dram_bytes_per_s"):
        raise ValueError("the result has no roofline (peak_ops_per_s, dram_bytes_per_s)")
    return Roofs(float(roof["peak_ops_per_s"]), float(roof["dram_bytes_per_s"]),
                 float(roof["sram_bytes_per_s"]) if roof.get("sram_bytes_per_s") else None)


def default_x_axis(result) -> str:
    """The roofline axis that is honest for a run: ops per DRAM byte, unless the engine models
    an SRAM roof and most plotted layers move no DRAM bytes at all (EIE keeps its compressed
    weights on chip; the tensor-core chip keeps activations and preloaded weights in SRAM).
    Then DRAM intensity is infinite for those layers and says nothing; the memory they stream
    from is the SRAM, so x is ops per SRAM byte under the SRAM roof."""
    if not result.roofline.get("sram_bytes_per_s"):
        return "ops_per_dram_byte"
    plotted = [l for l in result.layers if l.ops > 0 and l.latency_s > 0]
    without_dram = sum(1 for l in plotted if not l.dram_bytes)
    return "ops_per_sram_byte" if plotted and 2 * without_dram > len(plotted) else \
        "ops_per_dram_byte"


def _sram_bytes(layer) -> int:
    return layer.sram_read_bytes + layer.sram_write_bytes


def _layer_x(layer, x_axis: str) -> float:
    if x_axis == "ops_per_dram_byte":
        return operational_intensity(layer.ops, layer.dram_bytes)
    if x_axis == "ops_per_sram_byte":
        return operational_intensity(layer.ops, _sram_bytes(layer))
    return weight_intensity(layer.macs, getattr(layer, "weight_bytes", 0) or 0)


def _decade_floor(v: float) -> float:
    return 10.0 ** math.floor(math.log10(v))


def _bandwidth(bytes_per_s: float) -> str:
    """34 GB/s, 1.23 TB/s (a roof's label)."""
    if bytes_per_s >= 1e12:
        return f"{bytes_per_s / 1e12:.3g} TB/s"
    return f"{bytes_per_s / 1e9:.3g} GB/s"


def _nice_floor(v: float) -> float:
    """The largest 1, 2 or 5 x 10^k at or below v (an axis start close to the data)."""
    decade = _decade_floor(v)
    return max(m * decade for m in (1, 2, 5) if m * decade <= v * (1 + 1e-12))


def _decade_ceil(v: float) -> float:
    return 10.0 ** math.ceil(math.log10(v))


def roofline_plot_data(result, x_axis: str = "ops_per_dram_byte") -> RooflinePlotData:
    """Roofs, ridge and points of a run's roofline on one of two x-axes.

    * ``ops_per_dram_byte`` (Williams et al., CACM 2009): x = ops / DRAM bytes (read + write),
      DRAM roof y = x * B_dram, ridge at peak_ops / B_dram; an SRAM roof y = x * B_sram is drawn
      when the engine models one (a hierarchical roofline: its ridge is peak_ops / B_sram).
    * ``macs_per_weight_byte`` (Jouppi et al., TPU, ISCA 2017, Fig. 5): x = MACs / weight bytes;
      streaming weights at B_dram gives y = 2 ops/MAC * x * B_dram, so the ridge is at
      peak_ops / (2 B_dram) = peak MACs/s / B_dram (~1350 for TPUv1: 46 TMAC/s over 34 GB/s).
    * ``ops_per_sram_byte`` (the on-chip level of a hierarchical roofline): x = ops / SRAM
      bytes (read + write), roof y = x * B_sram, ridge at peak_ops / B_sram; no DRAM roof.
      For engines whose layers move no DRAM bytes (`default_x_axis`).

    y is achieved ops/s = ops / latency. Layers with no ops or no latency are not plotted
    (listed in `skipped`); layers with infinite intensity are drawn at the right edge of the
    axis with `x_clipped`. Bound classification of a point uses this axis' ridge.
    """
    if x_axis not in X_AXES:
        raise ValueError(f"x_axis must be one of {X_AXES}, got {x_axis!r}")
    roofs = roofs_of(result)
    peak = roofs.peak_ops_per_s
    on_chip = x_axis == "ops_per_sram_byte"
    if on_chip and not roofs.sram_bytes_per_s:
        raise ValueError("the result has no SRAM roof (sram_bytes_per_s) for ops_per_sram_byte")
    ops_per_x_byte = 2.0 if x_axis == "macs_per_weight_byte" else 1.0  # 2 ops per MAC
    # the memory roof of this axis: DRAM bandwidth, or the SRAM's on the on-chip axis
    dram_slope = ops_per_x_byte * (roofs.sram_bytes_per_s if on_chip else roofs.dram_bytes_per_s)
    ridge = peak / dram_slope

    raw: list[tuple[object, float]] = []
    skipped: list[str] = []
    for layer in result.layers:
        if layer.ops <= 0 or layer.latency_s <= 0:
            skipped.append(layer.name)
            continue
        raw.append((layer, _layer_x(layer, x_axis)))
    t = result.totals
    if x_axis == "ops_per_dram_byte":
        net_x = operational_intensity(t.ops, t.dram_read_bytes + t.dram_write_bytes)
    elif on_chip:
        net_x = operational_intensity(t.ops, t.sram_read_bytes + t.sram_write_bytes)
    else:
        net_x = weight_intensity(t.macs, sum(getattr(l, "weight_bytes", 0) or 0
                                             for l in result.layers))
    finite = [x for _, x in raw if math.isfinite(x) and x > 0]
    if math.isfinite(net_x) and net_x > 0:
        finite.append(net_x)
    sram_slope = (roofs.sram_bytes_per_s if x_axis == "ops_per_dram_byte"
                  and roofs.sram_bytes_per_s else None)
    anchors = finite + [ridge]
    x_min = _nice_floor(min(anchors) / 1.5)
    x_max = _decade_ceil(max(anchors) * 4)
    if sram_slope:
        x_min = min(x_min, _decade_floor(peak / sram_slope / 2))

    def point(name: str, type_: str, x: float, achieved: float, macs: int) -> RooflinePoint:
        clipped = not math.isfinite(x)
        shown = x_max if clipped else max(x, x_min)
        attainable = min(peak, shown * dram_slope) if not clipped else peak
        bound = "compute" if clipped or x >= ridge else "memory"
        return RooflinePoint(name, type_, shown, achieved, attainable, int(macs), bound, clipped)

    points = tuple(point(l.name, getattr(l, "type_label", "") or l.type, x,
                         l.achieved_ops_per_s, l.macs) for l, x in raw)
    network = (point("network", "network", net_x, t.ops / t.latency_s, t.macs)
               if t.latency_s > 0 and t.ops > 0 else None)

    roof_list = [RoofSegment("peak compute", "compute", math.inf, peak, ridge,
                             (ridge, x_max), (peak, peak))]
    if on_chip:
        roof_list.append(RoofSegment(
            f"SRAM {_bandwidth(roofs.sram_bytes_per_s)}", "sram", dram_slope, peak, ridge,
            (x_min, ridge), (x_min * dram_slope, peak)))
    else:
        roof_list.append(RoofSegment(
            f"DRAM {_bandwidth(roofs.dram_bytes_per_s)}", "dram", dram_slope, peak, ridge,
            (x_min, ridge), (x_min * dram_slope, peak)))
    if sram_slope:
        sram_ridge = peak / sram_slope
        roof_list.append(RoofSegment(
            f"SRAM {_bandwidth(sram_slope)}", "sram", sram_slope, peak, sram_ridge,
            (x_min, sram_ridge), (x_min * sram_slope, peak)))
    ys = [p.achieved_ops_per_s for p in points if p.achieved_ops_per_s > 0]
    ys += [r.ys[0] for r in roof_list]
    y_min = _decade_floor(min(ys) / 2)
    y_max = _decade_ceil(peak * 2)
    x_label = {"ops_per_dram_byte": "operational intensity (ops per DRAM byte)",
               "ops_per_sram_byte": "operational intensity (ops per SRAM byte)",
               "macs_per_weight_byte": "operational intensity (MACs per weight byte)"}[x_axis]
    return RooflinePlotData(
        x_axis=x_axis, x_label=x_label, y_label="achieved throughput (ops/s)",
        peak_ops_per_s=peak, dram_bytes_per_s=roofs.dram_bytes_per_s,
        sram_bytes_per_s=roofs.sram_bytes_per_s, ridge_x=ridge, roofs=tuple(roof_list),
        points=points, network=network, x_range=(x_min, x_max), y_range=(y_min, y_max),
        skipped=tuple(skipped))
