"""Tensor cores fed through a data routing bridge (Horizon BPU style).

No block-level detail of Horizon's "elastic tensor core" or "data routing bridge" is published
(only chip-level figures: Journey 3, 5 TOPS int8, 16 nm, dual-core). Every block-level parameter
here is therefore ours; docs/models/tensorcore.md explains each choice.

Structure of the machine the engine simulates::

    DRAM ─(DMA, in order)─ bridge port ─┐
                                        ├─ shared SRAM (N banks, bytes/cycle each)
    core i buffers ─ bridge port i ─────┤
    vector unit ─── bridge port ────────┘

Ops are named as the compiler names layers: `conv` (dense or grouped), `depthwise`, `linear`,
`matmul`, `lstm`, `maxpool`, `avgpool`, `globalavgpool`, `globalmaxpool`, `add`, `mul`, and
activation functions by name (`relu`, `relu6`, `hardswish`, ...).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt, field_validator, model_validator

from simulator.core.arch import ArchBase, StrictModel
from simulator.core.layer_base import ACTIVATIONS

#: Op names a core may list besides activation functions (see simulator.core.layer_base.ACTIVATIONS).
#: The slowest on-chip rate accepted (bridge port and SRAM bank bytes per cycle, vector-unit
#: element ops per cycle), as for `mac_rates` and the DRAM (docs/formats.md, section 6): a
#: transfer's cycles stay a finite float (1e-300 B/cycle made them infinite: OverflowError).
MIN_RATE_PER_CYCLE = 1e-6

LAYER_OPS = ("conv", "depthwise", "linear", "matmul", "lstm", "maxpool", "avgpool",
             "globalavgpool", "globalmaxpool", "add", "mul")


def known_ops() -> frozenset[str]:
    """Every op name a core may list (layer types, conv flavours, activation functions)."""
    return frozenset(LAYER_OPS + tuple(ACTIVATIONS))


def _check_ops(ops: list[str]) -> list[str]:
    known = known_ops()
    unknown = sorted(set(ops) - known)
    if unknown:
        raise ValueError(f"unknown op(s) {unknown}; known: {sorted(known)}")
    return ops


class CoreConfig(StrictModel):
    """One tensor core: a MAC array, ping-pong local buffers and a post-processing path.

    MAC array mapping (ours): for conv/linear the `mac_rows` lanes take the reduction
    dimension (input channels x kernel taps, im2col) and the `mac_cols` lanes take output
    channels; output pixels stream through one per cycle. For depthwise conv the rows take
    output pixels, the columns take channels and the kernel taps are accumulated in time.
    """

    mac_rows: PositiveInt = Field(32, description="reduction lanes (input channels x taps)")
    mac_cols: PositiveInt = Field(32, description="output-channel lanes")
    input_buffer_bytes: PositiveInt = 131072
    weight_buffer_bytes: PositiveInt = 131072
    output_buffer_bytes: PositiveInt = Field(
        131072, description="accumulators; partial sums are kept at accumulator width")
    double_buffering: bool = Field(True, description="each buffer is split in two halves (ping-pong)")
    vector_lanes: PositiveInt = Field(
        32, description="elements per cycle of the core's hard-wired pool/eltwise/activation path")
    hardwired_ops: list[str] = Field(default_factory=lambda: [
        "conv", "depthwise", "linear", "maxpool", "avgpool", "globalavgpool", "add", "relu",
        "relu6"])
    fusable_post_ops: list[str] = Field(
        default_factory=lambda: ["relu", "relu6", "maxpool", "avgpool", "add"],
        description="ops applied on a conv's output path in the same pass (no SRAM round trip)")

    fusable_pre_ops: list[Literal["mul"]] = Field(
        default_factory=list,
        description="ops applied on a dense conv's input path as the array reads its input: "
                    "mul (a squeeze-excite scale: each input channel times its factor, at the "
                    "array's input rate, no SRAM round trip of the scaled map)")

    @field_validator("hardwired_ops", "fusable_post_ops")
    @classmethod
    def _known(cls, ops: list[str]) -> list[str]:
        return _check_ops(ops)

    @property
    def macs_per_cycle(self) -> int:
        return self.mac_rows * self.mac_cols


class BridgeConfig(StrictModel):
    """The data routing bridge: a crossbar between SRAM banks and its clients (cores, DMA,
    vector unit). Client c uses port c mod `ports` (clients: core 0..C-1, DMA, vector unit)."""

    ports: PositiveInt = 4
    bytes_per_cycle_per_port: float = Field(
        64, ge=MIN_RATE_PER_CYCLE, allow_inf_nan=True,
        description="per port; .inf for an unbounded bridge")
    hop_latency_cycles: int = Field(8, ge=0, description="pipeline latency of one transfer")
    multicast: bool = Field(True, description="one SRAM read delivers a tile to several cores")
    energy_pj_per_byte: PositiveFloat = Field(
        1.6, description="wire + switch energy per byte per destination at 45 nm (ours, see docs)")


class SharedSram(StrictModel):
    """Banked shared SRAM. A tile lives in one bank (tile-interleaved addressing)."""

    size_bytes: PositiveInt = 2 * 1024 * 1024
    banks: PositiveInt = 16
    bytes_per_cycle_per_bank: float = Field(64, ge=MIN_RATE_PER_CYCLE, allow_inf_nan=True,
                                            description=".inf for unbounded")
    weight_staging_bytes: PositiveInt = Field(
        262144, description="part of the SRAM reserved for weights on their way to the cores")

    @property
    def bank_bytes(self) -> float:
        return self.size_bytes / self.banks


class VectorUnit(StrictModel):
    """Fallback for ops no core hard-wires. `bridge`: a vector unit on the bridge that reads
    and writes the shared SRAM; `host`: the host CPU, which reads and writes DRAM."""

    ops_per_cycle: float = Field(32, ge=MIN_RATE_PER_CYCLE,
                                 description="8-bit element operations per cycle")
    buffer_bytes: PositiveInt = Field(32768, description="local buffer (tile size x 2)")
    location: Literal["bridge", "host"] = "bridge"


class CompilerConfig(StrictModel):
    """How the compiler maps work (a mapping choice, not hardware; override with --set)."""

    placement: Literal["split", "pipeline"] = Field(
        "split", description="split: every layer across all cores, layer by layer; pipeline: "
                             "consecutive layers on different cores, overlapped by tile")
    fusion: bool = Field(True, description="fuse conv + activation/pool/add post-ops")
    weight_residency: Literal["stream", "resident"] = Field(
        "resident",
        description="stream: every frame loads all weights from DRAM (cold start, or several "
                    "models time-sharing the SRAM); resident: steady-state streaming inference, "
                    "the compiler keeps the weights that pay off in the shared SRAM across "
                    "frames (loaded once with the model, reported as weight_preload_bytes) "
                    "and streams the rest")


class TensorCoreArch(ArchBase):
    """Several tensor cores, a banked shared SRAM, a data routing bridge, DMA to DRAM and a
    vector unit for the ops the cores do not hard-wire."""

    kind: Literal["tensorcore"] = "tensorcore"
    cores: int = Field(2, ge=1, le=1024, description=(
        "tensor cores sharing the SRAM and the bridge (at most 1024: the compiler emits ops per "
        "core, so time and memory grow with the count)"))
    core: CoreConfig = Field(default_factory=CoreConfig)
    sram: SharedSram = Field(default_factory=SharedSram)
    bridge: BridgeConfig = Field(default_factory=BridgeConfig)
    vector_unit: VectorUnit = Field(default_factory=VectorUnit)
    compiler: CompilerConfig = Field(default_factory=CompilerConfig)

    @model_validator(mode="after")
    def _fits(self) -> "TensorCoreArch":
        if self.sram.weight_staging_bytes >= self.sram.size_bytes:
            raise ValueError("sram.weight_staging_bytes must be smaller than sram.size_bytes")
        from simulator.kinds.tensorcore.precision import parse_label
        bad = sorted(k for k in self.mac_rates or {} if parse_label(k) is None)
        if bad:
            raise ValueError(f"mac_rates: {bad} are not precision labels (int8, int8x16, fp16, "
                             "int4, ...: format, activation bits, x weight bits when they differ)")
        return self

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.cores * self.core.macs_per_cycle
