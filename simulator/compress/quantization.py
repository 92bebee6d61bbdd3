"""Quantization (weights and activations to 16 down to 4, 2 (ternary) and 1 (binary) bits) and
weight sharing (a k-entry codebook; Deep Compression's "trained quantization").

Accumulator width. A dot product of K terms, each an N-bit weight times an M-bit activation
(two's complement), has a magnitude below K x 2^(N-1) x 2^(M-1), so N + M + ceil(log2 K) bits
always hold it exactly: the worst-case bit-growth rule whose exact form (one bit tighter for
unsigned inputs) is derived as the "data type bound" in Colbert, Pappalardo and Petri-Koenig,
"A2Q: Accumulator-Aware Quantization with Guaranteed Overflow Avoidance", ICCV 2023, Sec. 3.
We round it up to the next width hardware offers: 16, 24, 32, 48 or 64 bits. Examples: 8 x 8
bits over K = 4608 (a 3x3 conv on 512 channels) needs 8 + 8 + 13 = 29 -> 32 bits (TPUv1's 32-bit
accumulators); binary 1 x 1 bits over the same K needs 15 -> 16; 16 x 16 bits needs 45 -> 48.
The width is set on MAC layers whose weight and activation widths are both known (from this
call, earlier transforms or the workload's precision); K is the GEMM's reduction length per
group (for Winograd, the channels: the transforms' additions are not counted in it).

Weight sharing (Han, Mao and Dally, ICLR 2016, Sec. 3): the weights take k distinct values, so
each is stored as a ceil(log2 k)-bit index into a codebook of k values of `codebook_bits` each
(default: the width the weights had, 32 for a float model); the MACs then run at the codebook's
width (EIE: 16-bit codebook values, 4-bit indices).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from simulator.compress.common import (
    Refusal,
    check_number,
    companion_layers,
    effective_activation_bits,
    effective_weight_bits,
    has_weights,
    huffman_last,
    layer_dicts,
    param_record,
    rebuild,
    record,
    targets,
)
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.workload import Workload

#: Accumulator widths hardware offers (see the module docstring).
ACCUMULATOR_WIDTHS = (16, 24, 32, 48, 64)
MIN_BITS, MAX_BITS = 1, 16
#: Width of a float model's weights when neither the layer nor the workload says otherwise.
FLOAT_BITS = 32


def accumulator_bits_for(weight_bits: int, activation_bits: int, k: int) -> int:
    """Accumulator width for K products of weight_bits x activation_bits (module docstring)."""
    need = weight_bits + activation_bits + math.ceil(math.log2(max(k, 1)))
    for width in ACCUMULATOR_WIDTHS:
        if width >= need:
            return width
    return need


def reduction_length(layer: LayerBase) -> int:
    """The longest reduction (GEMM K per group) of a layer's MACs."""
    return max((g.k for g in layer.gemms()), default=1)


def _with_accumulator(layer: LayerBase, fields: dict, workload: Workload) -> dict:
    """`fields` plus the accumulator width when both operand widths are known."""
    if not layer.is_compute:
        return fields
    merged = layer.model_copy(update=fields)
    wbits = effective_weight_bits(merged, workload)
    if not has_weights(layer):     # activation x activation products (attention)
        wbits = effective_activation_bits(merged, workload)
    abits = effective_activation_bits(merged, workload)
    if wbits is None or abits is None:
        return fields
    return {**fields, "accumulator_bits": accumulator_bits_for(wbits, abits,
                                                               reduction_length(layer))}


def _weights_quantizable(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not has_weights(layer):
        return Refusal("weight_bits", f"a {layer.type} layer has no weights to quantize")
    return huffman_last(layer, "quantization")


def _any_layer(layer: LayerBase, workload: Workload) -> Refusal | None:
    return huffman_last(layer, "quantization")


def quantize(workload: Workload, weight_bits: int | Mapping[str, int] | None = None,
             activation_bits: int | Mapping[str, int] | None = None, *,
             layers: Iterable[str] | None = None) -> Workload:
    """Quantize weights and/or activations to 1..16 bits (2 = ternary, 1 = binary) and set the
    accumulator width that follows. `layers=None`: weights of every layer with weights,
    activations of every layer. Re-quantizing to more bits, or below the width a codebook
    needs, is refused."""
    if weight_bits is None and activation_bits is None:
        raise NpusimError("quantize needs weight_bits or activation_bits", field="weight_bits",
                          fix="e.g. quantize(workload, weight_bits=4)")
    for name, value in (("weight_bits", weight_bits), ("activation_bits", activation_bits)):
        if value is not None:
            check_number(name, value, MIN_BITS, MAX_BITS, integer=True)
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    updates: dict[str, dict] = {}
    if weight_bits is not None:
        for layer, bits in targets(workload, weight_bits, layers, _weights_quantizable,
                                   "quantize"):
            bits = int(bits)
            current = layer.weight_bits
            if current is not None and bits > current:
                raise NpusimError(f"layer {layer.name!r}: re-quantizing {current}-bit weights to "
                                  f"{bits} bits restores nothing", field=f"{layer.name}.weight_bits",
                                  fix=f"use {current} bits or fewer")
            fields = {"weight_bits": bits}
            if layer.codebook_entries is not None:
                if layer.codebook_entries > 2 ** bits:
                    raise NpusimError(
                        f"layer {layer.name!r}: its codebook has {layer.codebook_entries} "
                        f"distinct values, which {bits}-bit weights cannot hold",
                        field=f"{layer.name}.weight_bits",
                        fix=f"use at least {math.ceil(math.log2(layer.codebook_entries))} bits")
                fields["codebook_bits"] = bits          # the shared values are quantized
            updates[layer.name] = fields
    if activation_bits is not None:
        act_layers = companion_layers(layers, weight_bits, activation_bits)
        for layer, bits in targets(workload, activation_bits, act_layers, _any_layer,
                                   "quantize (activations)"):
            updates.setdefault(layer.name, {})["activation_bits"] = int(bits)
    by_name = {layer.name: layer for layer in workload.layers}
    for name, fields in updates.items():
        data[index[name]].update(_with_accumulator(by_name[name], fields, workload))
    params = {"weight_bits": param_record(weight_bits),
              "activation_bits": param_record(activation_bits)}
    return rebuild(workload, data, record("quantize", params, list(updates)))


def _shareable(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not has_weights(layer):
        return Refusal("codebook_entries", f"a {layer.type} layer has no weights to share")
    return huffman_last(layer, "weight sharing")


def share_weights(workload: Workload, entries: int | Mapping[str, int], *,
                  value_bits: int | None = None, layers: Iterable[str] | None = None) -> Workload:
    """Weight sharing: each layer's weights take `entries` (k >= 2) shared values, stored as
    ceil(log2 k)-bit indices plus a k-entry codebook of `value_bits`-bit values (default: the
    layer's current weight width, 32 for a float model). Refused: k above what the weights'
    width can distinguish, or more entries than an earlier sharing left."""
    check_number("entries", entries, 2, 65536, integer=True)
    if value_bits is not None:
        check_number("value_bits", value_bits, 1, 32, integer=True)
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    chosen = targets(workload, entries, layers, _shareable, "share_weights")
    for layer, k in chosen:
        k = int(k)
        current = layer.codebook_bits or layer.weight_bits or (
            workload.precision.weight_bits if workload.precision else FLOAT_BITS)
        bits = int(value_bits) if value_bits is not None else current
        if value_bits is not None and bits > current:
            raise NpusimError(f"layer {layer.name!r}: codebook values of {bits} bits are wider "
                              f"than its {current}-bit weights", field=f"{layer.name}.codebook_bits",
                              fix=f"use value_bits <= {current}")
        if k > 2 ** bits:
            raise NpusimError(f"layer {layer.name!r}: {bits}-bit weights have at most {2 ** bits} "
                              f"distinct values, fewer than {k} codebook entries",
                              field=f"{layer.name}.codebook_entries",
                              fix=f"use at most {2 ** bits} entries")
        if layer.codebook_entries is not None and k > layer.codebook_entries:
            raise NpusimError(f"layer {layer.name!r}: re-sharing {layer.codebook_entries} values "
                              f"into {k} entries restores nothing",
                              field=f"{layer.name}.codebook_entries",
                              fix=f"use {layer.codebook_entries} entries or fewer")
        fields = {"codebook_entries": k, "codebook_bits": bits}
        data[index[layer.name]].update(_with_accumulator(layer, fields, workload))
    params = {"entries": param_record(entries), "value_bits": value_bits}
    return rebuild(workload, data, record("share_weights", params, [layer for layer, _ in chosen]))
