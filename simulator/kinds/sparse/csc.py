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
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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


def layout_from_coordinates(row: np.ndarray, col: np.ndarray, rows: int, cols: int, pes: int,
                            index_bits: int, registers: int) -> CscLayout:
    """Count EIE CSC entries from the coordinates of the non-zeros of W (rows x cols).

    `row`, `col` must be sorted column-major (by column, then row), as a CSC or a column-major
    scan yields them; each (row, col) pair appears once.
    """
    batches = output_batches(rows, pes, registers)
    small = np.int32 if rows < 2**31 and cols < 2**31 else np.int64
    row = np.asarray(row).astype(small, copy=False)
    col = np.asarray(col).astype(small, copy=False)
    pe = row % pes
    local = row // pes
    batch = local // registers
    pos = local % registers                      # position inside the batch's column slice
    # a stable sort by (batch, pe) keeps the (column, row) order inside each group; a 16-bit
    # key lets numpy use a radix sort
    group = batch * pes + pe
    key_type = np.uint16 if batches * pes <= 2**16 else np.int64
    order = np.argsort(group.astype(key_type), kind="stable")
    segment = group[order].astype(np.int64) * cols + col[order]   # one per (batch, pe, column)
    p = pos[order]
    first = np.empty(segment.size, dtype=bool)
    first[:1] = True
    np.not_equal(segment[1:], segment[:-1], out=first[1:])
    prev = np.empty_like(p)
    prev[:1] = -1
    prev[1:] = p[:-1]
    prev[first] = -1
    pads = (p - prev - 1) >> index_bits          # floor(zeros before the non-zero / 2^index_bits)
    size = batches * pes * cols
    nnz = np.bincount(segment, minlength=size).reshape(batches, pes, cols)
    has_pads = pads > 0
    padding = np.bincount(segment[has_pads], weights=pads[has_pads], minlength=size)
    entries = nnz + padding.astype(np.int64).reshape(batches, pes, cols)
    return CscLayout(rows, cols, pes, batches, nnz.astype(np.int64), entries,
                     _exclusive_offsets(entries))


def dense_layout(rows: int, cols: int, pes: int, registers: int) -> CscLayout:
    """The layout of a fully dense matrix (no zero runs, so no padding): every slice holds all
    of the PE's rows of that batch."""
    batches = output_batches(rows, pes, registers)
    per_pe = local_rows(rows, pes)
    start = np.arange(batches)[:, None] * registers
    in_batch = np.clip(per_pe[None, :] - start, 0, registers)          # [batch, pe]
    entries = np.broadcast_to(in_batch[:, :, None], (batches, pes, cols)).astype(np.int64)
    entries = np.ascontiguousarray(entries)
    return CscLayout(rows, cols, pes, batches, entries, entries, _exclusive_offsets(entries))


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
