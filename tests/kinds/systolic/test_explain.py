"""The systolic engine explains itself (issue 13 item 1): every layer's mapping lines and the
formulas behind its figures, built with core.explain.formula from the engine's own numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import api
from simulator.core.results import LayerResult
from simulator.io.load import load_arch, load_workload
from simulator.kinds.registry import get_kind

WORKLOADS = sorted(p.stem for p in (Path(__file__).resolve().parents[3] / "workloads").glob("*.yaml"))
FIELDS = set(LayerResult.model_fields)


@pytest.mark.parametrize("arch", ["tpu_v1", "edge_32x32", "eyeriss"])
@pytest.mark.parametrize("workload", WORKLOADS)
def test_formulas_reproduce_every_layer_field(arch, workload):
    result, run = api.run(load_arch(arch), load_workload(workload), explain=True)
    assert set(run.explanations) == {layer.name for layer in result.layers}
    for layer in result.layers:
        explanation = run.explanations[layer.name]
        checked = set()
        for f in explanation.formulas:
            if f.quantity in FIELDS:
                assert f.value == pytest.approx(getattr(layer, f.quantity), rel=1e-12), \
                    (layer.name, f.quantity, f.expression, f.terms)
                checked.add(f.quantity)
        assert {"cycles", "compute_cycles", "stall_cycles", "dram_read_bytes",
                "dram_write_bytes"} <= checked, (layer.name, checked)
        if layer.macs:
            assert any("GEMM" in line for line in explanation.mapping)
            assert any(line.startswith("tiles") for line in explanation.mapping)


def test_explain_verb_shows_the_mapping_and_systolic_what_ifs():
    e = api.explain("edge_32x32", "alexnet", layer="conv2")
    assert any("folds" in line for line in e.explanation.mapping)
    changes = {w.change.split(" (")[0] for w in e.what_ifs}
    assert {"double DRAM bandwidth", "double the array", "double the ifmap sram"} <= changes
    # a bigger array never makes conv2 slower here, and the what-if is a real re-simulation
    bigger = next(w for w in e.what_ifs if w.change.startswith("double the array"))
    assert bigger.layer_cycles == next(
        l.cycles for l in api.simulate("edge_32x32", "alexnet",
                                       overrides=bigger.overrides).layers if l.name == "conv2")


def test_what_ifs_cover_the_buffers_of_each_memory_style():
    kind = get_kind("systolic")
    tpu = dict(kind.what_ifs(load_arch("tpu_v1")))
    assert any("unified buffer" in c for c in tpu) and any("weight FIFO" in c for c in tpu)
    assert any("vector unit" in c for c in tpu)
    edge = dict(kind.what_ifs(load_arch("edge_32x32")))
    assert any("filter sram" in c for c in edge)


def test_formulas_of_a_batch_run_in_sub_batches_reproduce_the_summed_fields():
    # ResNet-50 at batch 16 on tpu_v1 runs as 2 sub-batches of 8: each field formula is stated
    # per sub-batch and the field is 2 x it
    result, run = api.run(load_arch("tpu_v1"), load_workload("resnet50", batch=16),
                          explain=True)
    assert result.layers[0].engine_fields()["sub_batches"] == 2
    for layer in result.layers:
        for f in run.explanations[layer.name].formulas:
            if f.quantity in FIELDS:
                assert f.value == pytest.approx(getattr(layer, f.quantity), rel=1e-12)
    assert "sub-batches of 8" in run.explanations["conv1"].mapping[-1]
