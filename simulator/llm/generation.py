"""A generation on one chip: the prefill of a P-token prompt for B sequences, then G - 1
decode steps (the prefill yields the first token; decode step s feeds token s and attends over
P + s tokens), each phase simulated as an ordinary workload by the arch's engine.

Time to first token = the prefill's latency; time per output token = the mean decode step
(vLLM's definition: (end-to-end - TTFT) / (G - 1)); tokens/s = B x G / (TTFT + every step).
Decode steps are simulated at the contexts `simulator.llm.contexts` chooses and interpolated
in between, within a stated error bound (docs/llm.md, section 4); `exact=True` simulates every
step.
"""

from __future__ import annotations

from typing import Any

from simulator import __version__
from simulator.core.arch import ArchBase
from simulator.core.errors import NpusimError
from simulator.core.results import RunResult
from simulator.llm.build import (
    PART_ORDER,
    check_context,
    decode_workload,
    part_of,
    prefill_workload,
)
from simulator.llm.config import LlmConfig
from simulator.llm.contexts import ContextSweep, sweep_contexts
from simulator.llm.results import (
    ClosedForm,
    DecodeResult,
    DecodeStep,
    LlmMemory,
    LlmResult,
    LlmRoofline,
    LlmTotals,
    PartFigures,
    PhaseFigures,
    PrefillResult,
    RooflinePoint,
)

#: figures of a step that the context sweep bounds (the rest follow the same samples)
BOUNDED = ("cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes")
#: default bound on the relative error of the decode totals
DEFAULT_TOLERANCE = 0.005
#: default cap on the decode contexts simulated when interpolating
DEFAULT_MAX_SAMPLES = 32
_TOTALS = ("cycles", "energy_pj", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
           "sram_write_bytes", "macs", "ops", "stall_cycles")
_PART_KEYS = ("cycles", "energy_pj", "dram_bytes", "macs")

ASSUMPTIONS = (
    "LLM phases (docs/llm.md): prefill runs the B x P prompt tokens through every GEMM at once "
    "with full P x P causal scores per head (masked, as PyTorch's math attention computes "
    "them) and the LM head on the last position; decode runs one token per sequence as GEMVs "
    "against every weight, with attention matmuls over the KV cache (`kv_cache: true`).",
    "The new keys and values are copied into the cache by `k_append` / `v_append` layers "
    "whose output no later layer of the step reads: the engine stores them as it stores a "
    "step's results.",
    "Time per output token is the mean decode step; decode steps are simulated at a few "
    "contexts and interpolated linearly between them (error bound in decode.error_bound, "
    "assuming a step never gets cheaper as the context grows, which is checked at every "
    "simulated context).",
)


def step_figures(result: RunResult) -> dict[str, float]:
    """The figures of one simulated phase, flat: totals, energy by component
    (`energy_pj@<component>`) and per model part (`part:<part>:<figure>`)."""
    t = result.totals
    out: dict[str, float] = {k: float(getattr(t, k)) for k in _TOTALS}
    for component, pj in t.energy_breakdown_pj.items():
        out[f"energy_pj@{component}"] = pj
    for part in PART_ORDER:
        for key in _PART_KEYS:
            out[f"part:{part}:{key}"] = 0.0
    for layer in result.layers:
        part = part_of(layer.name)
        for key, value in (("cycles", layer.cycles), ("energy_pj", layer.energy_pj),
                           ("dram_bytes", layer.dram_read_bytes + layer.dram_write_bytes),
                           ("macs", layer.macs)):
            name = f"part:{part}:{key}"
            out[name] = out.get(name, 0.0) + value
    return out


def _phase(figures: dict[str, float], roofs: dict[str, float], clock_hz: float) -> PhaseFigures:
    """PhaseFigures from flat figures (one phase, or a mean over decode steps)."""
    cycles = figures["cycles"]
    dram = figures["dram_read_bytes"] + figures["dram_write_bytes"]
    intensity = figures["ops"] / dram if dram else None
    peak_macs_per_s = roofs["peak_ops_per_s"] / 2
    latency = cycles / clock_hz
    parts = {}
    for part in PART_ORDER:
        values = {k: figures.get(f"part:{part}:{k}", 0.0) for k in _PART_KEYS}
        if any(values.values()):
            parts[part] = PartFigures(latency_s=values["cycles"] / clock_hz, **values)
    return PhaseFigures(
        cycles=cycles, latency_s=latency, macs=figures["macs"], ops=figures["ops"],
        energy_pj=figures["energy_pj"],
        energy_breakdown_pj={k.split("@", 1)[1]: v for k, v in figures.items()
                             if k.startswith("energy_pj@")},
        dram_read_bytes=figures["dram_read_bytes"], dram_write_bytes=figures["dram_write_bytes"],
        sram_read_bytes=figures["sram_read_bytes"], sram_write_bytes=figures["sram_write_bytes"],
        stall_cycles=figures["stall_cycles"],
        utilization=figures["macs"] / (latency * peak_macs_per_s) if latency else 0.0,
        operational_intensity=intensity,
        bound="memory" if intensity is not None and intensity < roofs["ridge_ops_per_byte"]
        else "compute",
        by_part=parts)


def _point(name: str, phase: PhaseFigures, weight_bytes: int, batch_weight_uses: float,
           roofs: dict[str, float]) -> RooflinePoint:
    achieved = phase.ops / phase.latency_s if phase.latency_s else 0.0
    x = phase.operational_intensity
    attainable = roofs["peak_ops_per_s"] if x is None else min(
        roofs["peak_ops_per_s"], x * roofs["dram_bytes_per_s"])
    return RooflinePoint(
        name=name, ops_per_dram_byte=x,
        macs_per_weight_byte=batch_weight_uses / weight_bytes if weight_bytes else None,
        achieved_ops_per_s=achieved, attainable_ops_per_s=attainable,
        bound="memory" if x is not None and x < roofs["ridge_ops_per_byte"] else "compute")


def simulate_generation(arch: ArchBase | str, model: LlmConfig | str, *, prompt: int,
                        generate: int, batch: int = 1, overrides: list[str] | None = None,
                        tolerance: float = DEFAULT_TOLERANCE, exact: bool = False,
                        max_samples: int = DEFAULT_MAX_SAMPLES,
                        objective: str | None = None, source: str | None = None) -> LlmResult:
    """Simulate the prefill of `prompt` tokens and the generation of `generate` tokens for
    `batch` sequences of `model` on `arch` (models, bundled names or paths). `source` names
    the model in error messages (default: its name or path)."""
    from simulator import api
    from simulator.io.llm import load_llm
    from simulator.io.load import load_arch
    from simulator.kinds.registry import chip_area

    if isinstance(arch, str):
        arch = load_arch(arch, overrides)
    source = source or (model if isinstance(model, str) else model.name)
    if isinstance(model, str):
        model = load_llm(model)
    for value, field in ((prompt, "--prompt"), (generate, "--generate"), (batch, "--batch")):
        if value < 1:
            raise NpusimError(f"{field.lstrip('-')} must be at least 1, got {value}",
                              field=field, fix=f"use {field} 1 or more")
    if not 0 <= tolerance < 1:
        raise NpusimError(f"tolerance must be in [0, 1), got {tolerance}", field="--tolerance",
                          fix="use e.g. 0.005 (0.5 %), or --exact")
    check_context(model, prompt + generate, "prompt + generated tokens", "--generate",
                  str(source))

    prefill_wl = prefill_workload(model, prompt, batch)
    prefill_run = api.simulate(arch, prefill_wl, objective=objective)
    roofs = dict(prefill_run.roofline)
    roofs["dram_bytes_per_s"] = roofs.get("dram_bytes_per_s", arch.dram.bandwidth_gbps * 1e9)
    clock = arch.clock_hz
    precision = prefill_run.workload["precision"]
    kv_bits = model.kv_cache_bits or precision["activation_bits"]
    weight_bytes = model.weight_bytes(precision["weight_bits"])
    warnings = list(prefill_run.warnings)
    prefill = _phase(step_figures(prefill_run), roofs, clock)
    points = [_point("prefill", prefill, weight_bytes,
                     batch * prompt * model.matrix_weights_per_token, roofs)]

    decode = None
    if generate > 1:
        first, last = prompt + 1, prompt + generate - 1

        def evaluate(context: int) -> dict[str, float]:
            run = api.simulate(arch, decode_workload(model, context, batch), objective=objective)
            warnings.extend(run.warnings)
            return step_figures(run)

        sweep = sweep_contexts(evaluate, first, last, bounded=BOUNDED,
                               tolerance=0.0 if exact else tolerance,
                               max_samples=None if exact else max(2, max_samples))
        decode = _decode_result(sweep, batch, roofs, clock)
        loose = [k for k, v in decode.error_bound.items() if v is None or v > tolerance]
        if loose and not exact:
            unbounded = [k for k in loose if decode.error_bound[k] is None]
            why = (f"not monotone in the context for {', '.join(unbounded)}" if unbounded
                   else f"still above the tolerance for {', '.join(loose)}")
            warnings.append(f"decode figures interpolated from {len(sweep.samples)} simulated "
                            f"contexts (the cap): {why}; --exact simulates every step")
        for label, context in (("decode (first step)", first), ("decode (last step)", last)):
            phase = _phase(sweep.at(context), roofs, clock)
            points.append(_point(label, phase, weight_bytes,
                                 batch * model.matrix_weights_per_token, roofs))

    generated = batch * generate
    decode_time = decode.total_latency_s if decode else 0.0
    decode_energy = decode.total_energy_pj if decode else 0.0
    latency = prefill.latency_s + decode_time
    energy = prefill.energy_pj + decode_energy
    area = chip_area(arch)
    bandwidth = arch.dram.bandwidth_gbps * 1e9
    closed = None
    if decode is not None:
        closed = ClosedForm(
            decode_macs_per_token_first=model.decode_macs_per_token(decode.first_context),
            decode_macs_per_token_last=model.decode_macs_per_token(decode.last_context),
            dram_bound_time_per_token_first_s=(weight_bytes + model.kv_cache_bytes(
                decode.first_context, batch, kv_bits)) / bandwidth,
            dram_bound_time_per_token_last_s=(weight_bytes + model.kv_cache_bytes(
                decode.last_context, batch, kv_bits)) / bandwidth)
    return LlmResult(
        model=model.summary(), arch=arch.model_dump(mode="json"),
        precision={**precision, "kv_cache_bits": kv_bits},
        request={"prompt": prompt, "generate": generate, "batch": batch},
        memory=LlmMemory(
            weight_bytes=weight_bytes, kv_cache_bits=kv_bits,
            kv_cache_bytes_per_token=model.kv_cache_bytes(1, 1, kv_bits),
            kv_cache_bytes_after_prompt=model.kv_cache_bytes(prompt, batch, kv_bits),
            kv_cache_bytes_final=model.kv_cache_bytes(prompt + generate - 1, batch, kv_bits),
            on_chip_sram_bytes=area.sram_bytes if area is not None else None),
        prefill=PrefillResult(
            prompt_tokens=prompt, batch=batch, time_to_first_token_s=prefill.latency_s,
            prompt_tokens_per_s=batch * prompt / prefill.latency_s if prefill.latency_s else 0.0,
            energy_per_prompt_token_pj=prefill.energy_pj / (batch * prompt),
            kv_cache_bytes_written=model.kv_cache_bytes(prompt, batch, kv_bits),
            figures=prefill),
        decode=decode,
        totals=LlmTotals(
            time_to_first_token_s=prefill.latency_s,
            time_per_output_token_s=decode.time_per_output_token_s if decode else None,
            latency_s=latency, generated_tokens=generated,
            tokens_per_s=generated / latency if latency else 0.0, energy_pj=energy,
            energy_per_token_pj=energy / generated),
        roofline=LlmRoofline(
            peak_ops_per_s=roofs["peak_ops_per_s"], dram_bytes_per_s=roofs["dram_bytes_per_s"],
            ridge_ops_per_byte=roofs["ridge_ops_per_byte"],
            ridge_macs_per_weight_byte=roofs["peak_ops_per_s"] / 2 / roofs["dram_bytes_per_s"],
            points=points),
        closed_form=closed, warnings=list(dict.fromkeys(warnings)),
        assumptions=[*ASSUMPTIONS, *prefill_run.assumptions], npusim_version=__version__)


def _decode_result(sweep: ContextSweep, batch: int, roofs: dict[str, float],
                   clock: float) -> DecodeResult:
    steps = sweep.last - sweep.first + 1
    total = sweep.total()
    mean = {k: v / steps for k, v in total.items()}
    per_step = _phase(mean, roofs, clock)
    series = []
    for context in range(sweep.first, sweep.last + 1):
        f = sweep.at(context)
        series.append(DecodeStep(context=context, latency_s=f["cycles"] / clock,
                                 energy_pj=f["energy_pj"],
                                 dram_bytes=f["dram_read_bytes"] + f["dram_write_bytes"],
                                 simulated=context in sweep.samples))
    bounds: dict[str, Any] = {}
    for key, value in sweep.relative_bounds().items():
        bounds[key] = None if value == float("inf") else value
    tpot = per_step.latency_s
    return DecodeResult(
        steps=steps, first_context=sweep.first, last_context=sweep.last, batch=batch,
        time_per_output_token_s=tpot, first_step_latency_s=series[0].latency_s,
        last_step_latency_s=series[-1].latency_s,
        tokens_per_s=batch / tpot if tpot else 0.0,
        energy_per_token_pj=per_step.energy_pj / batch,
        total_latency_s=total["cycles"] / clock, total_energy_pj=total["energy_pj"],
        per_step=per_step, method="every step" if sweep.exact else "interpolated",
        simulated_contexts=sweep.contexts, error_bound=bounds,
        max_midpoint_error={k: sweep.midpoint_errors[k] for k in BOUNDED
                            if k in sweep.midpoint_errors},
        series=series)
