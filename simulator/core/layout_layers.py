"""Layers that re-label, move or look up data: reshape, slice, expand, transpose, pad and
embedding (what transformers do between their matmuls).

Which cost data movement (the rule; docs/models.md, section 1, says why):

- **views, free** (`is_view`, no vector work, no bytes of their own): `reshape` (same elements
  in the same order), `slice` (a strided window of the producer's data that the consumer reads
  in place, as a DMA descriptor or address generator does), `expand` (a broadcast read: the
  consumer reads the same rows again), a `transpose` that only moves axes of size 1;
- **data movement**: a `transpose` that reorders axes of size > 1 reads and writes every
  element once (one vector operation per element); `pad` writes every output element (a copy
  into a larger buffer, the border filled); `embedding` reads the selected rows of its table
  from DRAM and writes them (its weights operand is the rows read, not the whole table).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator

from simulator.core.arch import Precision
from simulator.core.geometry import Shape, packed_bytes
from simulator.core.layer_base import LayerBase, ShapeError

_NO_BYTES = {"weights": 0, "ifmap": 0, "ofmap": 0}


class _View(LayerBase):
    """A layer that moves no data."""

    @property
    def is_view(self) -> bool:
        return True

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        return dict(_NO_BYTES)


class ReshapeLayer(_View):
    """The same elements in the same order under a new `shape` (PyTorch's view / reshape,
    flatten, squeeze, unsqueeze). One size may be -1 (inferred)."""

    type: Literal["reshape"]
    shape: list[int] = Field(min_length=1, description="output shape without batch")

    @field_validator("shape")
    @classmethod
    def _sizes(cls, shape: list[int]) -> list[int]:
        if any(d == 0 or d < -1 for d in shape) or shape.count(-1) > 1:
            raise ValueError("sizes must be positive, with at most one -1")
        return shape

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        total = math.prod(input_shapes[0])
        known = math.prod(d for d in self.shape if d != -1)
        if -1 in self.shape:
            if total % known:
                raise ShapeError(f"cannot reshape {list(input_shapes[0])} to {self.shape}",
                                 field="shape")
            return tuple(total // known if d == -1 else d for d in self.shape)
        if known != total:
            raise ShapeError(f"cannot reshape {list(input_shapes[0])} ({total} elements) to "
                             f"{self.shape} ({known} elements)", field="shape",
                             fix="keep the number of elements")
        return tuple(self.shape)


class SliceLayer(_View):
    """Part of one axis: `start:end:step` as in Python (negative indices count from the end,
    `end` null = to the end), or `index` (one position, the axis removed: `x[:, 0]`).
    PyTorch's slicing, split, chunk and index-select by constant positions."""

    type: Literal["slice"]
    axis: int = Field(description="axis of the per-sample shape (negative: from the end)")
    start: int = 0
    end: int | None = None
    step: PositiveInt = 1
    index: int | None = Field(None, description="take one position and drop the axis")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        rank = len(shape)
        if not -rank <= self.axis < rank:
            raise ShapeError(f"axis {self.axis} is outside a rank-{rank} input", field="axis")
        axis = self.axis % rank
        size = shape[axis]
        if self.index is not None:
            if not -size <= self.index < size:
                raise ShapeError(f"index {self.index} is outside an axis of {size}",
                                 field="index")
            out = shape[:axis] + shape[axis + 1:]
            return out or (1,)
        length = len(range(*slice(self.start, self.end, self.step).indices(size)))
        if length == 0:
            raise ShapeError(f"slice {self.start}:{self.end}:{self.step} of an axis of {size} "
                             "is empty", field="start")
        return shape[:axis] + (length,) + shape[axis + 1:]


class ExpandLayer(_View):
    """Broadcast to `shape` (PyTorch's expand; NumPy rules: sizes of 1 stretch, new axes on
    the left). A view: the consumer reads the same data several times (grouped-query
    attention's repeated K and V heads)."""

    type: Literal["expand"]
    shape: list[PositiveInt] = Field(min_length=1, description="output shape without batch")

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        target = tuple(self.shape)
        ok = len(target) >= len(shape) and all(
            d in (1, t) for d, t in zip(shape[::-1], target[::-1]))
        if not ok:
            raise ShapeError(f"cannot expand {list(shape)} to {self.shape}", field="shape",
                             fix="only axes of size 1 can grow")
        return target


class TransposeLayer(LayerBase):
    """Axes reordered by `perm` (output axis i is input axis perm[i]). When the order of the
    axes of size > 1 changes, every element is read and written once (one vector operation
    each, and the ifmap / ofmap traffic); otherwise it is a view."""

    type: Literal["transpose"]
    perm: list[NonNegativeInt] = Field(min_length=1)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if sorted(self.perm) != list(range(len(shape))):
            raise ShapeError(f"perm {self.perm} is not a permutation of the {len(shape)} axes "
                             f"of {list(shape)}", field="perm")
        return tuple(shape[a] for a in self.perm)

    @property
    def moves_data(self) -> bool:
        shape = self.input_shape
        order = [a for a in self.perm if shape[a] > 1]
        return order != sorted(order)

    @property
    def is_view(self) -> bool:
        return not self.moves_data

    @property
    def vector_ops(self) -> int:
        return self.output_elements if self.moves_data else 0

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        return super().operand_bytes(precision) if self.moves_data else dict(_NO_BYTES)


class PadLayer(LayerBase):
    """Padding of every axis by `before` and `after` elements (constant, reflect or edge fill
    cost the same): each output element is written once."""

    type: Literal["pad"]
    before: list[NonNegativeInt] = Field(min_length=1)
    after: list[NonNegativeInt] = Field(min_length=1)

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        shape = input_shapes[0]
        if len(self.before) != len(shape) or len(self.after) != len(shape):
            raise ShapeError(f"before / after need one size per axis of {list(shape)}",
                             field="before")
        return tuple(d + b + a for d, b, a in zip(shape, self.before, self.after))

    @property
    def vector_ops(self) -> int:
        return self.output_elements


class EmbeddingLayer(LayerBase):
    """Table lookup (nn.Embedding): the input holds token ids, the output one `dim`-long row
    of the `vocab` x `dim` table per id. All vocab x dim weights are parameters; only the rows
    looked up are read (the weights operand) and written (one vector operation per element)."""

    type: Literal["embedding"]
    vocab: PositiveInt
    dim: PositiveInt

    def infer_shape(self, input_shapes: list[Shape]) -> Shape:
        return tuple(input_shapes[0]) + (self.dim,)

    @property
    def weight_params(self) -> int:
        return self.vocab * self.dim

    @property
    def vector_ops(self) -> int:
        return self.output_elements

    def operand_bytes(self, precision: Precision) -> dict[str, int]:
        out = super().operand_bytes(precision)
        out["weights"] = packed_bytes(self.output_elements, precision.weight_bits)
        return out
