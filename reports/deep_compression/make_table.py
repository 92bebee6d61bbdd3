"""Regenerate the Deep Compression storage comparison: npusim's model size (simulator.compress)
against Han, Mao and Dally, "Deep Compression", ICLR 2016 (arXiv:1510.00149), Tables 4 and 5.

Run: python reports/deep_compression/make_table.py   (writes deep_compression.md next to it)

Inputs: the paper's per-layer densities and bit widths (paper_tables.yaml, with their source),
the bundled alexnet (torchvision's single-tower variant) and vgg16 workloads, and the paper's
own AlexNet (alexnet_caffe.yaml, the grouped BVLC model). Each network is pruned to the paper's
per-layer density with its relative-index width, its weights shared in 256 (conv) or 32 (FC)
32-bit values, and Huffman coded with the documented default distributions (docs/compression.md;
not fitted to the paper). Nothing is tuned to match.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from simulator.compress import huffman, model_size, prune, share_weights  # noqa: E402
from simulator.compress.size import ModelSize  # noqa: E402
from simulator.core.workload import Workload  # noqa: E402
from simulator.io.load import load_workload  # noqa: E402

OUT = HERE / "deep_compression.md"
#: (label, workload, paper network, why)
RUNS = (
    ("AlexNet, the paper's (Caffe, grouped)", str(HERE / "alexnet_caffe.yaml"), "alexnet",
     "the network of Table 4: same per-layer weights"),
    ("AlexNet, bundled (torchvision)", "alexnet", "alexnet",
     "the bundled single-tower variant: conv layers of other sizes, same FC layers"),
    ("VGG-16, bundled", "vgg16", "vgg16", "the network of Table 5 (same layers as Caffe's)"),
)


def compress_like_paper(workload: Workload, paper: dict) -> Workload:
    """Pruning to the paper's densities, its index width, 256/32-entry codebooks, Huffman."""
    densities = {name: row["density"] / 100 for name, row in paper["layers"].items()}
    entries = {name: paper["codebook"][workload.layer(name).type] for name in densities}
    pruned = prune(workload, densities, index_bits=paper["index_bits"])
    return huffman(share_weights(pruned, entries), list(densities))


def _err(ours: float, paper: float) -> str:
    return f"{100 * (ours - paper) / paper:+.1f} %"


def _mb(n: int) -> str:
    return f"{n / 1e6:.2f}"


def layer_table(size: ModelSize, paper: dict) -> list[str]:
    lines = ["| layer | weights (paper) | weights (ours) | density | bits w + i (P+Q) | "
             "ours P (MB) | ours P+Q (MB) | ours P+Q+H (MB) | P+Q paper | P+Q ours | error | "
             "P+Q+H paper | P+Q+H ours | error |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for layer in size.layers:
        row = paper["layers"][layer.name]
        dense = layer.bytes.dense
        pq, pqh = 100 * layer.bytes.quantized / dense, 100 * layer.bytes.huffman / dense
        lines.append(
            f"| {layer.name} | {row['weights']} | {layer.weights:,} | {row['density']} % | "
            f"{row['wbits']} + {row['ibits']} | {_mb(layer.bytes.pruned)} | "
            f"{_mb(layer.bytes.quantized)} | {_mb(layer.bytes.huffman)} | {row['rate_pq']} % | "
            f"{pq:.2f} % | {_err(pq, row['rate_pq'])} | {row['rate_pqh']} % | {pqh:.2f} % | "
            f"{_err(pqh, row['rate_pqh'])} |")
    total = paper["total"]
    t = size.totals
    pq, pqh = 100 * t.quantized / t.dense, 100 * t.huffman / t.dense
    nonzero = sum(l.nonzeros for l in size.layers) / sum(l.weights for l in size.layers)
    lines.append(
        f"| **total** | {total['weights']} | {sum(l.weights for l in size.layers):,} | "
        f"{total['density']} % (ours {100 * nonzero:.1f} %) | | {_mb(t.pruned)} | "
        f"{_mb(t.quantized)} | {_mb(t.huffman)} | {total['rate_pq']} % | {pq:.2f} % | "
        f"{_err(pq, total['rate_pq'])} | {total['rate_pqh']} % | {pqh:.2f} % | "
        f"{_err(pqh, total['rate_pqh'])} |")
    return lines


def huffman_table(size: ModelSize, paper: dict) -> list[str]:
    lines = ["| layer | weight bits P+Q+H (paper) | ours | index bits P+Q+H (paper) | ours | "
             "padding zeros (ours, % of entries) |",
             "|---|---:|---:|---:|---:|---:|"]
    for layer in size.layers:
        row = paper["layers"][layer.name]
        w = f"{layer.huffman_weight_bits:.1f}" if layer.huffman_weight_bits else "-"
        i = f"{layer.huffman_index_bits:.1f}" if layer.huffman_index_bits else "-"
        pad = 100 * layer.padding / (layer.nonzeros + layer.padding)
        lines.append(f"| {layer.name} | {row['wbits_h']} | {w} | {row['ibits_h']} | {i} | "
                     f"{pad:.1f} % |")
    return lines


def main() -> None:
    paper = yaml.safe_load((HERE / "paper_tables.yaml").read_text())
    summary = ["| network | stage | paper | ours | error | ours, smallest format |",
               "|---|---|---:|---:|---:|---:|"]
    sections: list[str] = []
    for label, name, key, why in RUNS:
        table = paper["networks"][key]
        workload = load_workload(name)
        compressed = compress_like_paper(workload, table)
        size = model_size(compressed, smallest_format=False)       # sparse, as the paper
        smallest = model_size(compressed)
        total = table["total"]
        for stage, ratio_key in (("quantized", "ratio_pq"), ("huffman", "ratio_pqh")):
            ours = size.ratios[stage]
            stage_label = "P+Q" if stage == "quantized" else "P+Q+H"
            summary.append(f"| {label} | {stage_label} | {total[ratio_key]}x | {ours:.1f}x | "
                           f"{_err(ours, total[ratio_key])} | {smallest.ratios[stage]:.1f}x |")
        sections += ["", f"## {label}", "",
                     f"Paper: Table {table['table']} ({why}). Dense 32-bit weights "
                     f"{size.totals.dense / 1e6:.1f} MB; ours after P+Q "
                     f"{size.totals.quantized / 1e6:.2f} MB ({size.ratios['quantized']:.1f}x), "
                     f"after P+Q+H {size.totals.huffman / 1e6:.2f} MB "
                     f"({size.ratios['huffman']:.1f}x). Compress rates are percent of the "
                     "layer's dense 32-bit size, as in the paper.", ""]
        sections += layer_table(size, table)
        sections += ["", "Huffman coding, mean bits per stored symbol (ours: default "
                     "distributions, not fitted):", ""]
        sections += huffman_table(size, table)
    text = ["# Deep Compression storage: npusim vs Han, Mao and Dally, ICLR 2016", "",
            "Regenerate with `python reports/deep_compression/make_table.py`. Reference: "
            f"{paper['source']} (per-layer figures in `paper_tables.yaml`). Every layer is "
            "pruned to the paper's density, stored in relative-indexed CSC/CSR with padding "
            "zeros (4-bit indices for AlexNet, 5-bit for VGG-16), its weights shared in 256 "
            "(conv) or 32 (FC) 32-bit values, then Huffman coded with the documented default "
            "distributions (docs/compression.md). Ratios are over the weights (biases apart), "
            "as in the paper.", "", "## Summary (compression ratio, dense 32-bit / stored)", ""]
    text += summary + sections
    text += ["", "## Reading the errors", "",
             "- P+Q: the stored bits are entries x (weight bits + index bits) + pointers + "
             "codebook, so the only modelled quantity is the number of padding zeros. Ours come "
             "from i.i.d. non-zero positions (compress/storage.py); at 9 % density with 4-bit "
             "indices that pads 28 % of the non-zeros, while the paper's 3.0 % for AlexNet's "
             "FC6/FC7 (9 x 0.09 / 32 = 2.53 % without padding) implies about 19 %: real "
             "pruning masks are not i.i.d. The FC layers hold 96 % of AlexNet's weights, so "
             "this sets the total. Conv layers, where padding is negligible, agree to within "
             "the rounding of the published densities.",
             "- P+Q+H: the paper codes measured symbol histograms; ours are the default "
             "distributions (pruned Gaussian weights on a linear codebook, geometric zero runs), "
             "shown next to the paper's figure as the issue asks, not fitted. Pass measured "
             "histograms or a real `.npy` of weights (`huffman: {weights_file: ...}`) for "
             "exact code lengths.",
             "- Every pruned layer is stored sparse here, as in the paper. By default "
             "`model_size` stores each layer in its smaller format at each stage (so pruning "
             "never adds bytes): AlexNet's conv1 at 84 % density is smaller dense after "
             "quantization (8 bits vs 0.84 x (8 + 4) = 10.1 bits per weight), and a dense "
             "Huffman stream (zeros as one frequent symbol) beats sparse coding for the "
             "denser conv layers; the last column of the summary gives that ratio."]
    OUT.write_text("\n".join(text) + "\n", encoding="utf-8")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
