"""`npusim explain` on the sparse engine: the recorded formulas are the engine's arithmetic.

For every layer, each formula's value is its expression evaluated over its own terms (the
contract of simulator.core.explain), and each formula whose quantity names a LayerResult field
(contract or engine field) equals that field."""

from __future__ import annotations

import pytest

from simulator import api
from simulator.core.explain import evaluate
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch
from simulator.kinds.registry import get_kind


def _check(result, engine_run) -> int:
    """Assert the contract for every explained layer; return the formulas checked against a
    result field."""
    checked = 0
    for layer in result.layers:
        if layer.engine_fields().get("executed_on"):
            continue
        explanation = engine_run.explanations[layer.name]
        assert explanation.mapping and explanation.formulas
        fields = {**layer.model_dump(), **layer.engine_fields()}
        for f in explanation.formulas:
            assert f.value == pytest.approx(evaluate(f.expression, f.terms), rel=1e-12)
            if f.quantity in fields:
                assert f.value == pytest.approx(fields[f.quantity], rel=1e-12, abs=1e-12), \
                    (layer.name, f.quantity, f.expression)
                checked += 1
        names = {f.quantity for f in explanation.formulas}
        # the figures behind cycles and traffic are all explained
        assert {"cycles", "compute_cycles", "stall_cycles", "theoretical_cycles",
                "padding_overhead", "load_balance_efficiency", "sram_read_bytes",
                "macs", "utilization"} <= names
    return checked


def test_every_eie_benchmark_layer_is_explained_by_its_own_numbers():
    result, engine_run = api.run("eie", "eie_benchmarks", explain=True)
    assert _check(result, engine_run) >= 9 * 15
    # without explain nothing is recorded, and the figures are the same
    plain, plain_run = api.run("eie", "eie_benchmarks")
    assert not plain_run.explanations
    assert [l.cycles for l in plain.layers] == [l.cycles for l in result.layers]


def test_vgg6_mapping_names_the_pointer_placement():
    _, engine_run = api.run("eie", "eie_benchmarks", explain=True)
    text = "\n".join(engine_run.explanations["VGG-6"].mapping)
    # 25,089 pointers per PE, 16,384 in the pointer SRAM, 8,705 in free Spmat words
    assert "25,089 per PE" in text and "16,384" in text and "8,705 in free Spmat words" in text


COMPRESSED = {
    "name": "compressed_fc", "batch": 12,
    "layers": [
        # Deep Compression AlexNet FC6 style: 9 % weights, 16 shared 16-bit values, 4-bit
        # weights, 8-bit activations, Huffman-coded (a warning, not a change)
        {"name": "fc6", "type": "linear", "input": [2048], "out_features": 1024,
         "weight_density": 0.09, "activation_density": 0.35, "codebook_entries": 16,
         "codebook_bits": 16, "activation_bits": 8, "sparse_index_bits": 5,
         "huffman": {}},
        # dense and too big for the Spmat SRAMs: streams from DRAM (batch 12 > 8 simulated)
        {"name": "fc7", "type": "linear", "out_features": 12288, "weight_bits": 4},
    ]}


def test_a_compressed_batched_workload_is_explained_too():
    wl = workload_from_dict(COMPRESSED)
    result, engine_run = api.run("eie", wl, explain=True)
    assert _check(result, engine_run) >= 2 * 15
    fc7 = result.layers[1]
    assert fc7.dram_read_bytes > 0 and fc7.stall_breakdown_cycles.get("dram_bandwidth", 0) > 0
    names = {f.quantity: f for f in engine_run.explanations["fc7"].formulas}
    # 12 products, 8 simulated: counts are the simulated sums scaled by 12 / 8
    assert names["macs"].terms["products"] == 12 and names["macs"].terms["simulated"] == 8
    assert "dram_stall_cycles" in names


def test_what_ifs_are_valid_overrides_within_range():
    kind = get_kind("sparse")
    arch = load_arch("eie")
    changes = dict(kind.what_ifs(arch))
    assert changes["twice the PEs (128)"] == ["pes=128"]
    for sets in changes.values():
        load_arch("eie", sets)            # every suggestion is a valid arch
    # at the limits, suggestions that would be invalid are left out
    edge = load_arch("eie", ["pes=256", "index_bits=8"])
    assert not any("PEs" in c or "relative index" in c for c, _ in kind.what_ifs(edge))


def test_explain_reports_resimulated_what_ifs_for_a_sparse_layer():
    bench = api.load_workload("eie_benchmarks")
    data = bench.model_dump(exclude_none=True)
    data["layers"] = [l for l in data["layers"] if l["name"] == "Alex-8"]
    e = api.explain("eie", workload_from_dict(data), layer="Alex-8")
    by_change = {w.change: w for w in e.what_ifs}
    more_pes = by_change["twice the PEs (128)"]
    # EIE Sec. VI: more PEs speed Alex-8 up, sub-linearly (ours 1.80x for 64 -> 128 PEs)
    assert -0.5 < more_pes.layer_change < -0.35
    deeper = by_change["activation queues twice as deep (16)"]
    assert -0.05 < deeper.layer_change <= 0


def test_a_mapping_override_is_refused_in_one_line():
    from simulator.core.errors import NpusimError
    with pytest.raises(NpusimError) as err:
        api.simulate("eie", "eie_benchmarks", mapping={"Alex-6": {"rows_per_pe": 32}})
    assert "fixed by the hardware" in str(err.value) and "mapping.Alex-6" in str(err.value)
