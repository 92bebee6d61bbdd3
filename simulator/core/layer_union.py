"""The `Layer` union: every layer model, chosen by its `type`, and validated lazily (only the
layer types a workload uses get their pydantic validator built)."""

from __future__ import annotations

from typing import Annotated, Any, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from simulator.core.layer_base import LayerBase
from simulator.core.layers import (
    ActivationLayer,
    AdaptivePoolLayer,
    ConcatLayer,
    ConvLayer,
    EltwiseLayer,
    FlattenLayer,
    GlobalPoolLayer,
    LinearLayer,
    LstmLayer,
    MatmulLayer,
    PoolLayer,
)
from simulator.core.layout_layers import (
    EmbeddingLayer,
    ExpandLayer,
    PadLayer,
    ReshapeLayer,
    SliceLayer,
    TransposeLayer,
)
from simulator.core.vector_layers import NormLayer, ReduceLayer, WhereLayer

#: Every layer model, in the order docs and errors list their types.
LAYER_CLASSES: tuple[type[LayerBase], ...] = (
    ConvLayer, LinearLayer, MatmulLayer, LstmLayer, PoolLayer, GlobalPoolLayer, AdaptivePoolLayer,
    EltwiseLayer, ActivationLayer, ConcatLayer, FlattenLayer, ReshapeLayer, SliceLayer, ExpandLayer,
    TransposeLayer, PadLayer, EmbeddingLayer, NormLayer, ReduceLayer, WhereLayer)
#: The model class of each layer type (a workload's `type:` values and its `defaults:` keys).
LAYER_MODELS: dict[str, type[LayerBase]] = {
    value: member for member in LAYER_CLASSES
    for value in get_args(member.model_fields["type"].annotation)}
LAYER_TYPES = tuple(LAYER_MODELS)
_EXPECTED_TAGS = ", ".join(f"'{tag}'" for tag in LAYER_TYPES)


def validate_layer(value: Any) -> LayerBase:
    """One layer from plain data (or a layer model, kept as it is), validated by the model its
    `type` names: a discriminated union that builds a layer type's validator only when a
    workload first uses that type (building all twenty at import cost more than a ResNet-50
    simulation). Errors read as pydantic's own discriminated union writes them."""
    if isinstance(value, LAYER_CLASSES):
        return value
    if not isinstance(value, dict):
        raise PydanticCustomError(
            "model_attributes_type",
            "Input should be a valid dictionary or object to extract fields from")
    if "type" not in value:
        raise PydanticCustomError("union_tag_not_found",
                                  "Unable to extract tag using discriminator 'type'")
    tag = value["type"]
    model = LAYER_MODELS.get(tag) if isinstance(tag, str) else None
    if model is None:
        raise PydanticCustomError(
            "union_tag_invalid", "Input tag '{tag}' found using 'type' does not match any of "
            "the expected tags: {expected_tags}", {"tag": str(tag), "expected_tags": _EXPECTED_TAGS})
    return model.model_validate(value)


class _ByLayerType:
    """Pydantic schema of `Layer`: `validate_layer`, serialised as the layer's own model."""

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(validate_layer)


#: A field holding any layer, chosen by its `type`.
Layer = Annotated[LayerBase, _ByLayerType]
