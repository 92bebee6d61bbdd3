"""Random matrices and their CSC layouts, generated in windows and kept as compact patterns
(simulator/kinds/sparse/matrices.py, csc.py): the same matrices as the one-shot generator they
replaced, bit for bit (so the EIE figures in docs/models/sparse.md do not move), and layouts
equal to a slice-by-slice count written out in plain Python."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.sparse import matrices
from simulator.kinds.sparse.csc import (
    dense_layout,
    layout_from_coordinates,
    layout_from_pattern,
    output_batches,
)
from simulator.kinds.sparse.matrices import (
    SparseWeights,
    matrix_pattern,
    random_coordinates,
    random_pattern,
)


def one_shot_dispersed(rows, cols, density, rng, cv):
    """The previous generator (one draw for the whole matrix), kept as the oracle."""
    keep = matrices.row_densities(rows, density, cv, rng)
    draws = matrices.draws_per_row(cols * keep)
    gaps = rng.geometric(np.repeat(keep, draws))
    ends = np.cumsum(draws)
    running = np.cumsum(gaps, dtype=np.int64)
    before_row = np.concatenate(([0], running[ends[:-1] - 1]))
    pos = running - np.repeat(before_row, draws) - 1
    row = np.repeat(np.arange(rows, dtype=np.int64), draws)
    short = np.flatnonzero(running[ends - 1] - before_row < cols)
    inside = pos < cols
    row, pos = row[inside], pos[inside]
    if short.size:
        redraw = np.isin(row, short, invert=True)
        row, pos = row[redraw], pos[redraw]
        extra = [(np.full(c.size, r, dtype=np.int64), c)
                 for r in short for c in [matrices._geometric_positions(cols, float(keep[r]), rng)]]
        row = np.concatenate([row] + [e[0] for e in extra])
        pos = np.concatenate([pos] + [e[1] for e in extra])
    order = np.lexsort((row, pos))
    return row[order], pos[order]


def one_shot_bernoulli(rows, cols, density, rng):
    flat = matrices._geometric_positions(rows * cols, density, rng)
    return flat % rows, flat // rows


def slice_by_slice(dense: np.ndarray, pes: int, index_bits: int, registers: int):
    """EIE's CSC counted per slice in plain Python (EIE Sec. III-B): a run of g zeros before a
    non-zero costs floor(g / 2^index_bits) padding entries."""
    rows, cols = dense.shape
    batches = output_batches(rows, pes, registers)
    nnz = np.zeros((batches, pes, cols), dtype=np.int64)
    entries = np.zeros_like(nnz)
    for k in range(pes):
        local = dense[k::pes]                              # PE k's rows, local order
        for b in range(batches):
            part = local[b * registers:(b + 1) * registers]
            for j in range(cols):
                previous = -1
                for position in np.flatnonzero(part[:, j]):
                    entries[b, k, j] += 1 + (position - previous - 1) // (1 << index_bits)
                    nnz[b, k, j] += 1
                    previous = position
    return nnz, entries


@settings(max_examples=60, deadline=None)
@given(rows=st.integers(1, 60), cols=st.integers(1, 200), density=st.floats(0.005, 0.99),
       cv=st.sampled_from([0.0, 0.125, 0.6, 2.0]), seed=st.integers(0, 2**16),
       window=st.sampled_from([7, 64, 1 << 21]))
def test_windows_draw_the_one_shot_matrix(rows, cols, density, cv, seed, window):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(matrices, "WINDOW_ELEMENTS", window)
        row, col = random_coordinates(rows, cols, density, np.random.default_rng(seed), cv)
    rng = np.random.default_rng(seed)
    want = (one_shot_dispersed(rows, cols, density, rng, cv) if cv > 0
            else one_shot_bernoulli(rows, cols, density, rng))
    assert row.tolist() == want[0].tolist() and col.tolist() == want[1].tolist()


@pytest.mark.parametrize("rows, cols, density, cv, per_row", [
    (30, 5000, 0.2, 0.125, True),      # long rows: one scalar-p numpy call per row
    (12, 3000, 0.45, 0.3, True),       # rows above p = 1/3, which numpy draws by search
    (300, 700, 0.05, 0.125, False),    # short rows: one array-p call per window
])
def test_long_and_short_rows_draw_the_one_shot_matrix(rows, cols, density, cv, per_row):
    # mean draws per row: K d + 6 sqrt(K d) + 16 = 1206, 1391 and 86
    mean_draws = matrices.draws_per_row(np.array([cols * density]))[0]
    assert (mean_draws >= matrices.ROW_CALL_MIN_DRAWS) == per_row
    got = random_coordinates(rows, cols, density, np.random.default_rng(11), cv)
    want = one_shot_dispersed(rows, cols, density, np.random.default_rng(11), cv)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()


def test_rows_that_do_not_cross_their_end_are_redrawn_like_before(monkeypatch):
    # with 3 draws per row, rows of 40 columns at 50 % never cross their end: every row takes
    # the redraw path, in row order, after all main draws
    monkeypatch.setattr(matrices, "draws_per_row", lambda e: np.full(e.size, 3, dtype=np.int64))
    monkeypatch.setattr(matrices, "WINDOW_ELEMENTS", 5)
    got = random_coordinates(30, 40, 0.5, np.random.default_rng(3), 0.3)
    want = one_shot_dispersed(30, 40, 0.5, np.random.default_rng(3), 0.3)
    assert got[0].tolist() == want[0].tolist() and got[1].tolist() == want[1].tolist()
    assert got[0].size > 30 * 40 * 0.3                    # the rows were really redrawn


@settings(max_examples=25, deadline=None)
@given(rows=st.integers(1, 40), cols=st.integers(1, 16), density=st.floats(0.01, 0.9),
       cv=st.sampled_from([0.0, 0.5]), pes=st.integers(1, 9), index_bits=st.integers(1, 4),
       registers=st.integers(1, 12), window=st.sampled_from([3, 50, 1 << 21]),
       seed=st.integers(0, 2**16))
def test_layout_matches_a_slice_by_slice_count(rows, cols, density, cv, pes, index_bits,
                                               registers, window, seed):
    pattern = random_pattern(rows, cols, density, np.random.default_rng(seed), cv)
    dense = np.zeros((rows, cols), dtype=bool)
    dense[pattern.coordinates()] = True
    nnz, entries = slice_by_slice(dense, pes, index_bits, registers)
    for layout in (layout_from_pattern(pattern, pes, index_bits, registers, window=window),
                   layout_from_coordinates(*pattern.coordinates(), rows, cols, pes, index_bits,
                                           registers)):
        assert layout.nnz.tolist() == nnz.tolist()
        assert layout.entries.tolist() == entries.tolist()
        # each PE stores its slices back to back, batch by batch, column by column
        per_pe = np.moveaxis(entries, 1, 0).reshape(pes, -1)
        starts = (np.cumsum(per_pe, axis=1) - per_pe).reshape(pes, -1, cols)
        assert layout.offset.tolist() == np.moveaxis(starts, 0, 1).tolist()


def test_dense_layout_closed_form():
    # 10 rows on 3 PEs with 2 registers: PE0 holds rows 0,3,6,9 (4 local rows -> 2 batches
    # of 2), PE1 1,4,7 and PE2 2,5,8 (2 + 1). With 3 columns PE1 stores batch 0 as 2, 2, 2
    # entries (offsets 0, 2, 4) and batch 1 as 1, 1, 1 after them (offsets 6, 7, 8).
    lay = dense_layout(10, 3, pes=3, registers=2)
    assert lay.entries[:, 1].tolist() == [[2, 2, 2], [1, 1, 1]]
    assert lay.offset[:, 1].tolist() == [[0, 2, 4], [6, 7, 8]]
    ones = np.ones((10, 3), dtype=bool)
    nnz, entries = slice_by_slice(ones, 3, 4, 2)
    assert lay.entries.tolist() == entries.tolist() == nnz.tolist()
    assert lay.nbytes == lay.offset.nbytes          # the counts are broadcast views


def test_layouts_and_patterns_are_read_only():
    pattern = random_pattern(20, 20, 0.3, np.random.default_rng(0), 0.125)
    layout = layout_from_pattern(pattern, 4, 4, 64)
    for array in (pattern.ptr, pattern.index, layout.nnz, layout.entries, layout.offset):
        with pytest.raises(ValueError):
            array[...] = 0


def test_sparse_weights_sum_positions_stored_twice():
    # a COO file may store a position twice and scipy sums them: (0, 1) holds 2 + 3 = 5, one
    # non-zero; (2, 0) holds 1 - 1 = 0 and is dropped. Column-major order afterwards.
    w = SparseWeights((3, 2), np.array([0, 2, 0, 2, 1]), np.array([1, 0, 1, 0, 1]),
                      np.array([2.0, 1.0, 3.0, -1.0, 4.0]))
    assert list(zip(w.row.tolist(), w.col.tolist(), w.values.tolist())) == [(0, 1, 5.0),
                                                                             (1, 1, 4.0)]
    layout = layout_from_pattern(matrix_pattern(w, 3, 2, "fc"), 1, 4, 64)
    assert layout.total_nnz == 2 and layout.nnz[0, 0].tolist() == [0, 2]


def test_user_matrix_pattern_scans_column_windows(monkeypatch):
    rng = np.random.default_rng(5)
    dense = rng.random((37, 50)) * (rng.random((37, 50)) < 0.2)
    monkeypatch.setattr(matrices, "WINDOW_ELEMENTS", 80)      # two columns per window
    pattern = matrix_pattern(dense, 37, 50, "fc")
    col, row = np.nonzero(dense.T)
    assert pattern.coordinates()[0].tolist() == row.tolist()
    assert pattern.coordinates()[1].tolist() == col.tolist()
    sparse = SparseWeights((37, 50), *np.nonzero(dense), dense[np.nonzero(dense)])
    assert np.array_equal(matrix_pattern(sparse, 37, 50, "fc").index, pattern.index)


@pytest.mark.parametrize("cv", [1e-300, 1e-160, 1e-9])
def test_a_vanishing_row_density_spread_is_the_iid_limit(cv):
    # fuzz finding (thorough profile, test_arch_overrides[sparse]): row_density_cv=1e-300
    # divided by zero in 1 / cv^2 (exit 1), 1e-160 gave NaN factors. Below cv = 1e-8 every
    # row keeps the layer's density exactly (the Gamma factor's cv -> 0 limit is 1)
    keep = matrices.row_densities(5, 0.25, cv, np.random.default_rng(0))
    assert keep.tolist() == [0.25] * 5
    # just above, the spread is real but tiny: within 10 standard deviations of 0.25
    near = matrices.row_densities(1000, 0.25, 1e-6, np.random.default_rng(0))
    assert np.all(np.abs(near / 0.25 - 1) < 1e-5)
