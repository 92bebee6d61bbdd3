"""The sparse study (`npusim sparse-study`): a one-axis sweep preset run through the sweep
runner. Each value's row must be exactly the run `npusim run` would do with that value set."""

from __future__ import annotations

import json

import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.errors import NpusimError
from simulator.dse import sparse_study
from simulator.io.load import load_arch, load_workload


@pytest.fixture(scope="module")
def alex8():
    """EIE's Alex-8 alone (4096 x 1000 at 25 % weights, 37.5 % activations): a small layer."""
    return sparse_study.keep_layers(load_workload("eie_benchmarks"), ["Alex-8"])


def test_parse_vary():
    assert sparse_study.parse_vary("queue_depth=1,2, 8") == ("queue_depth", [1, 2, 8])
    assert sparse_study.parse_vary("density=[0.1, 1]") == ("density", [0.1, 1])
    with pytest.raises(NpusimError, match="no values"):
        sparse_study.parse_vary("queue_depth=")


def test_arch_field_rows_are_the_runs_with_that_value(alex8):
    plan = sparse_study.plan("eie", alex8, "queue_depth", [8, 1, 8])
    # one design point per distinct value; rows follow the values as given
    assert plan.sweep.points == [{"queue_depth": 8}, {"queue_depth": 1}]
    rows = sparse_study.run_study(plan, workers=1)
    assert [r["value"] for r in rows] == [8, 1, 8] and rows[0] == rows[2]
    for row in rows[:2]:
        direct = simulate(load_arch("eie", [f"queue_depth={row['value']}"]), alex8)
        (layer,) = direct.layers
        assert row["layers"] == {"Alex-8": {
            "latency_s": layer.latency_s, "cycles": layer.cycles, "energy_pj": layer.energy_pj,
            "efficiency": layer.engine_fields()["load_balance_efficiency"]}}
        assert row["latency_s"] == direct.totals.latency_s
        assert row["warnings"] == direct.warnings
    # a queue of 1 lets every PE's stall hold the broadcast: slower, lower efficiency
    assert rows[1]["latency_s"] > rows[0]["latency_s"]


def test_density_rows_vary_the_workload(alex8):
    rows = sparse_study.study("eie", alex8, "density", [0.05, 0.5], workers=1)
    for row in rows:
        direct = simulate(load_arch("eie"), sparse_study.with_density(
            alex8, "weight_density", row["value"]))
        assert row["latency_s"] == direct.totals.latency_s
    # ten times the non-zero weights: more cycles
    assert rows[1]["layers"]["Alex-8"]["cycles"] > rows[0]["layers"]["Alex-8"]["cycles"]


def test_cli_json(tmp_path):
    out = tmp_path / "s.json"
    assert main(["sparse-study", "eie", "eie_benchmarks", "--vary", "queue_depth=1,8",
                 "--layers", "Alex-8", "--format", "json", "-o", str(out)]) == 0
    data = json.loads(out.read_text())
    assert data["field"] == "queue_depth" and [r["value"] for r in data["rows"]] == [1, 8]
    rows = data["rows"]
    assert rows[0]["layers"]["Alex-8"]["cycles"] > 1.5 * rows[1]["layers"]["Alex-8"]["cycles"]


def test_cli_density_table(capsys):
    assert main(["sparse-study", "eie", "eie_benchmarks", "--vary", "density=0.05,0.5",
                 "--layers", "NT-We"]) == 0
    text = capsys.readouterr().out
    assert "NT-We" in text and "0.05" in text


@pytest.mark.parametrize("argv, needle", [
    (["eie", "eie_benchmarks", "--vary", "queue_depht=1,2"], "queue_depht"),
    (["tpu_v1", "tpu_mlp0", "--vary", "clock_mhz=700"], "needs a sparse arch"),
    (["eie", "eie_benchmarks", "--vary", "queue_depth=1", "--layers", "Nope"], "'Nope'"),
    (["eie", "resnet50", "--vary", "queue_depth=1,2"], "conv layer"),   # fails in the engine
])
def test_cli_errors_are_one_line(capsys, argv, needle):
    assert main(["sparse-study", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0] and err[0].startswith("npusim: error:")


def test_table_never_splits_a_number(alex8):
    """One line per layer, one column per value; on a terminal narrower than the table every
    `latency / efficiency` cell still prints whole on its layer's line (issue 13)."""
    import io
    import re

    from rich.console import Console

    from simulator.report.sparse_study import print_study

    values = [1, 2, 4, 8, 16, 64]
    layer = {"latency_s": 17.65e-6, "cycles": 14120, "energy_pj": 1e6, "efficiency": 0.42}
    rows = [{"value": v, "layers": {"Alex-6": layer, "NT-LSTM": layer}, "latency_s": 35.3e-6,
             "energy_pj": 2e6, "warnings": []} for v in values]
    buffer = io.StringIO()
    print_study("queue_depth", rows, Console(width=60, file=buffer))
    lines = buffer.getvalue().splitlines()
    for name in ("Alex-6", "NT-LSTM"):
        (line,) = [line for line in lines if name in line]
        assert re.findall(r"17\.65 / 42%", line) == ["17.65 / 42%"] * len(values)
