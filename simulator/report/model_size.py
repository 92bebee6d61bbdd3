"""A Deep-Compression-style model-size table (Han, Mao and Dally, ICLR 2016, Tables 4-5) in
Markdown: per layer the stored weights, density, bits per weight and index, bytes after each
stage and the compression ratio; totals with the ratio to the reference network."""

from __future__ import annotations

from simulator.compress.size import ModelSize
from simulator.report.units import nbytes

_STAGE_LABELS = {"dense": "dense", "pruned": "P", "quantized": "P+Q", "huffman": "P+Q+H"}


def _bits(fixed: int | None, coded: float | None) -> str:
    if fixed is None:
        return "-"
    return f"{fixed}" if coded is None else f"{fixed} -> {coded:.1f}"


def _ratio(value: float) -> str:
    return f"{value:.1f}x" if value != float("inf") else "inf"


def model_size_markdown(size: ModelSize, title: str | None = None) -> str:
    """The table for one workload's model size."""
    stages = list(_STAGE_LABELS)
    lines = [f"### {title or 'Model size: ' + size.workload}", "",
             f"Baseline {size.baseline_bits}-bit weights; bytes of stored weights after each "
             "stage (P: pruning, Q: quantization / sharing, H: Huffman coding), bias and "
             "BatchNorm terms apart. Bits: fixed -> Huffman mean.", "",
             "| layer | weights | density | format | weight bits | index bits | "
             + " | ".join(_STAGE_LABELS[s] for s in stages) + " | ratio |",
             "|---|---:|---:|---|---:|---:|" + "---:|" * len(stages) + "---:|"]
    for layer in size.layers:
        row = [layer.name, f"{layer.weights:,}", f"{100 * layer.weight_density:.1f} %",
               layer.format, _bits(layer.symbol_bits, layer.huffman_weight_bits),
               _bits(layer.index_bits, layer.huffman_index_bits)]
        row += [nbytes(getattr(layer.bytes, s)) for s in stages]
        final = layer.bytes.huffman
        row.append(_ratio(layer.bytes.dense / final) if final else "inf")
        lines.append("| " + " | ".join(row) + " |")
    totals = ["**total**", f"{sum(l.weights for l in size.layers):,}", "", "", "", ""]
    totals += [f"**{nbytes(getattr(size.totals, s))}**" for s in stages]
    totals.append(f"**{_ratio(size.ratios['huffman'])}**")
    lines.append("| " + " | ".join(totals) + " |")
    ratio_text = ", ".join(f"{_STAGE_LABELS[s]} {_ratio(size.ratios[s])}" for s in stages)
    lines += ["", f"Compression ratio against {nbytes(size.reference_bytes)} of dense weights: "
              f"{ratio_text}. Bias and BatchNorm: {nbytes(size.extra_bytes)} (not compressed, "
              "not in the ratios)."]
    if size.transforms:
        lines += ["", "Transforms applied: " + "; ".join(t.label for t in size.transforms) + "."]
    return "\n".join(lines) + "\n"
