"""How a layer's compression fields meet EIE's fixed hardware widths (docs/models/sparse.md,
"Compressed workloads").

EIE consumes pruning, weight sharing and narrow indices natively (Han et al., ISCA 2016,
Sec. III): every weight is stored as a `weight_index_bits` index into a per-layer codebook of
`codebook_value_bits` values plus an `index_bits` relative row index. A compressed layer
(simulator.compress, docs/compression.md) says what its weights are; this module decides how
the chip holds them, or refuses in one line when it cannot:

- weight sharing: a layer's k shared values (`codebook_entries`) need ceil(log2 k) index bits.
  k <= 2^weight_index_bits: the codebook holds them (unused entries stay empty); more: refused
  (the index field cannot address them). Quantized weights without sharing (`weight_bits` = b)
  take up to 2^b values: the same rule with k = 2^b (4-bit weights index the 16-entry codebook
  directly). A layer that says neither is taken to be in EIE's own format, shared to the
  codebook's 2^weight_index_bits values (the paper's layers).
- codebook values: the MAC's weight operand is the decoded value, `codebook_bits` wide
  (else `weight_bits`, else the run's weight width); wider than the codebook register
  (`codebook_value_bits`) it is rounded to it, as EIE holds 16-bit fixed-point values (warned).
- relative indices: any width is lossless to re-encode, so a layer's `sparse_index_bits` (its
  stored model format) is re-encoded into the hardware's `index_bits`, with the padding zeros
  that width needs; the result reports both widths.
- activations: the layer's `activation_bits` (else the run's); wider than the datapath's native
  width, or floating point on a fixed-point datapath, the operands are converted to the native
  fixed point (warned), as EIE runs 16-bit fixed point.
- Huffman coding shrinks the stored model (simulator.compress.model_size) but EIE decodes
  fixed-width entries, so the chip stores and reads them unchanged (one warning line).
- rate: with `mac_rates` unset, EIE's own rule: one entry per PE per cycle for every operand
  width up to native (a narrower operand is sign-extended; its multiply is priced at its own
  widths, the add at the datapath's accumulator width). With `mac_rates`, the rate of the
  operands' precision label (e.g. int8x16) scales the entries per cycle; a label missing from
  it is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.kinds.sparse.arch import SparseArch


@dataclass(frozen=True)
class LayerFormat:
    """A layer as the chip holds and multiplies it."""

    precision: Precision          # MAC operands: decoded weight x activation, accumulator
    rate: Fraction                # entries per PE per cycle (1 on EIE)
    codebook_entries: int         # distinct weight values the codebook holds for this layer
    codebook_source: str          # where that number comes from
    layer_index_bits: int | None  # the layer's own relative-index width (re-encoded)
    huffman: bool                 # the model is Huffman coded (not decoded by the chip)
    warnings: tuple[str, ...] = field(default=())   # one line each, without the layer name

    @property
    def fields(self) -> dict:
        """The format as layer result fields."""
        return {"codebook_entries": self.codebook_entries,
                "codebook_source": self.codebook_source,
                "layer_index_bits": self.layer_index_bits,
                "mac_precision": self.precision.label,
                "entries_per_cycle": float(self.rate)}


def _label(weight_bits: int, activation_bits: int, number_format: str) -> str:
    if weight_bits == activation_bits:
        return f"{number_format}{weight_bits}"
    return f"{number_format}{activation_bits}x{weight_bits}"


def layer_format(layer: LayerBase, arch: SparseArch, run: Precision, where: str) -> LayerFormat:
    """The chip's format for `layer` (module docstring), or a one-line refusal."""
    hw_entries = 1 << arch.weight_index_bits
    warnings: list[str] = []
    if layer.codebook_entries is not None:
        entries, source = layer.codebook_entries, "layer (weight sharing)"
        if entries > hw_entries:
            raise NpusimError(
                f"layer {layer.name!r} shares {entries} weight values, which need "
                f"{math.ceil(math.log2(entries))}-bit codebook indices; the arch's codebook "
                f"holds {hw_entries} (weight_index_bits {arch.weight_index_bits})",
                field=f"{where}.codebook_entries",
                fix=f"share to at most {hw_entries} values (share={hw_entries}), or set "
                    f"weight_index_bits={math.ceil(math.log2(entries))} on the arch")
        value_bits = layer.codebook_bits or layer.weight_bits or run.weight_bits
    elif layer.weight_bits is not None:
        entries, source = 1 << layer.weight_bits, "layer (quantized weights index the codebook)"
        if layer.weight_bits > arch.weight_index_bits:
            raise NpusimError(
                f"layer {layer.name!r} has {layer.weight_bits}-bit weights (up to {entries} "
                f"values) without weight sharing; EIE decodes every weight through a "
                f"{hw_entries}-entry codebook (weight_index_bits {arch.weight_index_bits})",
                field=f"{where}.weight_bits",
                fix=f"add weight sharing with at most {hw_entries} values (share={hw_entries}), "
                    f"quantize to {arch.weight_index_bits} bits, or set weight_index_bits="
                    f"{layer.weight_bits} on the arch")
        value_bits = layer.weight_bits
    else:
        entries, source = hw_entries, "arch (EIE format: shared to the codebook's size)"
        value_bits = run.weight_bits

    native = arch.precision
    fmt = native.number_format
    weight_bits = min(value_bits, arch.codebook_value_bits)
    if value_bits > weight_bits:
        warnings.append(f"{value_bits}-bit weight values are held as {weight_bits}-bit {fmt} "
                        "values in the codebook")
    wanted = layer.activation_bits or run.activation_bits
    activation_bits = min(wanted, native.activation_bits)
    if wanted > activation_bits:
        warnings.append(f"{wanted}-bit activations run as {activation_bits}-bit {fmt} (the "
                        "datapath's width)")
    if run.number_format != fmt:
        warnings.append(f"the run's {run.label} operands are converted to the {native.label} "
                        "datapath's fixed point")
    # the accumulator is the datapath's adder, whatever width the layer would like
    accumulator_bits = native.accumulator_bits
    if fmt == "fp":       # a floating-point datapath multiplies at 16 or 32 bits
        weight_bits = 16 if weight_bits <= 16 else 32
        activation_bits = 16 if activation_bits <= 16 else 32
    precision = Precision.model_construct(weight_bits=weight_bits,
                                          activation_bits=activation_bits,
                                          accumulator_bits=accumulator_bits, number_format=fmt)
    rate = Fraction(1)
    if arch.mac_rates is not None:
        label = _label(weight_bits, activation_bits, fmt)
        if label not in arch.mac_rates:
            raise NpusimError(
                f"layer {layer.name!r} multiplies {label} operands, which the arch's mac_rates "
                f"do not list ({', '.join(sorted(arch.mac_rates)) or 'none'})",
                field="mac_rates", fix=f"add {label}: <rate relative to native> to mac_rates, "
                                       "or quantize the layer to a listed precision")
        rate = Fraction(arch.mac_rates[label]).limit_denominator(1024)
    if layer.huffman is not None:
        warnings.append("Huffman coding shrinks the stored model, but EIE decodes fixed-width "
                        "entries: the chip stores and reads them uncoded")
    return LayerFormat(precision=precision, rate=rate, codebook_entries=entries,
                       codebook_source=source, layer_index_bits=layer.sparse_index_bits,
                       huffman=layer.huffman is not None, warnings=tuple(warnings))
