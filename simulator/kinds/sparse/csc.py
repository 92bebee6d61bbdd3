"""EIE's compressed sparse column (CSC) layout, per PE, as entry counts.

Han et al., EIE, ISCA 2016, Sec. III-B: output row i of W (N x K) lives on PE i mod P, at local
row l = i div P. Each PE stores, for every column j, its slice of that column as entries
(codebook index, relative row index z): z counts the zeros before the entry. z has `index_bits`
bits, so a run of zeros longer than R - 1 (R = 2^index_bits) is cut by a padding zero entry
that skips R positions (R - 1 zeros plus the stored zero). A run of g zeros before a non-zero
therefore needs floor(g / R) padding entries; trailing zeros at the end of a slice need none
(the next column pointer ends the slice). Example with R = 16: a slice whose non-zeros sit at
local rows 0 and 17 stores 3 entries: (z=0), a padding zero (z=15, row 16), (z=0, row 17).

Destination batching (Sec. IV, "Activation Read/Write"): a PE accumulates at most
`activation_registers` output rows at a time; a PE with more local rows runs the product in
output batches g = l div registers, each batch a separate CSC with its own column pointers (the
relative index restarts at the batch's first row), each batch re-broadcasting the input.

This module only counts: entries per (batch, PE, column), the padding among them, and where each
column starts in the PE's Spmat storage (for 64-bit word reads). It never sees values.

Counting sorts each non-zero by one integer key, (slice, local position) with slice =
(batch x P + PE) x K + column, so the non-zeros of a slice end up adjacent and in row order
whatever order they came in; a matrix given row-major in several windows carries the last
position of every slice from one window to the next.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from simulator.kinds.sparse.matrices import Pattern

#: Non-zeros counted at once (about 25 bytes each while counting): every bundled EIE layer,
#: VGG-6 with 4.09 M non-zeros included, fits one window, so no slice spans two windows.
LAYOUT_WINDOW = 1 << 22


@dataclass(frozen=True)
class CscLayout:
    """Entry counts of a matrix stored EIE-style.

    Arrays are indexed [batch, pe, column]; `offset` is the entry offset of each column slice in
    the PE's Spmat storage (batches stored one after the other, columns in order).
    """

    rows: int
    cols: int
    pes: int
    batches: int
    nnz: np.ndarray        # non-zero entries per slice
    entries: np.ndarray    # stored entries per slice = non-zeros + padding zeros
    offset: np.ndarray     # first entry of the slice in the PE's storage

    def __post_init__(self) -> None:
        # layouts are shared between runs (simulator/kinds/sparse/layouts.py): never mutated
        for array in (self.nnz, self.entries, self.offset):
            array.flags.writeable = False

    @property
    def nbytes(self) -> int:
        """Memory held by the arrays (broadcast views, as in `dense_layout`, hold none)."""
        return sum(a.nbytes for a in {id(a): a for a in (self.nnz, self.entries,
                                                          self.offset)}.values() if 0 not in a.strides)

    @property
    def padding(self) -> np.ndarray:
        return self.entries - self.nnz

    @property
    def total_nnz(self) -> int:
        return int(self.nnz.sum())

    @property
    def total_entries(self) -> int:
        return int(self.entries.sum())

    def entries_per_pe(self) -> np.ndarray:
        """Stored entries of each PE over all batches and columns."""
        return self.entries.sum(axis=(0, 2))


def local_rows(rows: int, pes: int) -> np.ndarray:
    """Rows held by each PE under interleaving (row i on PE i mod P)."""
    pe = np.arange(pes)
    return np.maximum(0, (rows - pe + pes - 1) // pes)


def output_batches(rows: int, pes: int, registers: int) -> int:
    """Passes over the input needed when a PE holds more rows than destination registers."""
    return max(1, -(-int(local_rows(rows, pes).max()) // registers))


def _exclusive_offsets(entries: np.ndarray) -> np.ndarray:
    """Start of every (batch, column) slice in each PE's storage: batch-major, then column."""
    per_pe = np.moveaxis(entries, 1, 0).reshape(entries.shape[1], -1)   # [pe, batch*col]
    start = np.cumsum(per_pe, axis=1) - per_pe
    return np.moveaxis(start.reshape(entries.shape[1], entries.shape[0], entries.shape[2]), 0, 1)


def slices(rows: int, cols: int, pes: int, registers: int) -> int:
    """(batch, PE, column) slices of a rows x cols matrix: the size of every layout array."""
    return output_batches(rows, pes, registers) * pes * cols


class _SliceCounter:
    """Accumulates non-zeros and padding per slice from windows of non-zeros."""

    def __init__(self, rows: int, cols: int, pes: int, index_bits: int, registers: int,
                 carry: bool) -> None:
        self.shape = (output_batches(rows, pes, registers), pes, cols)
        size = self.shape[0] * pes * cols
        # local positions inside a slice run 0..span-1
        self.span = max(1, min(registers, -(-rows // pes)))
        self.key_type = np.int32 if size * self.span < 2**31 else np.int64
        self.index_bits = index_bits
        r = np.arange(rows, dtype=np.int64)
        local = r // pes
        batch = local // registers
        # key of row r in column 0; column c adds c x span
        self.row_key = (((batch * pes + r % pes) * cols) * self.span
                        + local - batch * registers).astype(self.key_type)
        self.nnz = np.zeros(size, dtype=np.int64)
        self.pad = np.zeros(size, dtype=np.int64)
        self.last = np.full(size, -1, dtype=np.int32 if self.span < 2**31 else np.int64) \
            if carry else None

    def add(self, key: np.ndarray) -> None:
        """Count a window of distinct keys; across windows, a slice's positions must ascend."""
        if key.size == 0:
            return
        key.sort()
        if self.span & (self.span - 1) == 0:
            shift = self.span.bit_length() - 1
            seg, pos = key >> shift, key & (self.span - 1)
        else:
            seg, pos = np.divmod(key, self.span)
        change = np.empty(key.size, dtype=bool)
        change[0] = True
        np.not_equal(seg[1:], seg[:-1], out=change[1:])
        first = np.flatnonzero(change)                  # first non-zero of each slice
        prev = np.empty_like(pos)
        prev[1:] = pos[:-1]
        prev[first] = -1 if self.last is None else self.last[seg[first]]
        # floor(zeros before the non-zero / 2^index_bits) padding entries
        pads = (pos - prev - 1) >> self.index_bits
        size = self.nnz.size
        self.nnz += np.bincount(seg, minlength=size)
        self.pad += np.bincount(seg, weights=pads, minlength=size).astype(np.int64)
        if self.last is not None:
            final = np.append(first[1:], key.size) - 1  # last non-zero of each slice
            self.last[seg[final]] = pos[final]

    def layout(self, rows: int, cols: int, pes: int) -> "CscLayout":
        nnz = self.nnz.reshape(self.shape)
        entries = nnz + self.pad.reshape(self.shape)
        return CscLayout(rows, cols, pes, self.shape[0], nnz, entries, _exclusive_offsets(entries))


def layout_from_pattern(pattern: Pattern, pes: int, index_bits: int, registers: int,
                        window: int = LAYOUT_WINDOW) -> CscLayout:
    """Count EIE CSC entries of a matrix's non-zero pattern, `window` non-zeros at a time."""
    windows = list(pattern.windows(window))
    counter = _SliceCounter(pattern.rows, pattern.cols, pes, index_bits, registers,
                            carry=pattern.by_row and len(windows) > 1)
    kind = counter.key_type
    for a, b in windows:
        lo, hi = int(pattern.ptr[a]), int(pattern.ptr[b])
        counts = np.diff(pattern.ptr[a:b + 1])
        minor = pattern.index[lo:hi]
        if pattern.by_row:     # rows a..b-1, ascending: each slice's positions ascend
            key = np.repeat(counter.row_key[a:b], counts) + minor.astype(kind) * kind(counter.span)
        else:                  # whole columns: every slice lies in one window
            column = np.arange(a, b, dtype=kind) * kind(counter.span)
            key = counter.row_key[minor] + np.repeat(column, counts)
        counter.add(key)
    return counter.layout(pattern.rows, pattern.cols, pes)


def layout_from_coordinates(row: np.ndarray, col: np.ndarray, rows: int, cols: int, pes: int,
                            index_bits: int, registers: int) -> CscLayout:
    """Count EIE CSC entries from the coordinates of the non-zeros of W (rows x cols), in any
    order; each (row, col) pair must appear once."""
    counter = _SliceCounter(rows, cols, pes, index_bits, registers, carry=False)
    kind = counter.key_type
    row = np.asarray(row, dtype=np.int64)
    col = np.asarray(col, dtype=np.int64)
    counter.add(counter.row_key[row] + col.astype(kind) * kind(counter.span))
    return counter.layout(rows, cols, pes)


def dense_layout(rows: int, cols: int, pes: int, registers: int) -> CscLayout:
    """The layout of a fully dense matrix (no zero runs, so no padding): every slice holds all
    of the PE's rows of that batch. Closed form: PE k stores batch b's columns after all of its
    earlier batches, so slice (b, k, j) starts at K x sum_{b' < b} n(b', k) + j x n(b, k)."""
    batches = output_batches(rows, pes, registers)
    per_pe = local_rows(rows, pes)
    start = np.arange(batches)[:, None] * registers
    in_batch = np.clip(per_pe[None, :] - start, 0, registers).astype(np.int64)   # [batch, pe]
    entries = np.broadcast_to(in_batch[:, :, None], (batches, pes, cols))
    earlier = (np.cumsum(in_batch, axis=0) - in_batch) * cols
    offset = earlier[:, :, None] + np.arange(cols, dtype=np.int64) * in_batch[:, :, None]
    return CscLayout(rows, cols, pes, batches, entries, entries, offset)


def expected_padding_per_slice(slice_rows: int, density: float, index_bits: int) -> float:
    """Expected padding entries in one column slice of `slice_rows` i.i.d. Bernoulli(density)
    elements (a closed form, used to check the counts and in docs/models/sparse.md).

    A non-zero at local position i (probability d) preceded by a zero run of length g needs
    floor(g / R) pads, and E[floor(g / R)] = sum_{m >= 1, mR <= i} P(g >= mR)
    = sum_m (1 - d)^(mR). Hence E[pads] = d * sum_{i < L} sum_{m=1}^{floor(i/R)} (1 - d)^(mR).
    """
    run = 1 << index_bits
    q = 1.0 - density
    total = 0.0
    for i in range(slice_rows):
        total += sum(q ** (m * run) for m in range(1, i // run + 1))
    return density * total


def words_spanned(offset: np.ndarray, entries: np.ndarray, entries_per_word: int) -> np.ndarray:
    """Spmat words read to stream `entries` entries starting at entry `offset` (0 if empty)."""
    last = offset + entries - 1
    spanned = last // entries_per_word - offset // entries_per_word + 1
    return np.where(entries > 0, spanned, 0)


@dataclass(frozen=True)
class PointerPlacement:
    """Where each column's two pointers (start, end) are read from, per (batch, column).

    The pointer SRAM holds the first `capacity` pointers of the PE's pointer array (batch-major,
    K + 1 per batch); the rest, if any, sit packed in free Spmat words after the entries.
    """

    sram_reads: np.ndarray     # pointer-SRAM accesses for the column's pair (0, 1 or 2)
    spmat_words: np.ndarray    # Spmat words read for its spilled pointers (0, 1 or 2)


def pointer_placement(batches: int, cols: int, capacity: int,
                      pointers_per_word: int) -> PointerPlacement:
    """Place pointers 0..capacity-1 in the pointer SRAM and the rest in Spmat words.

    Column j of batch b needs pointers i = b (K + 1) + j and i + 1; a spilled pointer p lives in
    Spmat word (p - capacity) div pointers_per_word, so a spilled pair costs one word, or two
    when it straddles a word boundary.
    """
    start = (np.arange(batches)[:, None] * (cols + 1) + np.arange(cols)[None, :]).astype(np.int64)
    end = start + 1
    start_spilled = start >= capacity
    end_spilled = end >= capacity
    same_word = (start - capacity) // pointers_per_word == (end - capacity) // pointers_per_word
    words = (start_spilled.astype(np.int64) + end_spilled
             - (start_spilled & end_spilled & same_word))
    sram = (~start_spilled).astype(np.int64) + (~end_spilled)
    return PointerPlacement(sram_reads=sram, spmat_words=words)
