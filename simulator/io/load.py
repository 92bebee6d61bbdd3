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
from simulator.io.yaml import read_yaml
from simulator.kinds.registry import arch_from_dict


def load_arch(name_or_path: str | Path, overrides: list[str] | None = None) -> ArchBase:
    """Load an arch from a bundled name (`tpu_v1`), a YAML path, or a SCALE-Sim `.cfg`, then
    apply `--set dotted.path=value` overrides."""
    path = resolve_arch(name_or_path)
    if path.suffix == ".cfg":
        from simulator.io.scalesim import read_scalesim_cfg
        data = read_scalesim_cfg(path)
    else:
        data = read_yaml(path)
    return arch_from_dict(apply_overrides(dict(data), overrides, path), path)


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
