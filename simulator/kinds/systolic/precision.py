"""Precision is hardware: the MAC rate of a systolic array at an operand precision, and the
operand widths a layer runs at.

Rate (MACs per PE per cycle, relative to the native precision's 1.0):
- `arch.mac_rates` given: the rate of the precision's label (`int8`, `int8x16` = 8-bit
  activations x 16-bit weights, `int16`, `fp16`, `int4`, ...). A run precision it does not list
  is refused (one line naming the arch and the fix). A layer quantized to widths it does not
  list runs on the narrowest listed datapath at least as wide (4-bit weights on the int8 path:
  bytes at 4 bits, MACs at the int8 rate), with one warning line.
- no `mac_rates`: the kind's rule. With `mac_rate_scales_with_precision` (TPUv1, Jouppi et al.,
  ISCA 2017, Sec. 2: 8b x 16b at half speed, 16b x 16b at quarter speed) the rate is
  1 / (ceil(a / native_a) * ceil(w / native_w)); narrower operands gain nothing. A
  floating-point run on an integer array is modelled at its widths, with a warning.

How a rate becomes cycles (mapping.py's fold, s = 1 / rate): s >= 1 runs the array in s passes
(a fold costs s x its SCALE-Sim cycles; pipelined: s x the streamed rows); s < 1 packs several
narrow MACs per PE, so only the streamed rows shrink (ceil(T x s)) and fill/drain stays.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.kinds.systolic.arch import SystolicArch


class Rate(NamedTuple):
    """A MAC datapath at one precision: rate relative to native, and the label it runs as."""

    rate: float
    datapath: str

    @property
    def slowdown(self) -> float:
        return 1.0 / self.rate


def label(a_bits: int, w_bits: int, number_format: str) -> str:
    """A precision label: int8, fp16, int8x4 (8-bit activations x 4-bit weights)."""
    if a_bits == w_bits:
        return f"{number_format}{a_bits}"
    return f"{number_format}{a_bits}x{w_bits}"


def _parse(label: str) -> tuple[str, int, int] | None:
    """(format, activation bits, weight bits) of a label such as int8x16, or None."""
    for fmt in ("int", "fp"):
        if label.startswith(fmt):
            body = label[len(fmt):]
            parts = body.split("x")
            if all(p.isdigit() for p in parts) and len(parts) in (1, 2):
                a = int(parts[0])
                return fmt, a, int(parts[-1])
    return None


def run_rate(arch: SystolicArch, precision: Precision) -> tuple[Rate, list[str]]:
    """The rate of the run's precision, and the warnings it raises (refuses an unsupported one)."""
    native = arch.precision
    name = precision.label
    if arch.mac_rates is not None:
        if name not in arch.mac_rates:
            listed = ", ".join(sorted(arch.mac_rates)) or "none"
            runnable = sorted((k for k in arch.mac_rates if _parse(k)),
                              key=lambda k: (k != native.label, k))
            hint = f"--precision {runnable[0]}" if runnable else "another precision"
            raise NpusimError(
                f"arch {arch.name!r} has no {name} MAC datapath (its mac_rates list: {listed})",
                field="mac_rates", fix=f"run with {hint}, or add {name}: <rate> to mac_rates")
        return Rate(float(arch.mac_rates[name]), name), []
    warnings = []
    if arch.mac_rate_scales_with_precision:
        slowdown = (max(1, math.ceil(precision.activation_bits / native.activation_bits))
                    * max(1, math.ceil(precision.weight_bits / native.weight_bits)))
    else:
        slowdown = 1
    if precision.number_format != native.number_format:
        warnings.append(
            f"{name} operands on a {native.label} array: modelled as {name} widths (MAC rate "
            f"/ {slowdown}, {name} MAC energy); a real {native.number_format} array would need "
            "conversion")
    return Rate(1.0 / slowdown, name), warnings


def layer_precision(layer: LayerBase, run: Precision) -> Precision:
    """The operand widths `layer` runs at: its own quantized widths (compression fields) where
    it has them, else the run's. Shared weights enter the MACs at the codebook value width;
    partial sums are held at the run's accumulator width, or the layer's when it needs more.
    Built without validation: a layer may be quantized to widths the run's precision model does
    not list (2-bit weights, 48-bit accumulators); pricing interpolates any width."""
    w = layer.codebook_bits or layer.weight_bits
    a = layer.activation_bits
    acc = layer.accumulator_bits
    if w is None and a is None and acc is None:
        return run
    fmt = run.number_format if (w is None and a is None) else "int"
    # `accumulator_bits` is what the layer's sums need (docs/compression.md section 3); the
    # array accumulates in its own accumulators, so a narrower need saves nothing (TPUv1's
    # 32-bit accumulators hold a 24-bit sum) and only a wider one widens them
    return Precision.model_construct(
        weight_bits=w or run.weight_bits, activation_bits=a or run.activation_bits,
        accumulator_bits=max(acc or 0, run.accumulator_bits), number_format=fmt)


def layer_rate(arch: SystolicArch, precision: Precision, run: Rate,
               run_precision: Precision) -> tuple[Rate, str | None]:
    """The datapath a layer at `precision` runs on; its own label when that is not the one."""
    if precision is run_precision:
        return run, None
    wanted = label(precision.activation_bits, precision.weight_bits, precision.number_format)
    if arch.mac_rates is None:
        native = arch.precision
        if arch.mac_rate_scales_with_precision:
            slowdown = (max(1, math.ceil(precision.activation_bits / native.activation_bits))
                        * max(1, math.ceil(precision.weight_bits / native.weight_bits)))
        else:
            slowdown = 1
        return Rate(1.0 / slowdown, wanted), None
    if wanted in arch.mac_rates:
        return Rate(float(arch.mac_rates[wanted]), wanted), None
    wider = []
    for listed, rate in arch.mac_rates.items():
        parsed = _parse(listed)
        if parsed and parsed[0] == precision.number_format and \
                parsed[1] >= precision.activation_bits and parsed[2] >= precision.weight_bits:
            wider.append((parsed[1] * parsed[2], -rate, listed))
    if not wider:
        raise NpusimError(
            f"arch {arch.name!r} has no MAC datapath for {wanted} operands, nor a wider one "
            f"(mac_rates: {', '.join(sorted(arch.mac_rates))})", field="mac_rates",
            fix=f"add {wanted}: <rate> to mac_rates, or quantize to a listed precision")
    _, _, chosen = min(wider)
    return Rate(float(arch.mac_rates[chosen]), chosen), wanted
