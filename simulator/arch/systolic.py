"""Systolic-array architecture (TPUv1 style, or SCALE-Sim style split SRAMs)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from .common import ArchBase, StrictModel


class ArrayConfig(StrictModel):
    """The PE grid and how operands map onto it."""

    rows: PositiveInt
    cols: PositiveInt
    dataflow: Literal["ws", "os", "is"] = Field(
        "ws", description="ws: weight stationary, os: output stationary, is: input stationary")


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
        None, description="cycles to shift one weight tile into the array (default: rows)")
    double_buffered: bool = True

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
    """A rows x cols systolic array of MACs."""

    kind: Literal["systolic"] = "systolic"
    array: ArrayConfig
    memory: SystolicMemory
    mac_rate_scales_with_precision: bool = Field(
        True, description="operands wider than the native precision slow the MAC rate "
                          "(TPUv1: 8b x 16b half speed, 16b x 16b quarter speed)")
