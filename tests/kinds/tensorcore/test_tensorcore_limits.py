"""Bounds of the tensor-core arch fields (docs/formats.md, section 6) and the falsifying
examples of the thorough fuzz profile (tests/fuzz) that led to them, as regular tests."""

from __future__ import annotations

import pytest

from simulator.api import simulate
from simulator.cli.main import main
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch

# the fuzzer's workload: a relu over a 1 x 4 x 4 int8 input (16 B), run on bpu's cores
RELU = {"name": "fuzz_cnn", "input": [1, 4, 4], "batch": 1,
        "layers": [{"name": "l0", "type": "activation", "function": "relu"}]}


@pytest.mark.parametrize("field", ["bridge.bytes_per_cycle_per_port",
                                   "sram.bytes_per_cycle_per_bank",
                                   "vector_unit.ops_per_cycle"])
@pytest.mark.parametrize("value", ["1e-300", "0", "9e-7"])
def test_a_rate_below_one_millionth_per_cycle_is_one_line(tmp_path, capsys, field, value):
    # fuzz finding: --set bridge.bytes_per_cycle_per_port=1e-300 made a transfer's cycles
    # infinite (OverflowError, exit 1); rates are now >= 1e-6 per cycle, as mac_rates and
    # the DRAM bandwidth are
    import yaml
    path = tmp_path / "w.yaml"
    path.write_text(yaml.safe_dump(RELU))
    assert main(["run", "bpu", str(path), "--set", f"{field}={value}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and field in err[0] and "greater than or equal to 0.000001" in err[0]


def test_the_slowest_bridge_accepted_is_simulated_and_finite():
    # at 1e-6 B/cycle per port the 16 B go DRAM -> SRAM through the DMA port (16 B / 1e-6 =
    # 16,000,000 cycles), SRAM -> cores -> SRAM (8 B in + 8 B out per core on its own port:
    # 16,000,000) and SRAM -> DRAM through the DMA port again (16,000,000): 48,000,000 cycles
    # in series, plus the DRAM latency (2 x 100 ns x 1.2 GHz) and the bridge hops
    arch = load_arch("bpu", ["bridge.bytes_per_cycle_per_port=1e-6"])
    (layer,) = simulate(arch, workload_from_dict(RELU)).layers
    assert 48_000_000 <= layer.cycles <= 48_000_000 + 2 * 120 + 100
    assert layer.busy_cycles["port2"] == 32_000_000
    assert layer.macs == 0 and layer.utilization == 0  # a relu: no MACs


def test_a_run_too_large_to_emit_is_refused_before_any_work(tmp_path, capsys):
    # fuzz finding (test_onnx_graphs on bpu, thorough): an input with a 2^40-row dimension
    # ran the compiler out of memory (MemoryError, exit 1). A relu over 3 x 2^40 x 8 int8
    # elements reads and writes 3 x 2^43 B each; no buffer of bpu holds more than 128 KiB
    # (2^17 B), so it needs at least 2 x 3 x 2^26 = 402,653,184 instructions, over the limit
    import yaml
    path = tmp_path / "huge.yaml"
    path.write_text(yaml.safe_dump({"name": "huge", "input": [3, 2**40, 8], "layers": [
        {"name": "r", "type": "activation", "function": "relu"}]}))
    assert main(["run", "bpu", str(path)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "402,653,184 tiles of its operands, at most 131,072 B each" in line
    assert "layers[0] (r)" in line
    # huge weights and a one-byte output: a linear layer of 2^40 x 1 int8 weights and its
    # 2^40 B input: 2 x 2^23 = 16,777,216 tiles
    path.write_text(yaml.safe_dump({"name": "wide", "input": [2**40], "layers": [
        {"name": "fc", "type": "linear", "out_features": 1}]}))
    assert main(["run", "bpu", str(path)]) == 2
    assert "16,777,217 tiles of its operands" in capsys.readouterr().err  # + the output byte
    # the systolic engine is analytic: the relu runs there
    path.write_text(yaml.safe_dump({"name": "huge", "input": [3, 2**40, 8], "layers": [
        {"name": "r", "type": "activation", "function": "relu"}]}))
    assert main(["run", "tpu_v1", str(path), "--format", "json"]) == 0


def test_the_instruction_limit_leaves_room_for_a_7b_prefill_at_4096_tokens():
    # Llama-2-7B-like prefill, P = 4096, batch 1: about 1,050,000 operand tiles on bpu (the
    # bound the limit is checked against), so it is simulated, not refused
    from simulator.io.llm import load_llm
    from simulator.kinds.tensorcore.compiler.budget import MAX_TILES, check_instruction_budget
    from simulator.kinds.tensorcore.compression import layer_precision
    from simulator.llm.build import prefill_workload
    arch = load_arch("bpu")
    workload = prefill_workload(load_llm("llama2_7b"), 4096, 1)
    check_instruction_budget(arch, arch.precision, workload)
    tiles = sum(-(-sum(layer.operand_bytes(layer_precision(layer, arch.precision)).values())
                  // 131072) for layer in workload.layers)
    assert 1_000_000 < tiles < MAX_TILES / 3
