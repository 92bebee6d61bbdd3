"""Result models: the figures derived from the layers, the identities the validators enforce,
and the JSON contract (docs/formats.md)."""

import json

import pytest
from helpers.sharing import layer_containers
from pydantic import ValidationError

from simulator.core.results import (
    LAYER_FIELDS,
    LayerResult,
    RunResult,
    copy_layer,
    layer_result,
    renamed_layer,
)
from simulator.report import files


def make_result():
    layers = [
        LayerResult(name="a", type="conv", cycles=100, compute_cycles=80, stall_cycles=20,
                    stall_breakdown_cycles={"dram_bandwidth": 20}, macs=1000, ops=2000,
                    energy_pj=50.0, energy_breakdown_pj={"mac": 30.0, "dram": 20.0},
                    dram_read_bytes=100, dram_write_bytes=10, dram_bytes_by_operand={"filter": 100},
                    sram_read_bytes=500, sram_write_bytes=50, bound="memory", folds=3),
        LayerResult(name="b", type="maxpool", cycles=300, compute_cycles=300, macs=0, ops=400,
                    energy_pj=5.0, energy_breakdown_pj={"vector": 5.0}, dram_read_bytes=0),
    ]
    return RunResult.from_layers(arch={"name": "toy", "kind": "systolic", "clock_mhz": 1000},
                                 workload={"name": "w", "precision": None}, layers=layers,
                                 peak_macs_per_cycle=10, clock_hz=1e9,
                                 roofline={"ridge_ops_per_byte": 4.0})


def test_totals_derived_from_layers():
    r = make_result()
    t = r.totals
    # (sums such as 400 cycles, 2400 ops, 55 pJ are checked by the validators)
    # utilization = 1000 MACs / (400 cycles x 10 MACs/cycle) = 25 %
    assert t.utilization == pytest.approx(0.25)
    # 2400 ops in 400 ns = 6 GOP/s = 0.006 TOPS; 55 pJ in 400 ns = 137.5 uW
    assert t.tops == pytest.approx(0.006)
    # TOPS/W = ops per pJ: 2400 / 55 = 43.6
    assert t.tops_per_watt == pytest.approx(2400 / 55)
    # intensity 2400 / 110 = 21.8 ops/byte > ridge 4 -> compute-bound overall
    assert t.bound == "compute"
    # b takes 300 of 400 cycles and never stalls
    assert t.bottleneck == "b (75% of cycles; all compute, no stalls)"


def test_bottleneck_names_the_stall_cause_that_dominates():
    """The bottleneck line says where the slowest layer's cycles go and which stall cause
    dominates (issue 13: `memory-bound` for a layer stalled on weight loads, not DRAM)."""
    def result(stalls):
        stall = sum(stalls.values())
        layer = LayerResult(name="dw", type="conv", cycles=1000 + stall, compute_cycles=1000,
                            stall_cycles=stall, stall_breakdown_cycles=stalls, macs=10, ops=20,
                            bound="memory")
        return RunResult.from_layers(arch={"name": "toy"}, workload={"name": "w"},
                                     layers=[layer], peak_macs_per_cycle=1, clock_hz=1e9,
                                     roofline={})
    # 370 of 1370 cycles stalled (27 %), 369 of them on weight_load (99.7 % >= 99.5 %: "on")
    assert result({"weight_load": 369, "dram_bandwidth": 1}).totals.bottleneck == \
        "dw (100% of cycles; 73% compute, 27% stalled on weight_load)"
    # 600 stalled: 360 on DRAM (60 %), 240 on weight loads
    assert result({"weight_load": 240, "dram_bandwidth": 360}).totals.bottleneck == \
        "dw (100% of cycles; 62% compute, 38% stalled, mostly on dram_bandwidth (60% of the stalls))"


def test_simulate_labels_depthwise_layers_and_names_their_stall():
    """MobileNetV2 on tpu_v1: the depthwise layers are typed conv/dw; the slowest one, b15_dw
    (960 channels at 7x7), spends 199 k of its 736 k cycles waiting for weight loads and 71 on
    DRAM, which the bottleneck line now says (it used to say `memory-bound`)."""
    from simulator.api import simulate

    r = simulate("tpu_v1", "mobilenet_v2")
    labels = {l.name: l.type_label for l in r.layers}
    assert labels["b1_dw"] == "conv/dw" and labels["b2_expand"] == "conv/pw"
    assert labels["conv1"] == "conv" and labels[r.layers[-1].name] == "linear"
    slowest = max(r.layers, key=lambda l: l.cycles)
    assert slowest.name == "b15_dw"
    assert r.totals.bottleneck.startswith("b15_dw (10% of cycles; 73% compute, 27% stalled "
                                          "on weight_load")


def test_json_contract_keys_and_engine_extras():
    data = json.loads(files.to_json(make_result()))
    for key in ("cycles", "latency_s", "macs", "ops", "energy_pj", "energy_breakdown_pj",
                "dram_read_bytes", "dram_write_bytes", "sram_read_bytes", "sram_write_bytes",
                "utilization", "tops", "tops_per_watt"):
        assert key in data["totals"]
    layer = data["layers"][0]
    for key in ("name", "type", "cycles", "compute_cycles", "stall_cycles", "macs", "energy_pj",
                "energy_breakdown_pj", "dram_read_bytes", "dram_write_bytes", "sram_read_bytes",
                "sram_write_bytes", "utilization", "operational_intensity", "bound"):
        assert key in layer
    assert layer["folds"] == 3  # engine-specific keys sit inline next to the contract keys


def test_csv_one_row_per_layer():
    text = files.to_csv(make_result())
    lines = text.strip().splitlines()
    assert len(lines) == 3
    assert "energy_breakdown_pj.mac" in lines[0]


def test_markdown_escapes_names():
    r = make_result()
    r.layers[0].name = "<script>x</script>"
    assert "<script>" not in files.to_markdown(r)


# ---- identities that hold by construction are validators ---------------------------------------
GOOD = dict(name="a", type="conv", cycles=100, compute_cycles=80, stall_cycles=20,
            stall_breakdown_cycles={"dram_bandwidth": 20}, energy_pj=50.0,
            energy_breakdown_pj={"mac": 30.0, "dram": 20.0})


def test_a_consistent_layer_is_accepted():
    assert LayerResult(**GOOD).cycles == 100
    # energies may differ by float rounding (sums in another order): 1e-9 relative
    assert LayerResult(**{**GOOD, "energy_pj": 50.0 * (1 + 1e-12)})


def test_layer_cycles_must_be_compute_plus_stall():
    with pytest.raises(ValidationError, match=r"cycles 101 != compute_cycles 80 \+ stall_cycles 20"):
        LayerResult(**{**GOOD, "cycles": 101})


def test_layer_stall_breakdown_must_sum_to_stall_cycles():
    with pytest.raises(ValidationError, match="stall_breakdown_cycles sum to 19"):
        LayerResult(**{**GOOD, "stall_breakdown_cycles": {"dram_bandwidth": 19}})


def test_layer_energy_must_be_the_sum_of_its_breakdown():
    with pytest.raises(ValidationError, match="energy_pj 50.1 != the sum"):
        LayerResult(**{**GOOD, "energy_pj": 50.1})


def test_run_totals_must_be_the_sums_over_layers():
    good = make_result()
    data = json.loads(good.model_dump_json())
    assert RunResult.model_validate(data).totals.cycles == 400  # a stored result loads back
    for key, value, message in (("cycles", 401, "totals.cycles 401"),
                                ("energy_pj", 56.0, "totals.energy_pj 56.0"),
                                ("dram_read_bytes", 99, "totals.dram_read_bytes 99"),
                                ("energy_breakdown_pj", {"mac": 30.0, "dram": 20.0},
                                 "totals.energy_breakdown_pj")):
        bad = {**data, "totals": {**data["totals"], key: value}}
        with pytest.raises(ValidationError, match=message):
            RunResult.model_validate(bad)


def test_overlapping_layers_report_the_span_and_the_overlap():
    # layers a (100 cycles) and b (300) that ran at the same time for 50 cycles: the run's span
    # is 350, the overlap 50; utilization and latency follow the span
    base = make_result()
    r = RunResult.from_layers(arch=base.arch, workload=base.workload, layers=base.layers,
                              peak_macs_per_cycle=10, clock_hz=1e9, roofline=base.roofline,
                              span_cycles=350)
    assert r.totals.cycles == 350 and r.totals.overlap_cycles == 50
    assert r.totals.latency_s == pytest.approx(350e-9)
    assert r.totals.utilization == pytest.approx(1000 / (350 * 10))
    # the identity is checked when a result is loaded back
    data = json.loads(r.model_dump_json())
    data["totals"]["overlap_cycles"] = 40
    with pytest.raises(ValidationError, match="overlap_cycles"):
        RunResult.model_validate(data)
    with pytest.raises(ValueError, match="span"):
        RunResult.from_layers(arch=base.arch, workload=base.workload, layers=base.layers,
                              peak_macs_per_cycle=10, clock_hz=1e9, roofline=base.roofline,
                              span_cycles=500)


# ---- fast construction and copies (core/results.layer_result, copy_layer) ----------------------
def _state(layer):
    return (type(layer), layer.__dict__, list(layer.__dict__), layer.__pydantic_extra__,
            layer.__pydantic_fields_set__, layer.__pydantic_private__)


def _values(**changes):
    values = {name: field.get_default(call_default_factory=True)
              for name, field in LayerResult.model_fields.items() if not field.is_required()}
    values.update(name="a", type="conv", cycles=100, compute_cycles=80, stall_cycles=20,
                  stall_breakdown_cycles={"dram_bandwidth": 20}, energy_pj=50.0,
                  energy_breakdown_pj={"mac": 30.0, "dram": 20.0})
    values.update(changes)
    return {name: values[name] for name in LAYER_FIELDS}


def test_layer_result_is_what_model_construct_builds():
    extra = {"folds": 3, "mapping": {"tile_m": 8, "trips": {"m": 1}}}
    fast = layer_result(_values(), dict(extra))
    slow = LayerResult.model_construct(**_values(), **extra)
    assert _state(fast) == _state(slow)
    assert fast == slow and fast.model_dump() == slow.model_dump()
    assert fast.model_dump_json() == slow.model_dump_json()
    assert fast.model_extra == extra and fast.engine_fields() == extra
    assert LayerResult.__pydantic_post_init__ is None  # nothing model_construct would run
    assert not LayerResult.__private_attributes__      # so no private state to copy
    assert layer_result(_values(), {}).model_extra == {}


def test_layer_result_checks_the_identities_and_the_fields():
    with pytest.raises(ValueError, match="cycles 101 != compute_cycles"):
        layer_result(_values(cycles=101), {})
    values = _values()
    del values["type_label"]
    with pytest.raises(ValueError, match="needs the fields"):
        layer_result(values, {})
    with pytest.raises(ValueError, match="needs the fields"):
        layer_result({"type": "conv", **_values()}, {})  # out of order


@pytest.mark.parametrize("update", [None, {}, {"name": "b", "energy_pj": 1.0},
                                    {"name": "b", "mapping": {"tile_m": 4}, "new_extra": 1}])
def test_copy_layer_is_model_copy(update):
    for layer in (layer_result(_values(), {"folds": 3, "mapping": {"tile_m": 8}}),
                  LayerResult(**GOOD), LayerResult(**GOOD, folds=2)):
        fast, slow = copy_layer(layer, update), layer.model_copy(update=update)
        assert _state(fast) == _state(slow)
        assert fast.model_dump_json() == slow.model_dump_json()
        # a copy owns its field dict and extras: setting one never reaches the original
        fast.cycles = 7
        fast.__pydantic_extra__["x"] = 1
        assert layer.cycles == 100 and "x" not in (layer.__pydantic_extra__ or {})


def test_renamed_layer_is_a_deep_model_copy():
    """renamed_layer = model_copy(update={name, a deep copy of every dict and list}): the
    same state, and nothing shared with the original at any depth."""
    import copy

    extra = {"folds": 3, "mapping": {"tile_m": 8, "trips": {"m": 1}, "order": ["m", "k"]}}
    for layer in (layer_result(_values(), dict(extra)), LayerResult(**GOOD),
                  LayerResult(**GOOD, **copy.deepcopy(extra))):
        fast = renamed_layer(layer, "b")
        update = {"name": "b", **{key: copy.deepcopy(value) for key, value in
                                  {**layer.__dict__, **(layer.model_extra or {})}.items()
                                  if isinstance(value, (dict, list))}}
        slow = layer.model_copy(update=update)
        assert _state(fast) == _state(slow)
        assert fast.model_dump_json() == slow.model_dump_json()
        mine = layer_containers(fast)
        assert mine and not mine & layer_containers(layer)
        fast.stall_breakdown_cycles["x"] = 1
        if "mapping" in (fast.model_extra or {}):
            fast.mapping["trips"]["m"] = 9
            assert layer.mapping["trips"]["m"] == 1
        assert "x" not in layer.stall_breakdown_cycles


def test_only_from_layers_skips_summing_the_totals_again():
    """from_layers validates its result without summing the layers a second time (its totals
    are those sums); anything else, with or without a validation context, is checked."""
    good = make_result()
    assert RunResult.model_validate(good.model_dump()) == good
    data = json.loads(good.model_dump_json())
    bad = {**data, "totals": {**data["totals"], "macs": 999}}
    for context in (None, {}, {"summed": True}):
        with pytest.raises(ValidationError, match="totals.macs 999"):
            RunResult.model_validate(bad, context=context)
