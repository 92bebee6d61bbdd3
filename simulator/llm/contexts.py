"""Decode steps over a range of context lengths without simulating every step.

The G - 1 decode steps of a generation differ only in the context length L (P + 1, ..., P + G
- 1): the weights, the GEMV shapes and every layer outside attention are the same, and the
attention layers grow with L. Simulating every step repeats the same work G - 1 times; this
module simulates a few contexts and interpolates linearly in between, with an error bound that
holds under one assumption, checked at every simulated context:

**Monotonicity**: a step's figures (cycles, energy, bytes) never decrease when the context
grows (a longer cache is never cheaper to read, to multiply or to normalise).

For a non-decreasing f known at a < b, every f(L) between lies in [f(a), f(b)], so linear
interpolation at the fraction t = (L - a) / (b - a) is off by at most max(t, 1 - t) (f(b) -
f(a)). Summed over the interval's interior contexts this bounds the error of the interpolated
total (`_interior_weight`). The intervals are refined by bisection, the one with the largest
bound first, until the bound of every bounded figure is at most `tolerance` of its total, or the
interval is down to consecutive contexts (exact: nothing is interpolated). A simulated context
whose figures fall outside its neighbours' (the assumption fails there) makes that interval
unbounded, so it is refined down to consecutive contexts: where monotonicity fails, every step
is simulated. With `tolerance=0` every context is simulated (the brute-force reference).

Each bisection also measures the interpolation error at the new context (the difference
between its simulated figures and the line through its neighbours): `max_midpoint_error`
reports the largest, the evidence that the cost is piecewise linear in L (docs/llm.md, section
4, and tests/llm/test_contexts.py compare the method with a brute-force run of every step).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

Figures = Mapping[str, float]
#: a figure may dip by this much (relative) without breaking monotonicity: float sums of the
#: same energies taken in a different order
_FLOAT_SLACK = 1e-9


def _interior_weight(n: int) -> float:
    """sum over j = 1 .. n-1 of max(j, n - j) / n: the error bound of the interpolated sum over
    the interior of an interval of n steps, in units of the figure's rise f(b) - f(a).

    max(j, n - j) is j for j >= n/2 and n - j below, so the sum is twice the sum of j from
    ceil((n + 1) / 2) to n - 1, plus n/2 once when n is even (j = n/2)."""
    if n < 2:
        return 0.0
    top = n - 1
    start = n // 2 + 1
    twice = top * (top + 1) - (start - 1) * start  # 2 x (start + ... + top)
    return (twice + (n // 2 if n % 2 == 0 else 0)) / n


@dataclass
class ContextSweep:
    """The simulated contexts, and everything derived from them for the range `first..last`."""

    first: int
    last: int
    samples: dict[int, dict[str, float]]
    bounded: tuple[str, ...]
    tolerance: float
    unbounded: set[tuple[int, int]] = field(default_factory=set)
    midpoint_errors: dict[str, float] = field(default_factory=dict)

    def add(self, context: int, figures: Figures) -> None:
        """Record a simulated context; a figure one context lacks (an energy component that
        appears only at some contexts) is 0 there."""
        new = dict(figures)
        known = set(next(iter(self.samples.values()))) if self.samples else set(new)
        for key in set(new) - known:
            for sample in self.samples.values():
                sample[key] = 0.0
        for key in known - set(new):
            new[key] = 0.0
        self.samples[context] = new

    @property
    def contexts(self) -> list[int]:
        return sorted(self.samples)

    @property
    def intervals(self) -> list[tuple[int, int]]:
        points = self.contexts
        return list(zip(points, points[1:]))

    def at(self, context: int) -> dict[str, float]:
        """Figures at `context`: simulated, or interpolated between the neighbouring samples."""
        if context in self.samples:
            return dict(self.samples[context])
        for a, b in self.intervals:
            if a < context < b:
                t = (context - a) / (b - a)
                fa, fb = self.samples[a], self.samples[b]
                return {k: fa[k] + t * (fb[k] - fa[k]) for k in fa}
        raise ValueError(f"context {context} is outside {self.first}..{self.last}")

    def total(self) -> dict[str, float]:
        """Each figure summed over every context of the range (interpolated where not
        simulated; the sum of a line over an interval's interior is its midpoint value times
        the number of interior contexts)."""
        points = self.contexts
        out = {k: 0.0 for k in self.samples[points[0]]}
        for c in points:
            for k, v in self.samples[c].items():
                out[k] += v
        for a, b in self.intervals:
            inner = b - a - 1
            if inner <= 0:
                continue
            fa, fb = self.samples[a], self.samples[b]
            for k in out:
                out[k] += inner * (fa[k] + fb[k]) / 2
        return out

    def interval_bound(self, a: int, b: int, key: str) -> float:
        """Bound on the error of the interpolated sum of `key` over the interior of (a, b)."""
        if b - a < 2:
            return 0.0
        if (a, b) in self.unbounded:
            return math.inf
        rise = self.samples[b][key] - self.samples[a][key]
        return _interior_weight(b - a) * max(rise, 0.0)

    def bounds(self) -> dict[str, float]:
        """Bound on the error of `total()[key]` for every bounded figure (absolute)."""
        return {k: sum(self.interval_bound(a, b, k) for a, b in self.intervals)
                for k in self.bounded}

    def relative_bounds(self) -> dict[str, float]:
        totals = self.total()
        return {k: (v / totals[k] if totals[k] else (0.0 if v == 0 else math.inf))
                for k, v in self.bounds().items()}

    @property
    def exact(self) -> bool:
        """True when every context of the range was simulated."""
        return len(self.samples) == self.last - self.first + 1

    @property
    def max_midpoint_error(self) -> dict[str, float]:
        """Largest relative gap, over the bisections, between a simulated context's figures and
        the line through its neighbours (0 everywhere: the cost was linear wherever checked)."""
        return dict(self.midpoint_errors)


def _monotone(lo: Figures, mid: Figures, hi: Figures, keys: tuple[str, ...]) -> bool:
    def le(x: float, y: float) -> bool:
        return x <= y + _FLOAT_SLACK * max(abs(x), abs(y), 1.0)
    return all(le(lo[k], mid[k]) and le(mid[k], hi[k]) for k in keys)


def sweep_contexts(evaluate: Callable[[int], Figures], first: int, last: int, *,
                   bounded: tuple[str, ...], tolerance: float = 0.005,
                   max_samples: int | None = None) -> ContextSweep:
    """Simulate `evaluate(L)` at the contexts needed to know every figure summed over
    L = first..last within `tolerance` (relative) for the `bounded` figures (see the module
    docstring). `max_samples` caps the simulations (the bound is then reported as it is)."""
    if first > last:
        raise ValueError(f"empty context range {first}..{last}")
    sweep = ContextSweep(first, last, {}, bounded, tolerance)
    if tolerance == 0 and max_samples is None:  # the brute force: every context, in order
        for context in range(first, last + 1):
            sweep.add(context, evaluate(context))
        return sweep
    sweep.add(first, evaluate(first))
    if last != first:
        sweep.add(last, evaluate(last))
        if not _monotone(sweep.samples[first], sweep.samples[first], sweep.samples[last],
                         bounded):
            sweep.unbounded.add((first, last))
    cap = max_samples if max_samples is not None else last - first + 1
    while len(sweep.samples) < cap:
        totals = sweep.total()
        worst, worst_share = None, 0.0
        for a, b in sweep.intervals:
            if b - a < 2:
                continue
            share = max((sweep.interval_bound(a, b, k) / totals[k]) if totals[k] else
                        (math.inf if sweep.interval_bound(a, b, k) else 0.0) for k in bounded)
            if share > worst_share:
                worst, worst_share = (a, b), share
        if worst is None:
            break
        overall = sweep.relative_bounds()
        if all(v <= tolerance for v in overall.values()) and tolerance > 0:
            break
        a, b = worst
        m = (a + b) // 2
        sweep.add(m, evaluate(m))
        fa, fm, fb = sweep.samples[a], sweep.samples[m], sweep.samples[b]
        t = (m - a) / (b - a)
        for k in fm:
            line = fa[k] + t * (fb[k] - fa[k])
            gap = abs(fm[k] - line) / abs(fm[k]) if fm[k] else abs(line)
            sweep.midpoint_errors[k] = max(sweep.midpoint_errors.get(k, 0.0), gap)
        was_unbounded = (a, b) in sweep.unbounded
        sweep.unbounded.discard((a, b))
        if was_unbounded or not _monotone(fa, fm, fb, bounded):
            sweep.unbounded.update({(a, m), (m, b)})
    return sweep
