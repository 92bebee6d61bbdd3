"""What each layer of a workload is on an EIE-style engine: a weight matrix times input vectors,
host work, or a product the engine cannot run.

EIE (Han et al., ISCA 2016, Sec. III) multiplies a stored, compressed weight matrix by a
broadcast input vector. So:
- linear, LSTM gate and weight matmul layers lower to one matrix W (N outputs x K inputs) and the
  input vectors that go through it (batch x tokens, or one per LSTM step);
- layers without MACs (pooling, element-wise, activations, norms, data movement) are host work;
- an activation x activation product (attention scores, attention x V, a KV-cache matmul) has no
  stored matrix: its right operand is computed at run time, so it cannot be held in the Spmat
  SRAMs, which are filled once with the model. The engine reports it as not runnable (0 cycles,
  `executed_on: not_runnable`) and the run says how much of the network's work that leaves out,
  so a transformer's linear layers (decode on a sparse engine) still run (docs/models/sparse.md,
  "Transformers");
- a convolution is refused: EIE runs FC and LSTM layers (the paper's own scope).
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, MatmulLayer


@dataclass(frozen=True)
class SpmvJob:
    """One weight matrix of a layer and how many input vectors go through it."""

    rows: int                 # N, outputs
    cols: int                 # K, inputs
    matrices: int             # distinct matrices of this size (matmul `count`)
    vectors: int              # input vectors per matrix (batch x tokens / steps)

    @property
    def products(self) -> int:
        """Matrix-vector products of the layer (a closed form: never a list per product)."""
        return self.matrices * self.vectors


@dataclass(frozen=True)
class NotRunnable:
    """A layer with MACs that this engine cannot run, and why (one line)."""

    reason: str
    macs: int


def lower(layer: LayerBase, index: int) -> SpmvJob | NotRunnable | None:
    """The matrix-vector work of a layer on EIE; None for host layers; `NotRunnable` for an
    activation x activation product; an error for a convolution."""
    where = f"layers[{index}] ({layer.name})"
    if isinstance(layer, ConvLayer):
        raise NpusimError(f"conv layer {layer.name!r} cannot run on a sparse (EIE) arch: it runs "
                          "FC and LSTM layers only", field=where,
                          fix="simulate the conv layers on a systolic or tensorcore arch, or "
                              "give the sparse arch only the FC/LSTM part of the network")
    gemms = layer.gemms()
    if not gemms:
        return None
    if len(gemms) != 1:
        raise NpusimError(f"layer {layer.name!r} lowers to {len(gemms)} products; the sparse "
                          "engine handles one weight matrix per layer", field=where)
    gemm = gemms[0]
    if gemm.weights_are_activations:
        what = ("a KV-cache product" if isinstance(layer, MatmulLayer) and layer.kv_cache
                else "an activation x activation product")
        return NotRunnable(
            reason=f"{what} (attention): its K x N operand is computed at run time, and EIE "
                   "multiplies only weight matrices stored in its Spmat SRAMs",
            macs=layer.macs)
    return SpmvJob(rows=gemm.n, cols=gemm.k, matrices=gemm.groups, vectors=gemm.m * gemm.steps)
