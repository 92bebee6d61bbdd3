"""What a systolic chip makes of a compressed layer (docs/compression.md section 8).

- Pruning (`weight_density`, `activation_density`): a dense array multiplies the zeros, so MACs
  and cycles stay those of the dense layer, unless the arch's `datapath.zero_skipping` covers the
  operand: then only the non-zero products are executed (MAC energy) and the streamed rows of
  every fold shrink by the density (ideal load balance: an upper bound on the gain).
- Stored weights travel from DRAM in the most compressed form the chip can decode
  (`datapath.weight_decoders`): sparse indices (`sparse`), codebook indices plus the codebook
  (`codebook`), Huffman streams (`huffman`), at the sizes `simulator.compress.size.layer_size`
  gives for each stage. Without the decoder a stage is undone before the chip sees the weights:
  they are stored dense at the width the MACs use (the codebook's value width for shared
  weights). Plain quantization (`weight_bits`) needs no decoder.
- Each compression the chip cannot use gives one warning line per run (engine.py).
"""

from __future__ import annotations

from typing import NamedTuple

from simulator.core.geometry import packed_bytes
from simulator.core.layer_base import LayerBase
from simulator.kinds.systolic.arch import SystolicArch


class LayerCompression(NamedTuple):
    """How a layer's compression shows on this chip. (A named tuple: one is built per weighted
    layer and run, at a fraction of a frozen dataclass's cost.)"""

    weight_bytes: float          # stored weight bytes moved from DRAM (all groups)
    executed_fraction: float     # MACs the datapath executes (1.0: dense)
    form: str                    # the stored form that travels (dense, csc, codebook, huffman...)
    unused: tuple[str, ...]      # compression keys the chip cannot use (see UNUSED_TEXT)


UNUSED_TEXT = {
    "prune": "pruned weights: the dense array multiplies the zeros (no datapath.zero_skipping "
             "for weights)",
    "sparse": "pruned weights move dense (no 'sparse' in datapath.weight_decoders)",
    "codebook": "shared (codebook) weights move decoded, at the codebook's value width (no "
                "'codebook' in datapath.weight_decoders)",
    "huffman": "Huffman-coded weights move decoded (no 'huffman' in datapath.weight_decoders)",
}


def _skips(arch: SystolicArch, operand: str) -> bool:
    mode = arch.datapath.zero_skipping
    return mode == "both" or mode == operand


def layer_compression(layer: LayerBase, arch: SystolicArch, mac_weight_bits: int,
                      elements: int) -> LayerCompression:
    """Stored bytes and executed MAC fraction of one layer with `elements` stored weights (see
    the module docstring)."""
    dense = float(packed_bytes(elements, mac_weight_bits))
    executed = 1.0
    unused: list[str] = []
    density = layer.weight_density
    if density < 1:
        if _skips(arch, "weights"):
            executed *= density
        else:
            unused.append("prune")
    if layer.activation_density < 1 and _skips(arch, "activations"):
        executed *= layer.activation_density
    compressed = (density < 1 or layer.codebook_entries is not None or layer.huffman is not None)
    if not compressed or not elements:
        return LayerCompression(dense, executed, "dense", tuple(unused))

    from simulator.compress.size import layer_size  # only compressed layers need it

    decoders = set(arch.datapath.weight_decoders)
    size = layer_size(layer, mac_weight_bits)
    formats = size.stage_formats
    sparse_ok = lambda stage: formats[stage] == "dense" or "sparse" in decoders  # noqa: E731
    codebook_ok = layer.codebook_entries is None or "codebook" in decoders
    chosen, form = dense, "dense"
    if sparse_ok("pruned") and size.bytes.pruned < chosen:
        chosen, form = float(size.bytes.pruned), formats["pruned"]
    if codebook_ok and sparse_ok("quantized") and size.bytes.quantized < chosen:
        chosen = float(size.bytes.quantized)
        form = formats["quantized"] + ("+codebook" if layer.codebook_entries else "")
    if (layer.huffman is not None and "huffman" in decoders and codebook_ok
            and sparse_ok("huffman") and size.bytes.huffman < chosen):
        chosen, form = float(size.bytes.huffman), formats["huffman"] + "+huffman"
    if density < 1 and formats["pruned"] != "dense" and "sparse" not in decoders:
        unused.append("sparse")
    if layer.codebook_entries is not None and "codebook" not in decoders:
        unused.append("codebook")
    if layer.huffman is not None and "huffman" not in decoders:
        unused.append("huffman")
    return LayerCompression(chosen, executed, form, tuple(unused))
