"""Shortcuts that must not change a figure: an LSTM's repeated steps simulated once, and the
residency planner's streaming compile counting bytes without recording ops."""

from __future__ import annotations

import pytest

import simulator.kinds.tensorcore.compiler.lstm as lstm_step
from simulator.api import simulate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import compile_program

LSTM = workload_from_dict({"name": "lm", "input": [12, 96], "batch": 8, "layers": [
    {"name": "l1", "type": "lstm", "hidden_size": 96},
    {"name": "l2", "type": "lstm", "hidden_size": 96},
    {"name": "dec", "type": "linear", "out_features": 500}]})


def figures(result):
    return [(l.cycles, l.compute_cycles, l.stall_breakdown_cycles, l.dram_read_bytes,
             l.dram_write_bytes, l.sram_read_bytes, l.sram_write_bytes, l.busy_cycles,
             round(l.energy_pj, 3)) for l in result.layers] + [result.totals.cycles]


@pytest.mark.parametrize("sets", [[], ["compiler.weight_residency=stream"],
                                  ["vector_unit.location=host"]])
def test_repeated_lstm_steps_give_the_figures_of_every_step_simulated(sets, monkeypatch):
    # 12 steps: steps 0..3 are emitted, the 8 that follow repeat step 3 (same instructions,
    # the machine idle at each step's end); the scheduler times one copy, checks that it took
    # the same relative times as step 2, and delays the decoder by 8 copies
    arch = load_arch("bpu", sets)
    program = compile_program(arch, arch.precision, LSTM)
    assert [r.count for r in program.repeats] == [8, 8]
    collapsed = simulate(arch, LSTM)
    monkeypatch.setattr(lstm_step, "REPEAT_FROM", 10 ** 9)
    assert compile_program(arch, arch.precision, LSTM).repeats == []
    every_step = simulate(arch, LSTM)
    assert figures(collapsed) == figures(every_step)


def test_pipeline_placement_emits_every_step():
    # other units may run alongside in pipeline placement: no step is provably idle-bounded
    arch = load_arch("bpu", ["compiler.placement=pipeline"])
    assert compile_program(arch, arch.precision, LSTM).repeats == []


@pytest.mark.parametrize("name", ["mobilenet_v3_large", "squeezenet"])
def test_counting_without_ops_counts_the_same_bytes(name):
    from simulator.io.load import load_workload
    arch = load_arch("bpu", ["compiler.weight_residency=stream"])
    wl = load_workload(name) if name != "lstm" else LSTM
    counted = compile_program(arch, arch.precision, wl, count_only=True)
    emitted = compile_program(arch, arch.precision, wl)
    assert counted.ops == []
    for table in ("weight_dram_bytes", "tensor_dram_bytes", "tensor_sram_extra_bytes"):
        assert dict(getattr(counted.traffic, table)) == dict(getattr(emitted.traffic, table))


def _all_figures(result):
    return [l.model_dump() for l in result.layers] + [result.totals.model_dump()]


@pytest.mark.parametrize("sets", [[], ["compiler.placement=pipeline"]])
def test_no_fitting_candidate_skips_the_streaming_compile_and_changes_nothing(sets,
                                                                               monkeypatch):
    # a tiny Llama-style prefill (d_model 256, 4 heads of 64, no grouping) on a 64 KiB SRAM
    # with 32 KiB of staging: the smallest weight matrices (q, k, v, o: 256 x 256 int8 =
    # 64 KiB) exceed the 32 KiB of room, the FFN (256 x 512) and head (256 x 1000) more; the
    # attention matmuls' right operands are activations (no candidate): nothing can be resident
    import simulator.kinds.tensorcore.compiler.program as program_module
    from simulator.llm.build import prefill_workload
    from tests.helpers.llm import tiny_llm
    arch = load_arch("bpu", ["sram.size_bytes=65536", "sram.weight_staging_bytes=32768"] + sets)
    wl = prefill_workload(tiny_llm(d_model=256, ffn=512, kv_heads=4), 16, 1)
    units = compile_program(arch, arch.precision, wl, count_only=True).units
    assert not program_module.fits_any_candidate(arch, arch.precision, wl, units)
    calls = []
    real = program_module.compile_program

    def counting(*args, **kwargs):
        calls.append(kwargs.get("count_only", False))
        return real(*args, **kwargs)

    monkeypatch.setattr(program_module, "compile_program", counting)
    skipped = simulate(arch, wl)
    assert True not in calls          # no byte-counting compile ran
    monkeypatch.setattr(program_module, "fits_any_candidate", lambda *a: True)
    calls.clear()
    planned = simulate(arch, wl)
    assert True in calls
    assert _all_figures(skipped) == _all_figures(planned)


def test_a_fitting_candidate_keeps_the_streaming_compile():
    # bpu's 8 MiB SRAM holds the tiny model's 32 KiB matrices: the planner must run
    import simulator.kinds.tensorcore.compiler.program as program_module
    from simulator.llm.build import prefill_workload
    from tests.helpers.llm import tiny_llm
    arch = load_arch("bpu")
    wl = prefill_workload(tiny_llm(d_model=256, ffn=512, kv_heads=4), 16, 1)
    program = compile_program(arch, arch.precision, wl)
    assert program_module.fits_any_candidate(arch, arch.precision, wl, program.units)
    assert program.resident_units
