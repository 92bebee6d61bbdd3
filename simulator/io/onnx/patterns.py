"""Recognise decomposed operators in an exported graph and replace each by one node.

Exporters write some operators as chains of element-wise ops (the TorchScript exporter at
opset 17 has no GELU-tanh or RMSNorm op). Mapped op by op they would be a string of layers
with the wrong vector work and, for RMSNorm, with its weight mistaken for a separate scale.

- **tanh-form GELU** (GPT-2's `gelu_new`, `nn.GELU(approximate="tanh")`):
  `tanh(sqrt(2/pi) * (x + 0.044715 * x^3))` with x^3 as `Pow(x, 3)` or `x * (x * x)` becomes
  `Gelu(x)`; the `0.5 * x * (1 + ...)` around it then folds as for the erf form.
- **RMSNorm** (Llama): `x * 1/sqrt(mean(x^2, -1) + eps) [* w]`, with `Reciprocal`,
  `Div(1, .)` or `Pow(., -0.5)`, or `x / sqrt(...)`, becomes `RMSNormalization(x, w)`.

Only chains whose intermediate results have no other consumer are replaced.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from simulator.io.onnx.common import NodeView
from simulator.io.onnx.folding import GraphFacts

_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)


class _Graph:
    def __init__(self, nodes: list, facts: GraphFacts) -> None:
        self.nodes = nodes
        self.facts = facts
        self.producer: dict[str, Any] = {}
        self.consumers: dict[str, int] = {}
        self.users: dict[str, list] = {}
        for node in nodes:
            for out in node.output:
                self.producer[out] = node
            for name in node.input:
                self.consumers[name] = self.consumers.get(name, 0) + 1
                self.users.setdefault(name, []).append(node)

    def node_of(self, tensor: str, op: str | tuple[str, ...], private: bool = True):
        """The node producing `tensor` if it is an `op` and (when `private`) `tensor` has no
        other consumer."""
        node = self.producer.get(tensor)
        ops = (op,) if isinstance(op, str) else op
        if node is None or node.op_type not in ops or node.domain not in ("", "ai.onnx"):
            return None
        if private and self.consumers.get(tensor, 0) != 1:
            return None
        return node

    def scalar(self, tensor: str) -> float | None:
        value = self.facts.values.get(tensor)
        if value is None or value.size != 1:
            return None
        return float(np.ravel(value)[0])

    def split(self, node) -> tuple[float | None, str | None]:
        """(scalar constant, other input) of a binary node, else (None, None)."""
        a, b = node.input[0], node.input[1]
        if self.scalar(a) is not None and b not in self.facts.static:
            return self.scalar(a), b
        if self.scalar(b) is not None and a not in self.facts.static:
            return self.scalar(b), a
        return None, None


def _renamed(name: str, op: str) -> str:
    scope = name.rsplit("/", 1)[0] if "/" in name else ""
    return f"{scope}/{op}" if scope else op


def _near(value: float | None, target: float, rel: float = 1e-3) -> bool:
    return value is not None and abs(value - target) <= rel * abs(target)


def _cube_of(g: _Graph, tensor: str) -> str | None:
    """x for x^3 written as Pow(x, 3) or x * (x * x)."""
    node = g.node_of(tensor, ("Pow", "Mul"))
    if node is None:
        return None
    if node.op_type == "Pow":
        return node.input[0] if _near(g.scalar(node.input[1]), 3.0) else None
    for x, sq in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
        inner = g.node_of(sq, "Mul")
        if inner is not None and inner.input[0] == inner.input[1] == x:
            return x
    return None


def _tanh_gelu(g: _Graph, tanh) -> tuple[str, list] | None:
    scale = g.node_of(tanh.input[0], "Mul")
    if scale is None:
        return None
    beta, inner = g.split(scale)
    add = g.node_of(inner, "Add") if _near(beta, _SQRT_2_OVER_PI) else None
    if add is None:
        return None
    for x, term in ((add.input[0], add.input[1]), (add.input[1], add.input[0])):
        kappa_mul = g.node_of(term, "Mul")
        if kappa_mul is None:
            continue
        kappa, cube = g.split(kappa_mul)
        if not _near(kappa, 0.044715) or _cube_of(g, cube) != x:
            continue
        cube_node = g.producer[cube]
        removed = [scale, add, kappa_mul, cube_node, tanh]
        if cube_node.op_type == "Mul":
            removed.append(g.producer[next(t for t in cube_node.input if t != x)])
        return x, removed
    return None


def _rms_chain(g: _Graph, tensor: str) -> tuple[str, list] | None:
    """x and the nodes of 1 / sqrt(mean(x^2, -1) + eps) (or of sqrt(...) when `tensor` is the
    divisor of x), from the reciprocal (or square-root) output `tensor`."""
    removed: list = []
    node = g.node_of(tensor, ("Reciprocal", "Div", "Pow", "Sqrt"))
    if node is None:
        return None
    if node.op_type == "Pow":  # (mean + eps) ** -0.5
        if not _near(g.scalar(node.input[1]), -0.5):
            return None
        return _rms_mean(g, node.input[0], [node])
    if node.op_type == "Div":  # 1 / sqrt(...)
        if not _near(g.scalar(node.input[0]), 1.0):
            return None
        removed.append(node)
        node = g.node_of(node.input[1], "Sqrt")
    elif node.op_type == "Reciprocal":
        removed.append(node)
        node = g.node_of(node.input[0], "Sqrt")
    if node is None:
        return None
    removed.append(node)
    return _rms_mean(g, node.input[0], removed)


def _rms_mean(g: _Graph, tensor: str, removed: list) -> tuple[str, list] | None:
    node = g.node_of(tensor, ("Add", "ReduceMean"))
    if node is not None and node.op_type == "Add":
        eps, inner = g.split(node)
        if eps is None:
            return None
        removed.append(node)
        node = g.node_of(inner, "ReduceMean")
    if node is None:
        return None
    from simulator.io.onnx.common import attrs_of

    attrs = attrs_of(node)
    axes = attrs.get("axes")
    if axes is None and len(node.input) > 1:
        value = g.facts.values.get(node.input[1])
        axes = None if value is None else [int(v) for v in np.ravel(value)]
    shape = g.facts.shapes.get(node.input[0])
    if axes is None or shape is None or [a % len(shape) for a in axes] != [len(shape) - 1] \
            or not attrs.get("keepdims", 1):
        return None
    removed.append(node)
    square = g.node_of(node.input[0], ("Pow", "Mul"))
    if square is None:
        return None
    if square.op_type == "Pow" and _near(g.scalar(square.input[1]), 2.0):
        x = square.input[0]
    elif square.op_type == "Mul" and square.input[0] == square.input[1]:
        x = square.input[0]
    else:
        return None
    removed.append(square)
    return x, removed


def _rmsnorm(g: _Graph, node) -> tuple[str, str | None, list, Any] | None:
    """From the Mul (or Div) that applies the normalisation: (x, weight, removed, last)."""
    for x, other in ((node.input[0], node.input[1]), (node.input[1], node.input[0])):
        if node.op_type == "Div" and x != node.input[0]:
            continue
        found = _rms_chain(g, other)
        if found is None or found[0] != x:
            continue
        removed = found[1] + [node]
        last, weight = node, None
        out = node.output[0]
        users = g.users.get(out, [])
        if len(users) == 1 and users[0].op_type == "Mul":  # the learned scale (weight)
            scale = users[0]
            w = next((t for t in scale.input if t != out), None)
            wshape = g.facts.shapes.get(w) if w else None
            xshape = g.facts.shapes.get(x)
            if w in g.facts.static and wshape and xshape and math.prod(wshape) == xshape[-1]:
                removed.append(scale)
                last, weight = scale, w
        return x, weight, removed, last
    return None


def rewrite(nodes: list, facts: GraphFacts) -> tuple[list, dict[str, int]]:
    """The node list with recognised chains replaced, and how many of each were found."""
    from onnx import helper

    g = _Graph(nodes, facts)
    replace: dict[int, Any] = {}   # id(last node of a chain) -> its replacement
    drop: set[int] = set()
    found = {"GELU (tanh form)": 0, "RMSNorm": 0}
    for node in nodes:
        if node.domain not in ("", "ai.onnx") or id(node) in drop:
            continue
        if node.op_type == "Tanh":
            match = _tanh_gelu(g, node)
            if match is not None:
                x, removed = match
                if not any(id(n) in drop for n in removed):
                    replace[id(node)] = NodeView(helper.make_node(
                        "Gelu", [x], [node.output[0]], name=_renamed(node.name, "Gelu")))
                    drop.update(id(n) for n in removed)
                    found["GELU (tanh form)"] += 1
        elif node.op_type in ("Mul", "Div"):
            match = _rmsnorm(g, node)
            if match is not None:
                x, weight, removed, last = match
                if not any(id(n) in drop for n in removed):
                    replace[id(last)] = NodeView(helper.make_node(
                        "RMSNormalization", [x] + ([weight] if weight else []), [last.output[0]],
                        name=_renamed(node.name, "RMSNormalization"), axis=-1))
                    drop.update(id(n) for n in removed)
                    found["RMSNorm"] += 1
    out = []
    for node in nodes:
        if id(node) in replace:
            out.append(replace[id(node)])
        elif id(node) not in drop:
            out.append(node)
    return out, {k: v for k, v in found.items() if v}
