"""Synthetic `RunResult`s for the report tests, built through the contract only
(`LayerResult` + `RunResult.from_layers` + `roofline.annotate`), so the report code is tested
independently of the engines."""

from __future__ import annotations

from simulator.core.results import LayerResult, RunResult
from simulator.core.roofline import annotate, roofs_for

#: A made-up TPUv1-like machine: 256 x 256 MACs at 700 MHz, 34 GB/s DRAM.
#: peak = 2 * 65536 * 700e6 = 91.75 TOPS; ridge = 91.75e12 / 34e9 = 2698.4 ops/byte.
CLOCK_HZ = 700e6
PEAK_MACS_PER_CYCLE = 256 * 256
DRAM_BYTES_PER_S = 34e9
MALICIOUS = "<script>alert(1)</script>"


def layer(name: str, type_: str, macs: int, compute_cycles: int, stall_cycles: int,
          dram_read_bytes: int, weight_bytes: int, *, dram_write_bytes: int = 0,
          stall_cause: str = "dram_bandwidth") -> LayerResult:
    """A layer whose energy is split as 1 pJ per MAC and 20 pJ per DRAM byte (made up)."""
    mac_pj = float(macs)
    dram_pj = 20.0 * (dram_read_bytes + dram_write_bytes)
    return LayerResult(
        name=name, type=type_, cycles=compute_cycles + stall_cycles,
        compute_cycles=compute_cycles, stall_cycles=stall_cycles,
        stall_breakdown_cycles={stall_cause: stall_cycles} if stall_cycles else {},
        macs=macs, ops=2 * macs, energy_pj=mac_pj + dram_pj,
        energy_breakdown_pj={"mac": mac_pj, "dram": dram_pj},
        dram_read_bytes=dram_read_bytes, dram_write_bytes=dram_write_bytes,
        sram_read_bytes=3 * dram_read_bytes, sram_write_bytes=dram_write_bytes,
        utilization=macs / ((compute_cycles + stall_cycles) * PEAK_MACS_PER_CYCLE),
        weight_bytes=weight_bytes)


def synthetic_result(layers: list[LayerResult] | None = None, *, arch_name: str = "madeup_tpu",
                     workload_name: str = "tiny_net", kind: str = "systolic",
                     sram_bytes_per_s: float | None = None,
                     peak_macs_per_cycle: float = PEAK_MACS_PER_CYCLE,
                     dram_bytes_per_s: float = DRAM_BYTES_PER_S) -> RunResult:
    """Three layers: a compute-bound conv, a memory-bound fc (batch 1: 1 MAC per weight byte)
    and a pool without MACs."""
    if layers is None:
        layers = [
            # conv: 118 MMACs, 9408 weight bytes... made-up numbers; intensity 2*118e6/1e5 ops/B
            layer("conv1", "conv", 118_013_952, 1_900, 100, 100_000, 9_408),
            # fc: 2048 x 1000 int8 weights read once: 2.048 MB, 2.048 MMACs -> 2 ops/B
            layer("fc", "linear", 2_048_000, 40, 42_160, 2_048_000, 2_048_000),
            layer(MALICIOUS, "maxpool", 0, 50, 0, 0, 0),
        ]
    roofs = roofs_for(peak_macs_per_cycle, CLOCK_HZ, dram_bytes_per_s, sram_bytes_per_s)
    for l in layers:
        annotate(l, roofs, CLOCK_HZ)
    arch = {"name": arch_name, "kind": kind, "clock_mhz": CLOCK_HZ / 1e6, "technology_nm": 28,
            "precision": {"weight_bits": 8, "activation_bits": 8, "accumulator_bits": 32,
                          "number_format": "int"},
            "dram": {"bandwidth_gbps": dram_bytes_per_s / 1e9, "technology": "DDR3"},
            "array": {"rows": 256, "cols": 256, "dataflow": "ws"}}
    workload = {"name": workload_name, "batch": 1, "layers": len(layers),
                "macs": sum(l.macs for l in layers), "params": 0,
                "precision": arch["precision"], "source": "synthetic"}
    return RunResult.from_layers(
        arch=arch, workload=workload, layers=layers, peak_macs_per_cycle=peak_macs_per_cycle,
        clock_hz=CLOCK_HZ, roofline=roofs.as_dict(),
        assumptions=[f"assumption mentioning {MALICIOUS}", "weights stream from DRAM once"],
        warnings=["made-up numbers for tests"], version="test")
