"""Sparse matrix-vector engine (EIE style). Parameters as in Han et al., ISCA 2016."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from .common import ArchBase


class SparseArch(ArchBase):
    """P processing elements, each holding an interleaved slice of the CSC weight matrix."""

    kind: Literal["sparse"] = "sparse"
    pes: PositiveInt = 64
    queue_depth: PositiveInt = 8
    index_bits: PositiveInt = Field(4, le=16, description="relative row index width")
    weight_index_bits: PositiveInt = Field(4, le=16, description="codebook index width")
    codebook_value_bits: PositiveInt = 16
    spmat_sram_bytes: PositiveInt = 131072
    spmat_word_bits: PositiveInt = 64
    pointer_sram_bytes: PositiveInt = 32768
    pointer_bits: PositiveInt = 16
    activation_sram_bytes: PositiveInt = 2048
