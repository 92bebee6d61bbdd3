"""Energy table: Horowitz 45 nm values and the documented interpolation rules."""

import math

import pytest

from simulator.core.arch import Precision
from simulator.core.energy import technology_energy_scale
from simulator.io.tables import load_energy_table


@pytest.fixture(scope="module")
def table():
    return load_energy_table()


def test_table_points_are_horowitz(table):
    # Horowitz ISSCC 2014: 8b add 0.03, 8b mult 0.2, 32b add 0.1, 32b mult 3.1 pJ
    assert table.add_pj(8) == pytest.approx(0.03)
    assert table.mult_pj(8, 8) == pytest.approx(0.2)
    assert table.add_pj(32) == pytest.approx(0.1)
    assert table.mult_pj(32, 32) == pytest.approx(3.1)
    # fp16 add 0.4 / mult 1.1, fp32 add 0.9 / mult 3.7
    assert table.add_pj(16, "fp") == pytest.approx(0.4)
    assert table.mult_pj(32, 32, "fp") == pytest.approx(3.7)


def test_int8_mac_is_mult8_plus_add32(table):
    # an int8 x int8 MAC accumulating in 32 bits: 0.2 (8b mult) + 0.1 (32b add) = 0.3 pJ
    assert table.mac_pj(Precision()) == pytest.approx(0.3)


def test_int16_is_interpolated_loglog(table):
    # mult: 0.2 * (16/8)^(ln(3.1/0.2)/ln 4) = 0.2 * 2^1.977 = 0.787 pJ
    slope = math.log(3.1 / 0.2) / math.log(4)
    assert table.mult_pj(16, 16) == pytest.approx(0.2 * 2 ** slope)
    assert table.mult_pj(16, 16) == pytest.approx(0.787, abs=1e-3)
    # a mixed 8 x 16 multiply costs as a sqrt(128) = 11.3-bit square one: between the two
    assert table.mult_pj(8, 8) < table.mult_pj(8, 16) < table.mult_pj(16, 16)


def test_fp16_mac_costs_more_than_int8(table):
    fp16 = Precision(weight_bits=16, activation_bits=16, number_format="fp")
    # fp16 mult 1.1 + fp32 accumulate 0.9 = 2.0 pJ, vs 0.3 for int8: the TPU paper's ~6x
    assert table.mac_pj(fp16) == pytest.approx(2.0)


def test_sram_points_and_interpolation(table):
    # Horowitz: 64-bit read from 8 KB 10 pJ, 32 KB 20 pJ, 1 MB 100 pJ
    assert table.sram_pj_per_access(8192) == pytest.approx(10)
    assert table.sram_pj_per_access(32768) == pytest.approx(20)
    assert table.sram_pj_per_access(1 << 20) == pytest.approx(100)
    # 16 KB: geometric mean of 10 and 20 on the log-log segment = 14.14 pJ
    assert table.sram_pj_per_access(16384) == pytest.approx(math.sqrt(200))
    # below 8 KB the first segment's slope (0.5) continues: 2 KB -> 10 * (1/4)^0.5 = 5 pJ
    assert table.sram_pj_per_access(2048) == pytest.approx(5.0)
    # a 32-bit access costs half a 64-bit one
    assert table.sram_pj_per_access(32768, 32) == pytest.approx(10)


def test_sram_energy_grows_with_size(table):
    sizes = [1 << k for k in range(10, 27)]
    energies = [table.sram_pj_per_access(s) for s in sizes]
    assert energies == sorted(energies)


def test_dram_and_register(table):
    # EIE: 640 pJ per 32-bit DRAM access = 20 pJ/bit = 160 pJ/byte
    assert table.dram_pj_per_byte == pytest.approx(160)
    # ~1 pJ per 32-bit register access
    assert table.register_pj_per_bit * 32 == pytest.approx(1.0)


def test_technology_scaling():
    # first-order constant-voltage scaling: 28 nm / 45 nm = 0.622
    assert technology_energy_scale(28) == pytest.approx(28 / 45)
