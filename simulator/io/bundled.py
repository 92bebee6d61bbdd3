"""Where the bundled data live, and turning a bundled name (`tpu_v1`, `resnet50`) into a path.

The data ship inside the package, under `simulator/data/`, and are found with
`importlib.resources`, so an editable install, a wheel and a run from a source checkout all
find the same files. In the source tree `simulator/data/arch_configs` and
`simulator/data/workloads` are symbolic links to the top-level `arch_configs/` and
`workloads/` (the files users edit and name on the command line); building a wheel or an sdist
copies the files they point at (docs/architecture.md).

    arch_configs/          chips (YAML, and SCALE-Sim .cfg examples in scalesim/)
    arch_configs/energy/   energy and area tables (horowitz_45nm, area_45nm)
    arch_configs/sweeps/   design-space sweeps
    workloads/             networks (YAML, and SCALE-Sim .csv examples in scalesim/)
    workloads/llm/         LLM configs (`kind: llm`, for `npusim llm`; docs/llm.md)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Callable

from simulator.core.errors import NpusimError

ARCH_SUFFIXES = (".yaml", ".yml", ".cfg")
WORKLOAD_SUFFIXES = (".yaml", ".yml", ".csv", ".onnx")
YAML_SUFFIXES = (".yaml", ".yml")


@cache
def data_root() -> Path:
    """The directory holding the bundled data inside the installed package."""
    root = files("simulator").joinpath("data")
    if not isinstance(root, Path):  # pragma: no cover - only for a zipped package
        raise NpusimError("npusim's bundled data are not on the file system",
                          file=str(root), fix="install npusim with pip (not as a zip)")
    return root


def arch_dir() -> Path:
    """Bundled architectures (`arch_configs/`)."""
    return data_root() / "arch_configs"


def workload_dir() -> Path:
    """Bundled workloads (`workloads/`)."""
    return data_root() / "workloads"


def llm_dir() -> Path:
    """Bundled LLM configs (`workloads/llm/`)."""
    return workload_dir() / "llm"


def table_dir() -> Path:
    """Bundled energy and area tables (`arch_configs/energy/`)."""
    return arch_dir() / "energy"


def sweep_dir() -> Path:
    """Bundled sweeps (`arch_configs/sweeps/`)."""
    return arch_dir() / "sweeps"


def bundled_names(directory: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Names of the bundled files in `directory` with one of `suffixes`."""
    return [path.stem for path in bundled_files(directory, suffixes)]


def bundled_files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files in `directory` with one of `suffixes`, sorted by name."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if p.suffix in suffixes and p.is_file()),
                  key=lambda p: p.name)


def resolve_bundled(name_or_path: str | Path, directory: Path, suffixes: tuple[str, ...],
                    what: str) -> Path:
    """A user-given path as it is, or the bundled file a bare name (`tpu_v1`) stands for.

    An existing path wins over a bundled name, so a local `resnet50.yaml` is never shadowed.
    """
    text = str(name_or_path)
    candidate = Path(text)
    if candidate.exists():
        return candidate
    if candidate.suffix == "" and "/" not in text and "\\" not in text:
        for suffix in suffixes:
            bundled = directory / f"{text}{suffix}"
            if bundled.is_file():
                return display_path(bundled)
        names = ", ".join(bundled_names(directory, suffixes)) or "(none found: reinstall npusim)"
        raise NpusimError(f"no bundled {what} or file named '{text}'", file=text,
                          fix=f"use a path or one of: {names}")
    raise NpusimError("file not found", file=text,
                      fix=f"check the path, or give a bundled {what} name (`npusim list`)")


def resolve_arch(name_or_path: str | Path) -> Path:
    return resolve_bundled(name_or_path, arch_dir(), ARCH_SUFFIXES, "arch")


def resolve_workload(name_or_path: str | Path) -> Path:
    return resolve_bundled(name_or_path, workload_dir(), WORKLOAD_SUFFIXES, "workload")


def resolve_llm(name_or_path: str | Path) -> Path:
    return resolve_bundled(name_or_path, llm_dir(), YAML_SUFFIXES, "LLM config")


def resolve_sweep(name_or_path: str | Path) -> Path:
    return resolve_bundled(name_or_path, sweep_dir(), YAML_SUFFIXES, "sweep")


def display_path(path: Path) -> Path:
    """`path` relative to the working directory when it lies below it (shorter messages: from
    a source checkout a bundled arch shows as `arch_configs/tpu_v1.yaml`), else as it is."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except (ValueError, OSError):
        return path


@dataclass(frozen=True)
class CatalogueEntry:
    """One bundled file as `npusim list` shows it: its name, a short detail (an arch's kind, a
    workload's layer count, a sweep's base arch and workloads) and its description's first
    line."""

    name: str
    detail: str
    description: str


def catalogue() -> dict[str, list[CatalogueEntry]]:
    """The bundled architectures, workloads, sweeps and LLM configs (YAML files only), read
    from the installed package; an unreadable file is listed with the reason instead of
    failing."""
    return {
        "archs": [_entry(path, _arch_detail) for path in bundled_files(arch_dir(), YAML_SUFFIXES)],
        "workloads": [_entry(path, _workload_detail)
                      for path in bundled_files(workload_dir(), YAML_SUFFIXES)],
        "sweeps": [_entry(path, _sweep_detail)
                   for path in bundled_files(sweep_dir(), YAML_SUFFIXES)],
        "llms": [_entry(path, _llm_detail) for path in bundled_files(llm_dir(), YAML_SUFFIXES)],
    }


def _entry(path: Path, detail: Callable[[dict], str]) -> CatalogueEntry:
    from simulator.io.yaml import read_yaml

    try:
        data = read_yaml(path)
    except NpusimError as exc:
        return CatalogueEntry(path.stem, "?", f"(unreadable: {exc.message})")
    text = str(data.get("description") or "").strip()
    return CatalogueEntry(path.stem, detail(data), text.splitlines()[0] if text else "")


def _arch_detail(data: dict) -> str:
    return str(data.get("kind", "?"))


def _workload_detail(data: dict) -> str:
    layers = data.get("layers")
    return f"{len(layers)} layers" if isinstance(layers, list) else "?"


def _llm_detail(data: dict) -> str:
    return f"{data.get('layers', '?')} layers, d_model {data.get('d_model', '?')}"


def _sweep_detail(data: dict) -> str:
    workloads = data.get("workloads")
    names = [(w.get("name") or w.get("llm") or "?") if isinstance(w, dict) else str(w)
             for w in workloads] \
        if isinstance(workloads, list) else []
    return f"{data.get('base', '?')} x {', '.join(names)}" if names else str(data.get("base", "?"))
