"""`--compress SPEC` on `npusim run`, `compare` and `explain`: the workload is compressed at the
run's precision, the result records the transforms (JSON, terminal, HTML), and the run's
warnings say what the chip cannot exploit."""

from __future__ import annotations

import json

import pytest

from simulator.cli.main import main

#: Two 4096 x 4096 FC layers at batch 1: on tpu_v1 every weight crosses DDR3 once, so the run
#: is bound by weight bytes: 2 x 4096^2 x 1 B + the 4096-byte input = 33,558,528 B read at
#: 34 GB/s = 0.987 ms.
FC_PAIR = """
name: fc_pair
input: [4096]
layers:
  - {name: fc1, type: linear, out_features: 4096, activation: relu}
  - {name: fc2, type: linear, out_features: 4096}
"""


@pytest.fixture()
def fc_pair(tmp_path) -> str:
    path = tmp_path / "fc_pair.yaml"
    path.write_text(FC_PAIR)
    return str(path)


def _run_json(capsys, *argv: str) -> dict:
    assert main(["run", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_run_records_transforms_and_costs_them(capsys, fc_pair):
    base = _run_json(capsys, "tpu_v1", fc_pair)
    assert base["workload"]["transforms"] == []
    assert base["totals"]["dram_read_bytes"] == 2 * 4096 * 4096 + 4096
    pruned = _run_json(capsys, "tpu_v1", fc_pair, "--compress", "prune=0.9")
    assert [t["name"] for t in pruned["workload"]["transforms"]] == ["prune"]
    assert pruned["workload"]["transforms"][0]["params"]["density"] == pytest.approx(0.1)
    # a dense array multiplies the zeros and, without a sparse decoder, moves them: no change
    assert pruned["totals"]["cycles"] == base["totals"]["cycles"]
    assert pruned["totals"]["dram_read_bytes"] == base["totals"]["dram_read_bytes"]
    assert any("multiplies the zeros" in w for w in pruned["warnings"])
    assert any("move dense" in w for w in pruned["warnings"])
    int4 = _run_json(capsys, "tpu_v1", fc_pair, "--compress", "wbits=4")
    # 4-bit weights need no decoder: half the weight bytes, so about half the time
    assert int4["totals"]["dram_read_bytes"] == 4096 * 4096 + 4096
    assert int4["totals"]["latency_s"] == pytest.approx(base["totals"]["latency_s"] / 2, rel=0.01)
    assert int4["warnings"] == []


def test_sharing_starts_from_the_chips_precision(capsys, fc_pair):
    """The workload states no precision, so --compress starts from tpu_v1's int8: 16 shared
    values keep 8-bit values (a float model's 32-bit values would run at 1/4 rate on TPUv1).
    Without a codebook decoder they travel decoded at 8 bits: the run is unchanged."""
    base = _run_json(capsys, "tpu_v1", fc_pair)
    shared = _run_json(capsys, "tpu_v1", fc_pair, "--compress", "share=16,huffman")
    assert shared["totals"]["cycles"] == base["totals"]["cycles"]
    assert shared["workload"]["precision"]["weight_bits"] == 8
    assert len(shared["warnings"]) == 2  # codebook and Huffman: one line each
    wide = _run_json(capsys, "tpu_v1", fc_pair, "--precision", "int16", "--compress", "share=16")
    assert wide["workload"]["precision"]["weight_bits"] == 16  # --precision is the start


def test_terminal_and_html_say_what_was_applied(capsys, fc_pair, tmp_path):
    assert main(["run", "tpu_v1", fc_pair, "--compress", "prune=0.9,wbits=4"]) == 0
    out = capsys.readouterr().out
    lines = [l for l in out.splitlines() if l.startswith("compression:")]
    assert lines == ["compression: prune(density=0.1, index_bits=4) on 2 layers; "
                     "quantize(weight_bits=4) on 2 layers"]
    page = tmp_path / "run.html"
    assert main(["run", "tpu_v1", fc_pair, "--compress", "wbits=4", "-o", str(page)]) == 0
    assert "compression: quantize(weight_bits=4) on 2 layers" in page.read_text()
    assert main(["run", "tpu_v1", fc_pair]) == 0
    assert "compression:" not in capsys.readouterr().out


def test_compare_applies_it_per_arch(capsys, fc_pair):
    assert main(["compare", "tpu_v1", "edge_32x32", "-w", fc_pair, "--compress", "wbits=4",
                 "--format", "json"]) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [r["compression"] for r in runs] == ["quantize(weight_bits=4) on 2 layers"] * 2
    assert main(["compare", "tpu_v1", "edge_32x32", "-w", fc_pair, "--compress", "wbits=4"]) == 0
    assert "compression: quantize(weight_bits=4) on 2 layers" in capsys.readouterr().out


def test_explain_names_the_compression_and_the_warnings(capsys, fc_pair):
    assert main(["explain", "tpu_v1", fc_pair, "--compress", "prune=0.9", "--no-what-if",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["compression"].startswith("prune(density=0.1")
    assert any("multiplies the zeros" in w for w in data["warnings"])


@pytest.mark.parametrize("spec, words", [
    ("prune=2", "'prune'"),
    ("winograd=f3", "winograd"),
    ("prunee=0.5", "unknown compression setting"),
])
def test_bad_spec_is_one_line_and_exit_2(capsys, fc_pair, spec, words):
    assert main(["run", "tpu_v1", fc_pair, "--compress", spec]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("npusim: error:") and "\n" not in err and words in err
