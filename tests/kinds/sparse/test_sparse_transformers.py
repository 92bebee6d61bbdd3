"""Transformers on EIE: the linear layers run (decode on a sparse engine), the activation x
activation products (attention, KV-cache matmuls) are reported as not runnable, and a workload
with nothing EIE can run is refused in one line (docs/models/sparse.md, "Transformers")."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator import api
from simulator.cli.main import main
from simulator.core.workload import workload_from_dict

ONNX = Path(__file__).parents[2] / "data" / "onnx"

# one decode step of a 4-head, d = 256 attention block at context L = 512, batch 2
DECODE = {
    "name": "decode_step", "batch": 2,
    "layers": [
        {"name": "qkv", "type": "linear", "input": [256], "out_features": 768,
         "weight_density": 0.1, "activation_density": 0.5},
        {"name": "scores", "type": "matmul", "m": 1, "k": 64, "n": 512, "count": 4,
         "kv_cache": True},
        {"name": "softmax", "type": "activation", "function": "softmax"},
        {"name": "context", "type": "matmul", "m": 1, "k": 512, "n": 64, "count": 4,
         "kv_cache": True},
        {"name": "out", "type": "linear", "input": [256], "out_features": 256,
         "weight_density": 0.1, "activation_density": 0.5},
    ]}


def test_decode_step_runs_its_linear_layers_and_reports_attention_not_runnable():
    result = api.simulate("eie", workload_from_dict(DECODE))
    layers = {l.name: l for l in result.layers}
    for name in ("qkv", "out"):
        assert layers[name].cycles > 0 and "executed_on" not in layers[name].engine_fields()
    for name in ("scores", "context"):
        f = layers[name].engine_fields()
        assert layers[name].cycles == 0 and f["executed_on"] == "not_runnable"
        # 4 heads x 1 x 64 x 512 per sample, batch 2
        assert f["not_runnable_macs"] == 2 * 4 * 64 * 512
        assert "KV-cache" in f["reason"]
    assert layers["softmax"].engine_fields()["executed_on"] == "host"
    # the totals are the runnable layers' only, and one warning line says what is left out
    assert result.totals.cycles == layers["qkv"].cycles + layers["out"].cycles
    lines = [w for w in result.warnings if "cannot run on EIE" in w]
    assert len(lines) == 1 and "2 activation x activation product(s)" in lines[0]
    # 2 x 262,144 of the 2 x 262,144 + 2 x (256 x 768 + 256 x 256) dense MACs
    share = 524288 / (524288 + 2 * (256 * 768 + 256 * 256))
    assert f"{share:.1%}" in lines[0] and "scores, context" in lines[0]


def test_a_workload_with_only_attention_is_refused_in_one_line(tmp_path, capsys):
    path = tmp_path / "attn.yaml"
    path.write_text("name: attn\nlayers:\n  - {name: qk, type: matmul, m: 16, k: 64, n: 16}\n")
    assert main(["run", "eie", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'qk'" in err and "activation x activation" in err


def test_gpt2_onnx_export_runs_its_linear_layers_on_eie():
    pytest.importorskip("onnx")
    workload = api.load_workload(str(ONNX / "gpt2_small.onnx"))
    result = api.simulate("eie", workload)
    by_type: dict[str, list] = {}
    for layer in result.layers:
        by_type.setdefault(layer.engine_fields().get("executed_on", "eie"), []).append(layer)
    # GPT-2 small: 12 blocks x (c_attn, c_proj, c_fc, c_proj) + the tied lm_head
    assert len(by_type["eie"]) == 12 * 4 + 1
    assert all(l.type == "linear" and l.cycles > 0 for l in by_type["eie"])
    # 12 blocks x (Q K^T, attention x V)
    assert len(by_type["not_runnable"]) == 24
    assert all(l.type == "matmul" and l.cycles == 0 for l in by_type["not_runnable"])
    assert result.totals.macs == sum(l.macs for l in by_type["eie"])
    assert sum("cannot run on EIE" in w for w in result.warnings) == 1
