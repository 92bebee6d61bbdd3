"""The loader: one entry point per input, dispatching on the file type.

Archs come from YAML or a SCALE-Sim `.cfg`; workloads from YAML, a SCALE-Sim topology CSV or an
ONNX model. Bundled names (`tpu_v1`, `resnet50`) resolve to the files shipped with npusim. This
is the only place that turns files into models; nothing below it reads files.
"""

from __future__ import annotations

from pathlib import Path

from simulator.core.arch import ArchBase
from simulator.core.errors import NpusimError
from simulator.core.workload import Workload, workload_from_dict
from simulator.io.bundled import llm_dir, resolve_arch, resolve_workload
from simulator.io.overrides import apply_overrides
from simulator.io.tables import energy_table_for, is_bundled_table
from simulator.io.yaml import read_yaml
from simulator.kinds.registry import arch_from_dict


def load_arch(name_or_path: str | Path, overrides: list[str] | None = None) -> ArchBase:
    """Load an arch from a bundled name (`tpu_v1`), a YAML path, or a SCALE-Sim `.cfg`, then
    apply `--set dotted.path=value` overrides. Paths in the file (`energy.table`) are relative
    to the file; its energy table is read now, so a bad table or override is reported here."""
    path = resolve_arch(name_or_path)
    if path.suffix == ".cfg":
        from simulator.io.scalesim import read_scalesim_cfg
        data = read_scalesim_cfg(path)
    else:
        data = resolve_arch_paths(read_yaml(path), path)
    kind = data.get("kind")
    data = apply_overrides(dict(data), overrides, path)
    if overrides and data.get("kind") != kind:
        raise NpusimError(f"--set kind={data.get('kind')} cannot turn this {kind} arch into "
                          "another kind: its fields describe a different chip", file=path,
                          field="kind", fix="give an arch file of that kind instead (`npusim "
                          "list` shows each arch's kind)")
    try:
        arch = arch_from_dict(data, path)
    except NpusimError as exc:
        raise _blame_override(exc, overrides, path) from None
    arch._file = str(path)
    try:
        energy_table_for(arch)
    except NpusimError as exc:
        raise _blame_override(exc, overrides, path) from None
    return arch


def resolve_arch_paths(data: dict, path: str | Path) -> dict:
    """An arch dict read from `path` with its relative file paths (`energy.table`, when it is
    not a bundled table name) made relative to the file's directory, not the working one."""
    energy = data.get("energy")
    table = energy.get("table") if isinstance(energy, dict) else None
    if isinstance(table, str) and table and not is_bundled_table(table) \
            and not Path(table).is_absolute():
        data = {**data, "energy": {**energy, "table": str(Path(path).parent / table)}}
    return data


def _blame_override(error: NpusimError, overrides: list[str] | None,
                    path: str | Path) -> NpusimError:
    """Name the `--set` that put a bad value in the arch, next to the file it was applied to."""
    for text in reversed(overrides or []):
        key = text.split("=", 1)[0].strip()
        field = error.field or ""
        if field and (field == key or field.startswith(key + ".") or key.startswith(field + ".")):
            note = f"the value was set by --set {text[:80]}"
            return NpusimError(error.message, file=error.file or path, field=error.field,
                               fix=f"{error.fix}; {note}" if error.fix else note)
    return error


def load_workload(name_or_path: str | Path, batch: int | None = None,
                  input_shapes: dict[str, list[int]] | list[int] | None = None,
                  skip_unknown: bool = False, compress: str | None = None) -> Workload:
    """Load a workload from a bundled name (`resnet50`), a YAML file, a SCALE-Sim topology CSV
    or an ONNX model (`input_shapes` and `skip_unknown` apply to ONNX only). A YAML file's
    `compression:` block, then the compact `compress` string (`prune=0.9,wbits=4`), are applied
    as transforms (simulator.compress; docs/compression.md)."""
    path = _workload_path(name_or_path)
    if path.suffix == ".csv":
        from simulator.io.scalesim import read_scalesim_topology
        data = read_scalesim_topology(path)
    elif path.suffix == ".onnx":
        from simulator.io.onnx.reader import onnx_to_workload_dict
        data = onnx_to_workload_dict(path, batch=batch, input_shapes=input_shapes,
                                     skip_unknown=skip_unknown)
    else:
        data = read_yaml(path)
        if data.get("kind") == "llm":
            raise NpusimError("this is an LLM config, not a workload", file=path, field="kind",
                              fix="run it with `npusim llm ARCH MODEL`, or in a sweep as "
                              "{llm: MODEL, phase: prefill|decode, ...}; see docs/llm.md")
    block = None
    if isinstance(data, dict) and "compression" in data:
        data = dict(data)
        block = data.pop("compression")
    if batch is not None:
        data = {**data, "batch": batch}
    workload = workload_from_dict(data, path)
    for layer in workload.layers:  # relative to the workload file (whatever its `source:` says)
        if layer.weights_file and not Path(layer.weights_file).is_absolute():
            layer.weights_file = str(path.parent / layer.weights_file)
    if block is not None or compress:
        from simulator.io.compression import apply_compression
        workload = apply_compression(workload, block, path, compress)
    return workload


def _workload_path(name_or_path: str | Path) -> Path:
    """`resolve_workload`, saying so when a bare name is a bundled LLM config instead."""
    try:
        return resolve_workload(name_or_path)
    except NpusimError:
        text = str(name_or_path)
        if "/" not in text and (llm_dir() / f"{text}.yaml").is_file():
            raise NpusimError(f"'{text}' is a bundled LLM config, not a workload", file=text,
                              fix=f"run it with `npusim llm ARCH {text}`; see docs/llm.md") from None
        raise
