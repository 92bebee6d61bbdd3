"""`npusim llm`: the JSON contract (docs/formats.md, section 5), the other formats, and bad
input as one line with exit status 2."""

from __future__ import annotations

import json

import pytest

from simulator.cli.main import main

TINY = """kind: llm
name: tiny
layers: 2
d_model: 128
heads: 4
kv_heads: 2
ffn: 256
vocab: 1000
max_context: 256
"""

#: the documented top-level keys and those of each section (docs/formats.md, section 5)
CONTRACT = {
    "model", "arch", "precision", "request", "memory", "prefill", "decode", "totals",
    "roofline", "closed_form", "warnings", "assumptions", "npusim_version"}
TOTALS = {"time_to_first_token_s", "time_per_output_token_s", "latency_s", "generated_tokens",
          "tokens_per_s", "energy_pj", "energy_per_token_pj"}
DECODE = {"steps", "first_context", "last_context", "batch", "time_per_output_token_s",
          "first_step_latency_s", "last_step_latency_s", "tokens_per_s", "energy_per_token_pj",
          "total_latency_s", "total_energy_pj", "per_step", "method", "simulated_contexts",
          "error_bound", "max_midpoint_error", "series"}


@pytest.fixture
def tiny(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY)
    return str(path)


def test_json_follows_the_contract(tiny, capsys):
    assert main(["llm", "tpu_v1", tiny, "--prompt", "40", "--generate", "9", "--batch", "2",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == CONTRACT
    assert set(data["totals"]) == TOTALS and set(data["decode"]) == DECODE
    assert data["request"] == {"prompt": 40, "generate": 9, "batch": 2}
    assert data["decode"]["steps"] == 8 and len(data["decode"]["series"]) == 8
    assert data["memory"]["kv_cache_bytes_per_token"] == 2 * 2 * 2 * 32
    assert data["prefill"]["figures"]["by_part"]["ffn"]["macs"] == 2 * 40 * 2 * 3 * 128 * 256
    assert data["arch"]["name"] == "tpu_v1" and data["model"]["params"] > 0


def test_table_markdown_and_output_file(tiny, tmp_path, capsys):
    assert main(["llm", "tpu_v1", tiny, "--prompt", "20", "--generate", "4", "--ascii"]) == 0
    out = capsys.readouterr().out
    assert "time to first token" in out and "time per output token" in out
    assert "KV cache" in out and "ridge" in out and "decode (first step)" in out
    target = tmp_path / "r.md"
    assert main(["llm", "tpu_v1", tiny, "--prompt", "20", "--generate", "4", "--format", "md",
                 "-o", str(target), "-q"]) == 0
    text = target.read_text()
    assert text.startswith("# tiny on tpu_v1") and "## Decode steps" in text


def test_exact_simulates_every_step(tiny, capsys):
    assert main(["llm", "edge_32x32", tiny, "--prompt", "20", "--generate", "6", "--exact",
                 "--format", "json"]) == 0
    decode = json.loads(capsys.readouterr().out)["decode"]
    assert decode["method"] == "every step" and decode["simulated_contexts"] == list(range(21, 26))


def test_precision_and_kv_bits_options(tiny, capsys):
    assert main(["llm", "tpu_v1", tiny, "--prompt", "8", "--generate", "2", "--precision",
                 "int16", "--kv-bits", "4", "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["precision"]["weight_bits"] == 16 and data["precision"]["kv_cache_bits"] == 4
    assert data["memory"]["kv_cache_bytes_per_token"] == 2 * 2 * 2 * 32 // 2


@pytest.mark.parametrize("args, gist", [
    (["tpu_v1", "llama2_7b", "--prompt", "4000", "--generate", "200"],
     "exceeds llama2_7b's max_context of 4,096"),
    (["tpu_v1", "gpt2_small", "--prompt", "1024", "--generate", "1"], "max_context of 1,024"),
    (["tpu_v1", "llama9_70b"], "no bundled LLM config or file named 'llama9_70b'"),
    (["tpu_v1", "gpt2_small", "--generate", "0"], "'--generate'"),
    (["tpu_v1", "gpt2_small", "--batch", "0"], "'--batch'"),
    (["tpu_v1", "gpt2_small", "--tolerance", "2"], "'--tolerance'"),
    (["tpu_v9", "gpt2_small"], "no bundled arch"),
    (["tpu_v1", "resnet50"], "no bundled LLM config"),
])
def test_bad_input_is_one_line_and_exit_2(args, gist, capsys):
    assert main(["llm", *args]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.splitlines()) == 1
    assert gist in captured.err


def test_a_malformed_config_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TINY.replace("kv_heads: 2", "kv_heads: 3"))
    assert main(["llm", "tpu_v1", str(bad)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "bad.yaml" in err and "kv_heads" in err
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: llm\nname: [unclosed\n")
    assert main(["llm", "tpu_v1", str(broken)]) == 2
    assert "malformed YAML" in capsys.readouterr().err


def test_a_workload_file_is_not_an_llm_config_and_back(tmp_path, capsys):
    from simulator.io.bundled import workload_dir
    assert main(["llm", "tpu_v1", str(workload_dir() / "resnet50.yaml")]) == 2
    assert "not an LLM config" in capsys.readouterr().err
    assert main(["run", "tpu_v1", "llama2_7b"]) == 2
    assert "npusim llm ARCH llama2_7b" in capsys.readouterr().err
