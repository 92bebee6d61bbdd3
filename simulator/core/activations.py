"""What an activation function costs where it is not hard-wired.

A chip either hard-wires a function on its output path (it is applied as results drain, at no
extra cycles; TPUv1's activation unit does ReLU, sigmoid and tanh: Jouppi et al., ISCA 2017,
Sec. 2) or runs it on a programmable vector unit, element by element. This table gives the
vector-unit work per output element, in element operations (one add, multiply, compare or
select each), and how many passes over a row the function needs (a reduction such as softmax
reads its row twice: once for the statistics, once to normalise).

The counts are ours, from each function's definition, with two building blocks stated once:
- exp(x): 4 operations (range reduction into a small table plus a short polynomial, the usual
  vector-unit implementation; a LUT-only unit would be cheaper, a full-precision one dearer);
- a division or reciprocal: 2 operations (an estimate and one Newton step).

| function | definition | ops per element | passes |
|---|---|---|---|
| identity | x | 0 | 1 |
| relu | max(x, 0) | 1 | 1 |
| relu6 | min(max(x, 0), 6) | 2 | 1 |
| hardsigmoid | relu6(x + 3) / 6 | add, max, min, mul = 4 | 1 |
| hardswish | x * hardsigmoid(x) | 4 + mul = 5 | 1 |
| sigmoid | 1 / (1 + exp(-x)) | exp 4 + add 1 + div 2 = 7 | 1 |
| tanh | 2 sigmoid(2x) - 1 | sigmoid 7 + mul + fma = 9 | 1 |
| swish (SiLU) | x * sigmoid(x) | 7 + mul = 8 | 1 |
| gelu | 0.5 x (1 + tanh(0.7979 (x + 0.044715 x^3))) | x^3 2 + fma 1 + mul 1 + tanh 9 + add 1 + 2 mul = 16 | 1 |
| softmax | exp(x - max) / sum | max 1, sub 1, exp 4, sum 1, scale by the reciprocal 1 = 8 | 2 |
| layernorm | (x - mean) * rstd * g + b | sum, square-sum 3, normalise 2, affine 2 = 7 | 2 |

A hard-wired function costs no cycles but still one vector operation's energy per element
(the output path does work); engines charge a fused activation on a hard-wired path the same
way whatever the layer (depthwise or not).
"""

from __future__ import annotations

from typing import NamedTuple


class ActivationCost(NamedTuple):
    """Vector-unit work of one activation function per output element."""

    ops_per_element: int
    passes: int


ACTIVATION_COSTS: dict[str, ActivationCost] = {
    "identity": ActivationCost(0, 1),
    "relu": ActivationCost(1, 1),
    "relu6": ActivationCost(2, 1),
    "hardsigmoid": ActivationCost(4, 1),
    "hardswish": ActivationCost(5, 1),
    "sigmoid": ActivationCost(7, 1),
    "tanh": ActivationCost(9, 1),
    "swish": ActivationCost(8, 1),
    "gelu": ActivationCost(16, 1),
    "softmax": ActivationCost(8, 2),
    "layernorm": ActivationCost(7, 2),
}


def activation_cost(function: str) -> ActivationCost:
    """The vector-unit cost of `function` (one of `simulator.core.layer_base.ACTIVATIONS`)."""
    return ACTIVATION_COSTS[function]
