"""How a pruned layer's weights are stored: relative-indexed compressed sparse columns, as EIE
(Han et al., ISCA 2016, Sec. III-B) and Deep Compression (Han, Mao and Dally, ICLR 2016, Sec. 2
and Fig. 2) store them.

The weights are viewed as a matrix W of (outputs x inputs): a conv's filters (F x C/g kh kw;
a Winograd conv's transformed filters F x C/g (m+2)^2), a linear layer's (out x in), an LSTM's
stacked gates (4H x (I + H)), a weight matmul's (count N x K). In CSC each column (one input)
is a list of entries (weight symbol, relative index), the index counting the zeros since the
previous entry of the column, in b bits (R = 2^b). A zero run of g >= R needs floor(g / R)
padding entries (a stored zero whose index is R - 1); trailing zeros of a column cost nothing
because the next column pointer ends it. Column pointers: (columns + 1) of them, each
ceil(log2(entries + 1)) bits (the smallest width that can address every entry; the paper's
"2a + n + 1 numbers" with a = entries, n = columns). CSR is the same with rows and columns
swapped; we store each layer in whichever of the two is smaller (a 10 x 4096 classifier in CSR,
for example, where CSC would spend more on 4097 pointers than on the weights).

Counts for a layer given only its density are expectations for i.i.d. Bernoulli(d) positions:
E[padding per column of length L] = d x sum_{m >= 1, mR <= L-1} (1-d)^(mR) (L - mR) (the
closed form of the sum over positions in kinds/sparse/csc.py: each non-zero at position i pads
floor(g/R) with P(g >= mR) = (1-d)^(mR) for mR <= i). Non-zeros: round(d x elements).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LinearLayer, LstmLayer, MatmulLayer

DEFAULT_INDEX_BITS = 4


@dataclass(frozen=True)
class SparseLayout:
    """Expected entry counts of one layer's weights in a relative-indexed sparse format."""

    orientation: Literal["csc", "csr"]   # csc: a column per input (EIE); csr: a row per output
    columns: int                         # compressed columns (csc) or rows (csr)
    column_length: int
    nonzeros: int
    padding: int
    index_bits: int

    @property
    def entries(self) -> int:
        """Stored entries: non-zeros plus padding zeros."""
        return self.nonzeros + self.padding

    @property
    def pointer_bits(self) -> int:
        """Bits of the (columns + 1) pointers into the entry array."""
        width = max(1, math.ceil(math.log2(self.entries + 1)))
        return (self.columns + 1) * width

    def bits(self, symbol_bits: int) -> int:
        """Stored bits with `symbol_bits` per weight symbol (entries, indices, pointers)."""
        return self.entries * (symbol_bits + self.index_bits) + self.pointer_bits


def weight_matrix_shape(layer: LayerBase) -> tuple[int, int]:
    """(outputs, inputs) of the layer's stored weight matrix (module docstring)."""
    elements = layer.stored_weight_elements
    if isinstance(layer, ConvLayer):
        return layer.out_channels, elements // layer.out_channels
    if isinstance(layer, LinearLayer):
        return layer.out_features, layer.features_in
    if isinstance(layer, LstmLayer):
        return 4 * layer.hidden_size, layer.features_in + layer.hidden_size
    if isinstance(layer, MatmulLayer):
        return layer.n * layer.count, layer.k
    return (1, elements) if elements else (0, 0)


def expected_padding(length: int, density: float, index_bits: int) -> float:
    """Expected padding entries in one column of `length` i.i.d. Bernoulli(density) weights."""
    run = 1 << index_bits
    q = 1.0 - density
    if q <= 0.0:
        return 0.0
    return density * sum(q ** (m * run) * (length - m * run)
                         for m in range(1, (length - 1) // run + 1))


def _layout(orientation: Literal["csc", "csr"], columns: int, length: int, density: float,
            index_bits: int) -> SparseLayout:
    elements = columns * length
    nonzeros = min(elements, max(1, round(density * elements)))
    padding = round(columns * expected_padding(length, density, index_bits))
    return SparseLayout(orientation, columns, length, nonzeros, padding, index_bits)


def sparse_layout(layer: LayerBase, symbol_bits: int, index_bits: int | None = None,
                  orientation: Literal["csc", "csr"] | None = None) -> SparseLayout:
    """The layer's expected sparse layout at its weight_density: CSC or CSR, whichever stores
    fewer bits with `symbol_bits` per weight symbol (or the `orientation` asked for)."""
    bits = index_bits or layer.sparse_index_bits or DEFAULT_INDEX_BITS
    outputs, inputs = weight_matrix_shape(layer)
    options = {"csc": _layout("csc", inputs, outputs, layer.weight_density, bits),
               "csr": _layout("csr", outputs, inputs, layer.weight_density, bits)}
    if orientation is not None:
        return options[orientation]
    return min(options.values(), key=lambda lay: (lay.bits(symbol_bits), lay.orientation))
