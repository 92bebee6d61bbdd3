"""Fuzzed sweep specs (`npusim sweep` then `npusim sweep-report`) and ONNX graphs built with
onnx.helper (`npusim run`), valid and hostile (issue 15 item 4): exit 0 (with physics that hold
for runs), or exit 2 with one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

import onnx
import yaml
from helpers.fuzz import error_path_problem, fuzz_settings, parse_json, physics_problems
from helpers.fuzz_inputs import cnn, leaf_paths, onnx_graph, sweep_spec
from hypothesis import given
from hypothesis import strategies as st

from simulator.io.load import load_arch

TPU_LEAVES = {path: value for path, value in
              leaf_paths(load_arch("tpu_v1").model_dump(mode="json")).items()
              if path.startswith(("array.", "memory.", "dram.bandwidth", "clock"))}


@fuzz_settings(examples=12)
@given(spec=sweep_spec(TPU_LEAVES), workload=cnn(max_layers=2))
def test_sweeps_and_their_reports(cli, spec, workload):
    with tempfile.TemporaryDirectory() as folder:
        Path(folder, "w.yaml").write_text(yaml.safe_dump(workload, sort_keys=False))
        Path(folder, "s.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
        # a small cap keeps each example quick; the cap itself is part of what is fuzzed
        outcome = cli.run(["sweep", "s.yaml", "-o", "r.sqlite", "-q", "--workers", "1",
                           "--max-rows", "12"], folder)
        assert error_path_problem(outcome) is None, error_path_problem(outcome)
        if outcome.code == 0:
            report = cli.run(["sweep-report", "r.sqlite"], folder)
            assert error_path_problem(report) is None, error_path_problem(report)
            again = cli.run(["sweep", "s.yaml", "-o", "r.sqlite", "-q", "--workers", "1",
                             "--max-rows", "12"], folder)  # resume: nothing left to do
            assert again.code == 0, again.err


@fuzz_settings(examples=30)
@given(graph=onnx_graph(), arch=st.sampled_from(["tpu_v1", "bpu"]))
def test_onnx_graphs(cli, graph, arch):
    model, twist = graph
    with tempfile.TemporaryDirectory() as folder:
        onnx.save(model, str(Path(folder) / "m.onnx"))
        outcome = cli.run(["run", arch, "m.onnx", "--format", "json"], folder)
    assert error_path_problem(outcome) is None, f"{twist}: {error_path_problem(outcome)}"
    if outcome.code == 0 and arch == "tpu_v1":
        assert physics_problems(parse_json(outcome)) == []
