"""The matrices and vectors a sparse run works on: seeded random ones at a layer's densities, or a
user's pruned weights (already read by `simulator.io.weights`; nothing here does
I/O). Also the optional k-means weight sharing of Han et al., "Deep Compression", ICLR 2016.

Random model (our choice, documented in docs/models/sparse.md):
- weights: row i of W (N x K) keeps each weight independently with probability
  d_i = weight_density x r_i, where the row factors r_i are Gamma-distributed with mean 1 and
  coefficient of variation `row_density_cv` (so a row's non-zero count is negative-binomial:
  over-dispersed, as the rows of a magnitude-pruned matrix are; cv = 0 is the plain Bernoulli
  matrix with binomial rows). Non-zeros are drawn as the gaps between them, which are geometric,
  so the cost is O(nnz) rather than O(N K), and the realization does not depend on the PE
  count (sweeps over PEs compare the same matrix).
- activations: exactly round(activation_density x K) non-zero inputs (at least one), at
  uniformly random positions, so the broadcast count equals the layer's stated density.
"""

from __future__ import annotations

import zlib

import numpy as np

from simulator.core.errors import NpusimError


def layer_rng(seed: int, layer_name: str, stream: int = 0) -> np.random.Generator:
    """A reproducible generator per (arch seed, layer name, stream); independent of layer order."""
    return np.random.default_rng([seed, zlib.crc32(layer_name.encode("utf-8")), stream])


def random_coordinates(rows: int, cols: int, density: float, rng: np.random.Generator,
                       row_density_cv: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Column-major (row, col) coordinates of a random rows x cols matrix at mean `density`.

    With `row_density_cv` = 0 every element is Bernoulli(density), drawn column-major; otherwise
    each row has its own density (see the module docstring) and is drawn row by row, then the
    coordinates are put in column-major order.
    """
    if row_density_cv > 0.0 and density < 1.0:
        return _dispersed_coordinates(rows, cols, density, rng, row_density_cv)
    total = rows * cols
    if density >= 1.0:
        flat = np.arange(total, dtype=np.int64)
    else:
        flat = _geometric_positions(total, density, rng)
    return flat % rows, flat // rows


def _geometric_positions(length: int, density: float, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions of the ones in a Bernoulli(density) sequence of `length` elements."""
    mean = length * density
    chunks: list[np.ndarray] = []
    end = -1
    while end < length - 1:
        draw = int(mean + 6.0 * np.sqrt(mean) + 64)
        pos = end + np.cumsum(rng.geometric(density, size=draw), dtype=np.int64)
        chunks.append(pos)
        end = int(pos[-1])
    flat = np.concatenate(chunks)
    return flat[flat < length]


def row_densities(rows: int, density: float, row_density_cv: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Per-row keep probabilities: density x r_i, r_i ~ Gamma(shape 1/cv^2, scale cv^2) (mean 1,
    coefficient of variation cv), clipped to (0, 1]."""
    shape = 1.0 / row_density_cv ** 2
    factors = rng.gamma(shape, 1.0 / shape, size=rows)
    return np.clip(density * factors, 1e-12, 1.0)


def _dispersed_coordinates(rows: int, cols: int, density: float, rng: np.random.Generator,
                           row_density_cv: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows with Gamma-dispersed densities, each drawn from geometric gaps in one vectorized
    pass (every row gets enough gaps to cross its end with overwhelming probability; a row that
    does not is redrawn on its own)."""
    keep = row_densities(rows, density, row_density_cv, rng)
    expected = cols * keep
    draws = np.ceil(expected + 6.0 * np.sqrt(expected) + 16).astype(np.int64)
    gaps = rng.geometric(np.repeat(keep, draws))
    ends = np.cumsum(draws)
    running = np.cumsum(gaps, dtype=np.int64)
    before_row = np.concatenate(([0], running[ends[:-1] - 1]))
    pos = running - np.repeat(before_row, draws) - 1            # column of each drawn non-zero
    row = np.repeat(np.arange(rows, dtype=np.int64), draws)
    short = np.flatnonzero(running[ends - 1] - before_row < cols)   # never crossed the row's end
    inside = pos < cols
    row, pos = row[inside], pos[inside]
    if short.size:
        redraw = np.isin(row, short, invert=True)
        row, pos = row[redraw], pos[redraw]
        extra = [(np.full(c.size, r, dtype=np.int64), c)
                 for r in short for c in [_geometric_positions(cols, float(keep[r]), rng)]]
        row = np.concatenate([row] + [e[0] for e in extra])
        pos = np.concatenate([pos] + [e[1] for e in extra])
        order = np.lexsort((row, pos))
        return row[order], pos[order]
    # column-major: a stable sort by column keeps the rows ascending (a 16-bit key sorts by radix)
    key = pos.astype(np.uint16) if cols <= 2**16 else pos
    order = np.argsort(key, kind="stable")
    return row[order], pos[order]


def matrix_coordinates(matrix: object, rows: int, cols: int, layer_name: str,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Column-major coordinates of the non-zeros of a user matrix (N out x K in, PyTorch's
    `Linear.weight` layout), given as a dense array or a `SparseWeights` triplet."""
    shape = tuple(getattr(matrix, "shape", ()))
    if shape != (rows, cols):
        raise NpusimError(f"weights matrix has shape {list(shape)} but layer {layer_name!r} needs "
                          f"[{rows}, {cols}] (outputs x inputs)", field=f"{layer_name}.weights_file",
                          fix="save W as (out_features, in_features), like torch Linear.weight; "
                              "for an LSTM stack [W_ih | W_hh] to (4 hidden, input + hidden)")
    if isinstance(matrix, SparseWeights):
        row, col = matrix.row, matrix.col
    else:
        # np.nonzero on the transpose yields (col, row) in column-major order
        col, row = np.nonzero(np.asarray(matrix).T)
    order = np.lexsort((row, col))
    return np.asarray(row, dtype=np.int64)[order], np.asarray(col, dtype=np.int64)[order]


class SparseWeights:
    """A sparse matrix as coordinates and values (what a scipy CSR/CSC/COO .npz holds)."""

    def __init__(self, shape: tuple[int, int], row: np.ndarray, col: np.ndarray,
                 values: np.ndarray) -> None:
        keep = values != 0
        self.shape = (int(shape[0]), int(shape[1]))
        self.row = np.asarray(row, dtype=np.int64)[keep]
        self.col = np.asarray(col, dtype=np.int64)[keep]
        self.values = np.asarray(values)[keep]

    @property
    def nnz(self) -> int:
        return int(self.values.size)


def matrix_values(matrix: object) -> np.ndarray:
    """The non-zero values of a user matrix (for weight sharing)."""
    if isinstance(matrix, SparseWeights):
        return matrix.values.astype(np.float64)
    dense = np.asarray(matrix, dtype=np.float64)
    return dense[dense != 0]


def random_activation_positions(length: int, density: float,
                                rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of the non-zero inputs: round(density x length) of them, at least one.
    The leading-non-zero detector broadcasts them in index order (EIE Sec. IV)."""
    count = min(length, max(1, int(round(density * length))))
    return np.sort(rng.choice(length, size=count, replace=False))


def kmeans_codebook(values: np.ndarray, clusters: int, iterations: int = 30,
                    ) -> tuple[np.ndarray, np.ndarray]:
    """1-D k-means (Lloyd) of the non-zero weights with linear initialisation, as Deep
    Compression (Han et al., ICLR 2016, Sec. 3.2) found best. Returns (codebook, quantized)."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return np.zeros(0), values
    unique = np.unique(values)
    if unique.size <= clusters:                  # every value gets its own codeword: exact
        return unique, values.copy()
    k = clusters
    centers = np.linspace(values.min(), values.max(), k)
    for _ in range(iterations):
        edges = (centers[1:] + centers[:-1]) / 2
        label = np.searchsorted(edges, values)
        sums = np.bincount(label, weights=values, minlength=k)
        counts = np.bincount(label, minlength=k)
        new = np.where(counts > 0, sums / np.maximum(counts, 1), centers)
        for empty in np.flatnonzero(counts == 0):
            # an empty cluster moves to the worst-quantized value (standard Lloyd repair)
            new[empty] = values[np.argmax(np.abs(values - new[label]))]
        new.sort()
        if np.allclose(new, centers):
            break
        centers = new
    label = np.searchsorted((centers[1:] + centers[:-1]) / 2, values)
    return centers, centers[label]


def codebook_error(values: np.ndarray, clusters: int) -> dict[str, float]:
    """RMS and relative error of sharing `clusters` weights among the non-zeros."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0:
        return {"codebook_rms_error": 0.0, "codebook_relative_error": 0.0}
    _, quantized = kmeans_codebook(values, clusters)
    rms = float(np.sqrt(np.mean((values - quantized) ** 2)))
    scale = float(np.sqrt(np.mean(values ** 2)))
    return {"codebook_rms_error": rms, "codebook_relative_error": rms / scale if scale else 0.0}
