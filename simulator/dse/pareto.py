"""Pareto fronts and best points over design-point rows (plain dicts of figures).

A point is on the front when no other point is at least as good in every objective and strictly
better in one (weak Pareto dominance). Objectives carry a sense: minimise latency, energy, area;
maximise TOPS/W. Rows missing an objective value are never on the front.
"""

from __future__ import annotations

from typing import Any, Sequence


def _vector(row: dict[str, Any], objectives: Sequence[tuple[str, bool]]) -> tuple[float, ...] | None:
    """The row's objective values, negated where larger is better (so all are minimised)."""
    out = []
    for column, minimize in objectives:
        value = row.get(column)
        if value is None:
            return None
        out.append(float(value) if minimize else -float(value))
    return tuple(out)


def dominates(a: Sequence[float], b: Sequence[float]) -> bool:
    """a is no worse than b everywhere and strictly better somewhere (all minimised)."""
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


def pareto_front(rows: Sequence[dict[str, Any]],
                 objectives: Sequence[tuple[str, bool]]) -> list[dict[str, Any]]:
    """The non-dominated rows, sorted by the first objective (then the others).

    `objectives` is a list of (column, minimize). Sort-then-scan: after sorting by the vector,
    a row can only be dominated by rows before it, so each row is checked against the front
    found so far (O(n x front size)). Rows with identical vectors are all kept.
    """
    scored = [(v, row) for row in rows if (v := _vector(row, objectives)) is not None]
    scored.sort(key=lambda item: item[0])
    front: list[tuple[tuple[float, ...], dict[str, Any]]] = []
    for vector, row in scored:
        if not any(dominates(kept, vector) for kept, _ in front):
            front.append((vector, row))
    return [row for _, row in front]


def best_by(rows: Sequence[dict[str, Any]], column: str, minimize: bool,
            tie_break: Sequence[tuple[str, bool]] = ()) -> dict[str, Any] | None:
    """The row with the best `column` (ties broken by the other objectives in order)."""
    keys = [(column, minimize), *[t for t in tie_break if t[0] != column]]
    candidates = [(v, row) for row in rows if (v := _vector(row, keys)) is not None]
    return min(candidates, key=lambda item: item[0])[1] if candidates else None
