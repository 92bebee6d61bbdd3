"""Compression as workload transforms, and model size as an output (docs/compression.md).

Each transform is a pure function from a workload to a new, validated workload (the input is
never changed) and appends what it did to `Workload.transforms`:

    from simulator.compress import prune, quantize, share_weights, huffman, model_size
    small = huffman(share_weights(prune(alexnet, 0.1), 16))
    model_size(small).ratios["huffman"]

`apply_block` applies a `compression:` block or the compact string
(`prune=0.9,wbits=4,share=16,huffman,winograd=f4`) in the canonical order.
"""

from simulator.compress.apply import ORDER, apply_block
from simulator.compress.encode import huffman
from simulator.compress.pruning import prune, prune_channels
from simulator.compress.quantization import accumulator_bits_for, quantize, share_weights
from simulator.compress.size import LayerSize, ModelSize, StageBytes, model_size
from simulator.compress.spec import CompressionBlock, block_from_data, parse_compress_string
from simulator.compress.structure import low_rank, winograd

__all__ = ["ORDER", "CompressionBlock", "LayerSize", "ModelSize", "StageBytes",
           "accumulator_bits_for", "apply_block", "block_from_data", "huffman", "low_rank",
           "model_size", "parse_compress_string", "prune", "prune_channels", "quantize",
           "share_weights", "winograd"]
