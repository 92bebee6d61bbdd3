"""`--mapping FILE` and `--map LAYER.KEY=VALUE` on `npusim run` and `explain` (issue 12 item 1:
the chosen mapping is reported per layer and a user can override it from the command line)."""

from __future__ import annotations

import json

import pytest

from simulator.cli.main import main
from simulator.kinds.registry import get_kind

ONE_CONV = "docs/labs/one_conv.yaml"  # GEMM M = 784, K = 576, N = 64 (lab 2)


def _run_json(capsys, *argv: str) -> dict:
    assert main(["run", *argv, "--format", "json"]) == 0
    return json.loads(capsys.readouterr().out)


def _error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_settable_keys_are_the_engines_own():
    from simulator.kinds.systolic.gemm import MAPPING_KEYS
    from simulator.kinds.tensorcore.compiler.mapper import OVERRIDE_KEYS
    assert get_kind("systolic").mapping_keys == MAPPING_KEYS
    assert get_kind("tensorcore").mapping_keys == OVERRIDE_KEYS
    assert get_kind("sparse").mapping_keys == ()


@pytest.mark.parametrize("arch", ["edge_32x32", "bpu"])
def test_a_runs_own_json_fed_back_reproduces_it(capsys, tmp_path, arch):
    first = _run_json(capsys, arch, ONE_CONV)
    saved = tmp_path / "run.json"
    saved.write_text(json.dumps(first))
    again = _run_json(capsys, arch, ONE_CONV, "--mapping", str(saved))
    assert again["totals"]["cycles"] == first["totals"]["cycles"]
    # every choice is pinned now (the mapper ranks only the one candidate left)
    chosen, pinned = first["layers"][0]["mapping"], again["layers"][0]["mapping"]
    keys = get_kind("systolic" if arch == "edge_32x32" else "tensorcore").mapping_keys
    assert {k: pinned.get(k) for k in keys} == {k: chosen.get(k) for k in keys}
    assert pinned["candidates"] == 1 < chosen["candidates"]


def test_map_pins_a_systolic_tile_and_loop_order(capsys):
    # OS on 32 x 32: tile_m must be a multiple of 32 (or all 784 rows); pinning 64 rows gives
    # ceil(784 / 64) = 13 trips over M, whatever the mapper would have chosen
    out = _run_json(capsys, "edge_32x32", ONE_CONV, "--map", "conv.tile_m=64",
                    "--map", "conv.loop_order=nkm")
    mapping = out["layers"][0]["mapping"]
    assert mapping["tile_m"] == 64 and mapping["loop_order"] == "nkm"
    assert mapping["trips"]["m"] == 13


def test_map_wins_over_the_file_and_pins_the_tensor_core_split(capsys, tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("conv: {split: channels}\n")
    out = _run_json(capsys, "bpu", ONE_CONV, "--mapping", str(path), "--map", "conv.split=rows")
    mapping = out["layers"][0]["mapping"]
    assert mapping["split"] == "rows" and mapping["pinned"] == ["split"]


def test_explain_shows_the_pinned_mapping(capsys):
    assert main(["explain", "edge_32x32", ONE_CONV, "--map", "conv.tile_m=64", "--no-what-if",
                 "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert any("Tm=64" in line for line in data["explanation"]["mapping"])


def test_bad_overrides_are_one_line_naming_their_source(capsys, tmp_path):
    err = _error(capsys, "run", "bpu", ONE_CONV, "--map", "convsplit=rows")
    assert "--map" in err and "LAYER.KEY=VALUE" in err
    err = _error(capsys, "run", "bpu", ONE_CONV, "--map", "nolayer.split=rows")
    assert "--map nolayer.split=rows" in err and "nolayer" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("conv: {split: diagonal}\n")
    err = _error(capsys, "run", "bpu", ONE_CONV, "--mapping", str(bad))
    assert str(bad) in err and "mapping.conv.split" in err and "bpu.yaml" not in err
    bad.write_text("conv: 3\n")
    assert "not a mapping" in _error(capsys, "run", "bpu", ONE_CONV, "--mapping", str(bad))
    bad.write_text("[1, 2]\n")
    assert str(bad) in _error(capsys, "run", "edge_32x32", ONE_CONV, "--mapping", str(bad))
    err = _error(capsys, "run", "eie", "eie_benchmarks", "--map", "Alex-6.tile_m=1")
    assert "fixed by the hardware" in err
