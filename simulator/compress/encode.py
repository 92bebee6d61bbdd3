"""The Huffman transform: mark layers' stored weight symbols (and relative indices, when sparse)
as Huffman coded, with the symbol histograms the code is built from (compress/huffman_code.py).

Huffman coding only changes storage (and DRAM bytes on a chip with a decoder); it needs
quantized or shared weights (a finite alphabet) and is the last stage: a later transform that
changes the symbols is refused (compress/common.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from simulator.compress import huffman_code as coding
from simulator.compress.common import Refusal, has_weights, layer_dicts, rebuild, record, targets
from simulator.compress.storage import DEFAULT_INDEX_BITS, sparse_layout, weight_matrix_shape
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.workload import Workload

#: How far (absolute) a weight file's density may be from the layer's weight_density.
DENSITY_TOLERANCE = 0.02


def weight_alphabet(layer: LayerBase) -> int:
    """Number of distinct stored weight symbols: codebook entries, or 2^bits levels."""
    if layer.codebook_entries is not None:
        return layer.codebook_entries
    return 2 ** layer.weight_bits if layer.weight_bits is not None else 0


def symbol_bits(layer: LayerBase, baseline_bits: int) -> int:
    """Fixed-length bits of one stored weight symbol after quantization / sharing."""
    if layer.codebook_entries is not None:
        return max(1, (layer.codebook_entries - 1).bit_length())
    return layer.weight_bits if layer.weight_bits is not None else baseline_bits


def _codable(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not has_weights(layer):
        return Refusal("huffman", f"a {layer.type} layer has no weights to code")
    if layer.huffman is not None:
        return Refusal("huffman", "it is already Huffman coded")
    if weight_alphabet(layer) == 0:
        return Refusal("huffman", "Huffman coding needs a finite set of weight symbols",
                       fix="quantize or share the weights first")
    return None


def _check_histograms(layer: LayerBase, weights: Sequence[int] | None,
                      indices: Sequence[int] | None) -> None:
    alphabet = weight_alphabet(layer)
    if weights is not None:
        if len(weights) > alphabet or sum(weights) <= 0:
            raise NpusimError(f"layer {layer.name!r}: a weight histogram needs 1 to {alphabet} "
                              f"counts with a positive total, got {len(weights)} counts",
                              field=f"{layer.name}.huffman.weight_histogram",
                              fix="give one count per codebook entry or quantization level")
    if indices is not None:
        if layer.weight_density >= 1:
            raise NpusimError(f"layer {layer.name!r}: dense weights have no relative indices",
                              field=f"{layer.name}.huffman.index_histogram",
                              fix="prune the layer first, or leave out index_histogram")
        run = 1 << (layer.sparse_index_bits or DEFAULT_INDEX_BITS)
        if len(indices) > run or sum(indices) <= 0:
            raise NpusimError(f"layer {layer.name!r}: an index histogram needs 1 to {run} counts "
                              f"with a positive total, got {len(indices)} counts",
                              field=f"{layer.name}.huffman.index_histogram",
                              fix=f"give one count per relative index 0..{run - 1}")


def histograms_from_weights(layer: LayerBase, matrix: np.ndarray,
                            baseline_bits: int = 32) -> tuple[list[int], list[int] | None]:
    """(weight histogram, index histogram or None) measured on a real weight array of the
    layer: any array with the layer's stored weight count, read as (outputs x inputs)."""
    outputs, inputs = weight_matrix_shape(layer)
    array = np.asarray(matrix)
    if array.size != outputs * inputs:
        raise NpusimError(f"layer {layer.name!r}: the weight array has {array.size:,} elements, "
                          f"the layer stores {outputs * inputs:,} ({outputs} x {inputs})",
                          field=f"{layer.name}.huffman.weights_file",
                          fix="give this layer's own weights (outputs x inputs)")
    if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
        raise NpusimError(f"layer {layer.name!r}: weights must be finite numbers",
                          field=f"{layer.name}.huffman.weights_file")
    array = array.reshape(outputs, inputs)
    alphabet = weight_alphabet(layer)
    if layer.weight_density >= 1:
        return coding.weight_histogram(array, alphabet), None
    measured = np.count_nonzero(array) / array.size
    if abs(measured - layer.weight_density) > DENSITY_TOLERANCE:
        raise NpusimError(f"layer {layer.name!r}: the weight array has density {measured:.4f}, "
                          f"the layer {layer.weight_density:g}",
                          field=f"{layer.name}.huffman.weights_file",
                          fix=f"prune the layer to density {measured:.4f} first")
    layout = sparse_layout(layer, symbol_bits(layer, baseline_bits))
    columns = array if layout.orientation == "csc" else array.T
    indices, padding = coding.index_histogram(columns, layout.index_bits)
    return coding.weight_histogram(array[array != 0], alphabet, padding), indices


def huffman(workload: Workload, layers: Iterable[str] | None = None, *,
            weight_histogram: Sequence[int] | None = None,
            index_histogram: Sequence[int] | None = None,
            weights: Mapping[str, np.ndarray] | None = None,
            source: str | None = None) -> Workload:
    """Huffman-code the stored weight symbols and relative indices of the selected layers
    (default: every quantized or shared layer). The code comes from, per layer: its array in
    `weights` (a real weight matrix: exact histograms), else the given histograms, else the
    default distributions of compress/huffman_code.py."""
    weights = dict(weights or {})
    if layers is None and weights:
        layers = list(weights)
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    chosen = targets(workload, True, layers, _codable, "huffman")
    baseline = workload.precision.weight_bits if workload.precision else 32
    for layer, _ in chosen:
        if layer.name in weights:
            w_hist, i_hist = histograms_from_weights(layer, weights[layer.name], baseline)
            label = source or "weights"
        else:
            w_hist = list(weight_histogram) if weight_histogram is not None else None
            i_hist = list(index_histogram) if index_histogram is not None else None
            if i_hist is not None and layer.weight_density >= 1:
                i_hist = None if layers is None else i_hist
            label = source or ("histogram" if w_hist or i_hist else "default")
        _check_histograms(layer, w_hist, i_hist)
        data[index[layer.name]]["huffman"] = {"weight_histogram": w_hist,
                                              "index_histogram": i_hist, "source": label}
    unknown = set(weights) - {layer.name for layer, _ in chosen}
    if unknown:
        raise NpusimError(f"huffman: weights given for layers not coded: {sorted(unknown)}",
                          field="weights", fix="name only layers being Huffman coded")
    params = {"weight_histogram": "given" if weight_histogram is not None else None,
              "index_histogram": "given" if index_histogram is not None else None,
              "weights": sorted(weights) or None, "source": source}
    return rebuild(workload, data, record("huffman", params, [layer for layer, _ in chosen]))
