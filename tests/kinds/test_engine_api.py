"""The engine seam: engines are found through the registry, and `Engine.run` returns a value
and leaves the engine unchanged, so runs with different options are independent."""

from __future__ import annotations

import ast
import inspect

import numpy as np
import pytest

import simulator.kinds.base as base
from simulator.core.arch import Precision
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.base import Engine, EngineRun, RunOptions
from simulator.kinds.registry import arch_from_dict, get_kind, kind_names


def _state(engine: Engine) -> dict[str, str]:
    return {key: repr(value) for key, value in vars(engine).items()}


def _figures(run: EngineRun) -> list:
    return [(layer.model_dump(), counts) for layer, counts in zip(run.layers, run.counts)]


def _check_independent(arch, workload, a: RunOptions, b: RunOptions) -> tuple[EngineRun, EngineRun]:
    """Run a, b, a on one engine: the engine's state never changes, the second a equals the
    first, and b equals b on a fresh engine."""
    engine = get_kind(arch.kind).engine_class()(arch)
    before = _state(engine)
    run_a = engine.run(workload, a)
    run_b = engine.run(workload, b)
    again = engine.run(workload, a)
    assert _state(engine) == before
    assert _figures(again) == _figures(run_a)
    assert again.warnings == run_a.warnings and again.trace == run_a.trace
    fresh_b = get_kind(arch.kind).engine_class()(arch).run(workload, b)
    assert _figures(fresh_b) == _figures(run_b) and fresh_b.warnings == run_b.warnings
    return run_a, run_b


def test_every_kind_has_an_engine_class_in_the_registry():
    for name in kind_names():
        cls = get_kind(name).engine_class()
        assert issubclass(cls, Engine) and cls.kind == name


def test_the_engine_seam_imports_no_engine():
    tree = ast.parse(inspect.getsource(base))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert not any(module.startswith("simulator.kinds.") for module in imported), imported


def test_engine_run_checks_one_count_record_per_layer():
    with pytest.raises(ValueError, match="1 layer results but 0 action counts"):
        EngineRun(layers=(object(),), counts=(), peak_macs_per_cycle=1.0)  # type: ignore[arg-type]


def test_engine_run_checks_its_copies():
    """A layer can only repeat an earlier layer, with the very same counts."""
    from simulator.core.actions import LayerCounts

    layers, same = (object(), object(), object()), LayerCounts()
    EngineRun(layers=layers, counts=(same, LayerCounts(), same), peak_macs_per_cycle=1.0,
              copy_of={2: 0})  # type: ignore[arg-type]
    for copy_of, counts in (({0: 2}, (same, LayerCounts(), same)),
                            ({2: 2}, (same, LayerCounts(), same)),
                            ({3: 0}, (same, LayerCounts(), same)),
                            ({2: 0}, (same, LayerCounts(), LayerCounts()))):
        with pytest.raises(ValueError, match="cannot be a copy"):
            EngineRun(layers=layers, counts=counts, peak_macs_per_cycle=1.0,
                      copy_of=copy_of)  # type: ignore[arg-type]


def test_systolic_runs_at_two_precisions_are_independent():
    arch = arch_from_dict({
        "name": "tinytpu", "kind": "systolic", "clock_mhz": 1000,
        "array": {"rows": 4, "cols": 4, "dataflow": "ws", "pipelined_folds": True},
        "memory": {"style": "unified", "unified_buffer_bytes": 4096, "accumulator_bytes": 4096,
                   "weight_fifo_tiles": 2, "weight_shift_cycles": 4},
        "dram": {"bandwidth_gbps": 10, "latency_ns": 0}})
    # batch 4 spills the 1 KiB activations: run() searches sub-batches on every call
    wl = workload_from_dict({"name": "w", "batch": 4, "layers": [
        {"name": "c1", "type": "conv", "input": [16, 8, 8], "out_channels": 16, "kernel": 3,
         "padding": 1},
        {"name": "c2", "type": "conv", "out_channels": 16, "kernel": 3, "padding": 1}]})
    fp16 = Precision(weight_bits=16, activation_bits=16, number_format="fp")
    int8, half = _check_independent(arch, wl, RunOptions(precision=Precision()),
                                    RunOptions(precision=fp16))
    # TPUv1-style rate scaling: 16 x 16 bit operands on an 8-bit array run at a quarter rate
    assert (int8.peak_macs_per_cycle, half.peak_macs_per_cycle) == (16, 4)
    assert int8.warnings == () and "conversion" in half.warnings[0]


def test_sparse_user_weights_do_not_leak_into_the_next_run():
    rng = np.random.default_rng(3)
    w = rng.normal(size=(64, 96))
    w[np.abs(w) < 1.3] = 0
    wl = workload_from_dict({"name": "w", "layers": [
        {"name": "fc", "type": "linear", "input": [96], "out_features": 64,
         "activation_density": 1.0, "weight_density": 0.2}]})
    arch = load_arch("eie")
    given, random = _check_independent(arch, wl, RunOptions(precision=arch.precision,
                                                            weights={"fc": w}),
                                       RunOptions(precision=arch.precision))
    assert given.layers[0].macs == np.count_nonzero(w)  # every input non-zero
    assert random.layers[0].engine_fields()["matrix_source"].startswith("random")
    # the dense baseline is counted like the layer, for pricing
    assert set(given.counts[0].baselines) == {"dense_baseline"}


def test_tensorcore_trace_only_when_asked():
    wl = workload_from_dict({"name": "w", "layers": [
        {"name": "c", "type": "conv", "input": [16, 16, 16], "out_channels": 32, "kernel": 3,
         "padding": 1, "activation": "relu"}]})
    arch = load_arch("bpu")
    traced, plain = _check_independent(arch, wl, RunOptions(precision=arch.precision, trace=True),
                                       RunOptions(precision=arch.precision))
    assert traced.trace and plain.trace is None
    assert set(traced.priced_totals) == {"weight_preload"}

