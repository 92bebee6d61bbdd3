"""Counting one matrix-vector product on EIE: per PE and broadcast column, the work of its three
pipelined resources, the queue timing, and the SRAM accesses (docs/models/sparse.md, "Timing
model"). Also where each PE's column pointers live and what the layout needs to store.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from fractions import Fraction

import numpy as np

from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.sparse.csc import CscLayout, PointerPlacement, pointer_placement, words_spanned
from simulator.kinds.sparse.queue import simulate_queues


@dataclass
class SpmvCounts:
    """Counted actions of one or more matrix-vector products (all additive)."""

    products: int = 0
    cycles: int = 0
    queue_full_stall_cycles: int = 0
    busy_pe_cycles: int = 0          # sum over PEs of their busy cycles
    broadcasts: int = 0              # activations broadcast (summed over output batches)
    nnz_processed: int = 0           # useful MACs
    entries_processed: int = 0       # non-zeros + padding zeros worked through
    spmat_words: int = 0
    pointer_reads: int = 0           # (PE, broadcast) pairs: one lookup of both pointers
    pointer_sram_accesses: int = 0   # pointer-SRAM reads (2 per lookup unless spilled)
    pointer_spmat_words: int = 0     # Spmat words read for pointers spilled there
    source_sram_reads: int = 0
    dest_sram_writes: int = 0
    work_per_pe: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, other: "SpmvCounts") -> None:
        for f in fields(self):
            if f.name == "work_per_pe":
                mine = self.work_per_pe
                self.work_per_pe = other.work_per_pe.copy() if mine.size == 0 else mine + other.work_per_pe
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


def arithmetic_cycles(entries: np.ndarray, rate: Fraction) -> np.ndarray:
    """Cycles of the arithmetic unit for `entries` at `rate` entries per cycle: ceil(e / r)."""
    if rate == 1:
        return entries
    return -(-entries * rate.denominator // rate.numerator)


def count_product(arch: SparseArch, layout: CscLayout, placement: PointerPlacement,
                  active: np.ndarray, rate: Fraction = Fraction(1)) -> SpmvCounts:
    """Count one product of `layout` with a vector whose non-zeros sit at `active`.

    A PE's time for one broadcast column is the busiest of its three resources, which pipeline
    across columns (the pointer read of the next column overlaps the last entry of this one, as
    in the EIE authors' cycle simulator): the arithmetic unit (`rate` entries per cycle, 1 on
    EIE), the pointer SRAM (both pointers in one cycle with even/odd banks, two cycles with one
    bank) and the Spmat port (the words the entries span, plus the words of pointers spilled
    into Spmat); at least one cycle (every column reads two pointers from one of the SRAMs).
    """
    entries = layout.entries[:, :, active]               # [batch, pe, T0]
    nnz = layout.nnz[:, :, active]
    words = words_spanned(layout.offset[:, :, active], entries, arch.entries_per_word)
    broadcasts = layout.batches * active.size
    sram = placement.sram_reads[:, active][:, None, :]        # [batch, 1, T0]
    spill = placement.spmat_words[:, active][:, None, :]
    pointer_cycles = -(-sram // arch.pointer_banks)
    work = np.maximum(np.maximum(arithmetic_cycles(entries, rate), pointer_cycles),
                      words + spill)
    steps = np.moveaxis(work, 1, 2).reshape(-1, layout.pes)   # batches one after the other
    timing = simulate_queues(steps, arch.queue_depth)
    source_in_sram = layout.cols > arch.activation_registers * arch.pes
    return SpmvCounts(
        products=1, cycles=timing.cycles,
        queue_full_stall_cycles=timing.queue_full_stall_cycles,
        busy_pe_cycles=int(timing.busy_cycles_per_pe.sum()),
        broadcasts=broadcasts, nnz_processed=int(nnz.sum()),
        entries_processed=int(entries.sum()), spmat_words=int(words.sum()),
        pointer_reads=broadcasts * layout.pes,
        pointer_sram_accesses=int(sram.sum()) * layout.pes,
        pointer_spmat_words=int(spill.sum()) * layout.pes,
        source_sram_reads=broadcasts if source_in_sram else 0,
        dest_sram_writes=layout.rows if layout.batches > 1 else 0,
        work_per_pe=timing.busy_cycles_per_pe)


# ---- where pointers live and what a layout stores ------------------------------------------
def spilled_pointers(arch: SparseArch, layout: CscLayout, copies: int = 1) -> tuple[int, int]:
    """(pointers beyond the pointer SRAM, Spmat bytes they take if packed there), for `copies`
    matrices like `layout` held together (a matmul's `count`)."""
    spilled = max(0, copies * layout.batches * (layout.cols + 1) - arch.pointer_sram_capacity)
    words = -(-spilled // arch.pointers_per_spmat_word)
    return spilled, words * (arch.spmat_word_bits // 8)


def entry_bytes_per_pe(arch: SparseArch, layout: CscLayout) -> np.ndarray:
    """Spmat bytes of each PE's entries (whole words)."""
    return -(-layout.entries_per_pe() // arch.entries_per_word) * (arch.spmat_word_bits // 8)


def pointers_in_spmat(arch: SparseArch, layout: CscLayout, copies: int = 1) -> bool:
    """True when pointers overflow the pointer SRAM and the policy and free Spmat space allow
    keeping them in Spmat words after the entries."""
    spilled, spill_bytes = spilled_pointers(arch, layout, copies)
    return (spilled > 0 and arch.pointer_overflow == "spmat"
            and copies * int(entry_bytes_per_pe(arch, layout).max()) + spill_bytes
            <= arch.spmat_sram_bytes)


def placement_of(arch: SparseArch, layout: CscLayout) -> PointerPlacement:
    """Where each column's pointers are read from. Pointers that overflow to DRAM stream into
    the pointer SRAM, so they are read at its pace, as if it held them all."""
    capacity = (arch.pointer_sram_capacity if pointers_in_spmat(arch, layout)
                else layout.batches * (layout.cols + 1))
    return pointer_placement(layout.batches, layout.cols, capacity, arch.pointers_per_spmat_word)


def storage(arch: SparseArch, layout: CscLayout, copies: int = 1) -> dict:
    """Bytes each PE must hold for `copies` matrices like `layout` (a matmul's `count`, each
    taken to be the size of the first), and whether that fits its SRAMs. `overflow_bytes` is
    what does not fit, over all copies (a product of one matrix streams its share of it)."""
    spmat_bytes = copies * entry_bytes_per_pe(arch, layout)
    pointer_bytes = copies * layout.batches * (layout.cols + 1) * arch.pointer_bits // 8
    in_spmat = pointers_in_spmat(arch, layout, copies)
    spill_bytes = spilled_pointers(arch, layout, copies)[1] if in_spmat else 0
    spmat_over = np.maximum(0, spmat_bytes - arch.spmat_sram_bytes)
    pointer_over = 0 if in_spmat else max(0, pointer_bytes - arch.pointer_sram_bytes)
    return {"spmat_bytes_per_pe_max": int(spmat_bytes.max()),
            "pointer_bytes_per_pe": int(pointer_bytes),
            "pointers_in_spmat_bytes_per_pe": int(spill_bytes),
            "fits_on_chip": bool(spmat_over.max() == 0 and pointer_over == 0),
            "overflow_bytes": int(spmat_over.sum() + pointer_over * layout.pes),
            "compressed_weight_bytes": int(spmat_bytes.sum() + pointer_bytes * layout.pes)}
