"""A network: a named list of layers with a batch size and (optionally) a precision.

`workload_from_dict` validates plain data (as read by `simulator.io`) and resolves every
layer's shapes; bad fields and shapes become one-line errors naming the layer.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import Field, PositiveInt, PrivateAttr, ValidationError, field_validator

from simulator.core.arch import Precision, StrictModel
from simulator.core.errors import FieldProblem, NpusimError, from_validation_error
from simulator.core.geometry import Shape
from simulator.core.layer_base import LayerBase, ShapeError
from simulator.core.layer_union import LAYER_TYPES, Layer, layer_model
from simulator.core.layers import MatmulLayer
from simulator.core.limits import MAX_COUNT, MAX_LAYERS, MAX_WORD_BYTES, power_of_two


class AppliedTransform(StrictModel):
    """One compression transform applied to a workload (simulator.compress): its name, its
    parameters and the layers it changed, so a result can say what was done."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)
    layers: list[str] = Field(default_factory=list)

    @property
    def label(self) -> str:
        """Short text such as `prune(density=0.1) on 3 layers`."""
        args = ", ".join(f"{k}={v}" for k, v in self.params.items() if v is not None)
        return f"{self.name}({args}) on {len(self.layers)} layer{'s' * (len(self.layers) != 1)}"


def transforms_text(transforms: list[AppliedTransform] | list[dict[str, Any]]) -> str:
    """What compression a workload went through, on one line (`""` for none), e.g.
    `prune(density=0.1) on 8 layers; share_weights(entries=16) on 8 layers`. Accepts the
    transforms or their JSON form (a result's `workload.transforms`)."""
    items = [t if isinstance(t, AppliedTransform) else AppliedTransform.model_validate(t)
             for t in transforms]
    return "; ".join(t.label for t in items)


class Workload(StrictModel):
    """A network: a named list of layers with a batch size and (optionally) a precision."""

    name: str
    description: str = ""
    batch: PositiveInt = 1
    input: list[PositiveInt] | None = Field(None, description="network input shape, e.g. [3, 224, 224]")
    precision: Precision | None = None
    defaults: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per layer type default fields, e.g. {conv: {batchnorm: true}}")
    layers: list[Layer] = Field(min_length=1, max_length=MAX_LAYERS)
    source: str = ""
    transforms: list[AppliedTransform] = Field(
        default_factory=list, description="compression transforms applied, in order")

    #: the file the workload was read from (None when built in code); `source` is provenance
    #: text that a file may set to anything, so paths inside the file resolve against this
    _file: str | None = PrivateAttr(default=None)

    @property
    def file(self) -> str | None:
        """The file this workload was read from, if any."""
        return self._file

    @field_validator("defaults")
    @classmethod
    def _known_default_types(cls, defaults: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """Default blocks name layer types, and only fields those types have (checked here,
        not when a layer uses them: a misspelt default for a type no layer has yet is as wrong)."""
        for layer_type, fields in defaults.items():
            if layer_type not in LAYER_TYPES:
                raise ValueError(f"unknown layer type {layer_type!r}; "
                                 f"use one of {', '.join(LAYER_TYPES)}")
            known = layer_model(layer_type).model_fields
            for name in fields:
                if name not in known or name == "type":
                    raise FieldProblem(f"{layer_type}.{name}", f"unknown field for a "
                                       f"{layer_type} layer", fix="remove it or check the "
                                       "spelling; see docs/formats.md for the fields")
        return defaults

    @field_validator("layers", mode="before")
    @classmethod
    def _apply_defaults(cls, layers: Any, info: Any) -> Any:
        defaults = (info.data or {}).get("defaults") or {}
        if not defaults or not isinstance(layers, list):
            return layers

        out = []
        for layer in layers:
            # a non-string type (a list, a mapping) is not a key of defaults: left for the
            # layer validator's one-line error, never hashed
            if isinstance(layer, dict) and isinstance(layer.get("type"), str) \
                    and layer["type"] in defaults:
                layer = {**defaults[layer["type"]], **layer}
            out.append(layer)
        return out

    def resolve(self, source: str | Path = "<workload>",
                adapt: Callable[[LayerBase, list[Shape]], None] | None = None) -> "Workload":
        """Infer every layer's input and output shapes; bad shapes become one-line errors.
        `adapt(layer, input_shapes)`, when given, may change a layer's fields just before it is
        bound (structured pruning uses it to let depthwise and FC layers follow new widths)."""
        seen: dict[str, Shape] = {}
        totals = [0] * len(_COUNT_NAMES)
        previous: Shape | None = tuple(self.input) if self.input else None
        for index, layer in enumerate(self.layers):
            field_prefix = f"layers[{index}] ({layer.name})"
            if layer.name in seen:
                raise NpusimError(f"duplicate layer name {layer.name!r}", file=source,
                                  field=f"{field_prefix}.name", fix="give every layer a unique name")
            if layer.inputs:
                shapes = []
                for ref in layer.inputs:
                    if ref not in seen:
                        raise NpusimError(f"input {ref!r} is not an earlier layer", file=source,
                                          field=f"{field_prefix}.inputs",
                                          fix="name a layer defined above this one")
                    shapes.append(seen[ref])
                if layer.input is not None:
                    shapes = [tuple(layer.input)] + shapes[1:]
            elif layer.input is not None:
                shapes = [tuple(layer.input)]
            elif isinstance(layer, MatmulLayer):
                # a matmul states its own operand sizes: its input is the left (M x K) operand
                shapes = [(layer.count, layer.m, layer.k) if layer.count > 1 else (layer.m, layer.k)]
            elif previous is not None:
                shapes = [previous]
            else:
                raise NpusimError("the first layer needs an input shape", file=source,
                                  field=f"{field_prefix}.input",
                                  fix="add input: [C, H, W] to the layer or to the workload")
            try:
                if adapt is not None:
                    adapt(layer, shapes)
                layer.bind(shapes, self.batch)
            except ShapeError as exc:
                raise NpusimError(str(exc), file=source,
                                  field=f"{field_prefix}.{exc.field}" if exc.field else field_prefix,
                                  fix=exc.fix) from None
            counts = _layer_counts(layer)
            problem = layer_limit_problem(layer, counts)
            if problem:
                raise NpusimError(problem, file=source, field=field_prefix, fix=_LIMIT_FIX)
            totals = [t + c for t, c in zip(totals, counts.values())]
            seen[layer.name] = layer.output_shape
            previous = layer.output_shape
        for name, total in zip(_COUNT_NAMES, totals):
            if total >= MAX_COUNT:
                raise NpusimError(f"the workload's {name} add up to {total:.3g}, over the limit "
                                  f"{power_of_two(MAX_COUNT)}", file=source, field="layers",
                                  fix=_LIMIT_FIX)
        return self

    # ---- totals ------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        return sum(layer.macs for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)

    def layer(self, name: str) -> LayerBase:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def summary(self) -> dict[str, Any]:
        """What a report needs to name the workload."""
        return {"name": self.name, "batch": self.batch, "layers": len(self.layers),
                "macs": self.macs, "params": self.params,
                "precision": self.precision.model_dump() if self.precision else None,
                "source": self.source,
                "transforms": [t.model_dump(mode="json") for t in self.transforms]}


_COUNT_NAMES = ("MACs", "element operations", "input bytes", "output bytes", "weight bytes")
_LIMIT_FIX = "reduce the dimensions or the batch; see Limits in docs/formats.md"


def _layer_counts(layer: LayerBase) -> dict[str, int]:
    """The counts of a bound layer that the limits bound (bytes at the widest word, 8 bytes)."""
    return {"MACs": layer.macs, "element operations": layer.vector_ops,
            "input bytes": layer.input_elements * MAX_WORD_BYTES,
            "output bytes": layer.output_elements * MAX_WORD_BYTES,
            "weight bytes": layer.weight_params * MAX_WORD_BYTES}


def layer_limit_problem(layer: LayerBase, counts: dict[str, int] | None = None) -> str | None:
    """Why a bound layer is beyond npusim's limits (None if it is within them): any of its
    MACs, element operations or operand bytes (at 8 bytes per element, the widest word an
    engine moves) at 2^62 or more (docs/formats.md, section 6)."""
    for name, count in (counts or _layer_counts(layer)).items():
        if count >= MAX_COUNT:
            return (f"{name} of this layer ({count:.3g} with batch {layer.batch}) are over the "
                    f"limit {power_of_two(MAX_COUNT)}")
    return None


def _name_layer_in_error(error: NpusimError, data: Any) -> NpusimError:
    """Turn field `layers[3].strid` into `layers[3] (conv2).strid` so users find the line."""
    match = re.match(r"layers\[(\d+)\](.*)", error.field or "")
    layers = data.get("layers") if isinstance(data, dict) else None
    if match and isinstance(layers, list) and int(match.group(1)) < len(layers):
        layer = layers[int(match.group(1))]
        if isinstance(layer, dict) and isinstance(layer.get("name"), str):
            error = NpusimError(error.message, file=error.file,
                                field=f"layers[{match.group(1)}] ({layer['name']}){match.group(2)}",
                                fix=error.fix)
    return error


def workload_from_dict(data: dict, source: str | Path = "<workload>") -> Workload:
    """Validate a plain dict (as read from YAML) into a resolved workload."""
    try:
        workload = Workload.model_validate(data)
    except ValidationError as exc:
        error = from_validation_error(exc, source)
        raise _name_layer_in_error(error, data) from None
    workload.source = workload.source or str(source)
    if not str(source).startswith("<"):
        workload._file = str(source)
    return workload.resolve(source)
