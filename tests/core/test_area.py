"""Area model: hand-computed areas from the 45 nm table (arch_configs/energy/area_45nm.yaml)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.arch import Precision
from simulator.io.tables import load_area_table
from simulator.kinds.registry import arch_from_dict, chip_area

TINY = {
    "name": "t", "kind": "systolic", "clock_mhz": 1000, "technology_nm": 45,
    "precision": {"weight_bits": 8, "activation_bits": 8, "accumulator_bits": 32},
    "array": {"rows": 2, "cols": 2, "dataflow": "ws"},
    "memory": {"style": "split", "ifmap_sram_bytes": 512, "filter_sram_bytes": 256,
               "ofmap_sram_bytes": 256},
    "dram": {"bandwidth_gbps": 10},
}


def test_table_direct_and_interpolated_units():
    t = load_area_table()
    # Horowitz ISSCC 2014 45 nm: 8b add 36, 8b mult 282, fp16 add 1360, fp16 mult 1640 um^2
    assert t.add_um2(8) == 36 and t.mult_um2(8, 8) == 282
    assert t.add_um2(16, "fp") == 1360 and t.mult_um2(16, 16, "fp") == 1640
    # int16 by log-log interpolation between 8 and 32 bits:
    # add: 36 * 2^(log(137/36)/log 4) = 36 * 2^0.9642 = 70.23 um^2
    # mult: 282 * 2^(log(3495/282)/log 4) = 282 * 2^1.8158 = 992.77 um^2
    assert t.add_um2(16) == pytest.approx(70.23, abs=0.01)
    assert t.mult_um2(16, 16) == pytest.approx(992.77, abs=0.01)
    # an fp16 MAC accumulating in fp32: 1640 + 4184 = 5824 um^2
    fp16 = Precision(weight_bits=16, activation_bits=16, accumulator_bits=32, number_format="fp")
    assert t.mac_um2(fp16) == 5824


def test_two_by_two_int8_array_with_1kib_sram():
    report = chip_area(arch_from_dict(dict(TINY)))
    b = report.breakdown_mm2
    # MAC = int8 mult 282 + int32 add 137 = 419 um^2; 4 PEs -> 1676 um^2
    assert b["mac"] == pytest.approx(1676e-6)
    # PE registers (ws): activation 8 + weight 8 x 2 (double-buffered) + psum 32 = 56 bits,
    # x 4.52 um^2 (NanGate45 DFF_X1) = 253.12 um^2 per PE -> 1012.48 um^2
    assert b["pe_registers"] == pytest.approx(1012.48e-6)
    # SRAM 512 + 256 + 256 = 1024 B = 8192 bits x 0.346 um^2 / 0.7 efficiency = 4049.19 um^2
    sram = sum(v for k, v in b.items() if k.startswith("sram:"))
    assert sram == pytest.approx(8192 * 0.346 / 0.7 * 1e-6)
    assert sram == pytest.approx(4049.19e-6, abs=1e-8)
    assert report.pe_count == 4 and report.sram_bytes == 1024
    assert report.area_mm2 == pytest.approx(sum(b.values()))
    # total without the vector unit: 1676 + 1012.48 + 4049.19 = 6737.67 um^2
    assert report.area_mm2 - b.get("vector_unit", 0.0) == pytest.approx(6737.67e-6, abs=1e-8)


def test_node_scaling_is_ideal_square():
    at45 = chip_area(arch_from_dict(dict(TINY))).area_mm2
    at22 = chip_area(arch_from_dict({**TINY, "technology_nm": 22.5}))
    # (22.5 / 45)^2 = 0.25
    assert at22.node_scale == pytest.approx(0.25)
    assert at22.area_mm2 == pytest.approx(at45 * 0.25)


def test_tpu_matrix_unit_mac_area():
    from simulator.io.load import load_arch
    tpu = load_arch("tpu_v1")
    report = chip_area(tpu)
    # 65,536 int8 MACs x 419 um^2 = 27.46 mm^2 at 45 nm, x (28/45)^2 = 0.3872 -> 10.63 mm^2
    assert report.breakdown_mm2["mac"] == pytest.approx(65536 * 419e-6 * (28 / 45) ** 2)
    assert report.pe_count == 65536
    # unified buffer 24 MiB + accumulators 4 MiB + weight FIFO 4 x 64 KiB
    assert report.sram_bytes == 25165824 + 4194304 + 4 * 65536


def test_sparse_and_tensorcore_have_models():
    sparse = arch_from_dict({"name": "e", "kind": "sparse", "clock_mhz": 800,
                             "dram": {"bandwidth_gbps": 10}, "pes": 64})
    report = chip_area(sparse)
    assert report.pe_count == 64
    # 64 PEs x (128 KiB spmat + 32 KiB pointer + 2 KiB activation) SRAM (EIE, ISCA 2016)
    assert report.sram_bytes == 64 * (131072 + 32768 + 2048)
    tc = arch_from_dict({"name": "b", "kind": "tensorcore", "clock_mhz": 1000,
                         "dram": {"bandwidth_gbps": 10}})
    tc_report = chip_area(tc)
    assert tc_report.area_mm2 > 0 and tc_report.pe_count > 0
    assert tc_report.area_mm2 == pytest.approx(sum(tc_report.breakdown_mm2.values()))
    # the vector unit has area (it was silently 0 when read from a misspelt field): 32 ops per
    # cycle (default) x one int8 MAC lane (int8 mult 282 + int32 add 137 = 419 um^2 at 45 nm)
    assert tc_report.breakdown_mm2["vector_unit"] == pytest.approx(32 * 419e-6)


@settings(max_examples=30, deadline=None)
@given(rows=st.integers(1, 64), cols=st.integers(1, 64), kib=st.integers(1, 4096))
def test_area_grows_with_pes_and_sram(rows, cols, kib):
    base = {**TINY, "array": {"rows": rows, "cols": cols, "dataflow": "os"},
            "memory": {"style": "split", "ifmap_sram_bytes": kib * 1024,
                       "filter_sram_bytes": 1024, "ofmap_sram_bytes": 1024}}
    small = chip_area(arch_from_dict(base))
    bigger = chip_area(arch_from_dict({**base, "array": {"rows": rows + 1, "cols": cols,
                                                        "dataflow": "os"}}))
    more_sram = chip_area(arch_from_dict({**base, "memory": {**base["memory"],
                                                            "ifmap_sram_bytes": kib * 2048}}))
    assert bigger.area_mm2 > small.area_mm2
    # doubling one SRAM adds exactly its own area: kib KiB x 8192 bits x 0.346 / 0.7 um^2
    assert more_sram.area_mm2 - small.area_mm2 == pytest.approx(
        kib * 8192 * 0.346 / 0.7 * 1e-6, rel=1e-9)
    assert math.isfinite(small.area_mm2)
