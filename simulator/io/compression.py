"""The I/O half of compression: take a workload file's `compression:` block (and a compact
`--compress` string), read the weight files it names for Huffman statistics, and hand both to
simulator.compress, which stays free of file access."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from simulator.compress.apply import apply_block
from simulator.compress.spec import (
    CompressionBlock,
    HuffmanSettings,
    block_from_data,
    parse_compress_string,
)
from simulator.core.workload import Workload


def read_weight_array(path: Path, field: str) -> np.ndarray:
    """A real weight array of any shape (.npy, or .npz with one array / one named weight, or a
    scipy.sparse .npz, made dense)."""
    from simulator.io.weights import read_weight_values  # headers checked, never pickles
    return read_weight_values(path, field)


def _weight_files(block: CompressionBlock, base: Path) -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for name, settings in block.layers.items():
        spec = settings.huffman
        if isinstance(spec, HuffmanSettings) and spec.weights_file:
            path = Path(spec.weights_file)
            path = path if path.is_absolute() else base / path
            arrays[name] = read_weight_array(path, f"compression.layers.{name}.huffman.weights_file")
    return arrays


def apply_compression(workload: Workload, block: Any, source: str | Path,
                      compress: str | None = None) -> Workload:
    """The workload after its file's `compression:` block (None: none) and then the compact
    `compress` string."""
    if block is not None:
        parsed = block_from_data(block, str(source))
        arrays = _weight_files(parsed, Path(source).parent)
        workload = apply_block(workload, parsed, arrays, source=str(source))
    if compress:
        workload = apply_block(workload, parse_compress_string(compress), source="--compress")
    return workload
