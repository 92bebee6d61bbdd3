"""What every compression transform shares: choosing layers, refusing with one line, and
building the new workload (validated and resolved, the input left untouched) with the transform
recorded in `Workload.transforms`.

A transform takes its main parameter either as one value for a set of layers (`layers=None`:
every layer the transform applies to, silently skipping those it does not; or an explicit list,
where a layer it cannot apply to is refused) or as a mapping {layer name: value}, which is
explicit for each named layer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import ValidationError

from simulator.core.errors import NpusimError, from_validation_error
from simulator.core.geometry import Shape
from simulator.core.layer_base import LayerBase
from simulator.core.workload import AppliedTransform, Workload

T = TypeVar("T")


@dataclass(frozen=True)
class Refusal:
    """Why a transform cannot apply to a layer: the layer field concerned, the reason, a fix."""

    field: str
    message: str
    fix: str | None = None


Eligibility = Callable[[LayerBase, Workload], Refusal | None]


def refuse(layer: str, refusal: Refusal) -> NpusimError:
    """The one-line error for a refused layer: `field 'conv2.winograd': <why> (<fix>)`."""
    return NpusimError(f"layer {layer!r}: {refusal.message}", field=f"{layer}.{refusal.field}",
                       fix=refusal.fix)


def bad_parameter(name: str, message: str, fix: str | None = None) -> NpusimError:
    """The one-line error for a transform parameter that makes no sense (0 bits, density 2)."""
    return NpusimError(message, field=name, fix=fix)


def has_weights(layer: LayerBase) -> bool:
    return layer.stored_weight_elements > 0


def huffman_last(layer: LayerBase, what: str) -> Refusal | None:
    """Huffman coding is the last stage: any transform that changes the stored symbols after it
    would leave the code describing weights that no longer exist."""
    if layer.huffman is not None:
        return Refusal("huffman", f"{what} after Huffman coding would change the coded symbols",
                       fix=f"apply {what} before huffman")
    return None


def companion_layers(layers: Iterable[str] | None, weight_value: object,
                     companion_value: object) -> Iterable[str] | None:
    """The layers a transform's activation setting applies to: `layers` when given; else, when
    the weight setting is a per-layer mapping and the activation one a scalar, the mapping's
    layers (a scalar activation setting goes where the weight settings went)."""
    if layers is None and isinstance(weight_value, Mapping) and \
            not isinstance(companion_value, Mapping):
        return list(weight_value)
    return layers


def targets(workload: Workload, value: T | Mapping[str, T], layers: Iterable[str] | None,
            eligible: Eligibility, what: str) -> list[tuple[LayerBase, T]]:
    """(layer, value) pairs a transform applies to; refuses unknown or ineligible named layers."""
    if isinstance(value, Mapping):
        if layers is not None:
            raise bad_parameter("layers", f"{what}: give either a per-layer mapping or `layers`, "
                                "not both")
        pairs = list(value.items())
        explicit = True
    elif layers is None:
        pairs = [(layer.name, value) for layer in workload.layers]
        explicit = False
    else:
        pairs = [(name, value) for name in layers]
        explicit = True
    chosen: list[tuple[LayerBase, T]] = []
    first_refusal: tuple[str, Refusal] | None = None
    names = {layer.name: layer for layer in workload.layers}
    for name, item in pairs:
        if name not in names:
            raise NpusimError(f"{what}: no layer named {name!r} in workload {workload.name!r}",
                              field="layers", fix="use a layer name of the workload")
        problem = eligible(names[name], workload)
        if problem is None:
            chosen.append((names[name], item))
        elif explicit:
            raise refuse(name, problem)
        elif first_refusal is None and problem.message != "skipped":
            first_refusal = (name, problem)
    if not chosen:
        why, fix = "", "see which layers each transform applies to in docs/compression.md"
        if first_refusal is not None:
            why = f" (e.g. {first_refusal[0]!r}: {first_refusal[1].message})"
            fix = first_refusal[1].fix or fix
        raise NpusimError(f"{what}: no layer of workload {workload.name!r} qualifies{why}",
                          field="layers", fix=fix)
    return chosen


def layer_dicts(workload: Workload) -> list[dict[str, Any]]:
    """Every layer's fields as plain data (defaults already applied), to edit and rebuild."""
    return [layer.model_dump() for layer in workload.layers]


def rebuild(workload: Workload, layers: list[dict[str, Any]], record: AppliedTransform,
            adapt: Callable[[LayerBase, list[Shape]], None] | None = None) -> Workload:
    """A new validated, resolved workload from edited layer data, with `record` appended."""
    data = workload.model_dump()
    data["defaults"] = {}         # already applied to every layer's data
    data["layers"] = layers
    data["transforms"] = [*data["transforms"], record.model_dump()]
    source = workload.source or "<workload>"
    try:
        new = Workload.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source) from None
    return new.resolve(source, adapt=adapt)


def record(name: str, params: dict[str, Any], layers: Iterable[LayerBase | str]) -> AppliedTransform:
    return AppliedTransform(name=name, params=params,
                            layers=[x if isinstance(x, str) else x.name for x in layers])


def param_record(value: Any) -> Any:
    """A transform parameter as plain data for the record (mappings stay mappings)."""
    return dict(value) if isinstance(value, Mapping) else value


def check_number(name: str, value: Any, low: float, high: float, low_open: bool = False,
                 high_open: bool = False, integer: bool = False) -> None:
    """Refuse a parameter outside [low, high] (open ends where asked) or of the wrong type."""
    values = value.values() if isinstance(value, Mapping) else [value]
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (int, float)) or (
                integer and not float(item).is_integer()) or not math.isfinite(item):
            kind = "an integer" if integer else "a number"
            raise bad_parameter(name, f"{name} must be {kind}, got {item!r}")
        too_low = item <= low if low_open else item < low
        too_high = item >= high if high_open else item > high
        if too_low or too_high:
            lo, hi = ("(" if low_open else "["), (")" if high_open else "]")
            raise bad_parameter(name, f"{name} must be in {lo}{low:g}, {high:g}{hi}, got {item!r}")


def effective_weight_bits(layer: LayerBase, workload: Workload) -> int | None:
    """The width the layer's weights enter the MACs at: its codebook values when shared, else
    its quantized width, else the workload's precision; None when only the arch knows."""
    if layer.codebook_bits is not None:
        return layer.codebook_bits
    if layer.weight_bits is not None:
        return layer.weight_bits
    return workload.precision.weight_bits if workload.precision else None


def effective_activation_bits(layer: LayerBase, workload: Workload) -> int | None:
    if layer.activation_bits is not None:
        return layer.activation_bits
    return workload.precision.activation_bits if workload.precision else None
