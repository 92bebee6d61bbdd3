"""Sparse matrix-vector engine (EIE style). Parameters as in Han et al., "EIE: Efficient Inference
Engine on Compressed Deep Neural Network", ISCA 2016, Sec. IV-V (see docs/models/sparse.md).

Every PE holds an interleaved slice of the compressed (CSC) weight matrix: a Spmat SRAM of
entries (a codebook index plus a relative row index), a pointer SRAM of column start pointers in
two banks (even/odd columns, so a column's start and end pointer come in one cycle), an
activation queue, and two activation register files (source / destination) backed by a small
activation SRAM for vectors longer than `activation_registers` x `pes`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from simulator.core.arch import ArchBase, DatapathSupport

#: What an EIE-style datapath consumes natively (Han et al., ISCA 2016, Sec. III): zeros in
#: weights (CSC) and activations (only non-zeros are broadcast), codebook-indexed weights and
#: sparse relative indices. Huffman streams are not decoded on the fly.
EIE_DATAPATH = DatapathSupport(zero_skipping="both", weight_decoders=["codebook", "sparse"])


class SparseArch(ArchBase):
    """P processing elements, each holding an interleaved slice of the CSC weight matrix."""

    kind: Literal["sparse"] = "sparse"
    datapath: DatapathSupport = Field(
        default_factory=lambda: EIE_DATAPATH.model_copy(deep=True),
        description="fixed for this kind: EIE skips zeros in weights and activations and "
                    "decodes codebook indices and sparse relative indices")
    pes: int = Field(64, ge=1, le=256, description="processing elements; row i lives on PE i mod pes")
    queue_depth: int = Field(8, ge=1, le=4096,
                             description="activation queue entries per PE (1: lock-step broadcast)")
    index_bits: int = Field(4, ge=2, le=8, description="relative row index width; a zero run "
                            "longer than 2^index_bits - 1 needs a padding zero entry")
    weight_index_bits: int = Field(4, ge=1, le=8, description="codebook index width "
                                   "(2^bits shared weights)")
    codebook_value_bits: PositiveInt = Field(16, le=32, description="width of a codebook value")
    spmat_sram_bytes: PositiveInt = Field(131072, description="sparse-matrix SRAM per PE")
    spmat_word_bits: PositiveInt = Field(64, description="Spmat SRAM read width")
    pointer_sram_bytes: PositiveInt = Field(32768, description="pointer SRAM per PE (all banks)")
    pointer_banks: Literal[1, 2] = Field(2, description="2: even/odd banks, both column pointers "
                                         "in one cycle; 1: two reads per column")
    pointer_bits: PositiveInt = Field(16, le=32)
    pointer_overflow: Literal["spmat", "dram"] = Field(
        "spmat", description="where column pointers that do not fit the pointer SRAM go: 'spmat' "
                             "keeps them in free Spmat words, read through the Spmat port (if "
                             "they fit there), 'dram' streams them from DRAM for every vector")
    activation_sram_bytes: PositiveInt = Field(2048, description="activation SRAM per PE")
    activation_registers: PositiveInt = Field(
        64, description="entries per activation register file per PE (source and destination)")
    weight_sharing: bool = Field(
        False, description="k-means-quantize a user's weights to 2^weight_index_bits values and "
                           "report the codebook error")
    seed: int = Field(0, ge=0, description="seed of the random matrices and activation vectors "
                                           "(each layer derives its own stream from it)")
    row_density_cv: float = Field(
        0.125, ge=0.0, le=2.0,
        description="spread of the per-row weight density of the random matrices (coefficient of "
                    "variation of a Gamma row factor; 0 = i.i.d. Bernoulli weights). The default "
                    "is calibrated to EIE Table IV's actual/theoretical ratios (docs/models/sparse.md)")

    @property
    def entry_bits(self) -> int:
        """Bits of one Spmat entry: codebook index plus relative row index (EIE: 4 + 4)."""
        return self.index_bits + self.weight_index_bits

    @property
    def entries_per_word(self) -> int:
        """Entries in one Spmat SRAM word; entries never straddle words (EIE: 64 / 8 = 8)."""
        return self.spmat_word_bits // self.entry_bits

    @property
    def pointer_sram_capacity(self) -> int:
        """Column pointers the pointer SRAM holds (EIE: 32 KB / 16 bits = 16,384)."""
        return self.pointer_sram_bytes * 8 // self.pointer_bits

    @property
    def pointers_per_spmat_word(self) -> int:
        """Pointers packed in one Spmat word when they spill there (EIE: 64 / 16 = 4)."""
        return max(1, self.spmat_word_bits // self.pointer_bits)

    @property
    def max_zero_run(self) -> int:
        """Longest run of zeros a relative index can skip (EIE: 2^4 - 1 = 15)."""
        return (1 << self.index_bits) - 1

    @field_validator("datapath")
    @classmethod
    def _eie_datapath(cls, datapath: DatapathSupport) -> DatapathSupport:
        if (datapath.zero_skipping != "both"
                or sorted(datapath.weight_decoders) != ["codebook", "sparse"]
                or datapath.winograd):
            raise ValueError("the sparse (EIE) kind models one datapath: zero_skipping both, "
                             "weight_decoders [codebook, sparse], no winograd (a Huffman "
                             "decoder or dense operation is another chip)")
        return datapath

    @model_validator(mode="after")
    def _consistent(self) -> "SparseArch":
        if self.spmat_word_bits < self.pointer_bits and self.pointer_overflow == "spmat":
            raise ValueError(f"spmat_word_bits ({self.spmat_word_bits}) must hold a pointer of "
                             f"pointer_bits = {self.pointer_bits} when pointer_overflow is spmat")
        if self.spmat_word_bits < self.entry_bits:
            raise ValueError(f"spmat_word_bits ({self.spmat_word_bits}) must hold at least one "
                             f"entry of index_bits + weight_index_bits = {self.entry_bits} bits")
        return self


def sparse_what_ifs(arch: SparseArch) -> list[tuple[str, list[str]]]:
    """Changes worth re-simulating on an EIE-style chip, for `npusim explain`: more PEs (less
    work per PE, worse balance), deeper activation queues (absorb imbalance), a wider relative
    index (fewer padding zeros, wider entries) and, where pointers overflow, a bigger pointer
    SRAM. Each stays inside the arch's valid ranges."""
    changes: list[tuple[str, list[str]]] = []
    if arch.pes * 2 <= 256:
        changes.append((f"twice the PEs ({arch.pes * 2})", [f"pes={arch.pes * 2}"]))
    if arch.queue_depth * 2 <= 4096:
        changes.append((f"activation queues twice as deep ({arch.queue_depth * 2})",
                        [f"queue_depth={arch.queue_depth * 2}"]))
    if arch.index_bits < 8 and arch.index_bits + 1 + arch.weight_index_bits <= arch.spmat_word_bits:
        changes.append((f"a {arch.index_bits + 1}-bit relative index (fewer padding zeros)",
                        [f"index_bits={arch.index_bits + 1}"]))
    changes.append(("twice the pointer SRAM", [f"pointer_sram_bytes={arch.pointer_sram_bytes * 2}"]))
    return changes
