"""`npusim explain` on the tensor cores: the formulas are the engine's arithmetic (every one
naming a result field reproduces it, for every layer of every bundled workload on bpu), the
mapping is spelled out, and the kind's what-ifs are real re-simulations."""

from __future__ import annotations

import math

import pytest

from simulator import api
from simulator.io.load import load_arch

BUNDLED = ["alexnet", "vgg16", "googlenet", "resnet50", "mobilenet_v2", "mobilenet_v3_large",
           "squeezenet", "tpu_mlp0", "lstm_lm", "eie_benchmarks"]


def field_value(layer, quantity: str):
    """The LayerResult figure a formula's quantity names (dotted: a key of a dict field), or
    None when it names none."""
    head, _, key = quantity.partition(".")
    data = layer.model_dump()
    if head not in data:
        return None
    value = data[head]
    if key:
        return value.get(key) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("name", BUNDLED)
def test_every_formula_that_names_a_result_field_reproduces_it(name):
    result, run = api.run("bpu", name, explain=True)
    checked = 0
    for layer in result.layers:
        explanation = run.explanations[layer.name]
        assert explanation.mapping, layer.name
        for f in explanation.formulas:
            expected = field_value(layer, f.quantity)
            if expected is None:
                continue
            assert math.isclose(f.value, expected, rel_tol=1e-12, abs_tol=1e-9), (
                layer.name, f.quantity, f.value, expected)
            checked += 1
        quantities = {f.quantity for f in explanation.formulas}
        if layer.cycles:
            assert {"cycles", "stall_cycles", "dram_read_bytes", "sram_read_bytes"} <= quantities
        bounds = {f.quantity: f.value for f in explanation.formulas}
        if "core_compute_cycles" in bounds:   # the closed form is what the busiest core did
            assert bounds["core_compute_cycles"] == bounds["compute_bound_cycles"] or \
                bounds["compute_bound_cycles"] > bounds["core_compute_cycles"], layer.name
    assert checked > 0


def test_explain_spells_out_the_mapping_and_the_kind_what_ifs_resimulate():
    e = api.explain("bpu", "resnet50", layer="l3b1_c2")
    text = "\n".join(e.explanation.mapping)
    assert "conv+relu on the cores" in text and "tiles of" in text
    assert "resident" in text and "placement split" in text
    core = next(f for f in e.explanation.formulas if f.quantity == "core_compute_cycles")
    # 3x3, 256 -> 256 on 14 x 14 split by channels: 196 pixels x 72 row folds (2,304 / 32) x
    # 4 column folds (128 channels a core) = 56,448 cycles a core
    assert core.value == 196 * 72 * 4 == 56_448
    changes = {w.change: w for w in e.what_ifs}
    more = changes["one more tensor core (3)"]
    again = api.simulate(load_arch("bpu", ["cores=3"]), "resnet50")
    assert more.run_cycles == again.totals.cycles
    assert {"double the bridge bandwidth (ports and banks)", "double the shared SRAM",
            "a vector unit twice as fast"} <= set(changes)
