"""Result models of an LLM generation run: the JSON contract of `npusim llm --format json`
(docs/formats.md, section 5). Units are in the names; figures of the decode phase are means
over its steps unless the name says otherwise."""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from simulator.core.strict import LazyModel


class PartFigures(LazyModel):
    """One part of the model (embedding, qkvo, attention, kv_append, ffn, norm_residual,
    lm_head) within a phase."""

    cycles: float
    latency_s: float
    energy_pj: float
    dram_bytes: float
    macs: float


class PhaseFigures(LazyModel):
    """Totals of one phase (the prefill) or of one decode step (the mean over the steps)."""

    cycles: float
    latency_s: float
    macs: float
    ops: float
    energy_pj: float
    energy_breakdown_pj: dict[str, float] = Field(default_factory=dict)
    dram_read_bytes: float
    dram_write_bytes: float
    sram_read_bytes: float
    sram_write_bytes: float
    stall_cycles: float
    utilization: float = Field(description="MACs / (cycles x peak MACs per cycle)")
    operational_intensity: float | None = Field(
        description="ops per DRAM byte (null: no DRAM traffic)")
    bound: Literal["compute", "memory"]
    by_part: dict[str, PartFigures] = Field(default_factory=dict)


class PrefillResult(LazyModel):
    prompt_tokens: int
    batch: int
    time_to_first_token_s: float = Field(description="the prefill's latency (the LM head on "
                                         "the last position gives the first token)")
    prompt_tokens_per_s: float = Field(description="batch x prompt / latency")
    energy_per_prompt_token_pj: float
    kv_cache_bytes_written: int
    figures: PhaseFigures


class DecodeStep(LazyModel):
    """One decode step: the context its new token attends over, its figures, and whether it
    was simulated or interpolated between simulated neighbours."""

    context: int
    latency_s: float
    energy_pj: float
    dram_bytes: float
    simulated: bool


class DecodeResult(LazyModel):
    steps: int = Field(description="decode steps: generated tokens - 1 (the prefill gives "
                       "the first)")
    first_context: int
    last_context: int
    batch: int
    time_per_output_token_s: float = Field(description="mean step latency (each step gives "
                                           "one token per sequence)")
    first_step_latency_s: float
    last_step_latency_s: float
    tokens_per_s: float = Field(description="batch / time_per_output_token_s")
    energy_per_token_pj: float = Field(description="mean step energy / batch")
    total_latency_s: float
    total_energy_pj: float
    per_step: PhaseFigures = Field(description="mean over the steps")
    method: Literal["interpolated", "every step"]
    simulated_contexts: list[int]
    error_bound: dict[str, float | None] = Field(
        description="bound on the relative error of the totals over the steps, per figure "
        "(0: exact; null: unbounded, the cost was not monotone in the context)")
    max_midpoint_error: dict[str, float] = Field(
        default_factory=dict, description="largest relative gap between a simulated context "
        "and the line through its neighbours (evidence that the cost is linear in L)")
    series: list[DecodeStep]


class RooflinePoint(LazyModel):
    name: str
    ops_per_dram_byte: float | None
    macs_per_weight_byte: float | None
    achieved_ops_per_s: float
    attainable_ops_per_s: float
    bound: Literal["compute", "memory"]


class LlmRoofline(LazyModel):
    peak_ops_per_s: float
    dram_bytes_per_s: float
    ridge_ops_per_byte: float = Field(description="ops per DRAM byte where the roofs meet")
    ridge_macs_per_weight_byte: float = Field(description="the TPU paper's axis: peak MACs/s "
                                              "over the DRAM bandwidth")
    points: list[RooflinePoint]


class LlmTotals(LazyModel):
    time_to_first_token_s: float
    time_per_output_token_s: float | None = Field(description="null when one token is "
                                                  "generated (no decode step)")
    latency_s: float = Field(description="prefill + every decode step")
    generated_tokens: int = Field(description="batch x generate")
    tokens_per_s: float = Field(description="generated tokens / latency")
    energy_pj: float
    energy_per_token_pj: float = Field(description="energy / generated tokens")


class LlmMemory(LazyModel):
    weight_bytes: int = Field(description="bytes of every matrix a token passes through (the "
                              "blocks and the LM head) at the weight precision")
    kv_cache_bits: int
    kv_cache_bytes_per_token: int = Field(description="per sequence: 2 x layers x kv_heads x "
                                          "head_dim x bits / 8")
    kv_cache_bytes_after_prompt: int = Field(description="batch x prompt tokens")
    kv_cache_bytes_final: int = Field(description="batch x (prompt + generate - 1) tokens, "
                                      "what the last decode step reads")
    on_chip_sram_bytes: int | None = Field(description="the chip's SRAM (area model), to set "
                                           "the cache against")


class ClosedForm(LazyModel):
    """Figures from the model's shapes alone, to check the simulation against."""

    decode_macs_per_token_first: int = Field(description="at first_context, per sequence")
    decode_macs_per_token_last: int
    dram_bound_time_per_token_first_s: float = Field(
        description="(weight bytes + KV-cache bytes at first_context x batch) / DRAM bandwidth")
    dram_bound_time_per_token_last_s: float


class LlmResult(LazyModel):
    """A generation: the prefill of a prompt, then decode steps, on one arch."""

    model: dict[str, Any]
    arch: dict[str, Any]
    precision: dict[str, Any]
    request: dict[str, int] = Field(description="prompt, generate, batch")
    memory: LlmMemory
    prefill: PrefillResult
    decode: DecodeResult | None
    totals: LlmTotals
    roofline: LlmRoofline
    closed_form: ClosedForm | None
    warnings: list[str] = Field(default_factory=list)
    assumptions: list[str] = Field(default_factory=list)
    npusim_version: str = ""

    def roofline_plot_data(self, x_axis: str = "ops_per_dram_byte"):
        """The roofline with one point per phase (prefill, first and last decode step), as
        `simulator.core.roofline_plot.RooflinePlotData` for the plotters."""
        from simulator.core.roofline import X_AXES
        from simulator.core.roofline_plot import RooflinePlotData, RoofSegment
        from simulator.core.roofline_plot import RooflinePoint as PlotPoint

        if x_axis not in X_AXES:
            raise ValueError(f"x_axis must be one of {X_AXES}, got {x_axis!r}")
        r = self.roofline
        peak = r.peak_ops_per_s
        slope = r.dram_bytes_per_s * (1.0 if x_axis == "ops_per_dram_byte" else 2.0)
        ridge = peak / slope
        xs = [(p, p.ops_per_dram_byte if x_axis == "ops_per_dram_byte"
               else p.macs_per_weight_byte) for p in r.points]
        finite = [x for _, x in xs if x] + [ridge]
        lo = 10.0 ** math.floor(math.log10(min(finite) / 2))
        hi = 10.0 ** math.ceil(math.log10(max(finite) * 4))
        points = tuple(PlotPoint(p.name, "phase", x if x else hi, p.achieved_ops_per_s,
                                 min(peak, (x or hi) * slope), 0,
                                 "memory" if x and x < ridge else "compute", not x)
                       for p, x in xs)
        roofs = (RoofSegment("peak compute", "compute", math.inf, peak, ridge, (ridge, hi),
                             (peak, peak)),
                 RoofSegment(f"DRAM {r.dram_bytes_per_s / 1e9:.3g} GB/s", "dram", slope, peak,
                             ridge, (lo, ridge), (lo * slope, peak)))
        ys = [p.achieved_ops_per_s for p in points if p.achieved_ops_per_s > 0] + [lo * slope]
        return RooflinePlotData(
            x_axis=x_axis, x_label="operational intensity (ops per DRAM byte)"
            if x_axis == "ops_per_dram_byte" else "operational intensity (MACs per weight byte)",
            y_label="achieved throughput (ops/s)", peak_ops_per_s=peak,
            dram_bytes_per_s=r.dram_bytes_per_s, sram_bytes_per_s=None, ridge_x=ridge,
            roofs=roofs, points=points, network=None, x_range=(lo, hi),
            y_range=(10.0 ** math.floor(math.log10(min(ys) / 2)),
                     10.0 ** math.ceil(math.log10(peak * 2))))

    def to_json_dict(self) -> dict[str, Any]:
        """The contract as plain JSON data (no infinities)."""
        return _finite(self.model_dump(mode="python"))


def _finite(value: Any) -> Any:
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value
