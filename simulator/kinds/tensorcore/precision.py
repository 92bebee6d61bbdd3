"""Precision is hardware: how fast the tensor cores' MAC array runs each operand precision.

An arch declares `mac_rates` (simulator.core.arch.ArchBase): MAC throughput per precision label
relative to the native precision's peak. The tensor-core kind reads them so (docs/models/
tensorcore.md §2a):

* a label listed runs on the array at its rate: a tile of c native cycles takes c / rate;
* a label not listed but narrower than a listed one of the same number format runs on the
  cheapest (fastest) listed one whose operand widths cover it, its operands widened: int4
  weights on an int8 array run at the int8 rate and cost int8 MACs (`executed`);
* anything else (fp32 on an array with an fp16 path, fp16 on an int-only array) has no datapath:
  a one-line error naming the precision and the supported ones. The vector unit has no MAC
  array in this model (it runs element-wise work only), so nothing falls back to it;
* `mac_rates: null`: a generic array that runs any precision, operands wider than native at the
  product of the width ratios (16-bit operands on an 8-bit array: 1/4, as TPUv1 does) and
  narrower ones at the native rate.

Element-wise work scales with the element width: the cores' element path (`vector_lanes`) and
the vector unit (`ops_per_cycle`) are sized for 8-bit elements; 16-bit elements take two lanes
each, so they run at half the element rate (the datapath moves the same bits per cycle).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError

_LABEL = re.compile(r"^(int|fp)(\d+)(?:x(\d+))?$")


def parse_label(label: str) -> tuple[str, int, int] | None:
    """(number format, activation bits, weight bits) of a precision label such as `int8`,
    `int8x16` (8-bit activations, 16-bit weights) or `fp16`; None when it is not one."""
    m = _LABEL.match(label)
    if not m:
        return None
    a = int(m.group(2))
    return m.group(1), a, int(m.group(3)) if m.group(3) else a


def label_of(number_format: str, activation_bits: int, weight_bits: int) -> str:
    """The label of a precision (as `Precision.label`, for any widths)."""
    if activation_bits == weight_bits:
        return f"{number_format}{weight_bits}"
    return f"{number_format}{activation_bits}x{weight_bits}"


def precision_of(number_format: str, activation_bits: int, weight_bits: int,
                 accumulator_bits: int) -> Precision:
    """A Precision for any widths (per-layer quantization may use 2 or 6 bits, which the
    arch-level model does not list; the energy table interpolates those)."""
    return Precision.model_construct(weight_bits=weight_bits, activation_bits=activation_bits,
                                     accumulator_bits=accumulator_bits,
                                     number_format=number_format)


@dataclass(frozen=True)
class MacRate:
    """How the MAC array runs one operand precision: `slowdown` native cycles per cycle of
    work (1 / rate, exact as a fraction), the precision it executes (operands widened to a
    supported width) and how the rate was found."""

    label: str
    slowdown: Fraction
    executed: Precision
    source: str

    @property
    def rate(self) -> float:
        return float(1 / self.slowdown)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_num", self.slowdown.numerator)
        object.__setattr__(self, "_den", self.slowdown.denominator)

    def cycles(self, native_cycles: int) -> int:
        """Array cycles of work that takes `native_cycles` at the native rate."""
        if self._den == self._num:
            return native_cycles
        return -(-(native_cycles * self._num) // self._den)


def mac_rate(arch, precision: Precision) -> MacRate:
    """The MAC array's rate for `precision` on `arch` (module docstring)."""
    fmt, a, w = precision.number_format, precision.activation_bits, precision.weight_bits
    label = label_of(fmt, a, w)
    rates = arch.mac_rates
    if rates is None:
        native = arch.precision
        ratio = (Fraction(max(a, native.activation_bits), native.activation_bits)
                 * Fraction(max(w, native.weight_bits), native.weight_bits))
        return MacRate(label, ratio, precision,
                       "mac_rates not set: operands wider than native at the product of the "
                       "width ratios")
    if label in rates:
        return MacRate(label, 1 / _fraction(rates[label]), precision, f"mac_rates.{label}")
    best: tuple[Fraction, int, str, int, int] | None = None
    for other, rate in rates.items():
        parsed = parse_label(other)
        if parsed is None or parsed[0] != fmt or parsed[1] < a or parsed[2] < w:
            continue
        key = (_fraction(rate), -(parsed[1] + parsed[2]), other, parsed[1], parsed[2])
        if best is None or key[:2] > best[:2]:
            best = key
    if best is None:
        listed = ", ".join(sorted(rates)) or "none"
        raise NpusimError(f"the MAC array of {arch.name} has no {label} datapath (mac_rates "
                          f"lists {listed})", field="mac_rates",
                          fix=f"run a listed precision (e.g. --precision int8) or add {label} "
                              "to mac_rates")
    rate, _, other, ea, ew = best
    executed = precision_of(fmt, ea, ew, precision.accumulator_bits)
    return MacRate(label, 1 / rate, executed, f"runs as {other} (mac_rates.{other}), operands "
                                               "widened")


def _fraction(rate: float) -> Fraction:
    """A rate as an exact fraction (1/30 written as 0.0333... is 1/30); a rate no small
    denominator approximates within 1 ppm (1e-6, the smallest allowed) keeps its own value."""
    small = Fraction(rate).limit_denominator(10_000)
    if small and abs(float(small) - rate) <= 1e-6 * rate:
        return small
    return Fraction(rate).limit_denominator(10**9)


def element_lanes(lanes: float, bits: int) -> float:
    """Element operations per cycle of a path sized for 8-bit elements, at `bits` bits."""
    return lanes * 8 / max(8, bits)
