"""EIE's counted actions under its power-breakdown components (Han et al., ISCA 2016, Sec. VI:
Spmat read, pointer read, arithmetic, activation R/W, queue); `simulator.core.energy` prices
them. The counts are the layer's totals (`scaled_totals` for the dense baseline)."""

from __future__ import annotations

from dataclasses import fields

from simulator.core.actions import Action, Macs, RegisterAccess, SramAccess
from simulator.core.arch import Precision
from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.sparse.explain import Recorder
from simulator.kinds.sparse.spmv import SpmvCounts


def eie_actions(a: SparseArch, n: dict[str, int], cols: int, p: Precision,
                rec: Recorder) -> list[Action]:
    """The counted actions of totals `n` under EIE's power-breakdown components
    (Sec. VI); with `rec`, the counts are recorded as formulas."""
    act_bits = p.activation_bits

    def spmat_words(component: str, words: int) -> SramAccess:
        return SramAccess(component=component, size_bytes=a.spmat_sram_bytes,
                          width_bits=a.spmat_word_bits,
                          read_bytes=words * (a.spmat_word_bits // 8))

    codebook_bits = rec("codebook_read_bits", "entries_processed * codebook_value_bits",
                        "bits", meaning="every entry (padding zeros too) looks up the "
                        "codebook", entries_processed=n["entries"],
                        codebook_value_bits=a.codebook_value_bits)
    dest_bits = rec("destination_register_bits", "entries_processed * 2 * activation_bits",
                    "bits", meaning="each entry reads and writes its output's accumulator "
                    "register", entries_processed=n["entries"], activation_bits=act_bits)
    source_bits = rec("source_register_bits", "(broadcasts - source_sram_reads) * "
                      "activation_bits", "bits", meaning="a broadcast reads its value from "
                      "the source register file (or the activation SRAM for long inputs)",
                      broadcasts=n["broadcasts"], source_sram_reads=n["source_sram_reads"],
                      activation_bits=act_bits)
    # each PE's queue: one push and one pop of (value, column index) per broadcast
    queue_entry_bits = act_bits + max(1, (max(cols, 2) - 1).bit_length())
    queue_bits = rec("queue_bits", "pointer_reads * 2 * queue_entry_bits", "bits",
                     meaning="a push and a pop of (value, column index) per PE and broadcast",
                     pointer_reads=n["pointer_reads"], queue_entry_bits=queue_entry_bits)
    return [
        spmat_words("spmat_read", n["spmat_words"]),
        # both pointers of a column: one access per bank (two accesses of one bank if
        # unbanked); pointers spilled into Spmat cost a Spmat word read
        SramAccess(component="pointer_read", size_bytes=a.pointer_sram_bytes / a.pointer_banks,
                   width_bits=a.pointer_bits,
                   read_bytes=n["pointer_sram_accesses"] * a.pointer_bits / 8),
        spmat_words("pointer_read", n["pointer_spmat_words"]),
        # every entry (padding zeros too) looks up the codebook and multiply-accumulates
        Macs(component="arithmetic", count=n["entries"], precision=p),
        RegisterAccess(component="arithmetic", bits=codebook_bits),
        # destination register read-modify-write per entry; source read per broadcast;
        # activation SRAM for long vectors and output batches
        RegisterAccess(component="activation_rw", bits=dest_bits),
        RegisterAccess(component="activation_rw", bits=source_bits),
        SramAccess(component="activation_rw", size_bytes=a.activation_sram_bytes,
                   width_bits=act_bits, read_bytes=n["source_sram_reads"] * act_bits / 8,
                   write_bytes=n["dest_sram_writes"] * act_bits / 8),
        RegisterAccess(component="queue", bits=queue_bits),
    ]



def scaled_totals(c: SpmvCounts, products: int, simulated: int) -> dict[str, int]:
    """Totals over all products of the counts of `simulated` ones (ceil of the share)."""
    def up(x: int) -> int:
        return -(-x * products // simulated)
    values = {f.name: up(getattr(c, f.name)) for f in fields(c) if f.name != "work_per_pe"}
    return {"entries": values["entries_processed"], "broadcasts": values["broadcasts"],
            "spmat_words": values["spmat_words"],
            "pointer_sram_accesses": values["pointer_sram_accesses"],
            "pointer_spmat_words": values["pointer_spmat_words"],
            "source_sram_reads": values["source_sram_reads"],
            "dest_sram_writes": values["dest_sram_writes"],
            "pointer_reads": values["pointer_reads"]}
