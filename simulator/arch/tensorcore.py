"""Tensor cores fed through a data routing bridge (Horizon BPU style; parameters are ours)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from .common import ArchBase, StrictModel


class CoreConfig(StrictModel):
    mac_rows: PositiveInt = 32
    mac_cols: PositiveInt = 32
    input_buffer_bytes: PositiveInt = 131072
    weight_buffer_bytes: PositiveInt = 65536
    output_buffer_bytes: PositiveInt = 65536
    hardwired_ops: list[str] = Field(default_factory=lambda: ["conv", "maxpool", "avgpool", "add"])
    fusable_post_ops: list[str] = Field(default_factory=lambda: ["relu", "relu6", "maxpool"])


class BridgeConfig(StrictModel):
    ports: PositiveInt = 4
    bytes_per_cycle_per_port: PositiveFloat = 64
    hop_latency_cycles: int = Field(4, ge=0)
    multicast: bool = True


class SharedSram(StrictModel):
    size_bytes: PositiveInt = 4 * 1024 * 1024
    banks: PositiveInt = 16
    bytes_per_cycle_per_bank: PositiveFloat = 32


class TensorCoreArch(ArchBase):
    kind: Literal["tensorcore"] = "tensorcore"
    cores: PositiveInt = 2
    core: CoreConfig = Field(default_factory=CoreConfig)
    sram: SharedSram = Field(default_factory=SharedSram)
    bridge: BridgeConfig = Field(default_factory=BridgeConfig)
    vector_ops_per_cycle: PositiveFloat = 64
