"""Every bundled systolic and sparse arch on every bundled workload it can run: the physical
sanity conditions any result must meet (the tensor-core engine has its own file,
tests/kinds/tensorcore/test_tensorcore_bundled.py). These catch whole classes of modelling bugs (a tile choice
that degenerates, a layer type an engine miscounts) that unit tests on small layers miss."""

import math

import pytest

from simulator import load_arch, load_workload, simulate
from simulator.io.bundled import bundled_names, workload_dir

WORKLOADS = bundled_names(workload_dir(), (".yaml",))
SYSTOLIC = ["tpu_v1", "edge_32x32", "eyeriss"]
# EIE runs FC and LSTM layers only (conv layers are rejected with a clear error)
SPARSE_WORKLOADS = ["tpu_mlp0", "lstm_lm", "eie_benchmarks"]


def _check(arch_name: str, workload_name: str, batch: int | None = None) -> None:
    arch = load_arch(arch_name)
    workload = load_workload(workload_name, batch=batch)
    result = simulate(arch, workload)
    t = result.totals
    peak_macs_per_cycle = result.roofline["peak_ops_per_s"] / 2 / arch.clock_hz
    bytes_per_cycle = arch.dram_bytes_per_cycle
    if arch.kind == "sparse":
        # a sparse engine counts the MACs it performs: non-zero weights x non-zero activations
        assert 0 < t.macs <= workload.macs
    else:
        assert t.macs == workload.macs
    assert 0 < t.utilization <= 1 + 1e-9
    for layer in result.layers:
        # no layer beats its own compute bound or DRAM bound (the roofline as a latency bound)
        assert layer.cycles >= math.floor(layer.macs / peak_macs_per_cycle), layer.name
        assert layer.cycles >= math.floor(layer.dram_bytes / bytes_per_cycle) - 1, layer.name
        assert layer.energy_pj >= 0


@pytest.mark.parametrize("arch_name", SYSTOLIC)
@pytest.mark.parametrize("workload_name", WORKLOADS)
def test_systolic_runs_every_bundled_workload_sanely(arch_name, workload_name):
    _check(arch_name, workload_name)


@pytest.mark.parametrize("workload_name", ["resnet50", "alexnet", "mobilenet_v2"])
def test_tpu_large_batches_stay_sane(workload_name):
    # batch 32 spills activations at full batch: the sub-batch choice must keep the array busy
    _check("tpu_v1", workload_name, batch=32)


@pytest.mark.parametrize("workload_name", SPARSE_WORKLOADS)
def test_eie_runs_its_workloads_sanely(workload_name):
    _check("eie", workload_name)
