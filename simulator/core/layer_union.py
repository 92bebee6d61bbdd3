"""The `Layer` union: every layer model, chosen by its `type`, and validated lazily (only the
layer types a workload uses get their pydantic validator built, and only the families of layer
types it uses are imported)."""

from __future__ import annotations

from importlib import import_module
from typing import Annotated, Any, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from simulator.core.layer_base import LayerBase

#: Where each layer type's model lives, in the order docs and errors list the types: a family
#: of types (layers with MACs and pooling, layout-only layers, vector-unit layers) is imported
#: when a workload first names one of its types, so that a CNN run does not create the twenty
#: model classes it does not use (issue 11, fast start). Tested equal to the models' own `type`
#: literals (tests/core/test_layer_union.py).
LAYER_HOMES: dict[str, tuple[str, str]] = {
    **{tag: ("simulator.core.layers", name) for tag, name in (
        ("conv", "ConvLayer"), ("linear", "LinearLayer"), ("matmul", "MatmulLayer"),
        ("lstm", "LstmLayer"), ("maxpool", "PoolLayer"), ("avgpool", "PoolLayer"),
        ("globalavgpool", "GlobalPoolLayer"), ("globalmaxpool", "GlobalPoolLayer"),
        ("adaptiveavgpool", "AdaptivePoolLayer"), ("adaptivemaxpool", "AdaptivePoolLayer"),
        ("add", "EltwiseLayer"), ("mul", "EltwiseLayer"), ("activation", "ActivationLayer"),
        ("concat", "ConcatLayer"), ("flatten", "FlattenLayer"))},
    **{tag: ("simulator.core.layout_layers", name) for tag, name in (
        ("reshape", "ReshapeLayer"), ("slice", "SliceLayer"), ("expand", "ExpandLayer"),
        ("transpose", "TransposeLayer"), ("pad", "PadLayer"), ("embedding", "EmbeddingLayer"))},
    **{tag: ("simulator.core.vector_layers", name) for tag, name in (
        ("norm", "NormLayer"), ("reduce", "ReduceLayer"), ("where", "WhereLayer"))},
}
#: Every layer type (a workload's `type:` values and its `defaults:` keys).
LAYER_TYPES = tuple(LAYER_HOMES)
_EXPECTED_TAGS = ", ".join(f"'{tag}'" for tag in LAYER_TYPES)


def layer_model(tag: str) -> type[LayerBase]:
    """The model class of layer type `tag` (KeyError for an unknown type)."""
    module, name = LAYER_HOMES[tag]
    return getattr(import_module(module), name)


def layer_models() -> tuple[type[LayerBase], ...]:
    """Every layer model, once each, in the order of `LAYER_TYPES` (imports every family)."""
    return tuple(dict.fromkeys(layer_model(tag) for tag in LAYER_TYPES))


def model_tags(model: type[LayerBase]) -> tuple[str, ...]:
    """The `type` values a layer model accepts (its `type` literal)."""
    return get_args(model.model_fields["type"].annotation)


def validate_layer(value: Any) -> LayerBase:
    """One layer from plain data (or a layer model, kept as it is), validated by the model its
    `type` names: a discriminated union that builds a layer type's validator only when a
    workload first uses that type (building all twenty at import cost more than a ResNet-50
    simulation). Errors read as pydantic's own discriminated union writes them."""
    if isinstance(value, LayerBase):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from")
    if "type" not in value:
        raise PydanticCustomError("union_tag_not_found",
                                  "Unable to extract tag using discriminator 'type'")
    tag = value["type"]
    if not isinstance(tag, str) or tag not in LAYER_HOMES:
        raise PydanticCustomError(
            "union_tag_invalid", "Input tag '{tag}' found using 'type' does not match any of "
            "the expected tags: {expected_tags}", {"tag": str(tag), "expected_tags": _EXPECTED_TAGS})
    return layer_model(tag).model_validate(value)


class _ByLayerType:
    """Pydantic schema of `Layer`: `validate_layer`, serialised as the layer's own model."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(validate_layer)


#: A field holding any layer, chosen by its `type`.
Layer = Annotated[LayerBase, _ByLayerType]
