"""`npusim compare`: side-by-side rows, formats, the HTML page, and real runs of every engine
kind (systolic, sparse, tensorcore) on small workloads."""

from __future__ import annotations

import csv
import io
import json
import math

import pytest
from helpers.report_fixtures import MALICIOUS, synthetic_result

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


def test_speedup_and_energy_ratio_by_hand():
    big = synthetic_result(arch_name="big")
    # the same layer figures on a 32x32 machine (only the peak differs)
    small = synthetic_result(arch_name="small", peak_macs_per_cycle=32 * 32)
    rows = compare.summary_rows([big, small])
    assert rows[0]["speedup"] == 1.0 and rows[0]["energy_ratio"] == 1.0
    # same layer cycles and energy in both synthetic runs: speedup 1, energy ratio 1
    assert rows[1]["speedup"] == pytest.approx(1.0)
    # peak TOPS: 2 * 65536 * 700e6 = 91.75; 2 * 1024 * 700e6 = 1.4336
    assert rows[0]["peak_tops"] == pytest.approx(91.7504)
    assert rows[1]["peak_tops"] == pytest.approx(1.4336)
    # utilization is from the totals: MACs / (cycles x peak MACs per cycle)
    assert rows[1]["utilization"] == pytest.approx(small.totals.macs / (small.totals.cycles * 1024))


def test_baseline_is_the_first_run_of_each_workload():
    a1 = synthetic_result(arch_name="a", workload_name="w1")
    b1 = synthetic_result(arch_name="b", workload_name="w1")
    a2 = synthetic_result(arch_name="a", workload_name="w2")
    # make b twice as slow on w1: every layer's cycles doubled, latency doubles
    for l in b1.layers:
        l.cycles *= 2
        l.compute_cycles *= 2
        l.stall_cycles *= 2
        l.stall_breakdown_cycles = {k: 2 * v for k, v in l.stall_breakdown_cycles.items()}
        l.latency_s *= 2
    b1 = type(b1).from_layers(arch=b1.arch, workload=b1.workload, layers=b1.layers,
                              peak_macs_per_cycle=65536, clock_hz=700e6, roofline=b1.roofline)
    rows = compare.summary_rows([a1, b1, a2])
    assert [r["speedup"] for r in rows] == pytest.approx([1.0, 0.5, 1.0])


def test_formats_are_machine_readable():
    rows = compare.summary_rows([synthetic_result(arch_name="a"), synthetic_result(arch_name="b")])
    data = json.loads(compare.to_json(rows))
    assert [r["arch"] for r in data["runs"]] == ["a", "b"]
    assert "_shown" not in data["runs"][0]
    table = list(csv.DictReader(io.StringIO(compare.to_csv(rows))))
    assert len(table) == 2 and float(table[0]["latency_s"]) == pytest.approx(rows[0]["latency_s"])
    md = compare.to_markdown(rows).splitlines()
    assert md[0].startswith("| workload | arch |") and len(md[2].split("|")) == len(compare.COLUMNS) + 2


def test_nan_and_escaping_in_markdown_and_json():
    bad = synthetic_result(arch_name=MALICIOUS)
    row = compare.summary_row(bad)       # no baseline: ratios are NaN -> null / "-"
    assert math.isnan(row["speedup"])
    assert json.loads(compare.to_json([row]))["runs"][0]["speedup"] is None
    assert "<script>" not in compare.to_markdown([row])


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
    from test_report_html import assert_self_contained, parse

    cnn, mlp = workloads
    out = tmp_path / "cmp"
    assert main(["compare", "edge_32x32", "-w", cnn, mlp, "--report", str(out)]) == 0
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

    monkeypatch.setattr(compare, "simulate", boom)
    results, errors = compare.run_pairs(["tpu_v1"], ["resnet50"], [], None, None, quiet=True)
    assert results == [] and errors == ["resnet50 on tpu_v1: nope"]
    assert main(["compare", "tpu_v1", "-w", "resnet50"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no run succeeded" in err[0]
