"""Sweeps name LLM phases as workloads: {llm, phase, prompt | context, batch}."""

from __future__ import annotations

import json

import pytest

from simulator.core.errors import NpusimError
from simulator.dse.spec import SweepFile, build_sweep, load_sweep
from simulator.io.bundled import resolve_sweep
from simulator.io.llm import load_llm
from simulator.llm.build import decode_workload


def _sweep(workloads, tmp_path=None):
    spec = {"base": "tpu_v1", "workloads": workloads,
            "vary": {"memory.unified_buffer_bytes": [8388608, 33554432]}}
    if tmp_path is None:
        return build_sweep(SweepFile.model_validate(spec))
    path = tmp_path / "s.yaml"
    path.write_text(json.dumps(spec))  # JSON is YAML
    return load_sweep(path)


def test_llm_phases_become_labelled_workloads():
    sweep = _sweep([{"llm": "gpt2_small", "phase": "decode", "context": 1024, "batch": 8},
                    {"llm": "gpt2_small", "phase": "prefill", "prompt": 128},
                    "resnet50"])
    assert list(sweep.workloads) == ["gpt2_small.decode@L1024@b8", "gpt2_small.prefill@P128",
                                     "resnet50"]
    decode = sweep.workloads["gpt2_small.decode@L1024@b8"]
    assert decode.batch == 8
    assert decode.macs == decode_workload(load_llm("gpt2_small"), 1024, 8).macs
    assert len(sweep.tasks()) == 6


@pytest.mark.parametrize("entry, gist", [
    ({"llm": "gpt2_small", "phase": "decode"}, "context"),
    ({"llm": "gpt2_small", "phase": "decode", "context": 2000}, "max_context"),
    ({"llm": "gpt2_small"}, "phase"),
    ({"name": "resnet50", "phase": "decode"}, "go with llm"),
    ({"name": "resnet50", "llm": "gpt2_small", "phase": "decode"}, "either name"),
])
def test_bad_llm_entries_are_one_line_errors(entry, gist, tmp_path):
    with pytest.raises(NpusimError) as info:
        _sweep([entry], tmp_path)
    line = info.value.one_line()
    assert gist in line and "s.yaml" in line and "workloads" in line


def test_an_unknown_llm_names_the_bundled_ones(tmp_path):
    with pytest.raises(NpusimError) as info:
        _sweep([{"llm": "gpt9", "phase": "prefill", "prompt": 8}], tmp_path)
    assert "gpt9" in info.value.one_line() and "gpt2_small" in info.value.one_line()


def test_the_bundled_llm_sweep_validates():
    sweep = load_sweep(resolve_sweep("llm_decode"))
    assert set(sweep.workloads) == {f"gpt2_small.decode@L1024@b{b}" for b in (1, 8, 64)}
    assert len(sweep.points) == 6
