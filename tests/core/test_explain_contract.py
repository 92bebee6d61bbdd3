"""The explain contract: formulas are evaluated from their own terms, and `npusim explain`
reports one layer's figures, binding resource and re-simulated what-ifs."""

from __future__ import annotations

import json

import pytest

from simulator import api
from simulator.cli.main import main
from simulator.core.explain import evaluate, formula


def test_formula_value_is_its_expression_over_its_terms():
    # SCALE-Sim WS per fold: T + 2*rows + cols - 2 = 3136 + 512 + 256 - 2 = 3902; 4 folds - 1
    f = formula("compute_cycles", "folds * (T + 2*rows + cols - 2) - 1", "cycles",
                folds=4, T=3136, rows=256, cols=256)
    assert f.value == 4 * 3902 - 1 == 15607
    assert f.substituted == "4 * (3,136 + 2 * 256 + 256 - 2) - 1"
    assert evaluate("ceil(a / b) + max(1, c)", {"a": 7, "b": 2, "c": 0}) == 5


@pytest.mark.parametrize("bad", ["__import__('os')", "a.real", "[1, 2]", "lambda: 1", "x"])
def test_only_arithmetic_is_evaluated(bad):
    with pytest.raises((ValueError, KeyError)):
        evaluate(bad, {"a": 1})


def test_explain_picks_the_slowest_layer_and_its_binding_resource():
    e = api.explain("tpu_v1", "tpu_mlp0", what_ifs=False)
    result = api.simulate("tpu_v1", "tpu_mlp0")
    slowest = max(result.layers, key=lambda l: l.cycles)
    assert e.layer == slowest.name and e.figures["cycles"] == slowest.cycles
    # tpu_mlp0 at batch 200 streams 2000x2000 int8 weights: memory-bound on DDR3
    assert e.binding.startswith("dram_bandwidth") or e.binding.startswith("compute")


def test_double_dram_bandwidth_what_if_is_a_real_resimulation():
    e = api.explain("tpu_v1", "tpu_mlp0")
    what_if = next(w for w in e.what_ifs if w.change == "double DRAM bandwidth")
    faster = api.simulate("tpu_v1", "tpu_mlp0", overrides=[
        "dram.bandwidth_gbps=68"])
    assert what_if.run_cycles == faster.totals.cycles
    assert what_if.run_change == pytest.approx(faster.totals.cycles / e_total("tpu_mlp0") - 1)


def e_total(workload: str) -> int:
    return api.simulate("tpu_v1", workload).totals.cycles


def test_cli_explain_formats_and_unknown_layer(capsys, tmp_path):
    assert main(["explain", "tpu_v1", "tpu_mlp0", "--no-what-if", "-o",
                 str(tmp_path / "x.json")]) == 0
    data = json.loads((tmp_path / "x.json").read_text())
    assert data["layer"] and data["figures"]["cycles"] > 0
    assert main(["explain", "tpu_v1", "tpu_mlp0", "--layer", "fc9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--layer" in err[0] and "fc9" in err[0]
