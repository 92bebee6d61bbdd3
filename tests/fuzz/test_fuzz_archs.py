"""Fuzzed `--set` overrides of the bundled archs of all three kinds (issue 15 item 4): scaled
fields (mostly valid chips, exercising the engines' physics) and hostile values (booleans,
.inf, .nan, 400-digit integers, misspelt paths, YAML aliases). Exit 0 with physics that hold,
or exit 2 with one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
import yaml
from helpers.fuzz import error_path_problem, fuzz_settings, parse_json, physics_problems
from helpers.fuzz_inputs import cnn, leaf_paths, mlp, overrides
from hypothesis import given
from hypothesis import strategies as st

from simulator.io.load import load_arch

ARCHS = {"systolic": "tpu_v1", "sparse": "eie", "tensorcore": "bpu"}
LEAVES = {kind: leaf_paths(load_arch(name).model_dump(mode="json"))
          for kind, name in ARCHS.items()}


def run(cli, kind: str, workload: dict, sets: list[str]):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "w.yaml"
        path.write_text(yaml.safe_dump(workload, sort_keys=False))
        argv = ["run", ARCHS[kind], str(path), "--format", "json"]
        for text in sets:
            argv += ["--set", text]
        return cli.run(argv, folder)


@pytest.mark.parametrize("kind", sorted(ARCHS))
@fuzz_settings(examples=25)
@given(data=st.data())
def test_arch_overrides(cli, kind, data):
    workload = data.draw(mlp(max_layers=2) if kind == "sparse" else cnn(max_layers=3),
                         label="workload")
    sets = data.draw(overrides(LEAVES[kind]), label="overrides")
    outcome = run(cli, kind, workload, sets)
    assert error_path_problem(outcome) is None, error_path_problem(outcome)
    if outcome.code == 0:
        assert physics_problems(parse_json(outcome)) == []


@fuzz_settings(examples=25)
@given(data=st.data())
def test_tensorcore_overrides_are_physical(cli, data):
    workload = data.draw(cnn(max_layers=4), label="workload")
    sets = data.draw(overrides(LEAVES["tensorcore"], hostile_share=0.0), label="overrides")
    sets += data.draw(st.sampled_from([[], ["compiler.placement=pipeline"]]))
    outcome = run(cli, "tensorcore", workload, sets)
    assert error_path_problem(outcome) is None, error_path_problem(outcome)
    if outcome.code == 0:
        assert physics_problems(parse_json(outcome)) == []
