"""User mapping overrides from the command line: `--mapping FILE` and `--map LAYER.KEY=VALUE`.

A mapping file is YAML (JSON is YAML) in one of two shapes:

- `{layer name: {key: value, ...}, ...}`: the keys a kind lets a user pin (`Kind.mapping_keys`:
  the systolic tiler's `tile_m`, `tile_k`, `tile_n`, `loop_order`, `sub_batch`; the tensor-core
  mapper's `split`, `tile_pixels`, `tile_channels`, `tile_input_channels`, `loop_order`). The
  engine validates them and refuses, in one line, a key or value it cannot honour.
- a run's own JSON (`npusim run ... -o run.json`): every layer's reported `mapping` is taken and
  cut to the keys a user may pin (the others, such as `objective` or `candidates`, describe the
  choice), so feeding a run back reproduces it, and editing one layer's entry changes only that.

`--map conv1.tile_m=256` sets one key of one layer; a layer name may contain dots (the key is
what follows the last one). `--map` values win over the file's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.core.errors import NpusimError
from simulator.io.yaml import loads, read_yaml

_MAP_EXAMPLE = "write e.g. --map conv1.tile_m=256 (layer name, a dot, a mapping key, =, a value)"


def read_mapping_file(path: str | Path, settable: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Per-layer overrides from a mapping file or a run's JSON (module docstring)."""
    data = read_yaml(path)
    if isinstance(data, dict) and isinstance(data.get("layers"), list):
        return _from_run_json(data["layers"], settable, path)
    if not isinstance(data, dict):
        raise NpusimError("a mapping file is a mapping of layer names to their choices",
                          file=path, fix="write e.g. conv1: {tile_m: 256, loop_order: mkn}")
    out: dict[str, dict[str, Any]] = {}
    for layer, choices in data.items():
        if not isinstance(choices, dict):
            raise NpusimError(f"the choices of layer {layer!r} are not a mapping", file=path,
                              field=str(layer), fix="write e.g. conv1: {tile_m: 256}")
        out[str(layer)] = {str(key): value for key, value in choices.items()}
    return out


def _from_run_json(layers: list, settable: tuple[str, ...],
                   path: str | Path) -> dict[str, dict[str, Any]]:
    """The pinnable part of every layer's reported `mapping` in a run's JSON."""
    out: dict[str, dict[str, Any]] = {}
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or not isinstance(layer.get("name"), str):
            raise NpusimError(f"layer {i} of the run has no name", file=path,
                              field=f"layers.{i}", fix="give the JSON that npusim run wrote")
        reported = layer.get("mapping")
        if isinstance(reported, dict):
            chosen = {key: reported[key] for key in settable if key in reported}
            if chosen:
                out[layer["name"]] = chosen
    return out


def parse_map_items(items: list[str]) -> dict[str, dict[str, Any]]:
    """`--map LAYER.KEY=VALUE` items as per-layer overrides (values read as YAML scalars)."""
    out: dict[str, dict[str, Any]] = {}
    for text in items:
        target, sep, raw = text.partition("=")
        layer, dot, key = target.strip().rpartition(".")
        if not sep or not dot or not layer or not key:
            raise NpusimError(f"--map {text!r} is not LAYER.KEY=VALUE", field="--map",
                              fix=_MAP_EXAMPLE)
        try:
            value = loads(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out.setdefault(layer, {})[key] = value
    return out


def merge_mappings(*parts: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per-layer overrides merged key by key, later parts winning."""
    out: dict[str, dict[str, Any]] = {}
    for part in parts:
        for layer, choices in part.items():
            out.setdefault(layer, {}).update(choices)
    return out
