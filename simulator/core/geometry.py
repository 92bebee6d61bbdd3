"""Window geometry shared by layers, importers and engines (PyTorch's conventions).

Shapes exclude the batch: a feature map is (C, H, W), a vector (F,), a sequence (T, F).
"""

from __future__ import annotations

from typing import Literal, Union

from pydantic import NonNegativeInt, PositiveInt

Shape = tuple[int, ...]
IntPair = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]
PadSpec = Union[NonNegativeInt, tuple[NonNegativeInt, NonNegativeInt], Literal["same"]]


def packed_bytes(elements: int, bits: int) -> int:
    """Bytes to hold `elements` values of `bits` each (sub-byte values packed, rounded up)."""
    return -(-elements * bits // 8)


def pair(value: int | tuple[int, int]) -> tuple[int, int]:
    """An int or an (h, w) pair as an (h, w) pair."""
    return (value, value) if isinstance(value, int) else (int(value[0]), int(value[1]))


def window_out(size: int, kernel: int, stride: int, pad: int, dilation: int, ceil_mode: bool) -> int:
    """Output length of a sliding window (PyTorch's formula, with its ceil_mode rule)."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1
    if span < 0:
        return 0
    if ceil_mode:
        out = -(-span // stride) + 1
        # PyTorch: the last window must start inside the (left-padded) input
        if (out - 1) * stride >= size + pad:
            out -= 1
        return out
    return span // stride + 1


def broadcast_shapes(*shapes: Shape) -> Shape | None:
    """NumPy's broadcasting of shapes (aligned on the right, a 1 stretches to any size), or
    None when they do not broadcast."""
    rank = max(len(s) for s in shapes)
    out = []
    for axis in range(rank):
        sizes = {s[axis - rank + len(s)] for s in shapes if axis - rank + len(s) >= 0}
        sizes.discard(1)
        if len(sizes) > 1:
            return None
        out.append(sizes.pop() if sizes else 1)
    return tuple(out)
