"""Why a number is what it is: the formulas an engine used for one layer, with their terms.

An engine asked to explain (`RunOptions.explain`) records, for every layer, the formulas behind
its figures as it computes them: each `Formula` holds the expression in symbols, the value of
every symbol, and the result. The expression is evaluated here from the terms (`formula`), so
the text a student reads is the arithmetic that produced the engine's number, not a second copy
that can drift; a test checks every explained layer of every bundled workload against the
engine's own figures (tests/core/test_explain_contract.py and each kind's explain tests).

Expressions use + - * / // % **, parentheses, numbers, term names and the functions
ceil, floor, min, max, sum of a few arguments; nothing else is evaluated.
"""

from __future__ import annotations

import ast
import math
import operator
from typing import Any

from pydantic import Field

from simulator.core.strict import LazyModel

_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
           ast.Div: operator.truediv, ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod,
           ast.Pow: operator.pow}
_FUNCTIONS = {"ceil": math.ceil, "floor": math.floor, "min": min, "max": max,
              "sum": lambda *xs: sum(xs)}


def evaluate(expression: str, terms: dict[str, float]) -> float:
    """Evaluate an arithmetic `expression` over `terms` (no other names, no attributes)."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return node.value
        if isinstance(node, ast.Name):
            if node.id not in terms:
                raise KeyError(f"term {node.id!r} of {expression!r} has no value")
            return terms[node.id]
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id in _FUNCTIONS and not node.keywords):
            return _FUNCTIONS[node.func.id](*(walk(a) for a in node.args))
        raise ValueError(f"unsupported syntax in formula {expression!r}")

    return walk(ast.parse(expression, mode="eval"))


def _number(value: float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.6g}"
    return f"{int(value):,}"


class Formula(LazyModel):
    """One step of a layer's arithmetic: `quantity = expression`, with every term's value."""

    quantity: str = Field(description="what is computed, e.g. compute_cycles")
    expression: str = Field(description="the formula in symbols, e.g. folds * per_fold_cycles")
    terms: dict[str, float] = Field(default_factory=dict, description="value of each symbol")
    value: float
    unit: str = ""
    meaning: str = Field("", description="one line on what the formula models")
    source: str = Field("", description="paper or derivation it comes from")

    @property
    def substituted(self) -> str:
        """The expression with every term replaced by its value."""
        tree = ast.parse(self.expression, mode="eval")

        class Sub(ast.NodeTransformer):
            def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 (ast API)
                if node.id in self_terms:
                    return ast.Name(id=_number(self_terms[node.id]), ctx=node.ctx)
                return node

        self_terms = self.terms
        return ast.unparse(Sub().visit(tree))


def formula(quantity: str, expression: str, unit: str = "", *, meaning: str = "",
            source: str = "", **terms: float) -> Formula:
    """Evaluate `expression` over `terms` and record it (the value is the evaluation)."""
    return Formula(quantity=quantity, expression=expression, terms=dict(terms),
                   value=evaluate(expression, terms), unit=unit, meaning=meaning, source=source)


class KindExplanation(LazyModel):
    """What an engine says about one layer: how it mapped the layer (plain lines: lowering,
    folds, tiles, loop order, split across cores or PEs) and the formulas behind its figures.
    Formulas whose `quantity` names a LayerResult field (cycles, compute_cycles, stall_cycles,
    dram_read_bytes, ...) must reproduce that field."""

    mapping: list[str] = Field(default_factory=list)
    formulas: list[Formula] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class WhatIf(LazyModel):
    """A change to the chip or the layer, re-simulated: what it does to this layer and the run."""

    change: str
    overrides: list[str] = Field(default_factory=list)
    layer_cycles: int
    layer_change: float = Field(description="relative change of this layer's cycles (-0.41 = 41 % faster)")
    run_cycles: int
    run_change: float


class LayerExplanation(LazyModel):
    """Everything `npusim explain` shows for one layer."""

    arch: str
    kind: str
    workload: str
    layer: str
    layer_type: str
    figures: dict[str, Any] = Field(description="the layer's result figures (cycles, bytes, ...)")
    explanation: KindExplanation
    stall_breakdown_cycles: dict[str, int] = Field(default_factory=dict)
    dram_bytes_by_operand: dict[str, int] = Field(default_factory=dict)
    sram_bytes_by_operand: dict[str, int] = Field(default_factory=dict)
    energy_breakdown_pj: dict[str, float] = Field(default_factory=dict)
    binding: str = Field("", description="the resource that sets this layer's time")
    what_ifs: list[WhatIf] = Field(default_factory=list)
    compression: str = Field("", description="the compression transforms the workload went "
                             "through, on one line (empty: none)")
    warnings: list[str] = Field(default_factory=list, description="the run's warnings (e.g. "
                                "what the chip cannot exploit of the compression)")
