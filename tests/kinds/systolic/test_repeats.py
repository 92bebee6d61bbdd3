"""Repeated layers simulated once (simulator.kinds.systolic.repeats): every figure, warning
and note of a run is the same as when every layer is costed on its own."""

from __future__ import annotations

import pytest
from helpers.sharing import layer_containers

import simulator.kinds.systolic.model as systolic_model
from simulator.api import run, simulate
from simulator.compress import prune, share_weights
from simulator.io.llm import load_llm
from simulator.io.load import load_arch, load_workload
from simulator.kinds.systolic.repeats import repeat_key
from simulator.llm.build import decode_workload, prefill_workload


def _both(arch, workload, monkeypatch):
    shortcut = simulate(arch, workload)
    with monkeypatch.context() as patch:
        patch.setattr(systolic_model, "repeat_key", lambda *args: None)
        alone = simulate(arch, workload)
    return shortcut, alone


@pytest.mark.parametrize("arch, workload", [
    ("tpu_v1", "resnet50"), ("tpu_v1", "googlenet"), ("edge_32x32", "mobilenet_v2"),
    ("edge_32x32", "squeezenet"), ("tpu_v1", "lstm_lm"),
])
def test_a_run_with_repeats_copied_equals_a_run_without(arch, workload, monkeypatch):
    shortcut, alone = _both(load_arch(arch), load_workload(workload), monkeypatch)
    assert shortcut.model_dump() == alone.model_dump()


@pytest.mark.parametrize("batch", [1, 16])
def test_copied_layers_share_nothing(batch):
    """A run's layers, copies included (whole batch or sub-batches), hold their own dicts and
    lists: changing one layer's figures never changes another's."""
    workload = load_workload("googlenet" if batch > 1 else "resnet50")
    if batch > 1:  # spills at batch 16: the run is a sub-batch's, repeated
        workload = type(workload).model_validate(
            {**workload.model_dump(), "batch": batch}).resolve()
    result, engine_run = run(load_arch("tpu_v1"), workload)
    assert engine_run.copy_of  # some layers are copies
    seen: set[int] = set()
    for layer in result.layers:
        mine = layer_containers(layer)
        assert not mine & seen, layer.name
        seen |= mine
    if batch == 1:  # two identical bottleneck convs (l2b2_c1 is a copy of l2b1_c1)
        first, copy = (next(l for l in result.layers if l.name == name)
                       for name in ("l2b1_c1", "l2b2_c1"))
        assert first.model_dump(exclude={"name"}) == copy.model_dump(exclude={"name"})
        before = copy.model_dump()
        first.stall_breakdown_cycles["x"] = 1
        first.mapping["trips"]["m"] += 1
        first.energy_breakdown_pj["mac"] = 0.0
        assert copy.model_dump() == before


@pytest.mark.parametrize("phase", ["prefill", "decode"])
def test_llm_decoder_blocks(phase, monkeypatch):
    """GPT-2 small's 12 identical decoder blocks (attention with its KV cache in decode)."""
    config = load_llm("gpt2_small")
    workload = (prefill_workload(config, 128) if phase == "prefill"
                else decode_workload(config, 256))
    shortcut, alone = _both(load_arch("tpu_v1"), workload, monkeypatch)
    assert shortcut.model_dump() == alone.model_dump()


def test_warnings_and_notes_name_every_layer_in_order(monkeypatch):
    """ResNet-50 pruned and weight-shared on tpu_v1 (no decoders): the unused-compression
    warnings list the layers in network order; buffers too small for the smallest tile warn
    once per layer (every conv names itself, repeats included)."""
    workload = share_weights(prune(load_workload("resnet50"), 0.3), 16)
    shortcut, alone = _both(load_arch("tpu_v1"), workload, monkeypatch)
    assert shortcut.model_dump() == alone.model_dump()
    assert any("pruned weights" in w for w in shortcut.warnings)

    tiny = load_arch("edge_32x32", ["memory.ifmap_sram_bytes=256",
                                    "memory.filter_sram_bytes=256",
                                    "memory.ofmap_sram_bytes=256"])
    shortcut, alone = _both(tiny, load_workload("resnet50"), monkeypatch)
    assert shortcut.model_dump() == alone.model_dump()
    too_small = [w for w in shortcut.warnings if "does not fit the buffers" in w]
    # each of the 53 convs warns under its own name (the FC's 1 x 2048 tiles fit)
    assert len(too_small) == 53 == len({w.split(":")[0] for w in too_small})


def test_batch_split_into_sub_batches_is_unchanged(monkeypatch):
    """GoogLeNet at batch 16 on tpu_v1 spills activations, so the engine tries sub-batches
    (each a separate simulate_batch over a rebuilt workload)."""
    workload = load_workload("googlenet").model_copy(update={"batch": 16})
    workload = type(workload).model_validate(workload.model_dump()).resolve()
    shortcut, alone = _both(load_arch("tpu_v1"), workload, monkeypatch)
    assert shortcut.model_dump() == alone.model_dump()


def test_what_repeats_in_resnet50():
    """ResNet-50's 72 layers are 36 distinct cases on tpu_v1: the bottleneck blocks of a stage
    after its first are identical (convs, adds), and a layer that names its inputs is told
    apart from one that follows the previous layer."""
    arch, workload = load_arch("tpu_v1"), load_workload("resnet50")
    from simulator.api import effective_precision, energy_table_for
    from simulator.kinds.base import RunOptions

    options = RunOptions(precision=effective_precision(arch, workload),
                         energy=energy_table_for(arch), objective="latency")
    model = systolic_model.SystolicModel(arch, options)
    plans = model.residency(workload)
    keys = {repeat_key(layer, plan, options) for layer, plan in zip(workload.layers, plans)}
    assert len(workload.layers) == 72 and len(keys) == 36
    # a mapping override names a layer: it is costed on its own
    pinned = RunOptions(precision=options.precision, energy=options.energy,
                        objective="latency", mapping={"conv1": {"tile_n": 64}})
    assert repeat_key(workload.layers[0], plans[0], pinned) is None


def test_every_layer_field_is_in_the_key():
    """`repeat_key` reads the fields through `repr`: a field hidden from a model's repr
    (`Field(repr=False)`) would let two different layers share a key."""
    from simulator.core.layer_base import HuffmanCoding
    from simulator.core.layer_union import layer_models

    for model in (*layer_models(), HuffmanCoding):
        hidden = [name for name, field in model.model_fields.items() if not field.repr]
        assert not hidden, f"{model.__name__}: {hidden}"


def test_keys_tell_values_apart_by_type_and_nested_models():
    """Field values enter the key exactly: a float and an equal int differ, a nested model
    (Huffman coding, written by repr) takes part with all its fields."""
    from simulator.core.arch import Precision
    from simulator.core.workload import workload_from_dict
    from simulator.kinds.base import RunOptions

    def fc(**fields):  # every layer reads the same 128 features
        return {"type": "linear", "input": [128], "out_features": 64, **fields}

    workload = workload_from_dict({"name": "w", "layers": [
        {"name": "a", **fc()}, {"name": "b", **fc()}, {"name": "c", **fc(weight_density=0.5)},
        {"name": "d", **fc(huffman={"weight_histogram": [3, 1]})},
        {"name": "e", **fc(huffman={"weight_histogram": [3, 1]})},
        {"name": "f", **fc(huffman={"weight_histogram": [1, 3]})}]})
    options = RunOptions(precision=Precision())
    keys = [repeat_key(layer, None, options) for layer in workload.layers]
    assert keys[0] == keys[1] != keys[2] and keys[3] == keys[4] != keys[5]
    assert isinstance(keys[0][1], bytes) and isinstance(keys[3][1], str)
    layer = workload.layers[0]
    values = layer.__dict__
    values["weight_density"] = 1  # an int where the model holds 1.0: no longer the same key
    try:
        assert repeat_key(layer, None, options) != keys[0]
    finally:
        values["weight_density"] = 1.0
