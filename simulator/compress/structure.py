"""Transforms that change how a layer computes: Winograd convolution and low-rank factoring.

Winograd F(2x2,3x3) / F(4x4,3x3) (Lavin & Gray, CVPR 2016; the counts are in core/winograd.py):
sets `winograd` on 3x3 stride-1 convolutions, whose MACs then fall 2.25x / 4x (exactly: per
output tile, (m+2)^2 element-wise products instead of 9 m^2), whose input/output transforms
become element-wise work (`vector_ops`) and whose stored weights grow 16/9 / 36/9. Order:
Winograd comes before unstructured pruning, weight quantization, sharing and Huffman coding on
a layer, because the filter transform G g G^T turns every spatial weight into new values: it
fills in pruned zeros and leaves the codebook. Pruning, quantization and sharing after it act
on the transformed weights (Winograd-domain pruning, Liu et al., "Efficient Sparse-Winograd
Convolutional Neural Networks", ICLR 2018). Structured pruning and activation quantization may
come before or after.

Low rank: a layer with a (outputs x inputs) weight matrix W is replaced by two layers whose
product has rank r, W ~ U V with V (r x inputs) and U (outputs x r): parameters r (inputs +
outputs) instead of inputs x outputs, MACs likewise. A linear layer becomes linear (in -> r, no
bias) then linear (r -> out, the original bias and activation). A k x k conv (groups 1) becomes
a k x k conv with r filters (same stride, padding, dilation; no bias) then a 1 x 1 conv r -> F
carrying the original bias, BatchNorm and activation: the channel decomposition of Zhang et al.,
"Accelerating Very Deep Convolutional Networks for Classification and Detection", TPAMI 2016.
The second layer keeps the original name (layers reading it are unchanged); the first is named
`<name>_lr`. Low rank comes first: a layer already pruned, quantized, shared, coded or in
Winograd form is refused (those describe weights the factors do not have).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Literal

from simulator.compress.common import (
    Refusal,
    check_number,
    huffman_last,
    layer_dicts,
    param_record,
    rebuild,
    record,
    targets,
)
from simulator.compress.storage import weight_matrix_shape
from simulator.core.errors import NpusimError
from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LinearLayer
from simulator.core.winograd import ALGORITHMS, eligibility_problem
from simulator.core.workload import Workload


def _winograd_ready(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not isinstance(layer, ConvLayer):
        return Refusal("winograd", f"Winograd applies to 3x3 convolutions, not to a {layer.type} "
                       "layer")
    problem = eligibility_problem(pair(layer.kernel), pair(layer.stride), pair(layer.dilation))
    if problem:
        return Refusal("winograd", problem, fix="apply it to 3x3 stride-1 layers only")
    if layer.winograd:
        return Refusal("winograd", f"it already runs as Winograd {layer.winograd}")
    if layer.weight_density < 1:
        return Refusal("winograd", "the filter transform fills in pruned zeros (the spatial "
                       "sparsity is lost)", fix="apply winograd first, then prune the transformed "
                       "weights")
    if layer.weight_bits is not None or layer.codebook_entries is not None:
        return Refusal("winograd", "the filter transform makes new weight values, so quantized "
                       "or shared spatial weights do not carry over",
                       fix="apply winograd first, then quantize or share")
    return huffman_last(layer, "winograd")


def winograd(workload: Workload, variant: Literal["f2", "f4"] | Mapping[str, str] = "f2", *,
             layers: Iterable[str] | None = None) -> Workload:
    """Run the selected 3x3 stride-1 convolutions (default: all of them) as Winograd
    F(2x2,3x3) (`f2`) or F(4x4,3x3) (`f4`)."""
    for value in (variant.values() if isinstance(variant, Mapping) else [variant]):
        if value not in ALGORITHMS:
            raise NpusimError(f"unknown Winograd variant {value!r}", field="variant",
                              fix="use f2 (F(2x2,3x3)) or f4 (F(4x4,3x3))")
    chosen = targets(workload, variant, layers, _winograd_ready, "winograd")
    data = layer_dicts(workload)
    index = {layer.name: i for i, layer in enumerate(workload.layers)}
    for layer, value in chosen:
        data[index[layer.name]]["winograd"] = value
    return rebuild(workload, data, record("winograd", {"variant": param_record(variant)},
                                          [layer for layer, _ in chosen]))


# ---- low rank ----------------------------------------------------------------------------
def _untouched(layer: LayerBase) -> str | None:
    if layer.weight_density < 1:
        return "pruned"
    if layer.weight_bits is not None:
        return "quantized"
    if layer.codebook_entries is not None:
        return "shared"
    if layer.huffman is not None:
        return "Huffman coded"
    if isinstance(layer, ConvLayer) and layer.winograd:
        return "in Winograd form"
    return None


def _factorable(layer: LayerBase, workload: Workload) -> Refusal | None:
    if not isinstance(layer, (ConvLayer, LinearLayer)):
        return Refusal("rank", f"low rank factors conv and linear layers, not a {layer.type} layer")
    if isinstance(layer, ConvLayer) and layer.groups != 1:
        return Refusal("rank", f"a grouped conv ({layer.groups} groups) has one small matrix per "
                       "group, not one to factor")
    done = _untouched(layer)
    if done:
        return Refusal("rank", f"it is already {done}; the factors would not be",
                       fix="apply lowrank before other transforms")
    return None


def _saving_rank(rank: int):
    """Network-wide selection: only layers whose factoring at `rank` saves weights."""
    def eligible(layer: LayerBase, workload: Workload) -> Refusal | None:
        problem = _factorable(layer, workload)
        if problem:
            return problem
        outputs, inputs = weight_matrix_shape(layer)
        if rank * (outputs + inputs) >= outputs * inputs:
            return Refusal("rank", f"rank {rank} would not reduce its {outputs} x {inputs} weights")
        return None
    return eligible


def low_rank(workload: Workload, rank: int | Mapping[str, int], *,
             layers: Iterable[str] | None = None) -> Workload:
    """Factor each selected layer at rank r into two layers (module docstring). `layers=None`:
    every conv (groups 1) and linear layer whose factoring at `rank` saves weights. A rank
    above min(outputs, inputs) is refused."""
    check_number("rank", rank, 1, 1e12, integer=True)
    if isinstance(rank, Mapping) or layers is not None:
        chosen = targets(workload, rank, layers, _factorable, "low_rank")
    else:
        chosen = targets(workload, rank, None, _saving_rank(int(rank)), "low_rank")
    names = {layer.name for layer in workload.layers}
    by_name = {layer.name: (layer, int(r)) for layer, r in chosen}
    data: list[dict] = []
    for layer, fields in zip(workload.layers, layer_dicts(workload)):
        if layer.name not in by_name:
            data.append(fields)
            continue
        r = by_name[layer.name][1]
        outputs, inputs = weight_matrix_shape(layer)
        if r > min(outputs, inputs):
            raise NpusimError(f"layer {layer.name!r}: rank {r} is above min(outputs, inputs) = "
                              f"{min(outputs, inputs)} of its {outputs} x {inputs} weights",
                              field=f"{layer.name}.rank", fix=f"use a rank <= {min(outputs, inputs)}")
        first_name = f"{layer.name}_lr"
        if first_name in names:
            raise NpusimError(f"layer {layer.name!r}: cannot name its first factor {first_name!r}, "
                              "a layer of that name exists", field=f"{layer.name}.rank",
                              fix="rename that layer")
        first = {k: fields[k] for k in ("input", "inputs", "activation_density",
                                        "activation_bits") if fields.get(k) is not None}
        second = {**fields, "input": None, "inputs": None, "activation_density": 1.0}
        if isinstance(layer, LinearLayer):
            first.update(name=first_name, type="linear", in_features=fields["in_features"],
                         out_features=r, bias=False, tokens=fields["tokens"])
            second.update(in_features=r)
        else:
            first.update(name=first_name, type="conv", out_channels=r, kernel=fields["kernel"],
                         stride=fields["stride"], padding=fields["padding"],
                         dilation=fields["dilation"], ceil_mode=fields["ceil_mode"],
                         ofmap_rule=fields["ofmap_rule"])
            second.update(kernel=1, stride=1, padding=0, dilation=1, ceil_mode=False,
                          ofmap_rule="pytorch")
        data += [first, second]
    return rebuild(workload, data, record("low_rank", {"rank": param_record(rank)},
                                          [layer for layer, _ in chosen]))
