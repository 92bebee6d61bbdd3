"""Compiler step 2 alone: tensors, lifetimes and the greedy interval allocation."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import SpillAllocator, Tensor, build_units
from simulator.kinds.tensorcore.compiler.allocation import activation_budget_bytes, make_tensors


def spilled_reference(tensors: list[Tensor], n_units: int, budget: int) -> list[str]:
    """The rule as docs/models/tensorcore.md states it: in production order, a tensor stays
    on chip when it fits next to those already placed at every unit of its lifetime."""
    occupancy = [0] * (n_units + 1)
    out = []
    for t in tensors:
        if t.in_dram or t.producer is None:
            continue
        span = range(t.producer, max(t.last_use, t.producer) + 1)
        if t.nbytes <= budget and all(occupancy[k] + t.nbytes <= budget for k in span):
            for k in span:
                occupancy[k] += t.nbytes
        else:
            out.append(t.name)
    return out


def tensor(name, nbytes, first, last):
    return Tensor(name, nbytes, rows=1, channels=1, producer=first, last_use=last)


def test_what_does_not_fit_over_its_lifetime_spills():
    # budget 150 B. a (100 B, units 0-1) fits. b (100 B, units 1-2) meets a at unit 1:
    # 200 > 150 -> DRAM. c (50 B, units 2-3): a is dead after unit 1, b is in DRAM -> fits.
    # d (60 B, units 3-3) meets c: 110 <= 150 -> fits. e (200 B) alone exceeds the budget.
    ts = [tensor("a", 100, 0, 1), tensor("b", 100, 1, 2), tensor("c", 50, 2, 3),
          tensor("d", 60, 3, 3), tensor("e", 200, 4, 4)]
    alloc = SpillAllocator(ts)
    assert alloc.spilled(150) == ["b", "e"]
    # everything live at once peaks at unit 1 (a + b = 200) and unit 4 (e = 200)
    assert alloc.peak_bytes == 200
    assert alloc.spilled(200) == []
    # costs of the spilled tensors (b: 300, e: 7) sum to 307
    assert alloc.spill_cost(150, {"a": 1, "b": 300, "c": 1, "d": 1, "e": 7}) == 307


def test_greedy_order_is_production_order_not_best_fit():
    # budget 100: a (60 B, 0-2) is placed first, so b (50 B, 1-1) no longer fits although
    # keeping b and c (50 B, 2-2) instead would have kept more bytes on chip
    ts = [tensor("a", 60, 0, 2), tensor("b", 50, 1, 1), tensor("c", 50, 2, 2)]
    assert SpillAllocator(ts).spilled(100) == ["b", "c"]


def test_tensors_and_lifetimes_of_a_residual_block():
    # c1 -> c2 -> add(c2, c1): c1's output lives until the add's unit (the shortcut), the add
    # fuses into c2, and the final output lives in DRAM. int8: 16 x 8 x 8 = 1,024 B each.
    wl = workload_from_dict({"name": "t", "input": [16, 8, 8], "layers": [
        {"name": "c1", "type": "conv", "out_channels": 16, "kernel": 1},
        {"name": "c2", "type": "conv", "out_channels": 16, "kernel": 1},
        {"name": "a", "type": "add", "inputs": ["c2", "c1"]}]})
    arch = load_arch("bpu")
    plan = build_units(arch, wl)
    tensors = make_tensors(wl, plan, 1.0, arch.sram.banks)
    assert list(tensors) == ["__input__", "c1", "a"]
    c1, out = tensors["c1"], tensors["a"]
    assert (c1.nbytes, c1.producer, c1.last_use, c1.rows, c1.in_dram) == (1024, 0, 1, 8, False)
    assert (out.producer, out.in_dram, out.last_use) == (1, True, 2)
    assert tensors["__input__"].in_dram
    # 8 MiB shared SRAM - 256 KiB weight staging - 1,000 B of resident weights
    assert activation_budget_bytes(arch, 1000) == 8 * 2**20 - 256 * 2**10 - 1000


@st.composite
def interval_sets(draw):
    n = draw(st.integers(1, 25))
    firsts = sorted(draw(st.lists(st.integers(0, 20), min_size=n, max_size=n)))
    return [tensor(f"t{i}", draw(st.integers(0, 300)), f, f + draw(st.integers(0, 6)))
            for i, f in enumerate(firsts)]


@settings(max_examples=100, deadline=None)
@given(interval_sets(), st.integers(-10, 1000))
def test_fast_allocator_equals_the_rule_as_stated(ts, budget):
    # the allocator keeps one running occupancy instead of checking every unit of a lifetime
    # (valid because tensors arrive in production order); it must decide exactly the same
    assert SpillAllocator(ts).spilled(budget) == spilled_reference(ts, 30, budget)
