"""Precision is hardware on the tensor cores: MAC rates per precision (arch.mac_rates), element
rates by element width, and MAC energy at the precision the array executes."""

from __future__ import annotations

import pytest
from helpers.archs import ideal_arch

from simulator.api import simulate
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.registry import arch_from_dict

CONV = {"name": "c", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}


def run(arch, precision: dict, *layers, input=(64, 28, 28)):
    wl = workload_from_dict({"name": "t", "input": list(input), "precision": precision,
                             "layers": list(layers) or [CONV]})
    return simulate(arch, wl)


def rated(mac_rates):
    """The ideal one-core arch with the given mac_rates."""
    data = ideal_arch().model_dump(mode="json")
    data["mac_rates"] = mac_rates
    return arch_from_dict(data)


INT8 = {"weight_bits": 8, "activation_bits": 8}
FP16 = {"weight_bits": 16, "activation_bits": 16, "number_format": "fp"}
INT16 = {"weight_bits": 16, "activation_bits": 16}
INT4 = {"weight_bits": 4, "activation_bits": 4}


def test_the_array_runs_each_precision_at_its_declared_rate():
    # bpu's rates (RK3399Pro: 1920 int8, 192 int16, 64 fp16 MACs per cycle): int16 at 1/10,
    # fp16 at 1/30. On one ideal core the 3x3 64 -> 64 conv on 28x28 is 784 x 18 x 2 = 28,224
    # native cycles: int16 282,240, fp16 846,720.
    arch = rated({"int8": 1.0, "int16": 0.1, "fp16": 1 / 30})
    cycles = {name: run(arch, p).layers[0].cycles
              for name, p in (("int8", INT8), ("int16", INT16), ("fp16", FP16))}
    assert cycles == {"int8": 28_224, "int16": 282_240, "fp16": 846_720}
    # int4 is not listed: it runs on the int8 datapath (operands widened), at the int8 rate,
    # and its MACs cost int8 MACs
    int4 = run(arch, INT4).layers[0]
    int8 = run(arch, INT8).layers[0]
    assert int4.cycles == 28_224
    assert int4.energy_breakdown_pj["mac"] == pytest.approx(int8.energy_breakdown_pj["mac"])
    # utilization is against the peak at the run's precision
    fp16 = run(arch, FP16)
    assert fp16.layers[0].utilization == pytest.approx(int8.utilization, rel=1e-9)


def test_a_precision_without_a_datapath_is_a_one_line_error():
    arch = rated({"int8": 1.0, "fp16": 1 / 30})
    with pytest.raises(NpusimError, match="no fp32 datapath.*mac_rates lists fp16, int8"):
        run(arch, {"weight_bits": 32, "activation_bits": 32, "number_format": "fp"})
    with pytest.raises(NpusimError, match="mac_rates"):
        load_arch("bpu", ["mac_rates={int8: 1.0, int7x: 0.5}"])


def test_without_mac_rates_wider_operands_run_at_the_product_of_the_width_ratios():
    # a generic int8 array (mac_rates: null): int8 x int16 at 1/2, int16 at 1/4 (TPUv1's rule)
    arch = ideal_arch()
    assert run(arch, {"weight_bits": 16, "activation_bits": 8}).layers[0].cycles == 2 * 28_224
    assert run(arch, INT16).layers[0].cycles == 4 * 28_224
    assert run(arch, INT4).layers[0].cycles == 28_224


def test_element_work_runs_at_half_rate_on_16_bit_elements():
    # a hardswish on bpu_no_hswish's vector unit: 32 8-bit element ops per cycle, 16 at 16 bits:
    # 64 x 28 x 28 = 50,176 elements x 5 ops: 7,840 cycles at int8, 15,680 at fp16
    conv = dict(CONV, activation="hardswish")
    arch = load_arch("bpu_no_hswish")
    assert run(arch, INT8, conv).layers[0].busy_cycles["vector"] == 7_840
    assert run(arch, FP16, conv).layers[0].busy_cycles["vector"] == 15_680
