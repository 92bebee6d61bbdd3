"""Huffman coding of stored weight symbols and sparse relative indices: the code itself, the
documented default symbol distributions, and histograms measured from a real weight matrix.

The code is a real Huffman code (Huffman 1952) built with a heap; a stream of symbols with
counts c_i then takes sum_i c_i x len_i bits exactly. The decoder needs the code: we store it
canonically, as one code length per symbol of the alphabet, each in ceil(log2(max_len + 1))
bits (DEFLATE, RFC 1951 Sec. 3.2.2, stores a canonical code the same way). A stream whose
coded size plus table is not smaller than fixed-length coding is kept fixed-length (a real
encoder's "stored" fallback), so Huffman never makes a layer larger.

Default distributions (used when no histogram or weight file is given; not fitted to any paper):
- weight symbols: weights ~ Normal(0, 1); magnitude pruning to density d keeps |w| > t with
  t = Phi^-1(1 - d/2); the L levels (codebook entries, or 2^bits quantization levels) are a
  linear codebook over [-w_max, w_max] (Deep Compression's linear initialisation, Sec. 3.2),
  with w_max = Phi^-1(1 - 1/(2n)) the magnitude one of the layer's n weights is expected to
  exceed; each surviving weight maps to the nearest level. Padding zeros of the sparse format
  (a fraction z of the entries) take the level nearest zero. Hence a bimodal histogram, as in
  Deep Compression's Fig. 5.
- relative indices (b bits, R = 2^b): non-zero positions i.i.d. Bernoulli(d), so the zero run
  before a non-zero is geometric, P(run = g) = d (1-d)^g; a run g is stored as floor(g / R)
  padding entries with index R - 1 and a final index g mod R. Per non-zero that is
  d (1-d)^s / (1 - (1-d)^R) of symbol s in [0, R) plus (1-d)^R / (1 - (1-d)^R) padding symbols.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from statistics import NormalDist

import numpy as np

_NORMAL = NormalDist()


def code_lengths(weights: Sequence[float]) -> list[int]:
    """Huffman code length of every symbol (0 for symbols of weight 0; a lone symbol gets 1)."""
    live = [i for i, w in enumerate(weights) if w > 0]
    lengths = [0] * len(weights)
    if len(live) == 1:
        lengths[live[0]] = 1
    if len(live) <= 1:
        return lengths
    # heap of (weight, tie-breaker, symbols under this node); merging deepens every symbol
    heap = [(float(weights[i]), n, [i]) for n, i in enumerate(live)]
    heapq.heapify(heap)
    counter = len(heap)
    while len(heap) > 1:
        w1, _, s1 = heapq.heappop(heap)
        w2, _, s2 = heapq.heappop(heap)
        for symbol in s1:
            lengths[symbol] += 1
        for symbol in s2:
            lengths[symbol] += 1
        heapq.heappush(heap, (w1 + w2, counter, s1 + s2))
        counter += 1
    return lengths


def table_bits(lengths: Sequence[int]) -> int:
    """Bits to store a canonical Huffman code: one length per symbol of the alphabet."""
    longest = max(lengths, default=0)
    return len(lengths) * max(1, math.ceil(math.log2(longest + 1)))


def fixed_bits(alphabet: int) -> int:
    """Bits per symbol of a fixed-length code for `alphabet` symbols."""
    return max(1, math.ceil(math.log2(alphabet)))


def coded_stream_bits(histogram: Sequence[float], symbols: int) -> tuple[int, int, float]:
    """(data bits, table bits, mean bits per symbol) to Huffman-code `symbols` symbols drawn
    from `histogram` (counts or probabilities). When the histogram's counts add up to
    `symbols`, the data bits are exact: sum count_i x len_i."""
    lengths = code_lengths(histogram)
    total = float(sum(histogram))
    if total <= 0 or symbols <= 0:
        return 0, table_bits(lengths), 0.0
    mean = sum(c * n for c, n in zip(histogram, lengths)) / total
    if math.isclose(total, symbols) and all(float(c).is_integer() for c in histogram):
        data = int(sum(int(c) * n for c, n in zip(histogram, lengths)))
    else:
        data = math.ceil(symbols * mean - 1e-9)
    return data, table_bits(lengths), mean


def entropy_bits(histogram: Sequence[float]) -> float:
    """Shannon entropy per symbol (the lower bound a Huffman code is within 1 bit of)."""
    total = float(sum(histogram))
    return -sum((c / total) * math.log2(c / total) for c in histogram if c > 0)


# ---- default distributions ---------------------------------------------------------------
def default_weight_distribution(levels: int, density: float, elements: int,
                                zero_fraction: float = 0.0) -> list[float]:
    """Probability of each of `levels` linear-codebook symbols for magnitude-pruned Gaussian
    weights (module docstring), with `zero_fraction` of the symbols being padding zeros."""
    if levels < 2:
        return [1.0] * levels
    threshold = _NORMAL.inv_cdf(1 - density / 2) if density < 1 else 0.0
    w_max = _NORMAL.inv_cdf(1 - 1 / (2 * max(elements, 2)))
    w_max = max(w_max, threshold * (1 + 1e-9) + 1e-9)
    step = 2 * w_max / (levels - 1)
    centres = [-w_max + j * step for j in range(levels)]
    edges = [-math.inf] + [c + step / 2 for c in centres[:-1]] + [math.inf]

    def kept_mass(lo: float, hi: float) -> float:
        # mass of Normal(0,1) on [lo, hi] outside (-threshold, threshold)
        mass = 0.0
        for a, b in ((lo, min(hi, -threshold)), (max(lo, threshold), hi)):
            if b > a:
                mass += _NORMAL.cdf(b) - _NORMAL.cdf(a)
        return mass

    masses = [kept_mass(edges[j], edges[j + 1]) for j in range(levels)]
    kept = sum(masses)
    probs = [(1 - zero_fraction) * m / kept for m in masses]
    nearest_zero = min(range(levels), key=lambda j: abs(centres[j]))
    probs[nearest_zero] += zero_fraction
    return probs


def default_index_distribution(index_bits: int, density: float) -> list[float]:
    """Probability of each relative-index value for i.i.d. Bernoulli(density) non-zero
    positions, padding entries included (module docstring)."""
    run = 1 << index_bits
    q = 1.0 - density
    tail = q ** run
    per_nonzero = [density * q ** s / (1 - tail) for s in range(run)]
    per_nonzero[run - 1] += tail / (1 - tail)
    total = sum(per_nonzero)
    return [p / total for p in per_nonzero]


# ---- histograms from a real matrix -------------------------------------------------------
def weight_histogram(values: np.ndarray, levels: int, padding: int = 0) -> list[int]:
    """Counts of each of `levels` symbols for the non-zero `values` (+ `padding` zeros): the
    distinct values themselves when there are at most `levels` of them (already shared or
    quantized weights), else a linear codebook over [min, max] with nearest-level assignment
    (Deep Compression's initialisation, without the k-means fine-tuning)."""
    values = np.asarray(values, dtype=np.float64).ravel()
    if values.size == 0:
        centres = np.zeros(1)
        symbols = np.zeros(0, dtype=np.int64)
    else:
        distinct = np.unique(values)
        if distinct.size <= levels:
            centres = distinct
            symbols = np.searchsorted(distinct, values)
        else:
            centres = np.linspace(values.min(), values.max(), levels)
            symbols = np.searchsorted((centres[1:] + centres[:-1]) / 2, values)
    counts = np.bincount(symbols, minlength=levels)[:levels].astype(np.int64)
    if padding:
        counts[int(np.argmin(np.abs(centres)))] += padding
    return [int(c) for c in counts]


def index_histogram(columns: np.ndarray, index_bits: int) -> tuple[list[int], int]:
    """(counts of each relative-index value, padding entries) for a 0/1 mask whose columns are
    the CSC columns (column j = mask[:, j]): per non-zero, floor(run / R) paddings with index
    R - 1 and a final index run mod R; trailing zeros of a column cost nothing."""
    run = 1 << index_bits
    mask = np.asarray(columns) != 0
    col_major = mask.T                                   # one row per CSC column
    col, pos = np.nonzero(col_major)
    if pos.size == 0:
        return [0] * run, 0
    first = np.r_[True, col[1:] != col[:-1]]
    previous = np.where(first, -1, np.r_[-1, pos[:-1]])
    gaps = pos - previous - 1
    counts = np.bincount(gaps % run, minlength=run).astype(np.int64)
    padding = int((gaps // run).sum())
    counts[run - 1] += padding
    return [int(c) for c in counts], padding
