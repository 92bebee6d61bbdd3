"""Extreme sizes are closed-form answers (issue 15): a batch of 10^9, a 4096 x 4096 array, a
batch with many divisors; memory does not grow with the batch or the array."""

from __future__ import annotations

import tracemalloc

import pytest

from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.systolic.engine import divisors


def small_net(batch: int):
    return workload_from_dict({"name": "n", "batch": batch, "layers": [
        {"name": "c", "type": "conv", "input": [16, 32, 32], "out_channels": 32, "kernel": 3,
         "padding": 1, "activation": "relu"},
        {"name": "p", "type": "maxpool", "kernel": 2},
        {"name": "fc", "type": "linear", "out_features": 100}]})


@pytest.mark.parametrize("arch", ["tpu_v1", "edge_32x32"])
def test_a_huge_batch_is_a_closed_form_answer_in_bounded_memory(arch):
    tracemalloc.start()
    try:
        huge = simulate(arch, small_net(10 ** 9))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2 ** 20
    # 10^9 images cost 10^6 times 1,000 images (up to one pipeline prologue per layer)
    thousand = simulate(arch, small_net(1000))
    assert huge.totals.cycles == pytest.approx(10 ** 6 * thousand.totals.cycles, rel=0.02)
    assert huge.totals.macs == 10 ** 6 * thousand.totals.macs
    for layer in huge.layers:
        assert 0 <= layer.utilization <= 1


def test_a_4096_by_4096_array():
    arch = load_arch("tpu_v1", ["array.rows=4096", "array.cols=4096"])
    result = simulate(arch, small_net(1))
    conv = result.layers[0]
    # M = 1024, K = 144, N = 32: one fold, 1,024 rows streamed, skew 4096 + 4096 - 2
    assert conv.compute_cycles == 1024 + 8190
    assert all(0 <= l.utilization <= 1 for l in result.layers)


def test_divisors_are_bounded_work():
    assert divisors(720720) == sorted(d for d in range(1, 720721) if 720720 % d == 0)
    assert divisors(2 ** 61 - 1) == [1, 2 ** 61 - 1]          # a Mersenne prime
    # a batch with a prime factor above the search limit still gives its small divisors
    big_prime = 2 ** 31 - 1
    assert divisors(6 * big_prime * big_prime)[:4] == [1, 2, 3, 6]
