"""Systolic-array architecture (TPUv1 style, or SCALE-Sim style split SRAMs).

Model documented in docs/models.md (section 3).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, model_validator

from simulator.core.arch import ArchBase, StrictModel
from simulator.core.layer_base import Activation


class ArrayConfig(StrictModel):
    """The PE grid and how operands map onto it."""

    rows: PositiveInt
    cols: PositiveInt
    dataflow: Literal["ws", "os", "is"] = Field(
        "ws", description="ws: weight stationary, os: output stationary, is: input stationary")
    pipelined_folds: bool = Field(
        False, description="false (SCALE-Sim): every fold pays its own stationary-operand load "
        "and fill/drain skew. true (TPUv1): the next fold's stationary tile shifts in while the "
        "current one computes and folds stream back to back, so a fold costs max(streamed rows, "
        "shift cycles) and the fill/drain skew is paid once per GEMM")


class SystolicMemory(StrictModel):
    """On-chip buffers.

    `split` (SCALE-Sim style): separate ifmap, filter and ofmap SRAMs; every layer reads its
    inputs from DRAM and writes its outputs back.
    `unified` (TPUv1 style): a unified buffer holds activations across layers (DRAM only when
    they do not fit), weights stream from DRAM through a FIFO of array-sized tiles, partial sums
    collect in accumulators.
    """

    style: Literal["split", "unified"] = "split"
    ifmap_sram_bytes: PositiveInt | None = None
    filter_sram_bytes: PositiveInt | None = None
    ofmap_sram_bytes: PositiveInt | None = None
    unified_buffer_bytes: PositiveInt | None = None
    accumulator_bytes: PositiveInt | None = None
    weight_fifo_tiles: PositiveInt | None = None
    weight_shift_cycles: PositiveInt | None = Field(
        None, description="cycles to shift one stationary tile into the array (default: rows)")
    double_buffered: bool = Field(
        True, description="each buffer holds two tiles, so the next tile's DRAM transfer "
        "overlaps the current tile's compute (a tile may use half the buffer)")

    @model_validator(mode="after")
    def _style_fields(self) -> "SystolicMemory":
        if self.style == "split":
            for name in ("ifmap_sram_bytes", "filter_sram_bytes", "ofmap_sram_bytes"):
                if getattr(self, name) is None:
                    raise ValueError(f"memory style 'split' needs {name}")
        else:
            for name in ("unified_buffer_bytes", "accumulator_bytes", "weight_fifo_tiles"):
                if getattr(self, name) is None:
                    raise ValueError(f"memory style 'unified' needs {name}")
        return self


class SystolicArch(ArchBase):
    """A rows x cols systolic array of MACs plus a vector unit for element-wise work."""

    kind: Literal["systolic"] = "systolic"
    array: ArrayConfig
    memory: SystolicMemory
    mac_rate_scales_with_precision: bool = Field(
        True, description="operands wider than the native precision slow the MAC rate "
                          "(TPUv1: 8b x 16b half speed, 16b x 16b quarter speed)")
    vector_elements_per_cycle: PositiveFloat | None = Field(
        None, description="throughput of the activation/pooling (vector) unit in element "
        "operations per cycle (default: array cols, one accumulator row per cycle as in TPUv1)")
    hardwired_activations: list[Activation] = Field(
        ["relu"], description="activation functions the output path "
        "applies as results drain, at no extra cycles (TPUv1's activation unit: relu, sigmoid, "
        "tanh); any other runs on the vector unit at its cost per element "
        "(simulator/core/activations.py). Default: relu only")

    @property
    def vector_rate(self) -> float:
        """Vector-unit element operations per cycle."""
        return float(self.vector_elements_per_cycle or self.array.cols)

    @property
    def shift_cycles(self) -> int:
        """Cycles to load one stationary tile into the array."""
        return int(self.memory.weight_shift_cycles or self.array.rows)
