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

A matrix is kept as a `Pattern` (positions only, compressed along rows or columns, 2 or 4 bytes
per non-zero) and generated in windows of about `WINDOW_ELEMENTS` draws, so the transient memory
does not grow with the matrix. Windows draw the same random numbers in the same order as one
big draw would: the matrices are those of the earlier one-shot generator, bit for bit.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from simulator.core.errors import NpusimError


def layer_rng(seed: int, layer_name: str, stream: int = 0) -> np.random.Generator:
    """A reproducible generator per (arch seed, layer name, stream); independent of layer order."""
    return np.random.default_rng([seed, zlib.crc32(layer_name.encode("utf-8")), stream])


#: Random draws (or elements of a user's dense matrix) handled at once; bounds the transient
#: memory of generating a matrix to about 40 bytes x this (80 MB).
WINDOW_ELEMENTS = 1 << 21


def index_dtype(extent: int) -> type[np.unsignedinteger]:
    """The narrowest unsigned type holding indices 0..extent-1 (uint16 for EIE-sized layers)."""
    return np.uint16 if extent <= 1 << 16 else np.uint32


@dataclass(frozen=True, eq=False)
class Pattern:
    """Where the non-zeros of a rows x cols matrix are (values are not kept), compressed along
    one axis: line i (a row if `by_row`, else a column) holds the ascending minor indices
    `index[ptr[i]:ptr[i + 1]]`, as in CSR / CSC. The arrays are read-only."""

    rows: int
    cols: int
    by_row: bool
    ptr: np.ndarray       # int64, lines + 1
    index: np.ndarray     # uint16 / uint32 minor indices

    def __post_init__(self) -> None:
        self.ptr.flags.writeable = False
        self.index.flags.writeable = False

    @property
    def nnz(self) -> int:
        return int(self.ptr[-1])

    @property
    def lines(self) -> int:
        return self.rows if self.by_row else self.cols

    @property
    def nbytes(self) -> int:
        return self.ptr.nbytes + self.index.nbytes

    def windows(self, elements: int = WINDOW_ELEMENTS) -> Iterator[tuple[int, int]]:
        """Consecutive line ranges [a, b) of about `elements` non-zeros each (whole lines)."""
        return _line_windows(self.ptr, elements)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """(row, col) of every non-zero as int64, column-major (by column, then row)."""
        major = np.repeat(np.arange(self.lines, dtype=np.int64), np.diff(self.ptr))
        minor = self.index.astype(np.int64)
        if not self.by_row:
            return minor, major
        # a stable sort by column keeps the rows ascending (a 16-bit key sorts by radix)
        key = self.index if self.index.dtype == np.uint16 else minor
        order = np.argsort(key, kind="stable")
        return major[order], minor[order]


def _line_windows(ptr: np.ndarray, elements: int) -> Iterator[tuple[int, int]]:
    """Cut lines 0..len(ptr)-2 into ranges of about `elements` elements (ptr: running counts)."""
    lines = ptr.size - 1
    total = int(ptr[-1])
    targets = np.arange(elements, total, elements, dtype=np.int64)
    cuts = np.unique(np.searchsorted(ptr, targets, side="left"))
    bounds = [0, *(int(c) for c in cuts if 0 < c < lines), lines]
    return ((a, b) for a, b in zip(bounds[:-1], bounds[1:]) if b > a)


def random_pattern(rows: int, cols: int, density: float, rng: np.random.Generator,
                   row_density_cv: float = 0.0) -> Pattern:
    """A random rows x cols matrix at mean `density` (see the module docstring).

    With `row_density_cv` = 0 every element is Bernoulli(density), drawn column-major (a CSC
    pattern); otherwise each row has its own density and is drawn row by row (a CSR pattern).
    """
    if row_density_cv > 0.0 and density < 1.0:
        return _dispersed_pattern(rows, cols, density, rng, row_density_cv)
    if density >= 1.0:
        ptr = np.arange(cols + 1, dtype=np.int64) * rows
        index = np.tile(np.arange(rows, dtype=index_dtype(rows)), cols)
        return Pattern(rows, cols, False, ptr, index)
    return _bernoulli_pattern(rows, cols, density, rng)


def random_coordinates(rows: int, cols: int, density: float, rng: np.random.Generator,
                       row_density_cv: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Column-major (row, col) coordinates of `random_pattern(...)`."""
    return random_pattern(rows, cols, density, rng, row_density_cv).coordinates()


def _bernoulli_pattern(rows: int, cols: int, density: float,
                       rng: np.random.Generator) -> Pattern:
    """Column-major positions from geometric gaps over the flat index col x rows + row, drawn
    `WINDOW_ELEMENTS` at a time (the gaps are one sequence, however it is cut)."""
    total = rows * cols
    counts = np.zeros(cols, dtype=np.int64)
    pieces: list[np.ndarray] = []
    end = -1
    kind = index_dtype(rows)
    while end < total - 1:
        pos = end + np.cumsum(rng.geometric(density, size=WINDOW_ELEMENTS), dtype=np.int64)
        end = int(pos[-1])
        if end >= total:
            pos = pos[:np.searchsorted(pos, total)]
        if pos.size:
            col, row = np.divmod(pos, rows)
            first = int(col[0])
            counts[first:int(col[-1]) + 1] += np.bincount(col - first)
            pieces.append(row.astype(kind))
    ptr = np.zeros(cols + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    index = np.concatenate(pieces) if pieces else np.zeros(0, dtype=kind)
    return Pattern(rows, cols, False, ptr, index)


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


#: below this coefficient of variation the per-row factors are exactly 1 (see row_densities)
_MIN_SPREAD_CV = 1e-8


def row_densities(rows: int, density: float, row_density_cv: float,
                  rng: np.random.Generator) -> np.ndarray:
    """Per-row keep probabilities: density x r_i, r_i ~ Gamma(shape 1/cv^2, scale cv^2) (mean 1,
    coefficient of variation cv), clipped to (0, 1]. Below cv = 1e-8 every factor is 1, the
    cv -> 0 limit (the Gamma's spread is below float resolution, and 1 / cv^2 overflows: a
    cv of 1e-300 divided by zero, found by the thorough fuzz profile)."""
    if row_density_cv < _MIN_SPREAD_CV:
        return np.full(rows, float(np.clip(density, 1e-12, 1.0)))
    shape = 1.0 / row_density_cv ** 2
    factors = rng.gamma(shape, 1.0 / shape, size=rows)
    return np.clip(density * factors, 1e-12, 1.0)


def draws_per_row(expected: np.ndarray) -> np.ndarray:
    """Geometric gaps drawn for a row expecting `expected` non-zeros: enough to cross the row's
    end with overwhelming probability (6 standard deviations and 16 more)."""
    return np.ceil(expected + 6.0 * np.sqrt(expected) + 16).astype(np.int64)


def _dispersed_pattern(rows: int, cols: int, density: float, rng: np.random.Generator,
                       row_density_cv: float) -> Pattern:
    """Rows with Gamma-dispersed densities, each drawn from geometric gaps, whole rows at a time
    in windows of about `WINDOW_ELEMENTS` draws. A row whose draws do not cross its end (never
    seen in practice) is redrawn on its own after all rows, in row order."""
    keep = row_densities(rows, density, row_density_cv, rng)
    draws = draws_per_row(cols * keep)
    kind = index_dtype(cols)
    counts = np.zeros(rows, dtype=np.int64)
    pieces: list[np.ndarray] = []
    short_rows: list[np.ndarray] = []
    bounds = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(draws, out=bounds[1:])
    for a, b in _line_windows(bounds, WINDOW_ELEMENTS):
        drawn = draws[a:b]
        running = _row_gaps(rng, keep[a:b], drawn)
        np.cumsum(running, out=running)
        ends = bounds[a + 1:b + 1] - bounds[a]
        before = np.zeros(b - a, dtype=np.int64)          # running total before each row
        before[1:] = running[ends[:-1] - 1]
        short = running[ends - 1] - before < cols          # never crossed the row's end
        running -= np.repeat(before + 1, drawn)            # column of each drawn non-zero
        inside = running < cols
        if short.any():
            inside &= np.repeat(~short, drawn)
            short_rows.append(np.flatnonzero(short) + a)
        counts[a:b] = np.add.reduceat(inside, ends - drawn, dtype=np.int64)
        pieces.append(running[inside].astype(kind))
    index = np.concatenate(pieces) if pieces else np.zeros(0, dtype=kind)
    if short_rows:
        redo = np.concatenate(short_rows)
        redrawn = [_geometric_positions(cols, float(keep[r]), rng) for r in redo]
        index, counts = _splice_rows(index, counts, redo, redrawn, kind)
    ptr = np.zeros(rows + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    return Pattern(rows, cols, True, ptr, index)


#: Rows drawing at least this many gaps on average are drawn one numpy call per row.
ROW_CALL_MIN_DRAWS = 256


def _row_gaps(rng: np.random.Generator, keep: np.ndarray, draws: np.ndarray) -> np.ndarray:
    """draws[i] geometric(keep[i]) gaps for each row i, in row order: the numbers
    rng.geometric(np.repeat(keep, draws)) gives (numpy draws each with the same routine, array
    or scalar p), but for long rows a scalar-p call per row is faster than the array path."""
    total = int(draws.sum())
    if total < ROW_CALL_MIN_DRAWS * draws.size:
        return rng.geometric(np.repeat(keep, draws)).astype(np.int64, copy=False)
    gaps = np.empty(total, dtype=np.int64)
    start = 0
    for p, n in zip(keep.tolist(), draws.tolist()):
        gaps[start:start + n] = rng.geometric(p, size=n)
        start += n
    return gaps


def _splice_rows(index: np.ndarray, counts: np.ndarray, redo: np.ndarray,
                 redrawn: list[np.ndarray], kind: type) -> tuple[np.ndarray, np.ndarray]:
    """Put the redrawn rows `redo` (ascending, currently empty) into a CSR index array."""
    counts = counts.copy()
    counts[redo] = [r.size for r in redrawn]
    is_redone = np.zeros(counts.size, dtype=bool)
    is_redone[redo] = True
    slot = np.repeat(is_redone, counts)
    out = np.empty(int(counts.sum()), dtype=kind)
    out[~slot] = index
    out[slot] = np.concatenate(redrawn).astype(kind)
    return out, counts


def check_matrix_shape(matrix: object, rows: int, cols: int, layer_name: str) -> None:
    """A user matrix must be N out x K in (PyTorch's `Linear.weight` layout)."""
    shape = tuple(getattr(matrix, "shape", ()))
    if shape != (rows, cols):
        raise NpusimError(f"weights matrix has shape {list(shape)} but layer {layer_name!r} needs "
                          f"[{rows}, {cols}] (outputs x inputs)", field=f"{layer_name}.weights_file",
                          fix="save W as (out_features, in_features), like torch Linear.weight; "
                              "for an LSTM stack [W_ih | W_hh] to (4 hidden, input + hidden)")


def matrix_nonzeros(matrix: object) -> int:
    """Non-zeros of a user matrix (a position stored twice in a sparse file counts once)."""
    if isinstance(matrix, SparseWeights):
        return matrix.nnz
    return int(np.count_nonzero(matrix))


def matrix_pattern(matrix: object, rows: int, cols: int, layer_name: str) -> Pattern:
    """The non-zero pattern (CSC) of a user matrix, given as a dense array or a
    `SparseWeights` triplet; a dense array is scanned a window of columns at a time."""
    check_matrix_shape(matrix, rows, cols, layer_name)
    kind = index_dtype(rows)
    counts = np.zeros(cols, dtype=np.int64)
    if isinstance(matrix, SparseWeights):
        counts[:] = np.bincount(matrix.col, minlength=cols)
        pieces = [matrix.row.astype(kind)]             # already column-major and distinct
    else:
        dense = np.asarray(matrix)
        step = max(1, WINDOW_ELEMENTS // max(rows, 1))
        pieces = []
        for a in range(0, cols, step):
            # np.nonzero on the transpose yields (col, row) in column-major order
            col, row = np.nonzero(dense[:, a:a + step].T)
            counts[a:a + step] = np.bincount(col, minlength=min(step, cols - a))
            pieces.append(row.astype(kind))
    ptr = np.zeros(cols + 1, dtype=np.int64)
    np.cumsum(counts, out=ptr[1:])
    index = np.concatenate(pieces) if pieces else np.zeros(0, dtype=kind)
    return Pattern(rows, cols, False, ptr, index)


def matrix_coordinates(matrix: object, rows: int, cols: int, layer_name: str,
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Column-major (row, col) coordinates of the non-zeros of a user matrix."""
    return matrix_pattern(matrix, rows, cols, layer_name).coordinates()


class SparseWeights:
    """A sparse matrix as coordinates and values (what a scipy CSR/CSC/COO .npz holds), kept
    column-major with each position once: values stored twice at one position are summed, as
    scipy does, and zeros dropped."""

    def __init__(self, shape: tuple[int, int], row: np.ndarray, col: np.ndarray,
                 values: np.ndarray) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        row = np.asarray(row, dtype=np.int64)
        col = np.asarray(col, dtype=np.int64)
        values = np.asarray(values)
        flat = col * self.shape[0] + row
        order = np.argsort(flat, kind="stable")
        flat, values = flat[order], values[order]
        repeated = flat[1:] == flat[:-1]
        if repeated.any():
            starts = np.flatnonzero(np.concatenate(([True], ~repeated)))
            flat, values = flat[starts], np.add.reduceat(values, starts)
        keep = values != 0
        col, row = np.divmod(flat[keep], max(self.shape[0], 1))
        self.row, self.col, self.values = row, col, values[keep]

    @property
    def nnz(self) -> int:
        return int(self.values.size)


def matrix_values(matrix: object) -> np.ndarray:
    """The non-zero values of a user matrix (for weight sharing)."""
    if isinstance(matrix, SparseWeights):
        return matrix.values.astype(np.float64)
    dense = np.asarray(matrix)          # a memory-mapped file stays on disk: rows at a time
    step = max(1, WINDOW_ELEMENTS // max(dense.shape[1], 1))
    parts = [dense[a:a + step][dense[a:a + step] != 0].astype(np.float64)
             for a in range(0, dense.shape[0], step)]
    return np.concatenate(parts) if parts else np.zeros(0)


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


@dataclass(frozen=True, eq=False)
class UserLayer:
    """A user's matrix for one layer and, optionally, measured input vectors for it
    (`inputs`: vectors x K, e.g. the activations of real images; product v uses row v mod the
    number of rows). Read at the edge by `simulator.io.weights`."""

    matrix: "np.ndarray | SparseWeights"
    inputs: np.ndarray | None = None


def split_user_data(data: object) -> tuple[object | None, np.ndarray | None]:
    """(matrix, measured inputs) of what `RunOptions.weights` holds for a layer."""
    if data is None:
        return None, None
    if isinstance(data, UserLayer):
        return data.matrix, data.inputs
    return data, None
