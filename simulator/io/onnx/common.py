"""Pieces the ONNX mapper and its op handlers share: layer drafts, the import report,
names, attributes."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Shape = tuple[int, ...]

#: marks a graph input in a draft's refs (graph inputs are not layers)
INPUT_PREFIX = "\0input:"


def is_graph_input(ref: str | None) -> bool:
    return ref is None or ref.startswith(INPUT_PREFIX)


def sanitize(name: str) -> str:
    """A readable layer name from an ONNX node name.

    PyTorch names nodes like `/layer1/layer1.0/conv1/Conv`; this gives `layer1.0.conv1` (parent
    scopes that repeat as a prefix of the child are dropped, and so is a trailing op type)."""
    parts = [p for p in name.split("/") if p]
    kept = [p for i, p in enumerate(parts) if not (i + 1 < len(parts) and
                                                   parts[i + 1].startswith(p + "."))]
    if len(kept) > 1 and re.fullmatch(r"[A-Z][A-Za-z]*(_\d+)?", kept[-1]):
        kept = kept[:-1]
    text = ".".join(kept)
    text = re.sub(r"[^A-Za-z0-9_.\-]+", "_", text).strip("_.")
    return text


@dataclass
class Draft:
    """A layer in the making: its fields, what it reads, and the ONNX counts to check."""

    fields: dict[str, Any]
    refs: list[str]          # producing drafts (INPUT_PREFIX + name: a graph input)
    in_shapes: list[Shape]   # npusim shapes of those inputs
    out_shape: Shape         # npusim output shape (bound)
    macs: int                # ONNX MACs for the model's batch
    onnx_elements: int       # elements of the ONNX output, per sample

    @property
    def name(self) -> str:
        return self.fields["name"]

    @property
    def type(self) -> str:
        return self.fields["type"]


@dataclass
class ImportReport:
    """Result of an import: the layers and an account of everything that is not a layer."""

    layers: list[dict[str, Any]]
    input_shape: Shape | None
    folded: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)
    notes: list[str] = field(default_factory=list)
    macs: int = 0
    workload: dict[str, Any] = field(default_factory=dict)

    def skipped_message(self) -> str:
        return "skipped unsupported ONNX ops (treated as pass-through, no cost counted): " + \
            counts(self.skipped)

    def description(self, model, path: Path) -> str:
        producer = " ".join(p for p in (model.producer_name, model.producer_version) if p)
        opset = max((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")),
                    default=0)
        text = f"Imported from {path.name} (ONNX opset {opset}"
        text += f", {producer})." if producer else ")."
        if self.folded:
            text += " Folded: " + counts(self.folded) + "."
        if self.skipped:
            text += " SKIPPED (unsupported, not counted): " + counts(self.skipped) + "."
        for note in self.notes:
            text += " " + note
        return text


def counts(counter: Counter) -> str:
    return ", ".join(f"{op} x{n}" for op, n in sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def attrs_of(node) -> dict[str, Any]:
    import onnx

    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def decode(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


class NodeView:
    """A graph node with its fields copied out of the protobuf once: every pass of the
    importer walks all nodes several times, and protobuf field access dominated (a third of
    importing a 7,600-node export). `proto` is the NodeProto itself."""

    __slots__ = ("proto", "op_type", "domain", "name", "input", "output", "attribute")

    def __init__(self, proto) -> None:
        self.proto = proto
        self.op_type = proto.op_type
        self.domain = proto.domain
        self.name = proto.name
        self.input = tuple(proto.input)
        self.output = tuple(proto.output)
        self.attribute = proto.attribute


def node_views(graph) -> list[NodeView]:
    return [NodeView(node) for node in graph.node]
