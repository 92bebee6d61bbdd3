"""Turn a SCALE-Sim reference record (reports/scalesim_validation/scalesim_reference.json) into
an npusim arch + workload and compute our cycles for it. Used by the agreement test and by
reports/scalesim_validation/compare.py; pure (the caller reads the JSON).

Conv-form records are SCALE-Sim topology rows whose IFMAP is already padded; SCALE-Sim sizes the
ofmap as ceil((H - R + stride) / stride), which is our conv with `padding: 0, ceil_mode: true`.
GEMM-form records (M, N, K) become a `matmul` layer with stored weights.
"""

from __future__ import annotations

from simulator.core.results import LayerResult
from simulator.core.workload import Workload, workload_from_dict
from simulator.kinds.registry import arch_from_dict
from simulator.kinds.systolic.arch import SystolicArch


def reference_arch(record: dict) -> SystolicArch:
    """A split-SRAM array like the one SCALE-Sim ran (1 MiB SRAMs, SCALE-Sim fold timing)."""
    sram = int(record.get("sram_kb", 1024)) * 1024
    return arch_from_dict({
        "name": f"scalesim_{record['array_rows']}x{record['array_cols']}_{record['dataflow']}",
        "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": record["array_rows"], "cols": record["array_cols"],
                  "dataflow": record["dataflow"]},
        "memory": {"style": "split", "ifmap_sram_bytes": sram, "filter_sram_bytes": sram,
                   "ofmap_sram_bytes": sram},
        "dram": {"bandwidth_gbps": 10},
    }, source="<scalesim reference>")


def reference_workload(record: dict) -> Workload:
    """The record's layer as a one-layer npusim workload."""
    if record.get("topology_form", "conv") == "gemm":
        layer = {"name": record["layer"], "type": "matmul", "m": record["M"],
                 "k": record["K"], "n": record["N"], "weights": True}
    else:
        layer = {"name": record["layer"], "type": "conv",
                 "input": [record["channels"], record["ifmap_h"], record["ifmap_w"]],
                 "out_channels": record["num_filters"],
                 "kernel": [record["filter_h"], record["filter_w"]],
                 "stride": record["stride"], "padding": 0, "ceil_mode": True}
    return workload_from_dict({"name": record["layer"], "layers": [layer]},
                              source="<scalesim reference>")


def simulate_record(record: dict) -> LayerResult:
    """npusim's result for one reference record."""
    from simulator.api import simulate
    return simulate(reference_arch(record), reference_workload(record)).layers[0]
