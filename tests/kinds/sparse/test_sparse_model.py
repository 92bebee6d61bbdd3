"""Hand-checked EIE layout and queue timing on tiny matrices (derivations in the comments).

Reference: Han et al., EIE, ISCA 2016, Sec. III-IV; the recurrence is documented in
simulator/kinds/sparse/queue.py and docs/models/sparse.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.sparse.csc import (
    dense_layout,
    expected_padding_per_slice,
    layout_from_coordinates,
    output_batches,
    pointer_placement,
    words_spanned,
)
from simulator.kinds.sparse.matrices import random_coordinates
from simulator.kinds.sparse.queue import simulate_queues


def coords(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Column-major non-zero coordinates of a small dense matrix."""
    col, row = np.nonzero(matrix.T)
    return row, col


# W (4 outputs x 4 inputs) on P = 2 PEs: PE0 holds rows 0, 2 and PE1 rows 1, 3.
W4 = np.array([[1, 0, 1, 1],
               [1, 0, 1, 0],
               [1, 0, 1, 0],
               [0, 1, 1, 0]])


def test_4x4_entries_per_pe():
    lay = layout_from_coordinates(*coords(W4), 4, 4, pes=2, index_bits=2, registers=64)
    # column 0: rows 0, 2 -> PE0 (2); row 1 -> PE1 (1). column 1: row 3 -> PE1.
    # column 2: all rows -> 2 and 2. column 3: row 0 -> PE0. No zero run of 4 -> no padding.
    assert lay.entries[0].tolist() == [[2, 0, 2, 1], [1, 1, 2, 0]]
    assert lay.total_entries == lay.total_nnz == 9
    # PE0 stores its columns back to back: offsets 0, 2, 2, 4
    assert lay.offset[0, 0].tolist() == [0, 2, 2, 4]


@pytest.mark.parametrize("depth, cycles, stalls", [
    # Work w = max(1, entries) per step (rows: PE0, PE1): t0 [2,1], t1 [1,1], t2 [2,2], t3 [1,1].
    # D = 1 (lock-step): each step costs 1 broadcast cycle + the slowest PE:
    #   (1+2) + (1+1) + (1+2) + (1+1) = 10 cycles; broadcasts wait 2 + 1 + 2 = 5 cycles.
    (1, 10, 5),
    # D = 2: b0=0, f=[3,2]; b1=1, f=[4,3]; b2 waits for max f0 = 3, f=[6,6]; b3=4, f=[7,7].
    # 7 = busiest PE (PE0: 2+1+2+1 = 6) + the first broadcast cycle: the bound is reached.
    (2, 7, 1),
    (8, 7, 0),
])
def test_4x4_queue_cycles(depth, cycles, stalls):
    lay = layout_from_coordinates(*coords(W4), 4, 4, pes=2, index_bits=2, registers=64)
    work = np.maximum(lay.entries[0].T, 1)       # all four activations non-zero
    timing = simulate_queues(work, depth)
    assert timing.cycles == cycles
    assert timing.queue_full_stall_cycles == stalls
    assert timing.busy_cycles_per_pe.tolist() == [6, 5]


def test_padding_hand_case():
    # W 16 x 2 on 2 PEs, index_bits 2 (a padding zero per 4 zeros in a run).
    w = np.zeros((16, 2), dtype=int)
    w[0, 0] = w[10, 0] = 1      # PE0 local rows 0 and 5: 4 zeros between -> 1 pad
    w[1, 0] = 1                 # PE1 local row 0
    w[14, 1] = 1                # PE0 local row 7: 7 zeros before -> 7 // 4 = 1 pad
    w[15, 1] = 1                # PE1 local row 7: 1 pad
    lay = layout_from_coordinates(*coords(w), 16, 2, pes=2, index_bits=2, registers=64)
    assert lay.entries[0].tolist() == [[3, 2], [1, 2]]
    assert lay.padding.sum() == 3
    # 3-bit indices skip up to 7 zeros: no padding at all
    lay3 = layout_from_coordinates(*coords(w), 16, 2, pes=2, index_bits=3, registers=64)
    assert lay3.padding.sum() == 0


def test_padding_matches_closed_form():
    # Alex-6 slices: 64 rows at 9 %, R = 16. Closed form: d * sum_i sum_m q^(16m)
    # = 0.09 * 16 * (3 q^16 + 2 q^32 + q^48) = 1.11 pads per slice (q = 0.91), i.e. +19.3 %.
    expected = expected_padding_per_slice(64, 0.09, 4)
    assert expected == pytest.approx(0.09 * 16 * (3 * 0.91**16 + 2 * 0.91**32 + 0.91**48))
    assert expected == pytest.approx(1.11, abs=0.01)
    rng = np.random.default_rng(1)
    row, col = random_coordinates(4096, 2048, 0.09, rng)
    lay = layout_from_coordinates(row, col, 4096, 2048, 64, 4, 64)
    assert lay.padding.mean() == pytest.approx(expected, rel=0.02)
    assert lay.total_nnz / (4096 * 2048) == pytest.approx(0.09, rel=0.01)


def test_row_density_spread_matches_the_negative_binomial_moments():
    # Row i keeps each of K weights with probability d r_i, r_i ~ Gamma(mean 1, cv c). Its count
    # n_i then has E[n] = K d and Var[n] = E[Var(n|r)] + Var(E[n|r])
    # = K d - K d^2 (1 + c^2) + K^2 d^2 c^2. For K = 4096, d = 0.25, c = 0.5:
    # E = 1024, Var = 1024 - 320 + 65536 = 66240, so the row-count CV is 257.4 / 1024 = 0.251
    # (against sqrt(0.75 / 1024) = 0.027 for Bernoulli rows).
    rows, cols, d, c = 2000, 4096, 0.25, 0.5
    row, col = random_coordinates(rows, cols, d, np.random.default_rng(7), row_density_cv=c)
    counts = np.bincount(row, minlength=rows)
    assert counts.mean() == pytest.approx(cols * d, rel=0.03)
    expected_var = cols * d - cols * d**2 * (1 + c**2) + cols**2 * d**2 * c**2
    assert counts.var() == pytest.approx(expected_var, rel=0.1)
    # column-major order, no duplicate coordinate, all inside the matrix
    assert np.all(np.diff(col) >= 0)
    same_col = col[1:] == col[:-1]
    assert np.all(row[1:][same_col] > row[:-1][same_col])
    assert row.min() >= 0 and row.max() < rows and col.max() < cols
    # cv = 0 is the plain Bernoulli matrix, whose row-count variance is K d (1 - d) = 768
    row0, _ = random_coordinates(rows, cols, d, np.random.default_rng(7), row_density_cv=0.0)
    assert np.bincount(row0, minlength=rows).var() == pytest.approx(768, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 300), density=st.floats(0.01, 0.99),
       cv=st.floats(0.05, 2.0), seed=st.integers(0, 2**16))
def test_dispersed_coordinates_are_a_valid_csc_scan(rows, cols, density, cv, seed):
    # any spread (even rows with density clipped to 1, which exercise the redraw path) yields
    # distinct in-range coordinates in column-major order
    row, col = random_coordinates(rows, cols, density, np.random.default_rng(seed), cv)
    assert row.size == col.size
    if row.size:
        assert row.min() >= 0 and row.max() < rows and col.min() >= 0 and col.max() < cols
        flat = col * rows + row
        assert np.all(np.diff(flat) > 0)


def test_pointer_placement_by_hand():
    # 6 columns -> pointers 0..6; the pointer SRAM holds 0..3; 4, 5 share Spmat word 0 and 6
    # sits in word 1 (2 pointers per word). Column j needs pointers j and j + 1:
    # j = 0..2 both in SRAM; j = 3: pointer 3 in SRAM, 4 in word 0; j = 4: 4, 5 in word 0;
    # j = 5: 5 in word 0 and 6 in word 1.
    place = pointer_placement(1, 6, capacity=4, pointers_per_word=2)
    assert place.sram_reads.tolist() == [[2, 2, 2, 1, 0, 0]]
    assert place.spmat_words.tolist() == [[0, 0, 0, 1, 1, 2]]
    # two output batches of 2 columns: pointers 0, 1, 2 (batch 0) and 3, 4, 5 (batch 1);
    # capacity 3 -> batch 1's pointers are spilled: (3, 4) -> words 0, 0; (4, 5) -> words 0, 1
    place = pointer_placement(2, 2, capacity=3, pointers_per_word=2)
    assert place.sram_reads.tolist() == [[2, 2], [0, 0]]
    assert place.spmat_words.tolist() == [[0, 0], [1, 2]]


def test_dense_layout_and_batches():
    # NT-Wd: 8791 rows on 64 PEs -> PEs hold 138 or 137 rows -> 3 passes of <= 64 rows
    assert output_batches(8791, 64, 64) == 3
    lay = dense_layout(8791, 3, 64, 64)
    assert lay.entries[:, 0, 0].tolist() == [64, 64, 10]      # PE0: 138 = 64 + 64 + 10
    assert lay.entries[:, 63, 0].tolist() == [64, 64, 9]      # PE63: 137 rows
    assert lay.total_entries == 8791 * 3


def test_words_spanned():
    # 8 entries per 64-bit word: entries 6..9 touch words 0 and 1; 8..15 one word; empty none
    assert words_spanned(np.array([6, 8, 5]), np.array([4, 8, 0]), 8).tolist() == [2, 1, 0]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 6), st.integers(1, 40), st.integers(1, 10), st.integers(0, 2**31 - 1))
def test_queue_invariants(pes, steps, depth, seed):
    work = np.random.default_rng(seed).integers(1, 9, size=(steps, pes))
    timing = simulate_queues(work, depth)
    busy = work.sum(axis=0)
    # no schedule beats the busiest PE (plus the first broadcast) or one broadcast per cycle
    assert timing.cycles >= busy.max() + 1
    assert timing.cycles >= steps + work[-1].min()
    # lock-step (D = 1): every step costs one broadcast cycle plus its slowest PE
    if depth == 1:
        assert timing.cycles == steps + work.max(axis=1).sum()
    # a deeper queue never hurts
    assert simulate_queues(work, depth + 1).cycles <= timing.cycles
    # queues as deep as the vector: only the busiest PE and the broadcast rate matter
    unbounded = simulate_queues(work, steps).cycles
    assert unbounded <= timing.cycles
