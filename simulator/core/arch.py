"""Fields every architecture shares: clock, technology, precision, DRAM, energy table."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, PositiveInt, PrivateAttr

from simulator.core.strict import StrictModel

__all__ = ["ArchBase", "DatapathSupport", "DramConfig", "EnergyConfig", "Precision",
           "StrictModel"]

# Bounds of the common fields (docs/formats.md, section 6): wide enough for any real or
# imagined chip, narrow enough that cycles and latencies stay finite 64-bit numbers.
MAX_CLOCK_MHZ = 1e6            # 1 THz
MIN_BANDWIDTH_GBPS = 1e-6      # 1 kB/s
MAX_LATENCY_NS = 1e9           # 1 s
MAX_TECHNOLOGY_NM = 1e4        # 10 um
MIN_TECHNOLOGY_NM = 0.1
MAC_RATE_RANGE = (1e-6, 1e6)
MAX_ENERGY_PJ = 1e9            # 1 mJ per action or bit


class Precision(StrictModel):
    """Operand precision. On an arch it is the MAC array's native width; on a workload it is
    what the network was quantized to (the run uses the workload's when it gives one)."""

    weight_bits: Literal[4, 8, 16, 32] = 8
    activation_bits: Literal[4, 8, 16, 32] = 8
    accumulator_bits: Literal[16, 24, 32] = 32
    number_format: Literal["int", "fp"] = Field(
        "int", description="int (fixed point) or fp (floating point); fp needs 16 or 32 bits")

    @property
    def label(self) -> str:
        """Short label such as `int8`, `int8x16` or `fp16`."""
        if self.weight_bits == self.activation_bits:
            return f"{self.number_format}{self.weight_bits}"
        return f"{self.number_format}{self.activation_bits}x{self.weight_bits}"

    def model_post_init(self, __context: object) -> None:
        if self.number_format == "fp" and (self.weight_bits < 16 or self.activation_bits < 16):
            raise ValueError("floating-point operands must be 16 or 32 bits")


class DramConfig(StrictModel):
    """Off-chip memory: a bandwidth, a latency and an energy per bit."""

    bandwidth_gbps: float = Field(
        ge=MIN_BANDWIDTH_GBPS, allow_inf_nan=True,
        description="sustained bandwidth in GB/s (10^9 bytes per second); .inf for an ideal "
        "memory that never stalls")
    latency_ns: float = Field(100.0, ge=0, le=MAX_LATENCY_NS,
                              description="access latency of one request")
    energy_pj_per_bit: float | None = Field(
        None, gt=0, le=MAX_ENERGY_PJ, description="energy per bit moved; default from the "
        "energy table")
    capacity_bytes: PositiveInt | None = None
    technology: str = Field("DRAM", description="label only, e.g. DDR3, LPDDR4, HBM2")


class EnergyConfig(StrictModel):
    """Which energy table to use and what to override in it."""

    table: str = Field("horowitz_45nm", description="bundled table name or path to a YAML table")
    overrides_pj: dict[str, Annotated[float, Field(gt=0, le=MAX_ENERGY_PJ)]] = Field(
        default_factory=dict, description="table entries to replace, e.g. {dram_pj_per_bit: 15}")
    scale_to_technology: bool = Field(
        False, description="scale 45 nm energies to technology_nm (first-order, see docs/models.md)")


class DatapathSupport(StrictModel):
    """Which compressed forms the datapath consumes natively (issue "compression meets the
    chip"; docs/compression.md). What a chip does not support still changes storage, but not
    compute: a dense array multiplies pruned zeros, and compressed weights must be decoded
    before the array, so DRAM bytes shrink only with a decoder on the chip."""

    zero_skipping: Literal["none", "weights", "activations", "both"] = Field(
        "none", description="zero operands the MAC datapath skips (EIE: both)")
    weight_decoders: list[Literal["codebook", "huffman", "sparse"]] = Field(
        default_factory=list, description="compressed weight formats decoded on chip, so "
        "weights travel compressed from DRAM (codebook indices, Huffman streams, sparse indices)")
    winograd: list[Literal["f2", "f4"]] = Field(
        default_factory=list, description="hard-wired Winograd transforms: F(2x2,3x3) 'f2', "
        "F(4x4,3x3) 'f4'")


class ArchBase(StrictModel):
    """Common fields of every architecture kind."""

    name: str
    description: str = ""
    clock_mhz: float = Field(gt=0, le=MAX_CLOCK_MHZ, description="core clock in MHz")
    technology_nm: float = Field(45, ge=MIN_TECHNOLOGY_NM, le=MAX_TECHNOLOGY_NM,
                                 description="process node in nm")
    precision: Precision = Field(default_factory=Precision)
    dram: DramConfig
    energy: EnergyConfig = Field(default_factory=EnergyConfig)
    mac_rates: dict[str, Annotated[float, Field(ge=MAC_RATE_RANGE[0], le=MAC_RATE_RANGE[1])]] \
            | None = Field(
        None, description="MAC throughput per operand precision label (int8, int8x16, int16, "
        "fp16, int4, ...), relative to the native precision's peak (1.0). A label left out is "
        "not supported by the MAC datapath. None: the kind's own rule (e.g. TPUv1's operands "
        "wider than native run at the product of the width ratios)")
    datapath: DatapathSupport = Field(default_factory=DatapathSupport)
    mapping_objective: Literal["latency", "energy", "edp", "dram"] = Field(
        "latency", description="what the mapper (tiler, compiler) minimises when it chooses "
        "tiles, loop orders and splits across cores: latency, energy, edp (energy x delay) or "
        "dram (DRAM bytes); --objective overrides it for one run")
    source: str = Field("", description="where the parameters come from (paper, datasheet, ours)")

    #: the file the arch was read from (None when built in code or from a sweep's point)
    _file: str | None = PrivateAttr(default=None)

    @property
    def file(self) -> str | None:
        """The file this arch was read from, if any (named in errors found after loading)."""
        return self._file

    @property
    def clock_hz(self) -> float:
        return self.clock_mhz * 1e6

    @property
    def dram_bytes_per_cycle(self) -> float:
        """DRAM bandwidth expressed in bytes per core clock cycle."""
        return self.dram.bandwidth_gbps * 1e9 / self.clock_hz
