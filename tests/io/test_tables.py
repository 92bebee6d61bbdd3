"""Reading energy and area tables: bundled names, paths, an arch's overrides, node scaling."""

import pytest

from simulator.core.arch import EnergyConfig
from simulator.core.errors import NpusimError
from simulator.io.tables import load_area_table, load_energy_table


def test_overrides_and_arch_dram_energy():
    t = load_energy_table(EnergyConfig(overrides_pj={"int8_mult": 0.1}), dram_pj_per_bit=40)
    assert t.mult_pj(8, 8) == pytest.approx(0.1)
    assert t.dram_pj_per_byte == pytest.approx(320)


def test_unknown_override_and_table_are_errors():
    with pytest.raises(NpusimError, match="unknown energy entry"):
        load_energy_table(EnergyConfig(overrides_pj={"warp_drive": 1.0}))
    with pytest.raises(NpusimError, match="not found"):
        load_energy_table(EnergyConfig(table="no_such_table"))


def test_energy_table_scaled_to_the_node():
    # constant-voltage scaling to 22.5 nm halves every entry: int8 mult 0.2 -> 0.1 pJ
    t = load_energy_table(EnergyConfig(scale_to_technology=True), technology_nm=22.5)
    assert t.mult_pj(8, 8) == pytest.approx(0.1)


def test_area_table_bundled_and_missing():
    bundled = load_area_table()
    assert bundled.name and load_area_table("area_45nm") is bundled  # parsed once
    with pytest.raises(NpusimError, match="area table 'nope' not found"):
        load_area_table("nope")
