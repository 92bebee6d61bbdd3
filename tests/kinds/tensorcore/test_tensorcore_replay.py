"""Units that repeat an earlier one (an LLM's decoder blocks) are emitted once and stand in
for the others (compiler/replay.py): every figure must equal the full emission's."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import simulator.kinds.tensorcore.compiler.replay as replay_module
from simulator.api import simulate
from simulator.io.load import load_arch
from simulator.kinds.tensorcore.compiler import compile_program
from simulator.llm.build import decode_workload, prefill_workload
from tests.helpers.llm import tiny_gpt, tiny_llm


def figures(result):
    """Every field of every layer row and of the totals."""
    return [l.model_dump() for l in result.layers] + [result.totals.model_dump()]


def every_unit_emitted(monkeypatch):
    monkeypatch.setattr(replay_module.Replayer, "reference", lambda self, u, key: None)


# 8 GPT-2-style blocks (d_model 64, 4 heads, FFN 256): on bpu a block is 17 units, so a
# unit's weight bank (7u + 3) against its tensors' (5u + 1) repeats every 8 blocks, its
# element-wise and attention units every block
GPT = tiny_gpt(layers=8)
# 256 KiB of staging + 160 KiB: the first blocks' weights (about 49 KiB each) stay resident,
# the later ones stream: replays must not pair a resident unit with a streamed one
SOME_RESIDENT = ["sram.size_bytes=425984"]
CASES = [
    ("gpt decode resident", [], decode_workload(GPT, 96, 1)),
    ("gpt prefill resident", [], prefill_workload(GPT, 48, 1)),
    ("gpt decode streamed", ["compiler.weight_residency=stream"], decode_workload(GPT, 96, 1)),
    ("gpt prefill streamed", ["compiler.weight_residency=stream"], prefill_workload(GPT, 48, 2)),
    ("gpt decode some resident", SOME_RESIDENT, decode_workload(GPT, 96, 1)),
    ("llama decode batch 2", [], decode_workload(tiny_llm(layers=8), 200, 2)),
    ("llama prefill host vector unit", ["vector_unit.location=host"],
     prefill_workload(tiny_llm(layers=8), 32, 1)),
]


@pytest.mark.parametrize("label,sets,wl", CASES, ids=[c[0] for c in CASES])
def test_repeated_units_give_the_figures_of_every_unit_emitted(label, sets, wl, monkeypatch):
    arch = load_arch("bpu", sets)
    program = compile_program(arch, arch.precision, wl, replay=True)
    assert len(program.replays) > len(program.units) // 4   # the shortcut is taken
    for r in program.replays:
        assert (r.unit in program.resident_units) == (r.ref in program.resident_units)
    replayed = simulate(arch, wl)
    every_unit_emitted(monkeypatch)
    assert compile_program(arch, arch.precision, wl, replay=True).replays == []
    assert figures(replayed) == figures(simulate(arch, wl))


def test_some_blocks_resident_others_streamed():
    # the case above does exercise both kinds of unit
    arch = load_arch("bpu", SOME_RESIDENT)
    program = compile_program(arch, arch.precision, decode_workload(GPT, 96, 1), replay=True)
    weighted = [u for u in program.mappings if program.mac_spec(
        decode_workload(GPT, 96, 1).layers[program.units[u].layer]).weights_from_dram]
    resident = [u for u in weighted if u in program.resident_units]
    assert 0 < len(resident) < len(weighted)


def test_pipeline_placement_emits_every_unit():
    # units overlap by tile in pipeline placement: no unit starts on an idle machine
    arch = load_arch("bpu", ["compiler.placement=pipeline"])
    wl = decode_workload(GPT, 96, 1)
    assert compile_program(arch, arch.precision, wl, replay=True).replays == []


def test_a_unit_that_is_not_self_contained_makes_the_program_emitted_in_full(monkeypatch):
    # an emitted unit with an op that does not depend on its barrier could start before the
    # machine is idle: the compile starts again with every unit emitted
    arch = load_arch("bpu")
    wl = decode_workload(GPT, 96, 1)
    replayed = simulate(arch, wl)
    monkeypatch.setattr(replay_module, "self_contained", lambda *a: False)
    assert compile_program(arch, arch.precision, wl, replay=True).replays == []
    assert figures(simulate(arch, wl)) == figures(replayed)


def test_self_contained_checks_every_dependency():
    from simulator.kinds.tensorcore.ops import Op
    ops = [Op(0, "compute", 0, ("core0",), 5), Op(1, "barrier", 1, (), 0, deps=[0]),
           Op(2, "route_in", 1, ("port0", "bank1"), 3, deps=[1]),
           Op(3, "compute", 1, ("core0",), 4, deps=[2])]
    assert replay_module.self_contained(ops, 1, 4, 1)
    ops[3].deps = [0, 2]          # reaches back before the barrier
    assert not replay_module.self_contained(ops, 1, 4, 1)
    ops[3].deps = []              # depends on nothing: may start before the barrier
    assert not replay_module.self_contained(ops, 1, 4, 1)


def test_traces_and_explanations_emit_every_op(monkeypatch):
    # a trace lists every op and an explanation the formulas of every layer: no stand-ins;
    # the figures are those of the shortcut run
    import simulator.api as api
    import simulator.kinds.tensorcore.engine as engine
    arch = load_arch("bpu")
    wl = decode_workload(GPT, 96, 1)
    replayed = simulate(arch, wl)
    flags = []
    real = engine.compile_and_schedule

    def recording(*args, replay=False):
        flags.append(replay)
        return real(*args, replay=replay)

    monkeypatch.setattr(engine, "compile_and_schedule", recording)
    traced = simulate(arch, wl, trace=True)
    explained = api.run(arch, wl, explain=True)[0]
    assert simulate(arch, wl) is not None
    assert flags == [False, False, True]
    assert figures(traced) == figures(explained) == figures(replayed)


def test_units_whose_banks_are_renamed_one_to_one_repeat_too(monkeypatch):
    # some units with weights repeat an earlier one whose weight bank differs but whose routes
    # map bank for bank onto theirs (few weight blocks): without the renaming check they are
    # emitted; the figures with it are those of full emission (the cases above)
    arch = load_arch("bpu")
    wl = prefill_workload(GPT, 48, 1)
    with_renames = len(compile_program(arch, arch.precision, wl, replay=True).replays)
    monkeypatch.setattr(replay_module.Replayer, "_renames", lambda self, ref, u: False)
    assert len(compile_program(arch, arch.precision, wl, replay=True).replays) < with_renames


@settings(max_examples=6, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blocks=st.integers(3, 9), width=st.sampled_from([32, 64, 96]),
       group=st.sampled_from([1, 2]), phase=st.sampled_from(["prefill", "decode"]),
       tokens=st.integers(1, 80), batch=st.integers(1, 2),
       sram_kib=st.sampled_from([320, 512, 8192]))
def test_replay_is_exact_on_random_small_llms(blocks, width, group, phase, tokens, batch,
                                              sram_kib, monkeypatch):
    # property: whatever the shapes, residency (a 320 KiB SRAM keeps a few blocks' weights,
    # 8 MiB all) and phase, the shortcut changes no figure
    model = tiny_llm(layers=blocks, d_model=width, heads=4, kv_heads=4 // group, ffn=2 * width,
                     vocab=300)
    wl = (prefill_workload(model, tokens, batch) if phase == "prefill"
          else decode_workload(model, tokens + 1, batch))
    arch = load_arch("bpu", [f"sram.size_bytes={sram_kib * 1024}"])
    replayed = simulate(arch, wl)
    with monkeypatch.context() as m:
        m.setattr(replay_module.Replayer, "reference", lambda self, u, key: None)
        assert figures(replayed) == figures(simulate(arch, wl))
