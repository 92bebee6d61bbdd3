"""The compression study (issue 16 item 4): the machinery (variants per chip, the part of a
network a chip runs, refusals, de-duplication) and the lesson it must show on bundled chips,
from the engines' physics, no tuned constant:
- a dense systolic chip (tpu_v1) gains nothing from unstructured pruning; 4-bit weights help
  the layers bound by weight bytes and nothing else;
- EIE turns pruning (and its built-in sharing) into large speed-ups of the FC layers;
- Winograd helps a compute-bound 3x3 conv only where its transforms are cheap (hard-wired
  against a 32-lane vector unit), and not on an array too big for its element-wise GEMMs.
The bpu (tensorcore) rows are left out here: that engine's compression handling is in
progress elsewhere."""

from __future__ import annotations

import pytest

from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.dse import compress_study as cs

CHIPS = ["tpu_v1", "eie"]


@pytest.fixture(scope="module")
def rows() -> dict[tuple[str, str, str], cs.StudyRow]:
    """The default settings on AlexNet and ResNet-50, on tpu_v1 and EIE."""
    found = cs.study(["alexnet", "resnet50"], CHIPS)
    return {(r.workload, r.setting, r.chip): r for r in found}


def test_every_default_setting_runs_on_both_networks_and_chips(rows):
    assert len(rows) == 2 * len(cs.DEFAULT_SETTINGS) * len(CHIPS)
    assert all(r.status == "ok" for r in rows.values())
    for (net, setting, chip), row in rows.items():
        if setting == "none":  # the baseline is itself, exactly
            assert row.speedup == 1.0 and row.energy_saving == 1.0 and row.size_ratio == 1.0


def test_eie_runs_the_fc_part_and_says_so(rows):
    alex = rows[("alexnet", "none", "eie")]
    # AlexNet's FC6-8: 9216x4096 + 4096x4096 + 4096x1000 MACs of its 714 M (8.2 %)
    assert alex.part == "FC and LSTM layers only"
    assert alex.scope == "FC and LSTM layers only: 3 of 12 layers, 8.2 % of the MACs"
    assert alex.macs == 9216 * 4096 + 4096 * 4096 + 4096 * 1000
    assert rows[("resnet50", "none", "eie")].macs == 2048 * 1000
    assert rows[("alexnet", "none", "tpu_v1")].part == ""
    # Winograd changes no FC layer: the same run, said so, run once
    wino = rows[("alexnet", "Winograd F2", "eie")]
    assert wino.note == "changes no layer this chip runs" and wino.speedup == 1.0


def test_dense_systolic_pruning_gives_nothing_and_says_why(rows):
    for net in ("alexnet", "resnet50"):
        for setting in ("prune 90%", "Deep Compression", "share 16 + Huffman"):
            row = rows[(net, setting, "tpu_v1")]
            # the array multiplies the zeros and, without decoders, weights move dense
            assert row.speedup == 1.0 and row.dram_ratio == 1.0
            assert row.energy_saving == pytest.approx(1.0)
            assert row.size_ratio > 2.5  # while the stored model did shrink
        pruned = rows[(net, "prune 90%", "tpu_v1")]
        assert any("multiplies the zeros" in w for w in pruned.warnings)


def test_systolic_int4_weights_help_by_the_weight_bytes(rows):
    """AlexNet at batch 1 on tpu_v1 is bound by DRAM: its latency is its DRAM bytes / 34 GB/s
    (the floor) plus at most 3 %, before (61.2 MB) and after 4-bit weights (30.7 MB): about
    2x faster."""
    for setting in ("none", "int4 weights"):
        row = rows[("alexnet", setting, "tpu_v1")]
        floor = row.dram_bytes / 34e9
        assert floor <= row.latency_s <= 1.03 * floor
    int4 = rows[("alexnet", "int4 weights", "tpu_v1")]
    assert int4.speedup == pytest.approx(1 / int4.dram_ratio, rel=0.03) and int4.speedup > 1.9
    assert int4.layers_slower == 0
    resnet = rows[("resnet50", "int4 weights", "tpu_v1")]
    assert resnet.speedup > 1.3 and resnet.layers_slower == 0


def test_systolic_int4_weights_leave_the_arithmetic_alone():
    """On tpu_v1 narrower operands gain no MAC rate (mac_rate_scales_with_precision only slows
    wider ones): every layer's compute cycles stay the same; only weight stalls shrink."""
    from simulator import api
    from simulator.compress.apply import compress_for_run
    from simulator.io.load import load_arch, load_workload

    arch, net = load_arch("tpu_v1"), load_workload("resnet50")
    base = api.simulate(arch, net)
    int4 = {l.name: l for l in api.simulate(arch, compress_for_run(net, "wbits=4",
                                                                   arch.precision)).layers}
    for layer in base.layers:
        assert int4[layer.name].compute_cycles == layer.compute_cycles
        assert layer.compute_cycles <= int4[layer.name].cycles <= layer.cycles
        # a layer bound by its weight bytes gets the gain
        weights = layer.dram_bytes_by_operand.get("filter", 0)
        if layer.bound == "memory" and weights > 0.5 * layer.dram_bytes and \
                layer.stall_cycles > layer.compute_cycles:
            assert layer.cycles / int4[layer.name].cycles > 1.3


def test_eie_pruning_gives_large_fc_speed_ups(rows):
    alex = rows[("alexnet", "prune 90%", "eie")]
    # dense FC6/FC7 do not fit EIE's SRAM and stream 37.7 MB per input vector; at 10 %
    # they fit, and the time is the entries: at least 5.86 M non-zeros / (64 PEs x 800 MHz)
    assert rows[("alexnet", "none", "eie")].dram_bytes > 37e6 and alex.dram_bytes == 0
    assert alex.latency_s >= 0.1 * 58_621_952 / (64 * 800e6)
    assert alex.speedup > 15 and alex.energy_saving > 30
    assert rows[("resnet50", "prune 90%", "eie")].speedup > 5
    # Deep Compression's extra stages add nothing on EIE: it always stores 16 shared values,
    # and Huffman coding is only warned about
    dc = rows[("alexnet", "Deep Compression", "eie")]
    assert dc.latency_s == alex.latency_s
    assert any("Huffman" in w for w in dc.warnings)
    # so sharing alone is no gain over EIE's own (already shared) baseline
    assert rows[("alexnet", "share 16 + Huffman", "eie")].speedup == 1.0


#: ResNet-50's l1 3x3 conv alone (64 -> 64 over 56 x 56): compute-bound on edge_32x32.
CONV3 = {"name": "conv3x3", "input": [64, 56, 56], "layers": [
    {"name": "c", "type": "conv", "out_channels": 64, "kernel": 3, "padding": 1}]}
HARD_WIRED = "@datapath.winograd=[f2,f4]"


@pytest.fixture(scope="module")
def winograd_rows() -> dict[tuple[str, str], cs.StudyRow]:
    found = cs.study([workload_from_dict(CONV3)],
                     ["edge_32x32", "edge_32x32" + HARD_WIRED, "tpu_v1", "tpu_v1" + HARD_WIRED],
                     [cs.Setting("F2", "winograd=f2"), cs.Setting("F4", "winograd=f4")])
    return {(r.setting, r.chip): r for r in found}


def test_winograd_pays_only_with_cheap_transforms(winograd_rows):
    """F(2x2,3x3) over 28 x 28 tiles: the input transform is 32 additions per tile and input
    channel, the output transform 24 per tile and output channel (docs/compression.md
    section 6): (32 + 24) x 784 x 64 = 2,809,856 operations, 87,808 cycles on edge_32x32's
    32-lane vector unit, which outweigh the 2.25x fewer MACs; hard-wired, they cost no cycles
    and the layer gets faster (more so with F4)."""
    from simulator import api
    from simulator.compress import winograd
    from simulator.io.load import load_arch

    vector = api.simulate(load_arch("edge_32x32"),
                          winograd(workload_from_dict(CONV3), "f2")).layers[0]
    assert vector.stall_breakdown_cycles["vector_unit"] == (32 + 24) * 784 * 64 // 32
    assert winograd_rows[("none", "edge_32x32")].latency_s == pytest.approx(
        api.simulate("edge_32x32", workload_from_dict(CONV3)).totals.latency_s)
    for setting in ("F2", "F4"):
        assert winograd_rows[(setting, "edge_32x32")].speedup < 1
        assert winograd_rows[(setting, "edge_32x32" + HARD_WIRED)].speedup > 1.2
    assert winograd_rows[("F4", "edge_32x32" + HARD_WIRED)].speedup > 1.8


def test_winograd_does_not_fit_a_big_array_at_batch_1(winograd_rows):
    """A real effect, not a transform cost: on tpu_v1's 256 x 256 weight-stationary array the
    direct conv (K = 9 x 64 = 576) streams its 3,136 output rows through 3 row folds (9,408
    cycles), while F2's 16 element-wise GEMMs have K = 64 (a quarter of the rows) and stream
    their 784 tiles 16 times (12,544 cycles) plus 16 fills: slower even with free
    transforms."""
    from simulator import api
    from simulator.compress import winograd
    from simulator.io.load import load_arch

    arch = load_arch("tpu_v1", [HARD_WIRED[1:]])
    direct = api.simulate(arch, workload_from_dict(CONV3)).layers[0]
    wino = api.simulate(arch, winograd(workload_from_dict(CONV3), "f2")).layers[0]
    assert direct.compute_cycles >= 3 * 3136 and wino.compute_cycles >= 16 * 784
    assert wino.compute_cycles > direct.compute_cycles
    for chip in ("tpu_v1", "tpu_v1" + HARD_WIRED):
        assert winograd_rows[("F2", chip)].speedup < 1


# ---- machinery -------------------------------------------------------------------------------
def test_a_refused_setting_is_a_row_not_a_failed_study():
    fc = workload_from_dict({"name": "fc", "input": [256], "layers": [
        {"name": "fc1", "type": "linear", "out_features": 256}]})
    found = {(r.setting, r.chip): r for r in cs.study(
        [fc], ["eie", "tpu_v1"], [cs.Setting("share 32", "share=32")])}
    # EIE's 4-bit codebook indices hold 16 values: 32 is refused by its engine, with the fix
    eie = found[("share 32", "eie")]
    assert eie.status == "refused" and "codebook_entries" in eie.note
    assert eie.speedup is None and eie.latency_s is None
    assert found[("share 32", "tpu_v1")].status == "ok"
    # the baseline was added (settings without `none`) and comes first
    assert [r.setting for r in cs.study([fc], ["tpu_v1"], [cs.Setting("q", "wbits=4")])] == [
        "none", "q"]


def test_a_setting_that_does_not_fit_the_network_is_refused_with_the_reason():
    fc = workload_from_dict({"name": "fc", "input": [256], "layers": [
        {"name": "fc1", "type": "linear", "out_features": 256}]})
    found = cs.study([fc], ["tpu_v1"], [cs.parse_setting("bad:fc1.winograd=f2")])
    assert found[1].status == "refused" and "Winograd" in found[1].note


def test_a_network_a_chip_cannot_run_at_all_is_refused_on_that_chip():
    found = {r.chip: r for r in cs.study([workload_from_dict(CONV3)], ["eie", "tpu_v1"],
                                         [cs.Setting("none", None)])}
    assert found["eie"].status == "refused" and "FC and LSTM layers only" in found["eie"].note
    assert found["tpu_v1"].status == "ok"


def test_identical_variants_run_once():
    plan = cs.plan(["alexnet"], ["eie"], list(cs.DEFAULT_SETTINGS))
    # Winograd F2 and F4 change no FC layer: 8 settings, 6 distinct runs
    assert len(plan.sweeps["eie"].workloads) == 6


def test_parsing_chips_and_settings():
    chip = cs.parse_chip("edge_32x32@datapath.winograd=[f2,f4]@array.rows=64")
    assert chip.name == "edge_32x32"
    assert chip.overrides == ("datapath.winograd=[f2,f4]", "array.rows=64")
    assert chip.label == "edge_32x32@datapath.winograd=[f2,f4]@array.rows=64"
    named = cs.parse_chip("edge_wino:edge_32x32@datapath.winograd=[f2]")
    assert (named.label, named.name, named.overrides) == (
        "edge_wino", "edge_32x32", ("datapath.winograd=[f2]",))
    assert cs.parse_chip("C:/chips/x.yaml").name == "C:/chips/x.yaml"
    assert cs.parse_setting("none") == cs.Setting("none", None)
    assert cs.parse_setting("int4:wbits=4") == cs.Setting("int4", "wbits=4")
    assert cs.parse_setting("prune=0.9,share=16") == cs.Setting("prune=0.9,share=16",
                                                               "prune=0.9,share=16")
    for bad in ("@x=1", "tpu_v1@rows"):
        with pytest.raises(NpusimError, match="cannot read chip"):
            cs.parse_chip(bad)
    with pytest.raises(NpusimError, match="same label"):
        cs.plan(["alexnet"], ["tpu_v1"], [cs.Setting("a", "wbits=4"), cs.Setting("a", "wbits=2")])
    with pytest.raises(NpusimError, match="listed twice"):
        cs.plan(["alexnet"], ["tpu_v1", "tpu_v1"])
