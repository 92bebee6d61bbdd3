"""Pruning: unstructured (a fraction of individual weights set to zero, stored sparse) and
structured (whole filters / output neurons removed, which shrinks the layer and every layer
that reads it).

Unstructured pruning (Han et al., "Learning both Weights and Connections", NIPS 2015) keeps the
shapes and the dense MAC count; it sets `weight_density` (and `activation_density` where the
input sparsity is known, e.g. after ReLU) and the relative-index width of the sparse storage
(`sparse_index_bits`, 4 in EIE and Deep Compression's AlexNet). Only a chip that skips zeros
turns it into fewer MACs; every chip stores fewer bytes (compress/storage.py).

Structured pruning (Li et al., "Pruning Filters for Efficient ConvNets", ICLR 2017) removes
round(F x ratio) of a conv's filters or a linear layer's outputs, so the layer's output has fewer
channels and the next layer's input follows: its weights and MACs fall too. Depthwise layers
follow their input (one filter per channel); linear / LSTM `in_features` / `input_size` are
updated. It refuses what would break a shape: channels feeding an element-wise add/mul with a
differently pruned partner, a grouped conv whose channels would no longer divide by its groups,
a depthwise layer named directly, and the layers that define the network's output.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from simulator.compress.common import (
    Eligibility,
    Refusal,
    check_number,
    companion_layers,
    has_weights,
    huffman_last,
    layer_dicts,
    param_record,
    rebuild,
    record,
    targets,
)
from simulator.core.errors import NpusimError
from simulator.core.geometry import Shape
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LinearLayer, LstmLayer, MatmulLayer
from simulator.core.workload import Workload

DEFAULT_INDEX_BITS = 4


# ---- unstructured ------------------------------------------------------------------------
def _prunable(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not has_weights(layer):
        return Refusal("weight_density", f"a {layer.type} layer has no weights to prune")
    return huffman_last(layer, "pruning")


def _has_activations(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not layer.is_compute:
        return Refusal("activation_density", f"a {layer.type} layer does no MACs, so its input "
                       "sparsity is not used")
    return None


def prune(workload: Workload, density: float | Mapping[str, float] | None = None, *,
          activation_density: float | Mapping[str, float] | None = None,
          index_bits: int = DEFAULT_INDEX_BITS, layers: Iterable[str] | None = None) -> Workload:
    """Unstructured pruning: keep the fraction `density` (0 < d <= 1) of each layer's weights.

    Pruning never restores weights: a layer already sparser than `density` is refused. The
    stored format is CSC with `index_bits`-bit relative indices (compress/storage.py).
    `activation_density` (0 < a <= 1) records the known fraction of non-zero input
    activations of MAC layers. With `layers=None` every layer with weights is pruned."""
    if density is None and activation_density is None:
        raise NpusimError("prune needs a density or an activation_density", field="density",
                          fix="e.g. prune(workload, density=0.1)")
    if density is not None:
        check_number("density", density, 0, 1, low_open=True)
    if activation_density is not None:
        check_number("activation_density", activation_density, 0, 1, low_open=True)
    check_number("index_bits", index_bits, 1, 16, integer=True)
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    changed: list[str] = []
    if density is not None:
        for layer, value in targets(workload, density, layers, _prunable, "prune"):
            if value > layer.weight_density + 1e-12:
                raise NpusimError(
                    f"layer {layer.name!r}: pruning cannot restore weights (weight_density is "
                    f"already {layer.weight_density:g}, asked {value:g})",
                    field=f"{layer.name}.weight_density", fix=f"use a density <= "
                    f"{layer.weight_density:g}")
            data[index[layer.name]].update(weight_density=float(value),
                                           sparse_index_bits=int(index_bits))
            changed.append(layer.name)
    if activation_density is not None:
        act_layers = companion_layers(layers, density, activation_density)
        for layer, value in targets(workload, activation_density, act_layers, _has_activations,
                                    "prune (activation density)"):
            data[index[layer.name]]["activation_density"] = float(value)
            if layer.name not in changed:
                changed.append(layer.name)
    params = {"density": param_record(density), "activation_density":
              param_record(activation_density), "index_bits": int(index_bits)}
    return rebuild(workload, data, record("prune", params, changed))


# ---- structured --------------------------------------------------------------------------
def _producers(workload: Workload) -> dict[str, list[str]]:
    """The layers each layer reads (as Workload.resolve wires them)."""
    producers: dict[str, list[str]] = {}
    previous: str | None = None
    for layer in workload.layers:
        if layer.inputs:
            producers[layer.name] = list(layer.inputs)
        elif layer.input is not None or isinstance(layer, MatmulLayer):
            producers[layer.name] = []
        else:
            producers[layer.name] = [previous] if previous else []
        previous = layer.name
    return producers


def output_defining(workload: Workload) -> set[str]:
    """Layers whose output width is the network's output width: the MAC layers reached from
    the unconsumed (final) layers through layers without weights (pooling, activations,
    flatten, element-wise, concat)."""
    producers = _producers(workload)
    consumed = {p for ps in producers.values() for p in ps}
    by_name = {layer.name: layer for layer in workload.layers}
    stack = [name for name in producers if name not in consumed]
    seen: set[str] = set()
    defining: set[str] = set()
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        if by_name[name].is_compute:
            defining.add(name)
        else:
            stack.extend(producers[name])
    return defining


def _channel_prunable(workload: Workload) -> Eligibility:
    outputs = output_defining(workload)
    coded = [layer.name for layer in workload.layers if layer.huffman is not None]

    def eligible(layer: LayerBase, _: Workload) -> Refusal | None:
        if coded:
            return Refusal("huffman", f"structured pruning changes the weights of the layers "
                           f"that read this one, and {coded[0]!r} is already Huffman coded",
                           fix="prune channels before huffman")
        if isinstance(layer, ConvLayer) and layer.is_depthwise:
            return Refusal("out_channels", "a depthwise layer keeps one filter per input channel; "
                           "its channels follow the layer that feeds it",
                           fix="prune the layer that feeds it instead")
        if not isinstance(layer, (ConvLayer, LinearLayer)):
            return Refusal("out_channels", f"structured pruning removes conv filters or linear "
                           f"outputs, not parts of a {layer.type} layer")
        if layer.name in outputs:
            return Refusal("out_channels", "its outputs are the network's outputs (e.g. the "
                           "classes); removing some would change what the network computes",
                           fix="leave the output layer unpruned")
        return None

    return eligible


def kept_channels(channels: int, ratio: float) -> int:
    """Channels left after removing the fraction `ratio`: round half up, at least one."""
    return max(1, math.floor(channels * (1 - ratio) + 0.5))


def prune_channels(workload: Workload, ratio: float | Mapping[str, float], *,
                   layers: Iterable[str] | None = None) -> Workload:
    """Structured pruning: remove the fraction `ratio` (0 <= r < 1) of the filters of each
    selected conv (out_channels) or outputs of each linear layer (out_features); the layers
    reading them shrink accordingly. With `layers=None`: every non-depthwise conv and linear
    layer except those defining the network output."""
    check_number("ratio", ratio, 0, 1, high_open=True)
    chosen = targets(workload, ratio, layers, _channel_prunable(workload), "prune_channels")
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    for layer, value in chosen:
        width = layer.out_channels if isinstance(layer, ConvLayer) else layer.out_features
        kept = kept_channels(width, value)
        groups = layer.groups if isinstance(layer, ConvLayer) else 1
        if kept % groups:
            raise NpusimError(
                f"layer {layer.name!r}: keeping {kept} of {width} filters breaks its {groups} "
                "groups (filters must divide evenly among groups)",
                field=f"{layer.name}.out_channels",
                fix=f"use a ratio that keeps a multiple of {groups} filters")
        key = "out_channels" if isinstance(layer, ConvLayer) else "out_features"
        data[index[layer.name]][key] = kept
    adapt = _follower(workload)
    label = ratio if not isinstance(ratio, Mapping) else "per layer"
    try:
        return rebuild(workload, data, record("prune_channels", {"ratio": param_record(ratio)},
                                              [layer for layer, _ in chosen]), adapt=adapt)
    except NpusimError as exc:
        raise NpusimError(f"structured pruning (ratio {label}) breaks a shape: {exc.message}",
                          field=exc.field, fix="prune every layer feeding an element-wise add "
                          "or mul (or a grouped conv) so that widths still match, e.g. the same "
                          "ratio on all of them") from None


def _follower(original: Workload):
    """Before each layer is bound, let layers whose width is tied to their input follow it:
    depthwise convs (groups = channels, same multiplier), linear in_features and LSTM
    input_size (only where the original stated them)."""
    before = {layer.name: layer for layer in original.layers}

    def adapt(layer: LayerBase, shapes: list[Shape]) -> None:
        old = before.get(layer.name)
        shape = shapes[0]
        if isinstance(layer, ConvLayer) and isinstance(old, ConvLayer) and old.is_depthwise:
            channels = shape[0] if len(shape) == 3 else old.in_channels
            multiplier = old.out_channels // old.groups
            if channels != layer.groups:
                layer.groups = channels
                layer.out_channels = channels * multiplier
        elif isinstance(layer, LinearLayer) and isinstance(old, LinearLayer) and \
                layer.in_features is not None:
            per_token = (layer.tokens is None and len(old.input_shape) == 2
                         and old.in_features == old.input_shape[1])
            if per_token and len(shape) == 2:
                layer.in_features = shape[1]
            else:
                layer.in_features = math.prod(shape) // (layer.tokens or 1)
        elif isinstance(layer, LstmLayer) and layer.input_size is not None:
            layer.input_size = layer._steps_and_features(shape)[1]

    return adapt
