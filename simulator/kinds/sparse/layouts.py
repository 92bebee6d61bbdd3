"""The CSC layouts a sparse run works on, built once per process and within memory limits.

A random matrix depends only on (shape, weight density, row_density_cv, seed, layer name,
matrix index), and its layout adds (PEs, index_bits, activation_registers); a dense layout only
on (shape, PEs, registers). Runs that repeat those inputs (a sparse study over queue depths, a
sweep over anything but these) reuse them from a small least-recently-used memo of at most
`CACHE_BYTES`. The memo is pure: it maps exactly those inputs to read-only values that the same
call would rebuild bit for bit, so no result depends on what ran before (tested). Layouts of
user weights are built per call (keying them would mean hashing the whole matrix).

Limits, checked before anything is allocated (docs/models/sparse.md, "Memory"): a layout holds
three int64 counts per (output pass, PE, input column) slice, the engine a few more per
broadcast slice, a random matrix 2 bytes per non-zero (4 above 65,536 columns, or rows for
a column-major pattern). A layer over `MAX_SLICES`, `MAX_PATTERN_BYTES` or `MAX_ROWS` is refused
with a one-line error instead of exhausting memory; within them a run needs under about 1 GiB
(0.8 GB measured at each limit) plus the memo.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, TypeVar

from simulator.core.errors import NpusimError
from simulator.kinds.sparse import csc
from simulator.kinds.sparse.csc import CscLayout, layout_from_pattern
from simulator.kinds.sparse.matrices import (
    Pattern,
    check_matrix_shape,
    index_dtype,
    layer_rng,
    matrix_nonzeros,
    matrix_pattern,
    random_pattern,
)

#: (output pass, PE, input column) slices of one layout: 2^23 x 24 B = 192 MiB of counts.
#: VGG-6 on 256 PEs needs 6.4 M.
MAX_SLICES = 1 << 23
#: Bytes of one matrix's non-zero positions: 2^27 non-zeros at 2 bytes.
MAX_PATTERN_BYTES = 1 << 28
#: Output rows of one matrix (per-row generator state is about 40 bytes a row).
MAX_ROWS = 1 << 22
#: Memory the memo may hold; one process of a parallel sweep holds its own.
CACHE_BYTES = 256 << 20

T = TypeVar("T")


class ByteBoundedMemo:
    """A thread-safe least-recently-used map whose values' total size stays under a budget.
    A value larger than the whole budget is returned but not kept."""

    def __init__(self, budget_bytes: int) -> None:
        self.budget_bytes = budget_bytes
        self._items: OrderedDict[tuple, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple, build: Callable[[], T], size: Callable[[T], int]) -> T:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                self.hits += 1
                return self._items[key][0]
            self.misses += 1
        value = build()                          # outside the lock: builds may take seconds
        nbytes = size(value)
        with self._lock:
            if nbytes <= self.budget_bytes and key not in self._items:
                self._items[key] = (value, nbytes)
                self._bytes += nbytes
                while self._bytes > self.budget_bytes:
                    _, (_, dropped) = self._items.popitem(last=False)
                    self._bytes -= dropped
        return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
            self.hits = self.misses = 0

    def info(self) -> dict[str, int]:
        with self._lock:
            return {"items": len(self._items), "bytes": self._bytes, "hits": self.hits,
                    "misses": self.misses, "budget_bytes": self.budget_bytes}


MEMO = ByteBoundedMemo(CACHE_BYTES)


def _layout_bytes(layout: CscLayout) -> int:
    return layout.nbytes


def _pattern_bytes(pattern: Pattern) -> int:
    return pattern.nbytes


def check_size(where: str, rows: int, cols: int, pes: int, registers: int,
               nonzeros: int = 0, index_bytes: int = 2) -> None:
    """Refuse, in one line, a layer whose layout or matrix would exceed the limits above."""
    slices = csc.slices(rows, cols, pes, registers)
    fix = ("split the layer into smaller linear layers (their latencies add up), or simulate "
           "a scaled-down layer")
    shape = f"{rows:,} x {cols:,}"
    if rows > MAX_ROWS:
        raise NpusimError(f"the {shape} weight matrix has more output rows than the sparse "
                          f"engine's limit of {MAX_ROWS:,}", field=where, fix=fix)
    if slices > MAX_SLICES:
        raise NpusimError(
            f"the {shape} weight matrix would need {slices:,} CSC slices (output passes x "
            f"{pes} PEs x {cols:,} input columns) on this arch, over the sparse engine's limit "
            f"of {MAX_SLICES:,} (about {MAX_SLICES * 24 >> 20} MiB of counts)", field=where,
            fix=fix)
    limit = MAX_PATTERN_BYTES // index_bytes
    if nonzeros > limit:
        raise NpusimError(
            f"the {shape} weight matrix has about {nonzeros:,} non-zeros, over the sparse "
            f"engine's limit of {limit:,} for a matrix of this shape "
            f"({MAX_PATTERN_BYTES >> 20} MiB of positions)", field=where, fix=fix)


def random_layout(rows: int, cols: int, density: float, row_density_cv: float, seed: int,
                  layer_name: str, stream: int, pes: int, index_bits: int, registers: int,
                  where: str) -> CscLayout:
    """The layout of the random matrix of `layer_name` (stream `stream` of its seed)."""
    by_row = row_density_cv > 0.0 and density < 1.0
    minor = cols if by_row else rows
    expected = int(rows * cols * min(density, 1.0))
    check_size(where, rows, cols, pes, registers, expected, index_dtype(minor)().itemsize)
    matrix_key = (rows, cols, float(density), float(row_density_cv), int(seed), layer_name,
                  int(stream))

    def pattern() -> Pattern:
        return MEMO.get(("pattern", *matrix_key),
                        lambda: random_pattern(rows, cols, density,
                                               layer_rng(seed, layer_name, stream),
                                               row_density_cv),
                        _pattern_bytes)

    return MEMO.get(("layout", *matrix_key, pes, index_bits, registers),
                    lambda: layout_from_pattern(pattern(), pes, index_bits, registers),
                    _layout_bytes)


def dense_layout(rows: int, cols: int, pes: int, registers: int, where: str) -> CscLayout:
    """The layout of a dense rows x cols matrix (no padding; see `csc.dense_layout`)."""
    check_size(where, rows, cols, pes, registers)
    return MEMO.get(("dense", rows, cols, pes, registers),
                    lambda: csc.dense_layout(rows, cols, pes, registers), _layout_bytes)


def user_layout(matrix: object, rows: int, cols: int, layer_name: str, pes: int,
                index_bits: int, registers: int, where: str) -> CscLayout:
    """The layout of a user's weight matrix (dense array or `SparseWeights`); not memoized."""
    check_matrix_shape(matrix, rows, cols, layer_name)
    check_size(where, rows, cols, pes, registers, matrix_nonzeros(matrix),
               index_dtype(rows)().itemsize)
    return layout_from_pattern(matrix_pattern(matrix, rows, cols, layer_name), pes, index_bits,
                               registers)
