"""`npusim compare`: side-by-side rows, formats, the HTML page, and real runs of every engine
kind (systolic, sparse, tensorcore) on small workloads. Rows and formats: tests/report."""

from __future__ import annotations

import csv
import io
import json

import pytest
from helpers.html_report import assert_self_contained, parse

from simulator.cli import compare
from simulator.cli.main import main
from simulator.core.errors import NpusimError

TINY_CNN = """
name: tiny_cnn
input: [16, 16, 16]
layers:
  - {name: c1, type: conv, out_channels: 32, kernel: 3, padding: 1, activation: relu}
  - {name: p1, type: maxpool, kernel: 2, stride: 2}
  - {name: fc, type: linear, out_features: 10}
"""
TINY_MLP = """
name: tiny_mlp
input: [256]
layers:
  - {name: fc1, type: linear, out_features: 256, weight_density: 0.1, activation_density: 0.5}
  - {name: fc2, type: linear, out_features: 64, weight_density: 0.1}
"""


@pytest.fixture()
def workloads(tmp_path) -> tuple[str, str]:
    cnn, mlp = tmp_path / "tiny_cnn.yaml", tmp_path / "tiny_mlp.yaml"
    cnn.write_text(TINY_CNN)
    mlp.write_text(TINY_MLP)
    return str(cnn), str(mlp)


def test_cli_json_on_the_systolic_engine(workloads, capsys):
    cnn, _ = workloads
    assert main(["compare", "tpu_v1", "edge_32x32", "-w", cnn, "--format", "json", "-q"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["workload"], r["arch"], r["kind"]) for r in runs] == [
        ("tiny_cnn", "tpu_v1", "systolic"), ("tiny_cnn", "edge_32x32", "systolic")]
    assert runs[1]["speedup"] == pytest.approx(runs[0]["latency_s"] / runs[1]["latency_s"])
    # conv 16x16 outputs x 32 filters x 144 + fc 2048 x 10 = 1,179,648 + 20,480 MACs
    assert all(r["macs"] == 1_200_128 for r in runs)


def test_cli_two_workloads_on_one_arch_with_report(workloads, tmp_path, capsys):
    cnn, mlp = workloads
    out = tmp_path / "cmp"
    assert main(["compare", "edge_32x32", "-w", cnn, mlp, "--report", str(out), "--png"]) == 0
    printed = capsys.readouterr().out
    assert "tiny_cnn" in printed and "tiny_mlp" in printed
    page = out / "compare.html"
    raw = page.read_text(encoding="utf-8")
    parser = parse(page)
    assert parser.svgs >= 2 and (out / "compare_bars.png").is_file()
    assert (out / "compare_roofline.svg").is_file()
    assert_self_contained(parser, raw)


def test_cli_all_three_engine_kinds(workloads, capsys):
    """The sparse engine runs FC/LSTM only, so the three kinds meet on the tiny MLP."""
    _, mlp = workloads
    assert main(["compare", "tpu_v1", "eie", "bpu", "-w", mlp, "--format", "csv", "-q"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kind"] for r in rows] == ["systolic", "sparse", "tensorcore"]
    # dense MACs of the workload: 256*256 + 256*64 = 81,920 (engines may skip zeros in cycles,
    # but the MAC count of the layer is the workload's)
    for r in rows:
        assert float(r["latency_s"]) > 0 and float(r["energy_pj"]) > 0


def test_a_failing_pair_is_reported_and_the_rest_still_shown(workloads, capsys):
    cnn, _ = workloads
    # EIE runs FC/LSTM layers only: the conv network fails on it, the systolic run is shown
    assert main(["compare", "eie", "tpu_v1", "-w", cnn, "--format", "json", "-q"]) == 2
    captured = capsys.readouterr()
    assert [r["arch"] for r in json.loads(captured.out)["runs"]] == ["tpu_v1"]
    assert "tiny_cnn on eie" in captured.err and len(captured.err.strip().splitlines()) == 1


def test_bad_input_is_one_line_exit_2(workloads, capsys):
    cnn, _ = workloads
    assert main(["compare", "no_such_chip", "-w", cnn]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no_such_chip" in err[0]
    assert main(["compare", "tpu_v1", "-w", cnn, "--batch", "0"]) == 2


def test_all_failing_is_one_line_exit_2(monkeypatch, capsys):
    def boom(arch, workload):
        raise NpusimError("nope")

    monkeypatch.setattr("simulator.api.simulate", boom)
    results, errors = compare.run_pairs(["tpu_v1"], ["resnet50"], [], None, None, quiet=True)
    assert results == [] and errors == ["resnet50 on tpu_v1: nope"]
    assert main(["compare", "tpu_v1", "-w", "resnet50"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run succeeded" in err[0]
