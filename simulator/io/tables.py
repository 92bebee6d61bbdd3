"""Reading the energy and area tables (data files with sources, arch_configs/energy/*.yaml).

The models (`simulator.core.energy.EnergyTable`, `simulator.core.area.AreaTable`) only price or
size; finding, parsing and applying an arch's overrides to a table file happens here, at the
edge. A new table (another node, a CACTI-derived SRAM curve) is a new YAML file, no code change.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import ValidationError

from simulator.core.arch import ArchBase, EnergyConfig
from simulator.core.area import AreaTable
from simulator.core.energy import EnergyTable, technology_energy_scale
from simulator.core.errors import NpusimError, from_validation_error
from simulator.io.bundled import table_dir
from simulator.io.yaml import read_yaml


@lru_cache(maxsize=32)
def _read_energy_yaml(path: str) -> dict:
    return read_yaml(Path(path))


@lru_cache(maxsize=64)
def _bundled_table(name: str) -> str | None:
    """The resolved file of the bundled table `name` (None: not a bundled table's name). Looked
    up once per process, as the tables are parsed once: every run and sweep point prices with
    one (a lookup stats the file twice)."""
    if "/" in name or "\\" in name:
        return None
    path = table_dir() / f"{name}.yaml"
    return str(path.resolve()) if path.is_file() else None


def is_bundled_table(name: str) -> bool:
    """True when `name` is the name of a bundled table (`horowitz_45nm`), not a path."""
    return _bundled_table(name) is not None


def load_energy_table(config: EnergyConfig | None = None, technology_nm: float = 45.0,
                      dram_pj_per_bit: float | None = None,
                      source: str | Path | None = None) -> EnergyTable:
    """Load the table an arch asks for, apply its overrides and (optionally) node scaling.
    `source` is the arch file, named in errors about the arch's energy block. A table given
    by path must already be resolved (`simulator.io.load` makes it relative to the arch)."""
    config = config or EnergyConfig()
    file = _bundled_table(config.table)
    if file is None:
        if not Path(config.table).exists():
            raise NpusimError(f"energy table {config.table!r} not found", file=source,
                              field="energy.table", fix="give a YAML table's path, relative to "
                              "the arch file, or a bundled table such as horowitz_45nm")
        file = str(Path(config.table).resolve())
    path = Path(file)
    data = dict(_read_energy_yaml(file))
    data["arithmetic_pj"] = dict(data.get("arithmetic_pj", {}))
    for key, value in config.overrides_pj.items():
        if key in data["arithmetic_pj"] or re.fullmatch(r"(int|fp)\d{1,2}_(add|mult)", key):
            data["arithmetic_pj"][key] = value
        elif key in ("dram_pj_per_bit", "register_pj_per_32bit"):
            data[key] = value
        else:
            raise NpusimError(f"unknown energy entry {key!r}", file=source,
                              field=f"energy.overrides_pj.{key}",
                              fix="override an arithmetic entry such as int8_mult or fp16_add "
                                  "(intN_add, intN_mult, fpN_add, fpN_mult), or dram_pj_per_bit "
                                  "/ register_pj_per_32bit")
    if dram_pj_per_bit is not None:
        data["dram_pj_per_bit"] = dram_pj_per_bit
    try:
        table = EnergyTable.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, path) from None
    if config.scale_to_technology:
        table = table.model_copy(update={"scale": technology_energy_scale(technology_nm,
                                                                          table.technology_nm)})
    return table


def energy_table_for(arch: ArchBase) -> EnergyTable:
    """The energy table of an arch (its energy block, node and DRAM energy)."""
    return load_energy_table(arch.energy, arch.technology_nm, arch.dram.energy_pj_per_bit,
                             arch.file)


@lru_cache(maxsize=8)
def _read_area_table(path: str) -> AreaTable:
    try:
        return AreaTable.model_validate(read_yaml(Path(path)))
    except ValidationError as exc:
        raise from_validation_error(exc, path) from None


def load_area_table(name_or_path: str = "area_45nm") -> AreaTable:
    """Load a bundled (`area_45nm`) or user area table; parsed once per process."""
    file = _bundled_table(name_or_path)
    if file is None:
        path = Path(name_or_path)
        if not path.exists():
            raise NpusimError(f"area table {name_or_path!r} not found",
                              fix="give a path to a YAML area table or use area_45nm")
        file = str(path.resolve())
    return _read_area_table(file)
