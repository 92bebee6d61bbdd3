"""A MAC layer (conv, linear, matmul, one LSTM step) in the compiler's terms: a conv-like GEMM.

The MAC array mapping (docs/models/tensorcore.md §2, ours): rows take the reduction
K = R·S·C/groups (im2col), columns take output channels, output pixels stream one per cycle;
depthwise conv (its own hard-wired mode) puts output pixels on the rows, channels on the
columns and accumulates the R·S taps in time.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from simulator.core.geometry import pair
from simulator.core.layer_base import LayerBase
from simulator.core.layers import ConvLayer, LinearLayer, LstmLayer, MatmulLayer


@dataclass
class MacSpec:
    """A conv-like layer in the compiler's terms (linear: 1x1 over `tokens` rows)."""

    batch: int
    cin: int
    h: int
    w: int
    cout: int
    ho: int
    wo: int
    r: int
    s: int
    stride: int
    dilation: int
    pad: int
    groups: int
    weights_from_dram: bool = True
    #: sequential repeats of this GEMM with the same weights, each depending on the previous
    #: one (LSTM time steps: the spec then describes ONE step)
    steps: int = 1
    #: run depthwise conv in the core's depthwise mode; False when the core hard-wires only
    #: dense conv: a depthwise layer then runs as a grouped conv (one channel per group)
    depthwise_mode: bool = True
    #: the stationary (K x N) operand is a KV cache: activations, at the activation width
    kv_cache: bool = False
    #: the fraction of the array's work left after zero skipping (1: dense)
    work_fraction: float = 1.0
    #: bytes the stationary operand travels as over its dense bytes (weight decoders)
    travel_fraction: float = 1.0

    @property
    def depthwise(self) -> bool:
        return self.depthwise_mode and self.groups > 1 and self.groups == self.cin

    @property
    def m(self) -> int:
        return self.batch * self.ho * self.wo

    @property
    def cin_g(self) -> int:
        return self.cin // self.groups

    @property
    def cout_g(self) -> int:
        return self.cout // self.groups

    @property
    def taps(self) -> int:
        return self.r * self.s

    @classmethod
    def of(cls, layer: LayerBase, depthwise_mode: bool = True,
           winograd: bool = False) -> "MacSpec":
        b = layer.batch
        if isinstance(layer, ConvLayer) and winograd and layer.winograd:
            # Winograd F(m x m, 3 x 3) hard-wired: alpha^2 element-wise GEMMs of
            # (tiles x C/g) @ (C/g x F/g) per conv group (Lavin & Gray Sec. 4.1): a grouped
            # 1x1 pass over the batch's output tiles, input = the transformed (m+2)^2 input
            # tiles, weights = the transformed filters, as Layer.gemms() lowers it
            (gemm,) = layer.gemms()
            return cls(1, gemm.k * gemm.groups, gemm.m, 1, gemm.n * gemm.groups, gemm.m, 1,
                       1, 1, 1, 1, 0, gemm.groups)
        if isinstance(layer, ConvLayer):
            c, h, w = layer.input_shape
            co, ho, wo = layer.output_shape
            (r, s), (st, _), (dil, _) = pair(layer.kernel), pair(layer.stride), pair(layer.dilation)
            pad = layer.pads[0]
            return cls(b, c, h, w, co, ho, wo, r, s, st, dil, pad, layer.groups,
                       depthwise_mode=depthwise_mode)
        if isinstance(layer, LinearLayer):
            # tokens are output pixels: M = batch x tokens rows share the weights
            t = layer.token_count
            return cls(b, layer.features_in, t, 1, layer.out_features, t, 1, 1, 1, 1, 1, 0, 1)
        if isinstance(layer, MatmulLayer):
            if layer.weights:
                # `count` stored K x N matrices shared by the batch: a grouped GEMM with count
                # groups (K = k, N = n per group), the batch's rows sharing each matrix
                c = layer.count
                return cls(b, layer.k * c, layer.m, 1, layer.n * c, layer.m, 1, 1, 1, 1, 1, 0,
                           c)
            # activation x activation: every sample of the batch has its own right operand
            # (its keys, its values), so count x batch independent products, as
            # Layer.gemms() lowers it; the right operand is an on-chip tensor, or the KV cache
            # (`kv_cache`: state kept across decode steps, loaded like weights unless resident)
            g = layer.count * b
            return cls(1, layer.k * g, layer.m, 1, layer.n * g, layer.m, 1, 1, 1, 1, 1, 0, g,
                       weights_from_dram=layer.kv_cache, kv_cache=layer.kv_cache)
        if isinstance(layer, LstmLayer):
            # ONE time step: [x_t, h_{t-1}] (batch x (I+H)) @ W ((I+H) x 4H); `steps` of them
            # in sequence (h_{t-1} comes from the previous step), as Layer.gemms() lowers it
            return cls(b, layer.features_in + layer.hidden_size, 1, 1, 4 * layer.hidden_size,
                       1, 1, 1, 1, 1, 1, 0, 1, steps=layer.steps)
        raise TypeError(f"not a MAC layer: {layer.type}")

    @property
    def macs(self) -> int:
        """MACs of all steps (equals Layer.macs)."""
        return self.steps * self.m * self.cout_g * self.cin_g * self.taps * self.groups

    def array_cycles(self, m: int, n: int, k_channels: int, rows: int, cols: int) -> int:
        """Cycles of the MAC array for m output pixels x n output channels over k_channels
        input channels (all of a group's channels for grouped/depthwise conv).

        Dense (im2col on the array): reduction K = taps x k_channels over the `rows` lanes,
        output channels over the `cols` lanes, one output pixel per cycle:
            m x ceil(K / rows) x ceil(n / cols).
        Grouped: the same per group, gt = n / cout_g groups one after another.
        Depthwise: pixels over rows, channels over cols, taps in time:
            ceil(m / rows) x ceil(n / cols) x taps.
        """
        if self.work_fraction != 1.0:
            dense = MacSpec.array_cycles(replace_fraction(self), m, n, k_channels, rows, cols)
            return math.ceil(dense * self.work_fraction - 1e-9)
        if self.depthwise:
            return -(-m // rows) * -(-n // cols) * self.taps
        if self.groups > 1:
            kfolds = -(-(self.taps * self.cin_g) // rows)
            if n < self.cout_g:   # part of one group (a group too large for one tile)
                return m * kfolds * -(-n // cols)
            return n // self.cout_g * m * kfolds * -(-self.cout_g // cols)
        return m * -(-(self.taps * k_channels) // rows) * -(-n // cols)

    def analytic_cycles(self, rows: int, cols: int) -> int:
        """Compute cycles of the whole layer on one rows x cols array (the closed form the
        tiled schedule must add up to): dense G x M x ceil(K/rows) x ceil(N/cols);
        depthwise ceil(M/rows) x ceil(C/cols) x R x S."""
        if self.depthwise:
            dense = self.steps * -(-self.m // rows) * -(-self.cout // cols) * self.taps
        else:
            dense = (self.steps * self.groups * self.m * -(-(self.taps * self.cin_g) // rows)
                     * -(-self.cout_g // cols))
        return math.ceil(dense * self.work_fraction - 1e-9)

    def in_rows(self, out_lo: int, out_hi: int) -> tuple[int, int]:
        """Input rows [lo, hi) needed for output rows [out_lo, out_hi] (batch folded in rows)."""
        lo = out_lo * self.stride - self.pad
        hi = out_hi * self.stride - self.pad + self.dilation * (self.r - 1) + 1
        total = self.batch * self.h
        return max(0, lo), min(total, max(hi, lo + 1))

    def in_channels(self, n_lo: int, n_hi: int, k_lo: int, k_hi: int) -> tuple[int, int]:
        """Input channels [lo, hi) that output channels [n_lo, n_hi) read in reduction chunk
        [k_lo, k_hi): the chunk itself for dense conv, the channels' own groups otherwise."""
        if self.depthwise:
            c0 = n_lo * self.cin // self.cout
            return c0, max(c0 + 1, n_hi * self.cin // self.cout)
        if self.groups > 1:
            return n_lo // self.cout_g * self.cin_g, -(-n_hi // self.cout_g) * self.cin_g
        return k_lo, k_hi

    def operand_bytes(self, target) -> float:
        """Bytes per element of the stationary operand as it travels (DRAM, SRAM, bridge):
        weights (at their encoded size when the chip decodes them), or a KV cache's
        activations."""
        if self.kv_cache:
            return target.activation_bytes
        # dense at the width the array runs them, times what the encoding saves
        return target.mac.executed.weight_bits / 8 * self.travel_fraction

    def stationary_bytes(self, element_bytes: float) -> float:
        """Bytes of the whole stationary operand (all groups)."""
        return self.weight_bytes(self.cout, self.cin, element_bytes)

    def weight_bytes(self, n_channels: int, k_channels: int, weight_bytes: float) -> float:
        """Weight bytes of a block of n output channels over k input channels (depthwise: the
        taps of each channel; grouped: each output channel's whole group)."""
        if self.depthwise:
            return n_channels * self.taps * weight_bytes
        if self.groups > 1:
            return n_channels * self.cin_g * self.taps * weight_bytes
        return n_channels * k_channels * self.taps * weight_bytes


def replace_fraction(spec: MacSpec) -> MacSpec:
    """The same pass without zero skipping (its dense array cycles)."""
    return dataclasses.replace(spec, work_fraction=1.0)
