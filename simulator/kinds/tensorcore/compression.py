"""What the tensor cores make of a compressed layer (docs/compression.md, section 8;
docs/models/tensorcore.md §2b). The arch's `datapath` says what the chip consumes natively:

* **Precision per layer**: a layer's weight_bits / activation_bits (or, for shared weights, the
  codebook's value width `codebook_bits`) are its MAC operands: the array runs them at
  `mac_rates` (precision.py: narrower ones widened onto a listed datapath) and prices them at
  the executed widths; its output tensor is stored at its activation width.
* **Pruning** (`weight_density`, `activation_density`): dense cores multiply the zeros; with
  `datapath.zero_skipping` (`weights`, `activations` or `both`) the array skips them, its
  cycles and MACs scaled by the density of the skipped operand(s) (an ideal skip: no load
  imbalance between lanes; EIE's engine models that).
* **Weight encodings** (sparse indices, codebook indices, Huffman streams): weights travel in
  the smallest form the chip can decode, from DRAM through the shared SRAM and the bridge, and
  are decoded as they enter a core's weight buffer (a decoder per core). Without the decoder
  they were decoded off chip and travel dense at the MAC width. Bytes: simulator.compress.
* **Winograd** (`winograd: f2 | f4`): with the algorithm in `datapath.winograd` the cores run
  it hard-wired: alpha^2 element-wise GEMMs (MacSpec.of), the transformed filters stored, the
  input and output transforms applied on the cores' paths as data streams in and out (their
  element ops cost energy, no cycles); without it the layer runs in its direct form
  (`direct_gemms()`), as many MACs as the direct convolution.

What the chip cannot use is said in one warning line per kind of compression.
"""

from __future__ import annotations

import math

from simulator.compress.encode import symbol_bits
from simulator.compress.size import layer_size
from simulator.compress.storage import sparse_layout
from simulator.core.arch import Precision
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer
from simulator.core.workload import Workload
from simulator.kinds.tensorcore.precision import precision_of


def layer_precision(layer: LayerBase, run: Precision) -> Precision:
    """The MAC operand precision of one layer (module docstring)."""
    w = layer.codebook_bits or layer.weight_bits or run.weight_bits
    a = layer.activation_bits or run.activation_bits
    # `accumulator_bits` is what the layer's sums need (docs/compression.md section 3); the
    # cores accumulate in their own accumulators, so a narrower need saves nothing (weight
    # sharing's 24-bit sums still sit in 32-bit accumulators) and only a wider one widens them
    acc = max(layer.accumulator_bits or 0, run.accumulator_bits)
    if (w, a, acc) == (run.weight_bits, run.activation_bits, run.accumulator_bits):
        return run
    return precision_of(run.number_format, a, w, acc)


def winograd_on_chip(layer: LayerBase, arch) -> bool:
    """Whether the cores run this layer's Winograd form (else its direct form)."""
    return isinstance(layer, ConvLayer) and bool(layer.winograd) \
        and layer.winograd in arch.datapath.winograd


def skipped_fraction(layer: LayerBase, arch) -> float:
    """The fraction of the array's work left after zero skipping (1: dense)."""
    mode = arch.datapath.zero_skipping
    fraction = 1.0
    if mode in ("weights", "both"):
        fraction *= layer.weight_density
    if mode in ("activations", "both"):
        fraction *= layer.activation_density
    return fraction


def weight_travel_fraction(layer: LayerBase, arch, mac_weight_bits: int) -> float:
    """Bytes the layer's weights travel as, over their dense bytes at the MAC width: the
    smallest form the chip's decoders read (module docstring), 1 without a decoder."""
    elements = layer.stored_weight_elements
    if not elements:
        return 1.0
    decoders = set(arch.datapath.weight_decoders)
    dense_bits = elements * mac_weight_bits
    options = [dense_bits]
    symbol = mac_weight_bits
    if layer.codebook_entries and "codebook" in decoders:
        symbol = symbol_bits(layer, mac_weight_bits)
        options.append(elements * symbol + layer.codebook_entries * (layer.codebook_bits or 0))
    elif layer.weight_bits and layer.weight_bits < mac_weight_bits:
        # narrower weights than the MAC width are packed in memory and widened on the way in
        symbol = layer.weight_bits
        options.append(elements * symbol)
    codebook = (layer.codebook_entries or 0) * (layer.codebook_bits or 0) \
        if "codebook" in decoders else 0
    if layer.weight_density < 1 and "sparse" in decoders:
        options.append(sparse_layout(layer, symbol).bits(symbol) + codebook)
    if layer.huffman is not None and "huffman" in decoders and (
            not layer.codebook_entries or "codebook" in decoders):
        size = layer_size(layer, mac_weight_bits)
        if size is not None and (size.format == "dense" or "sparse" in decoders):
            options.append(size.bytes.huffman * 8)
    return min(options) / dense_bits


def compression_warnings(workload: Workload, arch) -> list[str]:
    """One line per kind of compression the chip cannot use (module docstring)."""
    decoders = set(arch.datapath.weight_decoders)
    found: dict[str, list[str]] = {}

    def note(key: str, name: str) -> None:
        found.setdefault(key, []).append(name)

    for layer in workload.layers:
        if not layer.stored_weight_elements and not layer.is_compute:
            continue
        if (layer.weight_density < 1 or layer.activation_density < 1) and \
                arch.datapath.zero_skipping == "none" and layer.is_compute:
            note("prune", layer.name)
        if layer.weight_density < 1 and "sparse" not in decoders and layer.stored_weight_elements:
            note("sparse", layer.name)
        if layer.codebook_entries and "codebook" not in decoders:
            note("codebook", layer.name)
        if layer.huffman is not None and "huffman" not in decoders:
            note("huffman", layer.name)
        if isinstance(layer, ConvLayer) and layer.winograd and not winograd_on_chip(layer, arch):
            note("winograd", layer.name)
    text = {
        "prune": "are pruned, but the tensor cores multiply their zeros "
                 "(datapath.zero_skipping: none): no fewer cycles",
        "sparse": "have pruned weights, but no sparse decoder on the chip "
                  "(datapath.weight_decoders): they travel dense",
        "codebook": "share weights, but no codebook decoder on the chip: weights travel "
                    "decoded at the codebook's value width",
        "huffman": "are Huffman coded, but no Huffman decoder on the chip: weights travel "
                   "uncoded",
        "winograd": "ask for Winograd, which the cores do not hard-wire (datapath.winograd): "
                    "they run the direct convolution, direct_gemms()",
    }
    out = []
    for key, names in found.items():
        shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        out.append(f"{len(names)} layer(s) ({shown}) {text[key]}")
    return out


def mac_count(layer: LayerBase, arch) -> int:
    """MACs the array executes for the layer: the direct form's when a Winograd layer runs
    direct, scaled by zero skipping."""
    macs = layer.macs
    if isinstance(layer, ConvLayer) and layer.winograd and not winograd_on_chip(layer, arch):
        macs = sum(g.macs for g in layer.direct_gemms())
    return int(math.ceil(macs * skipped_fraction(layer, arch)))
