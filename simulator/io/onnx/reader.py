"""Import an ONNX model as an npusim workload (shape-only models welcome).

The model is loaded with ``onnx.load(path, load_external_data=False)``, so a file whose weights
were stripped (external data missing, or no initializers at all) imports as well as a full one:
the layer sizes come from ONNX shape inference and the node attributes, never from weight data.
Weight data, when present (inline or in an external-data file beside the model), is only used
to measure each layer's weight density (fraction of non-zero weights).

Symbolic dimensions: the batch dimension of every data input is fixed to ``batch`` (default 1);
any other symbolic dimension must come from ``input_shapes`` (``--input-shape`` on the command
line), otherwise the import stops with an error naming the dimension.

The node -> layer mapping lives in :mod:`simulator.io.onnx.mapper`; docs/onnx.md lists it.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from simulator.core.errors import NpusimError
from simulator.core.limits import MAX_INT, MAX_ONNX_BYTES, power_of_two
from simulator.io.files import check_input_file

if TYPE_CHECKING:
    from simulator.io.onnx.mapper import ImportReport

INSTALL_FIX = "pip install 'npusim[onnx]'"

#: Ops that may consume a data input in the "sequence first" layout (batch on axis 1).
_SEQUENCE_FIRST_OPS = {"LSTM", "GRU", "RNN"}


def _onnx():
    """Import the optional `onnx` package lazily, with a helpful error when it is missing."""
    try:
        import onnx  # noqa: F401
        import onnx.numpy_helper  # noqa: F401
        import onnx.shape_inference  # noqa: F401
    except ImportError:
        raise NpusimError("reading .onnx files needs the 'onnx' package, which is not installed",
                          fix=INSTALL_FIX) from None
    return onnx


def parse_shape(text: str) -> list[int]:
    """Parse `1x3x224x224` (also `1,3,224,224`) into a list of positive ints."""
    parts = [p for p in text.replace(",", "x").replace("X", "x").split("x") if p.strip()]
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if not dims or any(d <= 0 for d in dims):
        raise NpusimError(f"cannot read input shape {text[:60]!r}", field="--input-shape",
                          fix="write it as positive sizes joined by x, e.g. 1x3x224x224")
    if any(d > MAX_INT for d in dims):
        raise NpusimError(f"input shape {text[:60]!r} has a size over the limit "
                          f"{power_of_two(MAX_INT)}", field="--input-shape",
                          fix="see Limits in docs/formats.md")
    return dims


def load_model(path: str | Path):
    """Parse an ONNX file without its external weight data; problems are one-line errors."""
    onnx = _onnx()
    path = Path(path)
    check_input_file(path, "an ONNX model", MAX_ONNX_BYTES)
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf DecodeError, onnx's own parse errors, ...
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise NpusimError(f"not a valid ONNX model ({reason[:120]})", file=path,
                          fix="the file is corrupt or truncated; export it again") from None
    if not model.HasField("graph") or len(model.graph.node) == 0:
        raise NpusimError("not a valid ONNX model (no graph nodes)", file=path,
                          fix="the file is corrupt, truncated or not an ONNX model; export it again")
    return model


def _check_defined(model, path: Path, nodes: list) -> None:
    """Every node input must be a graph input, an initializer or an earlier node's output
    (a file cut at a field boundary can parse yet lose nodes)."""
    graph = model.graph
    known = {i.name for i in graph.input} | {t.name for t in graph.initializer}
    known |= {t.values.name for t in graph.sparse_initializer}
    for node in nodes:
        for name in node.input:
            if name and name not in known:
                raise NpusimError(f"tensor {name!r} used by node {node.name or node.op_type!r} is "
                                  "never defined", file=path,
                                  fix="the file is truncated, corrupt or not topologically "
                                  "sorted; export it again")
        known.update(o for o in node.output if o)
    if not any(i.name not in {t.name for t in graph.initializer} for i in graph.input):
        raise NpusimError("the model has no data inputs", file=path,
                          fix="export the model with its input tensor")


def _weight_like_inputs(graph, nodes: list | None = None) -> set[str]:
    """Graph inputs that are really weights: initializers listed as inputs (older exporters),
    or inputs only ever used in a weight slot (shape-only exports that dropped initializers)."""
    initializers = {t.name for t in graph.initializer}
    slots = {"Conv": {1, 2}, "Gemm": {1, 2}, "BatchNormalization": {1, 2, 3, 4},
             "LayerNormalization": {1, 2},
             "LSTM": {1, 2, 3, 5, 6, 7}, "GRU": {1, 2, 3, 5}, "RNN": {1, 2, 3, 5},
             "MatMul": {1}}
    uses: dict[str, list[tuple[str, int]]] = {}
    for node in (nodes if nodes is not None else graph.node):
        for index, name in enumerate(node.input):
            uses.setdefault(name, []).append((node.op_type, index))
    out = set()
    for value in graph.input:
        if value.name in initializers:
            out.add(value.name)
            continue
        used = uses.get(value.name, [])
        rank = len(value.type.tensor_type.shape.dim)

        def weight_slot(op: str, index: int) -> bool:
            if op in ("Add", "Sub", "Mul", "Div"):
                return rank <= 1  # a bias or scale vector, never a batched activation
            return index in slots.get(op, set()) and (op != "MatMul" or rank == 2)

        if used and all(weight_slot(op, index) for op, index in used):
            out.add(value.name)
    return out


#: ops through which a data input reaches a sequence-first RNN with its axes leading and in
#: order (an embedding lookup keeps the token-id axes in front of the new feature axis)
_AXIS_KEEPING_OPS = {"Gather": 1, "Cast": 0, "Identity": 0, "Dropout": 0}


def _batch_axis(nodes: list, name: str) -> int:
    """Axis of the batch in data input `name`: 1 when it feeds a sequence-first RNN (LSTM,
    GRU, RNN with layout 0), directly or through an embedding lookup (token ids [T, B] ->
    Gather -> [T, B, F] -> LSTM), else 0."""
    if not any(node.op_type in _SEQUENCE_FIRST_OPS for node in nodes):
        return 0
    users: dict[str, list] = {}
    for node in nodes:
        for slot, tensor in enumerate(node.input):
            users.setdefault(tensor, []).append((node, slot))
    frontier, seen = [name], {name}
    while frontier:
        tensor = frontier.pop()
        for node, slot in users.get(tensor, []):
            if node.op_type in _SEQUENCE_FIRST_OPS and slot == 0:
                layout = next((a.i for a in node.attribute if a.name == "layout"), 0)
                return 0 if layout else 1
            if _AXIS_KEEPING_OPS.get(node.op_type) == slot:
                axis = next((a.i for a in node.attribute if a.name == "axis"), 0)
                if node.op_type == "Gather" and axis != 0:
                    continue
                for out in node.output[:1]:
                    if out and out not in seen:
                        seen.add(out)
                        frontier.append(out)
    return 0


def _fix_input_shapes(model, path: Path, batch: int | None,
                      input_shapes: dict[str, list[int]] | list[int] | None,
                      nodes: list, weights: set[str]) -> tuple[int, bool]:
    """Give every data input concrete dims. Returns (the model's batch, whether dims changed)."""
    graph = model.graph
    data_inputs = [v for v in graph.input if v.name not in weights]
    if isinstance(input_shapes, list):
        if len(data_inputs) != 1:
            names = ", ".join(v.name for v in data_inputs)
            raise NpusimError(f"the model has {len(data_inputs)} inputs ({names}); say which one "
                              "the shape is for", field="--input-shape",
                              fix="write NAME=1x3x224x224 for each input")
        input_shapes = {data_inputs[0].name: input_shapes}
    input_shapes = dict(input_shapes or {})
    unknown = set(input_shapes) - {v.name for v in data_inputs}
    if unknown:
        raise NpusimError(f"no model input named {sorted(unknown)[0]!r}", field="--input-shape",
                          fix=f"use one of: {', '.join(v.name for v in data_inputs)}")
    changed = False
    model_batch: int | None = None
    for value in data_inputs:
        dims = value.type.tensor_type.shape.dim
        axis = _batch_axis(nodes, value.name)
        if value.name in input_shapes:
            new = list(input_shapes[value.name])
            if dims and len(new) != len(dims):
                raise NpusimError(f"input {value.name!r} has {len(dims)} dims but --input-shape "
                                  f"gives {len(new)}", field="--input-shape",
                                  fix="give one size per dim, batch included")
            if batch is not None and len(new) > axis:
                new[axis] = batch
        else:
            new, missing = [], []
            for index, dim in enumerate(dims):
                if dim.HasField("dim_value") and dim.dim_value > 0:
                    new.append(dim.dim_value)
                elif index == axis:
                    new.append(batch or 1)
                else:
                    new.append(0)
                    missing.append(dim.dim_param or f"dim {index}")
            if missing:
                shown = "x".join(str(d) if d else "?" for d in new)
                raise NpusimError(f"input {value.name!r} has symbolic dims "
                                  f"{', '.join(missing)} ({shown})", file=path,
                                  field="--input-shape",
                                  fix=f"give a fixed shape, e.g. `npusim import {path.name} "
                                  f"--input-shape {value.name}="
                                  f"{'x'.join(str(d or 224) for d in new)} -o net.yaml`")
        old = [d.dim_value if d.HasField("dim_value") else 0 for d in dims]
        if new != old:
            changed = True
            value.type.tensor_type.shape.ClearField("dim")
            for size in new:
                value.type.tensor_type.shape.dim.add().dim_value = int(size)
        if model_batch is None and len(new) > axis:
            model_batch = int(new[axis])
    if changed:
        # exporter-written intermediate shapes may contradict the new input shape
        del graph.value_info[:]
        for out in graph.output:
            out.type.tensor_type.ClearField("shape")
    return model_batch or 1, changed


def import_onnx(path: str | Path, batch: int | None = None,
                input_shapes: dict[str, list[int]] | list[int] | None = None,
                skip_unknown: bool = False, fuse_activations: bool = True,
                name: str | None = None) -> "ImportReport":
    """Import an ONNX file; returns the workload dict plus what was folded and skipped."""
    _onnx()
    from simulator.io.onnx.common import node_views
    from simulator.io.onnx.folding import propagate
    from simulator.io.onnx.mapper import GraphMapper, sanitize
    from simulator.io.onnx.patterns import rewrite

    path = Path(path)
    if batch is not None and batch <= 0:
        raise NpusimError(f"batch must be positive, got {batch}", field="--batch")
    model = load_model(path)
    nodes = node_views(model.graph)
    _check_defined(model, path, nodes)
    weights = _weight_like_inputs(model.graph, nodes)
    model_batch, changed = _fix_input_shapes(model, path, batch, input_shapes, nodes, weights)
    facts = propagate(model, weights, keep_value_info=not changed, nodes=nodes)
    nodes, patterns = rewrite(nodes, facts)
    mapper = GraphMapper(model, facts, path, model_batch, skip_unknown=skip_unknown,
                         weights=weights, nodes=nodes)
    for label, count in patterns.items():
        mapper.folded[f"{label} pattern -> one layer"] += count
    report = mapper.run(fuse_activations=fuse_activations)
    workload_name = sanitize(name or model.graph.name or path.stem) or path.stem
    data: dict[str, Any] = {"name": workload_name, "description": report.description(model, path),
                            "batch": batch or model_batch}
    if report.input_shape is not None:
        data["input"] = list(report.input_shape)
    data["layers"] = report.layers
    report.workload = data
    return report


def onnx_to_workload_dict(path: str | Path, batch: int | None = None,
                          input_shapes: dict[str, list[int]] | list[int] | None = None,
                          skip_unknown: bool = False, fuse_activations: bool = True) -> dict:
    """The workload dict for an ONNX file (what `load_workload` validates). Skipped ops, if
    `skip_unknown` allowed any, are named in the description and in a Python warning."""
    report = import_onnx(path, batch=batch, input_shapes=input_shapes,
                         skip_unknown=skip_unknown, fuse_activations=fuse_activations)
    if report.skipped:
        warnings.warn(report.skipped_message(), stacklevel=2)
    return report.workload


# ------------------------------------------------------------------------------------------
# YAML output
# ------------------------------------------------------------------------------------------
def _flow(value: Any) -> str:
    """One value in YAML flow style on a single line."""
    text = yaml.safe_dump(value, default_flow_style=True, width=math.inf, sort_keys=False)
    text = text.strip()
    return text[:-4].strip() if text.endswith("\n...") or text.endswith(" ...") else text


def workload_to_yaml(data: dict, header: list[str] | None = None) -> str:
    """Readable, editable YAML: top-level fields first, then one flow mapping per layer."""
    lines = [f"# {line}" if line else "#" for line in (header or [])]
    for key, value in data.items():
        if key == "layers":
            continue
        if isinstance(value, str) and ("\n" in value or len(value) > 90):
            lines.append(yaml.safe_dump({key: value}, width=96, sort_keys=False).rstrip())
        else:
            lines.append(f"{key}: {_flow(value)}")
    lines.append("layers:")
    for layer in data["layers"]:
        lines.append(f"  - {_flow(layer)}")
    return "\n".join(lines) + "\n"
