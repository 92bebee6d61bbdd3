"""The `Layer` union's table of where each layer type lives, and its lazy import of families."""

from __future__ import annotations

import subprocess
import sys

import pytest

from simulator.core.errors import NpusimError
from simulator.core.layer_base import LayerBase
from simulator.core.layer_union import (
    LAYER_TYPES,
    layer_model,
    layer_models,
    model_tags,
)
from simulator.core.workload import workload_from_dict


def test_every_layer_model_in_the_table_accepts_exactly_its_tags():
    """LAYER_HOMES is written out (so that a run need not import every family to know the
    types); it must say what the models say: each tag maps to the model whose `type` literal
    holds it, and every tag of every model is in the table."""
    for tag in LAYER_TYPES:
        assert tag in model_tags(layer_model(tag)), tag
    tags_of_models = [tag for model in layer_models() for tag in model_tags(model)]
    assert sorted(tags_of_models) == sorted(LAYER_TYPES)
    assert len(layer_models()) == 20  # 24 type tags; pool, global pool, adaptive pool, eltwise take two
    assert all(issubclass(model, LayerBase) for model in layer_models())


def test_a_cnn_run_imports_no_layout_or_vector_layer_family():
    """ResNet-50 uses conv, pooling, add and linear layers only: loading and simulating it must
    not import (and so create the model classes of) the other families."""
    code = ("import sys\n"
            "from simulator.api import simulate\n"
            "simulate('tpu_v1', 'resnet50')\n"
            "print(sorted(m for m in ('simulator.core.layout_layers', "
            "'simulator.core.vector_layers') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "[]"


def test_a_family_is_imported_when_a_workload_names_one_of_its_types():
    workload = workload_from_dict({"name": "t", "input": [4, 8], "layers": [
        {"name": "n", "type": "norm", "kind": "layernorm", "axis": -1},
        {"name": "r", "type": "reshape", "shape": [32]}]})
    assert [type(layer).__name__ for layer in workload.layers] == ["NormLayer", "ReshapeLayer"]


def test_an_unknown_type_lists_every_type_in_order():
    with pytest.raises(NpusimError) as caught:
        workload_from_dict({"name": "t", "input": [4], "layers": [{"name": "x", "type": "nope"}]})
    assert ", ".join(f"'{tag}'" for tag in LAYER_TYPES) in str(caught.value)
