"""Precision is hardware (issue 12 item 2): MAC rates per precision label, TPUv1's rule by
default, MAC energy at the run's precision, unsupported precisions refused, per-layer widths."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.kinds.registry import arch_from_dict


def tiny(**extra):
    return arch_from_dict({
        "name": "tiny", "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": 4, "cols": 4, "dataflow": "os"},
        "memory": {"style": "split", "ifmap_sram_bytes": 1 << 20, "filter_sram_bytes": 1 << 20,
                   "ofmap_sram_bytes": 1 << 20},
        "dram": {"bandwidth_gbps": 1000, "latency_ns": 0}, **extra})


def fc(precision=None, **layer):
    data = {"name": "w", "batch": 64, "layers": [
        {"name": "fc", "type": "linear", "input": [16], "out_features": 16, "bias": False,
         **layer}]}
    if precision:
        data["precision"] = precision
    return workload_from_dict(data)


FP16 = {"weight_bits": 16, "activation_bits": 16, "number_format": "fp"}
INT4 = {"weight_bits": 4, "activation_bits": 4}


# GEMM M=64, K=16, N=16 on a 4x4 OS array: Sr=M -> 16 row folds, Sc=N -> 4 col folds, T=K=16;
# SCALE-Sim per fold 16 + 4 + 4 - 2 = 22; 64 folds -> 64 * 22 - 1 = 1407 cycles at the native rate
def test_mac_rates_set_cycles_and_peak():
    arch = tiny(mac_rates={"int8": 1.0, "fp16": 0.25, "int4": 2.0})
    int8 = simulate(arch, fc())
    assert int8.layers[0].compute_cycles == 1407
    # fp16 at a quarter rate: four passes of every fold, 64 * 22 * 4 - 1; peak 16 * 0.25 = 4
    half = simulate(arch, fc(FP16))
    assert half.layers[0].compute_cycles == 64 * 22 * 4 - 1
    assert half.layers[0].utilization == pytest.approx(64 * 16 * 16 / (half.layers[0].cycles * 4))
    # int4 at twice the rate: two MACs packed per PE halve the streamed rows, fill/drain stays:
    # per fold ceil(16 / 2) + 6 = 14 -> 64 * 14 - 1
    four = simulate(arch, fc(INT4))
    assert four.layers[0].compute_cycles == 64 * 14 - 1


def test_without_mac_rates_the_tpu_rule_holds():
    # TPUv1 (Jouppi et al., ISCA 2017, Sec. 2): 16-bit operands on the 8-bit array at a quarter
    # rate, 4-bit operands gain nothing
    arch = tiny()
    assert simulate(arch, fc({"weight_bits": 16, "activation_bits": 16})).layers[0] \
        .compute_cycles == 64 * 22 * 4 - 1
    assert simulate(arch, fc(INT4)).layers[0].compute_cycles == 1407


def test_mac_energy_is_priced_at_the_run_precision():
    # Horowitz 45 nm: int8 mult 0.2 + int32 add 0.1 = 0.3 pJ; fp16 mult 1.1 + fp32 add 0.9 = 2.0
    arch = tiny(mac_rates={"int8": 1.0, "fp16": 0.25})
    macs = 64 * 16 * 16
    assert simulate(arch, fc()).layers[0].energy_breakdown_pj["mac"] == pytest.approx(macs * 0.3)
    assert simulate(arch, fc(FP16)).layers[0].energy_breakdown_pj["mac"] == \
        pytest.approx(macs * 2.0)


def test_unsupported_precision_is_refused_in_one_line(capsys, tmp_path):
    arch = tiny(mac_rates={"int8": 1.0, "fp16": 0.25})
    with pytest.raises(NpusimError) as err:
        simulate(arch, fc(INT4))
    text = err.value.one_line()
    assert "'tiny'" in text and "int4" in text and "mac_rates" in text
    assert "--precision int8" in text
    # through the CLI: exit status 2 and one line
    path = tmp_path / "a.yaml"
    path.write_text("name: tiny\nkind: systolic\nclock_mhz: 1000\nmac_rates: {int8: 1.0}\n"
                    "array: {rows: 4, cols: 4}\nmemory: {style: split, ifmap_sram_bytes: 4096, "
                    "filter_sram_bytes: 4096, ofmap_sram_bytes: 4096}\n"
                    "dram: {bandwidth_gbps: 10}\n")
    assert main(["run", str(path), "alexnet", "--precision", "fp16"]) == 2
    err_lines = capsys.readouterr().err.strip().splitlines()
    assert len(err_lines) == 1 and "fp16" in err_lines[0] and "tiny" in err_lines[0]


def test_layer_widths_set_bytes_and_the_datapath():
    # 4-bit weights (a quantized layer) halve the weight bytes: 16 x 16 x 0.5 B = 128 B
    plain = simulate(tiny(), fc()).layers[0]
    quant = simulate(tiny(), fc(weight_bits=4)).layers[0]
    assert plain.dram_bytes_by_operand["filter"] == 256
    assert quant.dram_bytes_by_operand["filter"] == 128
    # the TPU rule: narrower operands run at the native rate
    assert quant.compute_cycles == plain.compute_cycles
    # an arch with an 8x4 datapath at twice the rate runs it faster ...
    fast = simulate(tiny(mac_rates={"int8": 1.0, "int8x4": 2.0}), fc(weight_bits=4)).layers[0]
    assert fast.compute_cycles == 64 * 14 - 1
    # ... one without it runs the layer on the narrowest wider datapath and says so once
    run = simulate(tiny(mac_rates={"int8": 1.0, "int16": 0.25}), fc(weight_bits=4))
    assert run.layers[0].compute_cycles == 1407
    assert sum("int8x4 operands run on the int8 MAC datapath" in w for w in run.warnings) == 1
