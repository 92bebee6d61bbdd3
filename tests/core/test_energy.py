"""Energy table: Horowitz 45 nm values and the documented interpolation rules."""

import math

import pytest

from simulator.core.actions import (
    DramAccess,
    LayerCounts,
    Macs,
    RegisterAccess,
    SramAccess,
    VectorOps,
    WireTransfer,
)
from simulator.core.arch import Precision
from simulator.core.energy import Pricer, price, technology_energy_scale
from simulator.core.results import LayerResult
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


# ---- pricing counted actions ------------------------------------------------------------------
def test_price_each_action_kind_by_hand(table):
    actions = [
        # 100 int8 MACs at 0.2 (8b mult) + 0.1 (32b add) pJ = 30 pJ
        Macs(component="mac", count=100, precision=Precision()),
        # 64 + 32 register bits at 1 pJ / 32 bits = 3 pJ
        RegisterAccess(component="register", bits=64, operand="ifmap"),
        RegisterAccess(component="register", bits=32, operand="filter"),
        # 1 MiB SRAM, 64-bit accesses: 100 pJ / 8 B = 12.5 pJ/B; 16 B read + 8 B written
        # (write:read ratio 1) = 300 pJ
        SramAccess(component="sram:buf", size_bytes=1 << 20, width_bits=64, read_bytes=16,
                   write_bytes=8, operand="ifmap"),
        # 8 KiB SRAM, 16-bit accesses: 10 pJ x 16/64 = 2.5 pJ per access; 3 accesses = 7.5 pJ
        SramAccess(component="pointer", size_bytes=8192, width_bits=16, read_bytes=6),
        # DRAM 20 pJ/bit = 160 pJ/B: 10 B = 1600 pJ
        DramAccess(nbytes=10, operand="filter"),
        # int8 element ops cost an 8-bit add: 0.03 pJ; 1000 of them = 30 pJ
        VectorOps(component="vector", count=1000, bits=8),
        # an interconnect at 0.5 pJ/B stated by the arch: 20 B = 10 pJ
        WireTransfer(component="bridge", nbytes=20, pj_per_byte=0.5),
        # nothing moved: left out of both splits
        DramAccess(nbytes=0, operand="ofmap"),
    ]
    breakdown, by_operand = price(actions, table)
    assert breakdown == pytest.approx({"mac": 30, "register": 3, "sram:buf": 300, "pointer": 7.5,
                                       "dram": 1600, "vector": 30, "bridge": 10})
    assert list(breakdown) == ["mac", "register", "sram:buf", "pointer", "dram", "vector",
                               "bridge"]
    assert by_operand == pytest.approx({"ifmap": 2 + 300, "filter": 1 + 1600})


def test_sram_writes_use_the_tables_write_ratio(table):
    dear_writes = table.model_copy(update={"sram_write_to_read_ratio": 2.0})
    access = SramAccess(component="s", size_bytes=1 << 20, width_bits=64, read_bytes=8,
                        write_bytes=8)
    # 8 B read (100 pJ) + 8 B written at twice the cost (200 pJ)
    assert price([access], dear_writes)[0]["s"] == pytest.approx(300)


def test_node_scale_applies_to_every_action_including_the_arch_stated_wire(table):
    half = table.model_copy(update={"scale": 0.5})
    actions = [Macs(component="mac", count=10, precision=Precision()),
               WireTransfer(component="bridge", nbytes=20, pj_per_byte=0.5)]
    assert price(actions, half)[0] == pytest.approx({"mac": 1.5, "bridge": 5})


def test_price_layer_fills_energy_and_baselines(table):
    layer = LayerResult(name="fc", type="linear", cycles=10, compute_cycles=10,
                        dense_baseline={"cycles": 40})
    counts = LayerCounts((DramAccess(nbytes=1),), {"dense_baseline": (DramAccess(nbytes=4),)})
    priced = Pricer(table).price_layer(layer, counts)
    # 1 B of DRAM = 160 pJ; the baseline moves 4 B = 640 pJ, 4x the energy
    assert priced.energy_pj == pytest.approx(160)
    assert priced.energy_breakdown_pj == pytest.approx({"dram": 160})
    assert priced.dense_baseline == pytest.approx({"cycles": 40, "energy_pj": 640,
                                                   "energy_ratio": 4})
    assert layer.energy_pj == 0  # the engine's result is left as it was


def test_layer_counts_scale_with_sub_batches():
    counts = LayerCounts((Macs(component="mac", count=10, precision=Precision()),
                          SramAccess(component="sram:x", size_bytes=1024, width_bits=64,
                                     read_bytes=8, write_bytes=4)),
                         {"ref": (DramAccess(nbytes=5),)})
    twice = counts.scaled(2)
    mac, sram = twice.actions
    assert (mac.count, sram.read_bytes, sram.write_bytes) == (20, 16, 8)
    assert twice.baselines["ref"][0].nbytes == 10
