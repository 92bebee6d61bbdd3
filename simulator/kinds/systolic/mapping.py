"""GEMM -> systolic array mapping with SCALE-Sim's conventions (compute cycles, folds).

A GEMM is (M x K) activations times (K x N) weights. Each dataflow puts two of the three
dimensions on the array (spatial rows Sr, spatial cols Sc) and streams the third (temporal T):

    dataflow  Sr  Sc  T   stationary operand
    os        M   N   K   outputs (partial sums stay in the PEs)
    ws        K   N   M   weights
    is        K   M   N   inputs (ifmap)

Folds = ceil(Sr / rows) * ceil(Sc / cols). SCALE-Sim (Samajdar et al., "A Systematic Methodology
for Characterizing Scalability of DNN Accelerators using SCALE-Sim", ISPASS 2020; the formulas
below were checked against scalesim 3.0.0 on 210 layer x array x dataflow points, see
reports/scalesim_validation/) charges every fold

    os:     T + rows + cols - 2          (skewed operand fill + drain of the output skew)
    ws, is: T + 2*rows + cols - 2        (plus `rows` cycles to preload the stationary tile)

and reports Total Cycles = folds * per_fold - 1 (its cycle counter is the last 0-based cycle).
All functions here are pure and cached: sweeps call them with the same shapes many times.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from math import ceil


@dataclass(frozen=True)
class Mapping:
    """Where a GEMM lands on the array and what SCALE-Sim would charge for it."""

    dataflow: str
    sr: int
    sc: int
    t: int
    row_folds: int
    col_folds: int
    per_fold_cycles: int
    rows: int
    cols: int

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    @property
    def fold_overhead_cycles(self) -> int:
        """Cycles of a fold beyond streaming T: preload (ws/is) and fill/drain skew."""
        return self.per_fold_cycles - self.t

    @property
    def scalesim_cycles(self) -> int:
        """SCALE-Sim's stall-free 'Total Cycles' for this GEMM."""
        return self.folds * self.per_fold_cycles - 1

    @property
    def mapping_efficiency(self) -> float:
        """Fraction of PEs holding useful work, averaged over folds (SCALE-Sim's definition)."""
        return self.sr * self.sc / (self.rows * self.cols * self.folds)


def spatial_temporal(m: int, k: int, n: int, dataflow: str) -> tuple[int, int, int]:
    """(Sr, Sc, T) for a GEMM under a dataflow (SCALE-Sim's operand-matrix convention)."""
    if dataflow == "os":
        return m, n, k
    if dataflow == "ws":
        return k, n, m
    if dataflow == "is":
        return k, m, n
    raise ValueError(f"unknown dataflow {dataflow!r}")


@lru_cache(maxsize=65536)
def map_gemm(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> Mapping:
    """Map one (M x K) @ (K x N) GEMM to a rows x cols array (SCALE-Sim, ISPASS 2020)."""
    sr, sc, t = spatial_temporal(m, k, n, dataflow)
    if dataflow == "os":
        per_fold = t + rows + cols - 2
    else:
        per_fold = t + 2 * rows + cols - 2
    return Mapping(dataflow=dataflow, sr=sr, sc=sc, t=t, row_folds=ceil(sr / rows),
                   col_folds=ceil(sc / cols), per_fold_cycles=per_fold, rows=rows, cols=cols)


def scalesim_compute_cycles(m: int, k: int, n: int, rows: int, cols: int, dataflow: str) -> int:
    """SCALE-Sim's compute cycles (Total Cycles without stalls) for one GEMM."""
    return map_gemm(m, k, n, rows, cols, dataflow).scalesim_cycles
