"""Roofline model (Williams, Waterman, Patterson, CACM 2009; as used in the TPUv1 paper).

Attainable throughput = min(compute roof, operational intensity x DRAM bandwidth), where
operational intensity is ops per DRAM byte (2 ops per MAC). A layer whose intensity is below
the ridge point (compute roof / DRAM bandwidth) is memory-bound. The TPU paper plots MACs per
*weight* byte instead; `weight_intensity` gives that x-axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.results import LayerResult


@dataclass(frozen=True)
class Roofs:
    """The two roofs of a machine: peak compute and DRAM bandwidth (optionally an SRAM roof)."""

    peak_ops_per_s: float
    dram_bytes_per_s: float
    sram_bytes_per_s: float | None = None

    @property
    def ridge_ops_per_byte(self) -> float:
        """Operational intensity where the DRAM roof meets the compute roof."""
        return self.peak_ops_per_s / self.dram_bytes_per_s

    def attainable_ops_per_s(self, intensity: float) -> float:
        return min(self.peak_ops_per_s, intensity * self.dram_bytes_per_s)

    def bound(self, intensity: float) -> str:
        return "memory" if intensity < self.ridge_ops_per_byte else "compute"

    def as_dict(self) -> dict[str, float]:
        out = {"peak_ops_per_s": self.peak_ops_per_s, "dram_bytes_per_s": self.dram_bytes_per_s,
               "ridge_ops_per_byte": self.ridge_ops_per_byte}
        if self.sram_bytes_per_s:
            out["sram_bytes_per_s"] = self.sram_bytes_per_s
        return out


def roofs_for(peak_macs_per_cycle: float, clock_hz: float, dram_bytes_per_s: float,
              sram_bytes_per_s: float | None = None) -> Roofs:
    """Roofs of a machine from its peak MAC rate (2 ops per MAC) and DRAM bandwidth."""
    return Roofs(2.0 * peak_macs_per_cycle * clock_hz, dram_bytes_per_s, sram_bytes_per_s)


def operational_intensity(ops: float, dram_bytes: float) -> float:
    """Ops per DRAM byte; a layer that touches no DRAM has infinite intensity."""
    return ops / dram_bytes if dram_bytes else float("inf")


def weight_intensity(macs: float, weight_bytes: float) -> float:
    """The TPU paper's x-axis: MACs per weight byte."""
    return macs / weight_bytes if weight_bytes else float("inf")


def annotate(layer: LayerResult, roofs: Roofs, clock_hz: float) -> LayerResult:
    """Fill a layer's roofline fields from its ops, DRAM bytes and cycles (in place)."""
    for name, value in roofline_fields(layer, roofs, clock_hz).items():
        setattr(layer, name, value)
    return layer


def roofline_fields(layer: LayerResult, roofs: Roofs, clock_hz: float) -> dict[str, Any]:
    """A layer's roofline fields (intensity, bound, attainable and achieved rates, latency)
    from its ops, DRAM bytes and cycles."""
    values = layer.__dict__  # the fields, without the model's (slower) attribute reads
    ops = values["ops"]
    intensity = operational_intensity(ops, values["dram_read_bytes"] + values["dram_write_bytes"])
    latency_s = values["cycles"] / clock_hz
    return {"operational_intensity": intensity, "bound": roofs.bound(intensity),
            "attainable_ops_per_s": roofs.attainable_ops_per_s(intensity),
            "latency_s": latency_s,
            "achieved_ops_per_s": ops / latency_s if latency_s else 0.0}


def lower_bound_cycles(ops: float, dram_bytes: float, roofs: Roofs, clock_hz: float) -> float:
    """No schedule beats max(compute bound, DRAM bound): the roofline as a latency bound."""
    seconds = max(ops / roofs.peak_ops_per_s, dram_bytes / roofs.dram_bytes_per_s)
    return seconds * clock_hz


# ------------------------------------------------------------------------------------------
# Data behind the roofline plots (report/plots.py only draws what these functions compute)
# ------------------------------------------------------------------------------------------
#: The x-axes a roofline can be drawn on.
X_AXES = ("ops_per_dram_byte", "macs_per_weight_byte", "ops_per_sram_byte")


def weight_bytes_for(layer, weight_bits: int) -> int:
    """Bytes of stored (model) weights a workload layer reads, dense, at `weight_bits`.

    The TPU paper (Jouppi et al., ISCA 2017, Sec. 4 and Fig. 5) counts operational intensity
    as MACs per weight byte, the weights being the operand that streams from DRAM. Activation x
    activation products (attention) have no stored weights and count 0. Sparsity is ignored:
    the paper's axis is about the dense model size.
    """
    return (int(layer.weight_params) * int(weight_bits) + 7) // 8
