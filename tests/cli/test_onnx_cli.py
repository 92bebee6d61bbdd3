"""`npusim import` and ONNX files through the CLI: round trip, bad files, unknown ops."""

from __future__ import annotations

import json
import os

import pytest
import yaml
from helpers.onnx_builders import Builder, resnet50

from simulator.cli.main import main
from simulator.io.load import load_workload


def _small_net(tmp_path):
    b = Builder("external")
    x = b.input("x", ["batch", 3, 32, 32])
    y = b.conv_bn(x, 3, 8, 3, 1, 1, name="/stem/Conv")
    y = b.node("MaxPool", [y], "/pool/MaxPool", kernel_shape=[2, 2], strides=[2, 2])
    y = b.node("Flatten", [b.node("GlobalAveragePool", [y], "/gap")], axis=1)
    b.output(b.gemm(y, 8, 10, "/fc/Gemm"))
    return b.save(tmp_path / "small.onnx")


def _one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


def test_import_writes_editable_yaml_that_round_trips(tmp_path, capsys):
    model = _small_net(tmp_path)
    out = tmp_path / "workloads" / "small.yaml"
    assert main(["import", str(model), "-o", str(out), "--batch", "2"]) == 0
    text = out.read_text()
    lines = text.splitlines()
    assert lines[0].startswith("# Imported from") and str(model) in lines[0]
    layer_lines = [line for line in lines if line.startswith("  - ")]
    assert len(layer_lines) == 4  # stem conv (bn + relu folded), pool, gap, fc
    assert all(line.startswith("  - {") and line.endswith("}") for line in layer_lines)
    data = yaml.safe_load(text)
    assert data["batch"] == 2 and data["input"] == [3, 32, 32]
    from_yaml, from_onnx = load_workload(out), load_workload(model, batch=2)
    # stem: 32*32*8 outputs x 27 = 221,184 MACs; fc 8 x 10 = 80; per image, times batch 2
    assert from_yaml.macs == from_onnx.macs == 2 * (221_184 + 80)
    assert from_yaml.params == from_onnx.params


def test_import_prints_yaml_without_output(tmp_path, capsys):
    assert main(["import", str(_small_net(tmp_path))]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    assert [layer["type"] for layer in data["layers"]] == ["conv", "maxpool", "globalavgpool",
                                                          "linear"]


def test_import_input_shape_for_symbolic_dims(tmp_path, capsys):
    b = Builder("inputs")
    x = b.input("x", ["N", 3, "H", "W"])
    b.output(b.conv(x, 3, 4, 3, 1, 1))
    model = b.save(tmp_path / "sym.onnx")
    assert main(["import", str(model)]) == 2
    assert "symbolic dims H, W" in _one_error_line(capsys)
    out = tmp_path / "sym.yaml"
    assert main(["import", str(model), "--input-shape", "1x3x40x30", "-o", str(out)]) == 0
    # 40*30*4 outputs x 3*9 = 129,600 MACs
    assert load_workload(out).macs == 129_600


def test_resnet50_round_trip(tmp_path, capsys):
    model = resnet50("inputs").save(tmp_path / "resnet50.onnx")
    out = tmp_path / "r50.yaml"
    assert main(["import", str(model), "-o", str(out)]) == 0
    assert load_workload(out).macs == load_workload(model).macs == 4_089_184_256


@pytest.mark.parametrize("damage", ["random", "truncated", "empty", "text"])
def test_malformed_onnx_is_one_line_and_exit_2(tmp_path, capsys, damage):
    path = tmp_path / "bad.onnx"
    if damage == "random":
        path.write_bytes(os.urandom(4096))
    elif damage == "truncated":
        good = resnet50("external").save(tmp_path / "good.onnx").read_bytes()
        path.write_bytes(good[: len(good) // 2])
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        path.write_text("name: not a model\n")
    assert main(["import", str(path)]) == 2
    line = _one_error_line(capsys)
    assert line.startswith("npusim: error:") and "bad.onnx" in line
    assert main(["run", "tpu_v1", str(path)]) == 2
    assert "bad.onnx" in _one_error_line(capsys)


def test_unknown_op_exit_2_then_skip(tmp_path, capsys):
    b = Builder("inputs")
    x = b.input("x", [1, 16])
    y = b.node("TopK", [b.gemm(x, 16, 16), b.const([4], "int64")], outputs=2)[0]
    b.output(b.gemm(y, 4, 2))
    model = b.save(tmp_path / "topk.onnx")
    assert main(["import", str(model)]) == 2
    assert "unsupported ONNX ops: TopK x1" in _one_error_line(capsys)
    out = tmp_path / "topk.yaml"
    assert main(["import", str(model), "--skip-unknown", "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "TopK x1" in err
    text = out.read_text()
    assert "WARNING" in text.splitlines()[3] and "TopK x1" in yaml.safe_load(text)["description"]
    # fc1 16*16 = 256 MACs, fc2 4*2 = 8 (TopK counted as free)
    assert load_workload(out).macs == 256 + 8


def test_run_gives_same_macs_from_onnx_and_from_yaml(tmp_path, capsys):
    model = _small_net(tmp_path)
    out = tmp_path / "small.yaml"
    assert main(["import", str(model), "-o", str(out)]) == 0
    capsys.readouterr()
    totals = []
    for workload in (model, out):
        assert main(["run", "tpu_v1", str(workload), "--format", "json"]) == 0
        totals.append(json.loads(capsys.readouterr().out)["totals"]["macs"])
    assert totals[0] == totals[1] == 221_184 + 80
