"""Apply a compression block (YAML `compression:` or the compact string) to a workload: each
setting in the canonical order, network-wide settings on the layers they fit, per-type and
per-layer overrides on top (compress/spec.py). Each step is one of the transforms, so the
result records exactly which transforms ran on which layers."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from simulator.compress.common import Refusal
from simulator.compress.encode import _codable, huffman
from simulator.compress.pruning import (
    DEFAULT_INDEX_BITS,
    _channel_prunable,
    _has_activations,
    _prunable,
    prune,
    prune_channels,
)
from simulator.compress.quantization import (
    _any_layer,
    _shareable,
    _weights_quantizable,
    quantize,
    share_weights,
)
from simulator.compress.spec import CompressionBlock, HuffmanSettings, parse_compress_string
from simulator.compress.structure import (
    _saving_rank,
    _winograd_ready,
    low_rank,
    winograd,
)
from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.workload import Workload

ORDER = ("lowrank", "channels", "winograd", "prune", "quantize", "share", "huffman")


def _setting(block: CompressionBlock, layer: LayerBase, key: str) -> tuple[Any, bool]:
    """(value, explicit) of one setting for one layer: layer > type > network."""
    own = block.layers.get(layer.name)
    if own is not None and key in own.model_fields_set:
        return getattr(own, key), True
    by_type = block.types.get(layer.type)
    if by_type is not None and key in by_type.model_fields_set:
        return getattr(by_type, key), False
    return (getattr(block, key), False) if key in block.model_fields_set else (None, False)


def _plan(workload: Workload, block: CompressionBlock, keys: tuple[str, ...],
          eligible: Callable[[LayerBase, tuple], Refusal | None]) -> list[tuple[tuple, list[str]]]:
    """Group layers by their values of `keys`; network-wide values skip unfit layers."""
    groups: dict[str, tuple[tuple, list[str]]] = {}
    for layer in workload.layers:
        values, explicit = [], False
        for key in keys:
            value, own = _setting(block, layer, key)
            values.append(value)
            explicit |= own and value is not None
        if all(v is None for v in values):
            continue
        if not explicit and eligible(layer, tuple(values)) is not None:
            continue
        key = repr([v.model_dump() if hasattr(v, "model_dump") else v for v in values])
        groups.setdefault(key, (tuple(values), []))[1].append(layer.name)
    return list(groups.values())


def _step(workload: Workload, block: CompressionBlock, step: str,
          weights: Mapping[str, np.ndarray]) -> Workload:
    if step == "lowrank":
        for (rank,), names in _plan(workload, block, ("lowrank",),
                                    lambda l, v: _saving_rank(v[0])(l, workload)):
            workload = low_rank(workload, rank, layers=names)
    elif step == "channels":
        check = _channel_prunable(workload)
        for (ratio,), names in _plan(workload, block, ("channels",),
                                     lambda l, v: check(l, workload)):
            workload = prune_channels(workload, ratio, layers=names)
    elif step == "winograd":
        for (variant,), names in _plan(workload, block, ("winograd",),
                                       lambda l, v: _winograd_ready(l, workload)):
            workload = winograd(workload, variant, layers=names)
    elif step == "prune":
        workload = _prune_step(workload, block)
    elif step == "quantize":
        def fits_weights(layer: LayerBase, values: tuple) -> Refusal | None:
            if layer.weight_bits is not None and values[0] > layer.weight_bits:
                return Refusal("weight_bits", "already narrower")   # never widen network-wide
            return _weights_quantizable(layer, workload)
        for (wbits,), names in _plan(workload, block, ("wbits",), fits_weights):
            workload = quantize(workload, wbits, layers=names)
        for (abits,), names in _plan(workload, block, ("abits",),
                                     lambda l, v: _any_layer(l, workload)):
            workload = quantize(workload, activation_bits=abits, layers=names)
    elif step == "share":
        for (k,), names in _plan(workload, block, ("share",),
                                 lambda l, v: _shareable(l, workload)):
            workload = share_weights(workload, k, layers=names)
    elif step == "huffman":
        workload = _huffman_step(workload, block, weights)
    return workload


def _prune_step(workload: Workload, block: CompressionBlock) -> Workload:
    def fits(layer: LayerBase, values: tuple) -> Refusal | None:
        ratio, adensity, _ = values
        if ratio is not None:
            # network-wide pruning never un-prunes a layer that is already sparser
            if _prunable(layer, workload) or 1 - ratio > layer.weight_density:
                return Refusal("weight_density", "skipped")
        elif adensity is not None:
            return _has_activations(layer, workload)
        elif layer.weight_density >= 1:          # ibits alone: only for sparse layers
            return Refusal("sparse_index_bits", "skipped")
        return None

    for (ratio, adensity, ibits), names in _plan(workload, block, ("prune", "adensity", "ibits"),
                                                 fits):
        by_name = {layer.name: layer for layer in workload.layers}
        if ratio is None and adensity is None:
            dense = [n for n in names if by_name[n].weight_density >= 1]
            if dense:
                raise NpusimError(f"layer {dense[0]!r}: ibits sets the index width of sparse "
                                  "weights, and this layer is dense", field=f"{dense[0]}.ibits",
                                  fix="add prune to it, or remove ibits")
            for name in names:   # keep each layer's density, change only the index width
                workload = prune(workload, {name: by_name[name].weight_density},
                                 index_bits=ibits)
            continue
        density = None if ratio is None else round(1 - ratio, 12)
        workload = prune(workload, density, activation_density=adensity,
                         index_bits=ibits or DEFAULT_INDEX_BITS, layers=names)
    return workload


def _huffman_step(workload: Workload, block: CompressionBlock,
                  weights: Mapping[str, np.ndarray]) -> Workload:
    groups = _plan(workload, block, ("huffman",), lambda l, v: _codable(l, workload))
    for (setting,), names in groups:
        if setting is False:
            continue
        spec = setting if isinstance(setting, HuffmanSettings) else HuffmanSettings()
        if spec.weights_file:
            arrays = {name: weights[name] for name in names if name in weights}
            if len(arrays) != len(names):
                raise NpusimError("huffman.weights_file was not read", field="huffman.weights_file",
                                  fix="load the workload through simulator.io.load_workload")
            workload = huffman(workload, names, weights=arrays, source=spec.weights_file)
        else:
            workload = huffman(workload, names, weight_histogram=spec.weight_histogram,
                               index_histogram=spec.index_histogram)
    return workload


def apply_block(workload: Workload, block: CompressionBlock | str | dict,
                weights: Mapping[str, np.ndarray] | None = None,
                source: str | None = None) -> Workload:
    """The workload with every setting of `block` applied (a block, its dict form or the
    compact string). `weights`: arrays read from `huffman.weights_file`, by layer name."""
    if isinstance(block, str):
        block = parse_compress_string(block)
    elif isinstance(block, dict):
        from simulator.compress.spec import block_from_data
        block = block_from_data(block, source or "<compression>")
    names = {layer.name for layer in workload.layers}
    for name in block.layers:
        if name not in names:
            raise NpusimError(f"no layer named {name!r} in workload {workload.name!r}",
                              file=source, field=f"compression.layers.{name}",
                              fix="use a layer name of the workload")
    try:
        for step in ORDER:
            workload = _step(workload, block, step, weights or {})
    except NpusimError as exc:
        field = f"compression ({exc.field})" if exc.field else "compression"
        raise NpusimError(exc.message, file=source or exc.file, field=field, fix=exc.fix) from None
    return workload


def compress_for_run(workload: Workload, block: CompressionBlock | str | dict,
                     precision: Precision, source: str = "--compress") -> Workload:
    """`apply_block` on the workload as a run computes it: a workload that states no precision
    of its own first takes `precision` (the run's: `--precision`, else the chip's native one),
    so the transforms start from the widths the chip computes at. Sharing an int8 chip's
    weights keeps 8-bit codebook values (a float model's would stay 32-bit and run at the
    32-bit rate), and the model size's dense stage is the chip's 8-bit model."""
    if workload.precision is None:
        workload = workload.model_copy(update={"precision": precision.model_copy()})
    return apply_block(workload, block, source=source)
