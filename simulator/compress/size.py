"""Model size as an output: the bytes of every layer's stored weights at each Deep Compression
stage, and the compression ratio (Han, Mao and Dally, ICLR 2016, Tables 4 and 5).

Stages, cumulative, whatever order the transforms were applied in:
- `dense`: every stored weight at the baseline width (the model as trained: the workload's
  precision, else 32-bit floats);
- `pruned`: a layer with weight_density < 1 in relative-indexed CSC/CSR (compress/storage.py):
  entries (non-zeros + padding zeros) x (baseline bits + index bits) + column pointers, or dense
  where that is smaller (at every stage: so pruning never adds bytes);
- `quantized`: the same with each weight symbol at its quantized width, or at ceil(log2 k) bits
  when shared, plus the k-entry codebook (k x codebook bits);
- `huffman`: weight symbols and relative indices Huffman coded (compress/huffman_code.py), each
  stream with its code table, or left fixed-length where coding would not pay.
A stage whose transform was not applied repeats the previous one. Bias and BatchNorm terms are
not compressed (Deep Compression keeps biases as they are); they are reported apart
(`extra_bytes`, at the baseline width) and are not in the ratios, which, like the paper's, are
over the weights. Winograd layers store their transformed filters ((m+2)^2 / 9 more).
"""

from __future__ import annotations

import math

from pydantic import ConfigDict, Field

from simulator.compress.encode import symbol_bits, weight_alphabet
from simulator.compress.huffman_code import (
    coded_stream_bits,
    default_index_distribution,
    default_weight_distribution,
)
from simulator.compress.storage import sparse_layout
from simulator.core.arch import StrictModel
from simulator.core.geometry import packed_bytes
from simulator.core.layer_base import LayerBase
from simulator.core.workload import AppliedTransform, Workload

STAGES = ("dense", "pruned", "quantized", "huffman")
#: Width of a float model's weights when neither the layers nor the workload say otherwise.
FLOAT_BITS = 32


class StageBytes(StrictModel):
    """Bytes at each cumulative stage."""

    dense: int
    pruned: int
    quantized: int
    huffman: int

    def ratio_to(self, reference: int) -> dict[str, float]:
        """reference / bytes per stage (inf for an empty stage)."""
        return {stage: (reference / value if value else math.inf)
                for stage, value in self.model_dump().items()}


class LayerSize(StrictModel):
    """One layer's stored weights."""

    name: str
    type: str
    weights: int = Field(description="stored weights (transformed ones for Winograd)")
    weight_density: float
    nonzeros: int
    padding: int = Field(description="padding zeros of the sparse format")
    format: str = Field(description="storage format at the last stage: dense, csc or csr")
    stage_formats: dict[str, str] = Field(description="storage format at each stage")
    baseline_bits: int
    symbol_bits: int = Field(description="fixed-length bits per stored weight after Q")
    index_bits: int | None = Field(description="relative-index bits (sparse only)")
    huffman_weight_bits: float | None = Field(
        None, description="mean coded bits per weight symbol after Huffman")
    huffman_index_bits: float | None = Field(
        None, description="mean coded bits per relative index after Huffman")
    codebook_bits: int = Field(0, description="bits of the codebook (k x value bits)")
    pointer_bits: int = Field(0, description="bits of the column pointers (sparse only)")
    bytes: StageBytes
    extra_bytes: int = Field(description="bias and BatchNorm terms at the baseline width")


class ModelSize(StrictModel):
    """A workload's model size at each stage, per layer and in total."""

    # a result, not an input: a stage with no bytes has an infinite ratio
    model_config = ConfigDict(StrictModel.model_config, allow_inf_nan=True)

    workload: str
    baseline_bits: int
    layers: list[LayerSize]
    totals: StageBytes
    extra_bytes: int
    reference_bytes: int = Field(description="dense bytes of the reference (original) network")
    ratios: dict[str, float] = Field(description="reference_bytes / totals per stage")
    transforms: list[AppliedTransform] = Field(default_factory=list)


def _bytes(bits: int) -> int:
    return -(-bits // 8)


def layer_size(layer: LayerBase, baseline_bits: int, smallest: bool = True) -> LayerSize | None:
    """The stored size of one layer's weights at each stage (None: no weights). With
    `smallest`, a pruned layer is stored sparse or dense (zeros and all), whichever is smaller at
    the stage (e.g. 84 % density at 8 + 4 bits: 10.1 bits per weight sparse, 8 dense), so
    pruning never adds bytes; without, a pruned layer is always sparse (as Deep Compression and
    EIE store every pruned layer)."""
    elements = layer.stored_weight_elements
    if not elements:
        return None
    density = layer.weight_density
    symbol = symbol_bits(layer, baseline_bits)
    codebook = (layer.codebook_entries or 0) * (layer.codebook_bits or 0)
    dense = elements * baseline_bits
    sparse = sparse_layout(layer, symbol) if density < 1 else None
    # (bits, format, mean coded weight bits, mean coded index bits) candidates per stage
    stage_p = [(dense, "dense", None, None)]
    stage_q = [(elements * symbol + codebook, "dense", None, None)]
    if sparse:
        if not smallest:
            stage_p, stage_q = [], []
        stage_p.append((sparse.bits(baseline_bits), sparse.orientation, None, None))
        stage_q.append((sparse.bits(symbol) + codebook, sparse.orientation, None, None))
    stage_h = list(stage_q)
    if layer.huffman is not None:
        alphabet = weight_alphabet(layer)
        given_w, given_i = layer.huffman.weight_histogram, layer.huffman.index_histogram
        if sparse is None or (given_w is None and smallest):
            # dense: every weight a symbol, the pruned zeros on the level nearest zero
            hist = given_w or default_weight_distribution(alphabet, density, elements,
                                                          1 - density)
            bits, mean = _coded(hist, alphabet, elements, symbol)
            stage_h.append((bits + codebook, "dense", mean, None))
        if sparse is not None:
            zero_share = sparse.padding / sparse.entries if sparse.entries else 0.0
            hist = given_w or default_weight_distribution(alphabet, density, elements,
                                                          zero_share)
            w_bits, mean_w = _coded(hist, alphabet, sparse.entries, symbol)
            hist = given_i or default_index_distribution(sparse.index_bits, density)
            i_bits, mean_i = _coded(hist, 1 << sparse.index_bits, sparse.entries,
                                    sparse.index_bits)
            stage_h.append((w_bits + i_bits + sparse.pointer_bits + codebook,
                            sparse.orientation, mean_w, mean_i))
    first = lambda options: min(options, key=lambda c: c[0])  # noqa: E731
    (pruned, form_p, _, _), (quantized, form_q, _, _) = first(stage_p), first(stage_q)
    coded, form, mean_w, mean_i = first(stage_h)
    is_sparse = form != "dense"
    return LayerSize(
        name=layer.name, type=layer.type, weights=elements, weight_density=density,
        nonzeros=sparse.nonzeros if sparse else elements, padding=sparse.padding if sparse else 0,
        format=form, stage_formats={"dense": "dense", "pruned": form_p, "quantized": form_q,
                                    "huffman": form},
        baseline_bits=baseline_bits, symbol_bits=symbol,
        index_bits=sparse.index_bits if is_sparse else None,
        huffman_weight_bits=mean_w, huffman_index_bits=mean_i, codebook_bits=codebook,
        pointer_bits=sparse.pointer_bits if is_sparse else 0,
        bytes=StageBytes(dense=_bytes(dense), pruned=_bytes(pruned), quantized=_bytes(quantized),
                         huffman=_bytes(coded)),
        extra_bytes=packed_bytes(layer.extra_params, baseline_bits))


def _coded(histogram: list, alphabet: int, symbols: int, fixed: int) -> tuple[int, float]:
    """(bits, mean bits per symbol) of a Huffman-coded stream incl. its table (one length for
    each of the `alphabet` symbols), or of the fixed-length stream when coding does not pay."""
    padded = list(histogram) + [0] * (alphabet - len(histogram))
    data, table, mean = coded_stream_bits(padded, symbols)
    if data + table >= symbols * fixed:
        return symbols * fixed, float(fixed)
    return data + table, mean


def model_size(workload: Workload, *, reference: Workload | None = None,
               baseline_bits: int | None = None, smallest_format: bool = True) -> ModelSize:
    """Bytes of every layer's weights at each stage and the ratio to the reference network's
    dense weights (default: this workload's own dense stage; pass the original network when
    structured pruning or low rank changed the shapes). `smallest_format=False` keeps every
    pruned layer sparse (Deep Compression's convention) even where dense would be smaller."""
    bits = baseline_bits or (workload.precision.weight_bits if workload.precision else FLOAT_BITS)
    sizes = [s for s in (layer_size(layer, bits, smallest_format) for layer in workload.layers)
             if s]
    totals = StageBytes(**{stage: sum(getattr(s.bytes, stage) for s in sizes) for stage in STAGES})
    if reference is not None:
        ref_bits = baseline_bits or (reference.precision.weight_bits if reference.precision
                                     else FLOAT_BITS)
        reference_bytes = sum(packed_bytes(layer.stored_weight_elements, ref_bits)
                              for layer in reference.layers)
    else:
        reference_bytes = totals.dense
    return ModelSize(workload=workload.name, baseline_bits=bits, layers=sizes, totals=totals,
                     extra_bytes=sum(s.extra_bytes for s in sizes),
                     reference_bytes=reference_bytes, ratios=totals.ratio_to(reference_bytes),
                     transforms=list(workload.transforms))
