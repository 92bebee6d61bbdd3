"""Reading YAML safely: one function for files, one for strings, one-line errors.

PyYAML's C loader (`yaml.CSafeLoader`, built on libyaml) is used when PyYAML was built with it,
about ten times faster than the pure-Python `yaml.SafeLoader` it falls back to (50 ms -> 5 ms
for resnet50.yaml). Both are *safe* loaders: only plain YAML types (mappings, lists, strings,
numbers, booleans, null, timestamps) are constructed, never Python objects, and both report the
same line and column for a syntax error.

Nothing here knows about architectures or workloads; it only turns text into plain Python data
and reports problems as one-line :class:`~simulator.core.errors.NpusimError`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from simulator.core.errors import NpusimError
from simulator.core.limits import MAX_YAML_BYTES, MAX_YAML_DEPTH, MAX_YAML_NODES
from simulator.io.files import read_input_text

#: The loader in use: libyaml's when PyYAML has it, else the pure-Python one.
LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def loads(text: str) -> Any:
    """Parse YAML text with the safe loader (errors are PyYAML's `yaml.YAMLError`; nesting
    deeper than `MAX_YAML_DEPTH` raises `_TooDeep` before libyaml composes it)."""
    if _depth_bound(text) > MAX_YAML_DEPTH \
            and _exact_depth(text, MAX_YAML_DEPTH) > MAX_YAML_DEPTH:
        raise _TooDeep(f"the YAML nests deeper than {MAX_YAML_DEPTH} levels")
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - LOADER is a safe loader


def read_yaml(path: str | Path) -> dict:
    """Parse a YAML file whose top level is a mapping; any problem becomes a one-line error
    naming the file (and, for syntax errors, the line and column). The file must be a regular
    file within `MAX_YAML_BYTES`; nesting and alias expansion are bounded (`check_structure`)."""
    path = Path(path)
    text = read_input_text(path, "a YAML file", MAX_YAML_BYTES)
    try:
        data = loads(text)
    except _TooDeep as exc:
        raise NpusimError(str(exc), file=path, fix="see Limits in docs/formats.md") from None
    except yaml.YAMLError as exc:
        raise NpusimError(f"malformed YAML{_where(exc)}: {_problem(exc)}", file=path,
                          fix="fix the YAML syntax") from None
    problem = structure_problem(data) if "&" in text else None
    if problem:
        raise NpusimError(problem, file=path, fix="expand fewer aliases; see Limits in "
                          "docs/formats.md")
    if data is None:
        raise NpusimError("file is empty", file=path,
                          fix="see docs/formats.md for the file format")
    if not isinstance(data, dict):
        raise NpusimError("expected a mapping of fields at the top level, got a "
                          f"{'list' if isinstance(data, list) else type(data).__name__}", file=path,
                          fix="see docs/formats.md for the file format")
    return data


class _TooDeep(yaml.YAMLError):
    """YAML nested deeper than `MAX_YAML_DEPTH` (libyaml's composer recurses in C and crashes
    the process on a few ten thousand levels, so the depth is checked before composing)."""


_FLOW = re.compile(r"""\#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[\[\]{}]""")


def _depth_bound(text: str) -> int:
    """An upper bound of the nesting depth of a YAML text, cheap for ordinary files: flow
    brackets outside quotes and comments (a closing bracket never takes the count below 0, so
    brackets inside block-context plain scalars can only raise the bound), plus the block
    nesting one line can open (its indentation plus its `-` and `:` indicators)."""
    depth = flow = 0
    for match in _FLOW.finditer(text):
        char = match.group()
        if char in "[{":
            depth += 1
            flow = max(flow, depth)
        elif char in "]}":
            depth = max(0, depth - 1)
    block = max((len(line) - len(line.lstrip(" ")) + line.count("-") + line.count(":")
                 for line in text.splitlines()), default=0)
    return flow + block


def _exact_depth(text: str, stop_above: int) -> int:
    """The nesting depth of a YAML text from its parse events (libyaml's parser keeps its own
    stack, so this is safe at any depth; slower than `_depth_bound`, used when that is high),
    or the first depth above `stop_above` (the parse stops there: libyaml takes time quadratic
    in the depth of flow collections)."""
    depth = deepest = 0
    for event in yaml.parse(text, Loader=LOADER):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            depth += 1
            deepest = max(deepest, depth)
            if deepest > stop_above:
                break
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            depth -= 1
    return deepest


def structure_problem(data: Any) -> str | None:
    """Why loaded YAML data is too big once its aliases are expanded (None if it is not):
    more than `MAX_YAML_NODES` nodes counting every alias as a copy (what a consumer that
    walks the data sees), or an alias inside itself (a recursive structure). Counted with a
    memo per shared object, so a billion-node alias bomb costs a few dozen steps."""
    size: dict[int, int] = {}
    stack: list[tuple[Any, bool]] = [(data, False)]
    active: set[int] = set()
    while stack:
        node, done = stack.pop()
        if not isinstance(node, (list, dict)):
            continue
        key = id(node)
        children = list(node.values()) + list(node.keys()) if isinstance(node, dict) else node
        if done:
            active.discard(key)
            total = 1 + sum(size.get(id(c), 1) for c in children)
            if total > MAX_YAML_NODES:
                return (f"the YAML expands to more than {MAX_YAML_NODES:,} nodes once its "
                        "aliases are expanded")
            size[key] = total
            continue
        if key in size:
            continue
        if key in active:
            return "a YAML alias refers to a node that contains it (a recursive structure)"
        active.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if isinstance(c, (list, dict)))
    return None


def _where(exc: yaml.YAMLError) -> str:
    """` at line L, column C` (1-based) when PyYAML knows where the problem is."""
    mark = getattr(exc, "problem_mark", None)
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _problem(exc: yaml.YAMLError) -> str:
    return str(getattr(exc, "problem", None) or "syntax error")
