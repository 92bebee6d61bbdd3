"""Architecture configs: one discriminated union on `kind`, loaded from YAML or SCALE-Sim .cfg."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Union

from pydantic import Field, TypeAdapter, ValidationError

from simulator.io.config import ARCH_DIR, apply_overrides, read_yaml, resolve_bundled
from simulator.core.errors import NpusimError, from_validation_error, register_union_tags
from simulator.core.arch import ArchBase, DramConfig, EnergyConfig, Precision, StrictModel
from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.systolic.arch import ArrayConfig, SystolicArch, SystolicMemory
from simulator.kinds.tensorcore.arch import TensorCoreArch

Arch = Annotated[Union[SystolicArch, SparseArch, TensorCoreArch], Field(discriminator="kind")]
ARCH_KINDS = ("systolic", "sparse", "tensorcore")
register_union_tags(*ARCH_KINDS)

_ADAPTER: TypeAdapter = TypeAdapter(Arch)

__all__ = ["Arch", "ArchBase", "ArrayConfig", "DramConfig", "EnergyConfig", "Precision",
           "SparseArch", "StrictModel", "SystolicArch", "SystolicMemory", "TensorCoreArch",
           "arch_from_dict", "load_arch"]


def arch_from_dict(data: dict, source: str | Path = "<arch>",
                   overrides: list[str] | None = None) -> ArchBase:
    """Validate a plain dict (as read from YAML) into an arch model."""
    data = apply_overrides(dict(data), overrides, source)
    kind = data.get("kind")
    if kind is None:
        raise NpusimError("required field is missing", file=source, field="kind",
                          fix=f"add kind: one of {', '.join(ARCH_KINDS)}")
    if kind not in ARCH_KINDS:
        raise NpusimError(f"unknown arch kind {kind!r}", file=source, field="kind",
                          fix=f"use one of {', '.join(ARCH_KINDS)}")
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None


def load_arch(name_or_path: str | Path, overrides: list[str] | None = None) -> ArchBase:
    """Load an arch from a bundled name (`tpu_v1`), a YAML path, or a SCALE-Sim `.cfg`."""
    path = resolve_bundled(str(name_or_path), ARCH_DIR, (".yaml", ".yml", ".cfg"), "arch")
    if path.suffix == ".cfg":
        from simulator.io.scalesim import read_scalesim_cfg
        data = read_scalesim_cfg(path)
    else:
        data = read_yaml(path)
    return arch_from_dict(data, path, overrides)
