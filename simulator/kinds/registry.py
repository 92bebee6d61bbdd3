"""The kinds of chip npusim knows: one line per kind, naming the package that defines it.

Adding a kind: a folder `simulator/kinds/<name>/` whose `__init__.py` defines
`KIND = Kind(name, arch_model, engine_path, area)`, and one line in `KIND_PACKAGES`. Nothing else
in the core names a kind (docs/architecture.md).
"""

from __future__ import annotations

from functools import cache
from importlib import import_module
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import ValidationError

from simulator.core.arch import ArchBase
from simulator.core.errors import NpusimError, from_validation_error
from simulator.kinds.spec import Kind

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.area import AreaReport, AreaTable

KIND_PACKAGES: dict[str, str] = {
    "systolic": "simulator.kinds.systolic",
    "sparse": "simulator.kinds.sparse",
    "tensorcore": "simulator.kinds.tensorcore",
}


def kind_names() -> tuple[str, ...]:
    return tuple(KIND_PACKAGES)


@cache
def get_kind(name: str) -> Kind:
    """The `Kind` registered under `name` (its package is imported on first use)."""
    if name not in KIND_PACKAGES:
        raise KeyError(name)
    return import_module(KIND_PACKAGES[name]).KIND


def kind_of(arch: ArchBase) -> Kind:
    return get_kind(arch.kind)


def arch_from_dict(data: dict, source: str | Path = "<arch>") -> ArchBase:
    """Validate a plain dict (as read by `simulator.io`) into the arch model of its `kind`."""
    kind = data.get("kind")
    names = ", ".join(KIND_PACKAGES)
    if kind is None:
        raise NpusimError("required field is missing", file=source, field="kind",
                          fix=f"add kind: one of {names}")
    if not isinstance(kind, str) or kind not in KIND_PACKAGES:
        raise NpusimError(f"unknown arch kind {kind!r}", file=source, field="kind",
                          fix=f"use one of {names}")
    try:
        return get_kind(kind).arch_model.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None


def chip_area(arch: ArchBase, table: "AreaTable | None" = None) -> "AreaReport":
    """The modelled area of `arch` at its `technology_nm` (docs/area.md)."""
    from simulator.core.area import area_report
    from simulator.io.tables import load_area_table

    table = table or load_area_table()
    return area_report(kind_of(arch).area(arch, table), arch.technology_nm, table)
