"""The unified-buffer residency plan is memoized on the values it reads
(simulator.kinds.systolic.residency): a cached plan equals a freshly computed one, and a
changed workload, precision, batch scale or capacity never gets an earlier plan."""

from __future__ import annotations

import pytest

from simulator.core.arch import Precision
from simulator.io.llm import load_llm
from simulator.io.load import load_workload
from simulator.kinds.systolic.residency import LayerPlan, plan_residency, workload_residency
from simulator.llm.build import decode_workload

INT8 = Precision(weight_bits=8, activation_bits=8, accumulator_bits=32)


def _fresh(layers, run, capacity, scale=1.0) -> list[LayerPlan]:
    """The plan computed anew (memo emptied first)."""
    plan_residency.cache_clear()
    return workload_residency(layers, run, capacity, scale)


@pytest.mark.parametrize("capacity", [64 * 1024, 512 * 1024, 4 * 2**20, 24 * 2**20])
def test_a_cached_plan_equals_a_fresh_one(capacity):
    layers = load_workload("resnet50").layers
    fresh = _fresh(layers, INT8, capacity)
    hits = plan_residency.cache_info().hits
    cached = workload_residency(layers, INT8, capacity)
    assert plan_residency.cache_info().hits == hits + 1
    assert cached == fresh and cached is not fresh
    assert all(type(p) is LayerPlan for p in cached)


def test_the_returned_list_is_the_callers_own():
    layers = load_workload("googlenet").layers
    first = workload_residency(layers, INT8, 2**20)
    expected = list(first)
    first.clear()
    assert workload_residency(layers, INT8, 2**20) == expected


def test_a_mutated_workload_never_gets_a_stale_plan():
    """Each change that moves a tensor in or out of the buffer is a new plan, equal to the
    plan computed anew for the changed workload."""
    workload = load_workload("resnet50")
    layers = workload.layers
    capacity = 1.5 * 2**20  # some ResNet-50 activations fit, the early ones do not
    before = workload_residency(layers, INT8, capacity)
    # wider activations of one early layer (the plan reads each layer's activation width)
    first_big = next(i for i, p in enumerate(before) if not p.out_dram
                     and layers[i].output_elements >= 100_000)
    layers[first_big].activation_bits = 16
    wider = workload_residency(layers, INT8, capacity)
    assert wider == _fresh(layers, INT8, capacity)
    assert wider != before
    layers[first_big].activation_bits = None
    assert workload_residency(layers, INT8, capacity) == before
    # the graph: a layer that reads another producer
    add = next(i for i, layer in enumerate(layers) if layer.inputs and len(layer.inputs) == 2)
    original = list(layers[add].inputs)
    layers[add].inputs = [original[0], layers[0].name]
    rewired = workload_residency(layers, INT8, capacity)
    assert rewired == _fresh(layers, INT8, capacity)
    assert rewired != before
    layers[add].inputs = original
    # the run's precision, the batch scale and the capacity are part of the key too
    int16 = Precision(weight_bits=16, activation_bits=16, accumulator_bits=32)
    assert workload_residency(layers, int16, capacity) == _fresh(layers, int16, capacity)
    assert workload_residency(layers, INT8, capacity, 0.5) == _fresh(layers, INT8, capacity,
                                                                     0.5)
    assert workload_residency(layers, INT8, 2 * capacity) == _fresh(layers, INT8,
                                                                    2 * capacity)
    assert workload_residency(layers, INT8, capacity) == before


def test_kv_caches_enter_the_key():
    """A decode step's KV caches: a longer context is a larger cache, a new plan."""
    config = load_llm("gpt2_small")
    short, long = decode_workload(config, 64), decode_workload(config, 1000)
    capacity = 2 * 2**20
    plans = [workload_residency(w.layers, INT8, capacity) for w in (short, long)]
    assert plans[0] == _fresh(short.layers, INT8, capacity)
    assert plans[1] == _fresh(long.layers, INT8, capacity)
    kept = [sum(p.kv_resident for p in plan) for plan in plans]
    assert kept[0] > kept[1]  # fewer of the long context's caches fit
