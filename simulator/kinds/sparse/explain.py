"""The arithmetic of a sparse layer, recorded as it is done (`npusim explain`).

`Recorder` evaluates every figure of a layer from its named terms with
`simulator.core.explain.evaluate`, the same evaluator `formula` uses, and keeps the `Formula`
when the run explains; so the formula a student reads is the computation that produced the
engine's number (tests/kinds/sparse/test_sparse_explain.py checks every one against the layer's
result). `mapping_lines` says how the layer sits on the PEs.
"""

from __future__ import annotations

from typing import Any

from simulator.core.explain import Formula, evaluate, formula
from simulator.kinds.sparse.arch import SparseArch
from simulator.kinds.sparse.csc import CscLayout, local_rows
from simulator.kinds.sparse.formats import LayerFormat

#: The paper, for the formulas' `source`.
EIE = "Han et al., EIE, ISCA 2016"


class Recorder:
    """Evaluates formulas; keeps them when `enabled`."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.formulas: list[Formula] = []

    def __call__(self, quantity: str, expression: str, unit: str = "", *, meaning: str = "",
                 source: str = "", **terms: Any) -> Any:
        value = evaluate(expression, terms)
        if self.enabled:
            self.formulas.append(formula(quantity, expression, unit, meaning=meaning,
                                         source=source, **terms))
        return value


def mapping_lines(arch: SparseArch, layout: CscLayout, fmt: LayerFormat, matrix_source: str,
                  input_source: str, nonzero_inputs: int, products: int, simulated: int,
                  pointer_placement: str) -> list[str]:
    """How the layer maps onto the PEs, in plain lines."""
    per_pe = local_rows(layout.rows, layout.pes)
    rows = (f"{int(per_pe.min())}-{int(per_pe.max())}" if per_pe.min() != per_pe.max()
            else f"{int(per_pe.max())}")
    lines = [
        f"W = {layout.rows:,} x {layout.cols:,} (outputs x inputs), {matrix_source}",
        f"rows interleaved over {layout.pes} PEs (row i on PE i mod {layout.pes}): {rows} rows "
        "per PE",
        f"each PE accumulates {arch.activation_registers} outputs at a time (destination "
        f"registers): {layout.batches} output pass(es) over the input, each with its own "
        "column pointers",
        f"CSC per PE: {layout.batches} x {layout.cols:,} column slices of entries of "
        f"{arch.entry_bits} bits ({arch.weight_index_bits}-bit codebook index + "
        f"{arch.index_bits}-bit relative row index), {arch.entries_per_word} per "
        f"{arch.spmat_word_bits}-bit Spmat word; a padding zero per {1 << arch.index_bits} "
        "zeros in a run",
        f"weights: {fmt.codebook_entries} codebook values ({fmt.codebook_source}); MACs at "
        f"{fmt.precision.label}, {float(fmt.rate):g} "
        f"entr{'y' if fmt.rate == 1 else 'ies'} per PE per cycle"
        + (f"; the layer's {fmt.layer_index_bits}-bit relative indices re-encoded to "
           f"{arch.index_bits} bits" if fmt.layer_index_bits not in (None, arch.index_bits)
           else ""),
        f"pointers: {layout.batches} x ({layout.cols:,} + 1) = "
        f"{layout.batches * (layout.cols + 1):,} per PE, the pointer SRAM holds "
        f"{arch.pointer_sram_capacity:,}: {pointer_placement}",
        f"input: {nonzero_inputs:,} of {layout.cols:,} inputs non-zero ({input_source}), "
        f"broadcast one per cycle in index order to activation queues of depth "
        f"{arch.queue_depth}",
        f"{products:,} matrix-vector product(s); {simulated} simulated"
        + (", the counts scaled to all of them" if products > simulated else ""),
    ]
    return lines
