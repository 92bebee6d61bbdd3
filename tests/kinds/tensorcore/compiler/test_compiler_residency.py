"""Compiler step 2a alone: the weight-residency plan (docs/models/tensorcore.md §3a)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.tensorcore.compiler import SpillAllocator, Tensor, plan_residency
from simulator.kinds.tensorcore.compiler.spill_search import SpillSearch


def tensor(name, nbytes, first, last):
    return Tensor(name, nbytes, rows=1, channels=1, producer=first, last_use=last)


def plan_reference(weight_bytes_of, weight_dram_bytes, tensors, costs, room):
    """The planner as the docs state it, evaluating the allocation in full for every
    candidate: the plans must be identical."""
    alloc = SpillAllocator(tensors)

    def spill(budget):
        return sum(costs[n] for n in alloc.spilled(budget))

    order = sorted((u for u, w in weight_bytes_of.items() if w > 0),
                   key=lambda u: (-weight_dram_bytes.get(u, 0) / weight_bytes_of[u], u))
    resident, used, current = set(), 0, spill(room)
    for u in order:
        w = weight_bytes_of[u]
        if used + w > room:
            continue
        trial = spill(room - used - w)
        if weight_dram_bytes.get(u, 0) > trial - current:
            resident.add(u)
            used += w
            current = trial
    return resident, used


def test_candidates_go_in_order_of_dram_bytes_saved_per_sram_byte():
    # No activations compete (no tensors). Saved per SRAM byte: unit 3: 200/50 = 4, unit 1:
    # 300/100 = 3, unit 2: 100/100 = 1. Room 160: 3 (50 B) then 1 (150 B in all) are admitted;
    # 2 would need 250 B.
    plan = plan_residency({1: 100, 2: 100, 3: 50}, {1: 300, 2: 100, 3: 200},
                          SpillAllocator([]), {}, 160)
    assert plan.resident_units == {1, 3}
    assert plan.resident_weight_bytes == 150
    assert plan.weight_bytes_of == {1: 100, 2: 100, 3: 50}


def test_weights_that_would_push_a_larger_activation_to_dram_stay_streamed():
    # Room 150 B for weights and activations; one activation of 100 B (units 0-1) that costs
    # 200 B of DMA per run when it lives in DRAM (stored once, loaded once).
    # unit 1 (W = 60, saves 120: 2 per byte) leaves 90 B < 100 B: the map spills, +200 B > 120
    #   saved -> rejected.
    # unit 2 (W = 40, saves 60: 1.5 per byte) leaves 110 B: the map stays -> admitted.
    # unit 3 (W = 20, saves 20) would leave 90 B: spill +200 > 20 -> rejected.
    act = [tensor("act", 100, 0, 1)]
    plan = plan_residency({1: 60, 2: 40, 3: 20}, {1: 120, 2: 60, 3: 20},
                          SpillAllocator(act), {"act": 200}, 150)
    assert plan.resident_units == {2} and plan.resident_weight_bytes == 40


def test_a_candidate_that_pays_for_the_spill_it_causes_is_admitted():
    # as above, but unit 1 saves 250 B per run: 250 > 200 B of spill -> admitted, and then no
    # smaller unit can make things worse (the map is already in DRAM)
    act = [tensor("act", 100, 0, 1)]
    plan = plan_residency({1: 60, 2: 40}, {1: 250, 2: 60}, SpillAllocator(act), {"act": 200},
                          150)
    assert plan.resident_units == {1, 2} and plan.resident_weight_bytes == 100


@st.composite
def planning_problems(draw):
    n = draw(st.integers(0, 12))
    firsts = sorted(draw(st.lists(st.integers(0, 10), min_size=n, max_size=n)))
    tensors = [tensor(f"t{i}", draw(st.integers(1, 200)), f, f + draw(st.integers(0, 4)))
               for i, f in enumerate(firsts)]
    # costs may be negative (host-fallback tensors save DMA by living in DRAM)
    costs = {t.name: draw(st.integers(-50, 400)) for t in tensors}
    units = draw(st.integers(0, 12))
    weights = {u: draw(st.integers(0, 150)) for u in range(units)}
    dram = {u: draw(st.integers(1, 500)) for u in range(units)}
    return weights, dram, tensors, costs, draw(st.integers(0, 800))


@settings(max_examples=100, deadline=None)
@given(planning_problems())
def test_the_plan_equals_full_evaluation_for_every_candidate(problem):
    weights, dram, tensors, costs, room = problem
    plan = plan_residency(weights, dram, SpillAllocator(tensors), costs, room)
    assert (plan.resident_units, plan.resident_weight_bytes) == plan_reference(*problem)


def test_spill_search_rewalks_from_the_first_changed_decision():
    # a (100 B, units 0-1), b (100 B, 1-2), c (30 B, 2-3), d (150 B, 4-4); costs 10 each.
    # At 250 everything fits. At 180: a fits; b meets 100 -> 200 > 180 -> spills; c meets 0
    # (a died at 1, b in DRAM) -> fits; d fits alone -> spill 10 (b). At 120: a, c fit; b
    # spills; d (150 > 120) spills -> 20.
    ts = [tensor("a", 100, 0, 1), tensor("b", 100, 1, 2), tensor("c", 30, 2, 3),
          tensor("d", 150, 4, 4)]
    costs = {t.name: 10 for t in ts}
    search = SpillSearch(SpillAllocator(ts), costs, 250)
    assert search.total == 0
    total, changes = search.evaluate(180)
    assert total == 10 and [i for i, _, _ in changes] == [1, 2]   # b spills, c meets 0 not 100
    search.commit(180, total, changes)
    assert search.evaluate(120)[0] == 20
    # a cut-short evaluation returns a value at or above the limit and no changes
    value, cut = search.evaluate(120, limit=15)
    assert value >= 15 and cut is None


@st.composite
def budget_sequences(draw):
    n = draw(st.integers(0, 15))
    firsts = sorted(draw(st.lists(st.integers(0, 8), min_size=n, max_size=n)))
    tensors = [tensor(f"t{i}", draw(st.integers(1, 120)), f, f + draw(st.integers(0, 4)))
               for i, f in enumerate(firsts)]
    costs = {t.name: draw(st.integers(0, 300)) for t in tensors}
    budgets = sorted(draw(st.lists(st.integers(0, 600), max_size=12)), reverse=True)
    commits = draw(st.lists(st.booleans(), min_size=len(budgets), max_size=len(budgets)))
    return tensors, costs, budgets, commits


@settings(max_examples=100, deadline=None)
@given(budget_sequences())
def test_spill_search_agrees_with_a_full_walk_at_every_budget(problem):
    tensors, costs, budgets, commits = problem
    alloc = SpillAllocator(tensors)
    search = SpillSearch(alloc, costs, 600)
    for budget, commit in zip(budgets, commits):
        total, changes = search.evaluate(budget)
        assert total == alloc.spill_cost(budget, costs)
        if commit:
            search.commit(budget, total, changes)
            assert search.placed == [iv.name not in alloc.spilled(budget) for iv in alloc.intervals]


def test_kv_caches_come_after_the_weights_and_never_push_an_activation_to_dram():
    # Room 200 B; one activation of 50 B (units 0-1) costing 100 B of DMA when spilled.
    # Unit 1 is a KV cache (W = S = 90: 1 per byte), unit 2 a weight (W = S = 60: 1 per byte).
    # By ratio and unit order the cache would go first; weights go first: unit 2 (60 B)
    # leaves 140 B, the activation stays -> admitted. The cache (90 B) would leave 50 B: the
    # activation still fits -> admitted (150 B in all).
    act = [tensor("act", 50, 0, 1)]
    plan = plan_residency({1: 90, 2: 60}, {1: 90, 2: 60}, SpillAllocator(act), {"act": 100},
                          200, kv_caches=frozenset({1}))
    assert plan.resident_units == {1, 2} and plan.resident_weight_bytes == 150
    # A longer context: the cache is 100 B. After the weight (60 B) it would leave 40 B < 50 B:
    # the activation would spill (+100 B); a cache is then rejected whatever it saves (here
    # 1,000 B): only the weight stays.
    plan = plan_residency({1: 100, 2: 60}, {1: 1000, 2: 60}, SpillAllocator(act),
                          {"act": 100}, 200, kv_caches=frozenset({1}))
    assert plan.resident_units == {2} and plan.resident_weight_bytes == 60
    # the same candidate as a weight goes first (10 saved per byte) and leaves 100 B: admitted;
    # unit 2 would then leave 40 B: +100 B of spill > 60 B saved, rejected
    plan = plan_residency({1: 100, 2: 60}, {1: 1000, 2: 60}, SpillAllocator(act),
                          {"act": 100}, 200)
    assert plan.resident_units == {1}
