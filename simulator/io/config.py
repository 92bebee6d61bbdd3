"""Reading YAML safely, resolving bundled names, and applying `--set dotted.path=value` overrides.

Nothing here knows about architectures or workloads; it only turns files and strings into plain
Python data and reports problems as one-line :class:`~simulator.core.errors.NpusimError`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.core.errors import NpusimError

#: Repository root (bundled configs live beside the package in an editable install).
REPO_ROOT = Path(__file__).resolve().parent.parent.parent
ARCH_DIR = REPO_ROOT / "arch_configs"
WORKLOAD_DIR = REPO_ROOT / "workloads"


def read_yaml(path: Path) -> Any:
    """Parse a YAML file with the safe loader; any problem becomes a one-line error."""
    if not path.exists():
        raise NpusimError("file not found", file=path, fix="check the path or run `npusim list`")
    if path.is_dir():
        raise NpusimError("is a directory, expected a YAML file", file=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise NpusimError(f"cannot read file: {exc}", file=path) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise NpusimError(f"malformed YAML{where}: {problem}", file=path,
                          fix="fix the YAML syntax") from None
    if data is None:
        raise NpusimError("file is empty", file=path,
                          fix="see docs/formats.md for the file format")
    if not isinstance(data, dict):
        raise NpusimError("expected a mapping of fields at the top level, got a "
                          f"{'list' if isinstance(data, list) else type(data).__name__}", file=path,
                          fix="see docs/formats.md for the file format")
    return data


def resolve_bundled(name_or_path: str, directory: Path, suffixes: tuple[str, ...],
                    what: str) -> Path:
    """Return a path for a user-given path or a bundled name (e.g. `tpu_v1`, `resnet50`)."""
    candidate = Path(name_or_path)
    if candidate.exists():
        return candidate
    if candidate.suffix == "" and "/" not in name_or_path:
        for suffix in suffixes:
            bundled = directory / f"{name_or_path}{suffix}"
            if bundled.exists():
                return _display_path(bundled)
        names = ", ".join(sorted(bundled_names(directory, suffixes)))
        raise NpusimError(f"no bundled {what} or file named '{name_or_path}'", file=name_or_path,
                          fix=f"use a path or one of: {names}")
    raise NpusimError("file not found", file=name_or_path,
                      fix=f"check the path, or give a bundled {what} name (`npusim list`)")


def _display_path(path: Path) -> Path:
    """The path relative to the working directory when it lies below it (shorter messages)."""
    try:
        return path.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return path


def bundled_names(directory: Path, suffixes: tuple[str, ...]) -> list[str]:
    """Names of the bundled files in `directory` with one of `suffixes`."""
    if not directory.is_dir():
        return []
    return sorted(p.stem for p in directory.iterdir() if p.suffix in suffixes and p.is_file())


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse `dotted.path=value`; the value is read as YAML (so 128, 0.5, true, [1,2] work)."""
    if "=" not in text:
        raise NpusimError(f"override '{text}' is not of the form dotted.path=value",
                          field="--set", fix="write e.g. --set array.rows=128")
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise NpusimError(f"override '{text}' has an empty field name", field="--set",
                          fix="write e.g. --set array.rows=128")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str] | None, source: str | Path) -> dict:
    """Set each `dotted.path=value` in a nested dict (in place); unknown paths are an error."""
    for text in overrides or []:
        path, value = parse_override(text)
        set_dotted(data, path, value, source)
    return data


def set_dotted(data: dict, path: list[str], value: Any, source: str | Path) -> None:
    """Set `data[path[0]][path[1]]... = value`; the config model validates the result."""
    node: Any = data
    for i, part in enumerate(path[:-1]):
        if not isinstance(node, dict):
            raise NpusimError("cannot set a field inside a non-mapping value", file=source,
                              field=".".join(path[: i + 1]))
        # a block left at its defaults is created; the model then rejects unknown names
        node = node.setdefault(part, {})
    if not isinstance(node, dict):
        raise NpusimError("cannot set a field inside a non-mapping value", file=source,
                          field=".".join(path))
    node[path[-1]] = value
