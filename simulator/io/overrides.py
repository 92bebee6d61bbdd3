"""`--set dotted.path=value` overrides: parse them and apply them to a config read as a dict.

Values are read as YAML, so `128`, `0.5`, `true`, `[1, 2]` and `{a: 1}` have their natural types
and anything else is a string. The config model validates the result afterwards, so an unknown
field or a bad value is reported there, naming the file and the dotted field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from simulator.core.errors import NpusimError
from simulator.io.yaml import loads

_EXAMPLE = "write e.g. --set array.rows=128"


def parse_override(text: str) -> tuple[list[str], Any]:
    """Parse `dotted.path=value` into (["dotted", "path"], value)."""
    if "=" not in text:
        raise NpusimError(f"override '{text}' is not of the form dotted.path=value",
                          field="--set", fix=_EXAMPLE)
    key, raw = text.split("=", 1)
    key = key.strip()
    if not key or any(not part for part in key.split(".")):
        raise NpusimError(f"override '{text}' has an empty field name", field="--set",
                          fix=_EXAMPLE)
    try:
        value = loads(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw  # not valid YAML on its own (e.g. `a: b: c`): keep the text
    return key.split("."), value


def apply_overrides(data: dict, overrides: list[str] | None, source: str | Path) -> dict:
    """Set each `dotted.path=value` in a nested dict (in place) and return it."""
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
