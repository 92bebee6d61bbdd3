"""Compression settings: the `compression:` block of a workload YAML and the compact string of a
command-line flag (`prune=0.9,wbits=4,share=16,huffman,winograd=f4`), one schema for both.

A block (or string) is a set of settings, not a program: they are applied in the canonical
order lowrank -> channels -> winograd -> prune -> quantize (wbits, abits) -> share -> huffman,
which always makes sense (compress/apply.py). Settings at the top apply network-wide to every
layer they fit (a 7x7 conv is skipped by `winograd`); `types: {conv: {...}}` overrides them for
one layer type; `layers: {fc6: {...}}` for one layer, where a setting that does not fit is
refused and `null` switches a network-wide setting off.
"""

from __future__ import annotations

from typing import Any, Literal

import yaml
from pydantic import Field, NonNegativeInt, ValidationError, model_validator

from simulator.core.arch import StrictModel
from simulator.core.errors import NpusimError, from_validation_error
from simulator.core.layer_union import LAYER_TYPES


class HuffmanSettings(StrictModel):
    """Where the Huffman code's symbol statistics come from (default: the documented default
    distributions). `weights_file` is a real weight array of this one layer (.npy / .npz,
    relative to the workload file), so it is allowed per layer only."""

    weight_histogram: list[NonNegativeInt] | None = None
    index_histogram: list[NonNegativeInt] | None = None
    weights_file: str | None = None


class CompressionSettings(StrictModel):
    """The settings of one scope (network, layer type or layer). See docs/compression.md."""

    prune: float | None = Field(None, ge=0, lt=1, description="fraction of weights removed "
                                "(unstructured): 0.9 keeps 10 %")
    adensity: float | None = Field(None, gt=0, le=1, description="known fraction of non-zero "
                                   "input activations")
    ibits: int | None = Field(None, ge=1, le=16, description="relative-index bits of the sparse "
                              "format (default 4)")
    channels: float | None = Field(None, ge=0, lt=1, description="fraction of filters / outputs "
                                   "removed (structured)")
    wbits: int | None = Field(None, ge=1, le=16, description="weight bits (2 ternary, 1 binary)")
    abits: int | None = Field(None, ge=1, le=16, description="activation bits")
    share: int | None = Field(None, ge=2, le=65536, description="codebook entries (weight "
                              "sharing)")
    huffman: bool | HuffmanSettings | None = Field(None, description="Huffman-code the stored "
                                                   "weights and indices")
    winograd: Literal["f2", "f4"] | None = Field(None, description="F(2x2,3x3) or F(4x4,3x3)")
    lowrank: int | None = Field(None, ge=1, description="factor at this rank")


class CompressionBlock(CompressionSettings):
    """A whole `compression:` block: network-wide settings plus per-type and per-layer ones."""

    types: dict[str, CompressionSettings] = Field(default_factory=dict)
    layers: dict[str, CompressionSettings] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_scopes(self) -> "CompressionBlock":
        for name in self.types:
            if name not in LAYER_TYPES:
                raise ValueError(f"unknown layer type {name!r} in types; use one of "
                                 f"{', '.join(LAYER_TYPES)}")
        for scope in [self, *self.types.values()]:
            if isinstance(scope.huffman, HuffmanSettings) and scope.huffman.weights_file:
                raise ValueError("huffman.weights_file holds one layer's weights: give it under "
                                 "layers: {name: {huffman: {weights_file: ...}}}")
        return self


SETTING_KEYS = tuple(CompressionSettings.model_fields)


def block_from_data(data: Any, source: str = "<compression>", prefix: str = "compression"
                    ) -> CompressionBlock:
    """Validate a `compression:` mapping; problems become one-line errors naming the field."""
    if not isinstance(data, dict):
        raise NpusimError(f"expected a mapping of settings, got {type(data).__name__}",
                          file=source, field=prefix, fix="e.g. compression: {prune: 0.9, wbits: 4}")
    try:
        return CompressionBlock.model_validate(data)
    except ValidationError as exc:
        raise from_validation_error(exc, source, prefix=prefix) from None


def _value(text: str) -> Any:
    """A setting's value: YAML scalars (0.9, 4, f4, true, none)."""
    if text.strip().lower() in ("none", "null", "off"):
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_compress_string(text: str, source: str = "--compress") -> CompressionBlock:
    """Parse the compact form: comma-separated `key=value` (or `huffman` alone), where key is a
    setting, `<layer type>.<setting>` or `<layer name>.<setting>`, e.g.
    `prune=0.9,wbits=4,conv.wbits=8,fc8.prune=none,share=16,huffman,winograd=f4`."""
    data: dict[str, Any] = {}
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        key, has_value, value_text = item.partition("=")
        key = key.strip()
        scope, _, setting = key.rpartition(".")
        if setting not in SETTING_KEYS:
            raise NpusimError(f"unknown compression setting {setting!r} in {item!r}", file=source,
                              fix=f"use one of {', '.join(SETTING_KEYS)}")
        if not has_value:
            if setting != "huffman":
                raise NpusimError(f"{setting!r} needs a value", file=source,
                                  fix=f"write {setting}=VALUE")
            value: Any = True
        else:
            value = _value(value_text.strip())
        target = data
        if scope:
            group = "types" if scope in LAYER_TYPES else "layers"
            target = data.setdefault(group, {}).setdefault(scope, {})
        if setting in target:
            raise NpusimError(f"{key!r} is given twice", file=source, fix="give each setting once")
        target[setting] = value
    if not data:
        raise NpusimError("no compression settings given", file=source,
                          fix="e.g. prune=0.9,wbits=4,share=16,huffman")
    return block_from_data(data, source, prefix="")
