"""Real PyTorch exports (tests/data/onnx, written by tools/export_onnx_models.py with torch,
which CI never installs): every file imports with exactly torch's MACs and parameters
(reference.json: FlopCounterMode FLOPs / 2 and sum(p.numel())), runs on three engines, and its
transformer idioms become the layers docs/onnx.md promises. Hand derivations in comments."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from simulator import api
from simulator.core.workload import workload_from_dict
from simulator.io.onnx.reader import import_onnx

DATA = Path(__file__).resolve().parent.parent / "data" / "onnx"
REFERENCE = json.loads((DATA / "reference.json").read_text())
MODELS = sorted(REFERENCE["models"])
TRANSFORMERS = ["vit_b_16", "swin_t", "bert_base_like", "gpt2_small", "llama_like"]


@pytest.fixture(scope="session")
def imported():
    """Each committed export imported once per session: name -> (ImportReport, Workload)."""
    cache: dict = {}

    def get(name: str):
        if name not in cache:
            report = import_onnx(DATA / f"{name}.onnx")
            cache[name] = (report, workload_from_dict(report.workload, DATA / f"{name}.onnx"))
        return cache[name]
    return get


def by_type(workload, kind: str) -> list:
    return [layer for layer in workload.layers if layer.type == kind]


# ------------------------------------------------------------------------------------------
# the data itself
# ------------------------------------------------------------------------------------------
def test_every_listed_export_is_committed_shape_only_and_small():
    assert set(TRANSFORMERS) <= set(MODELS)
    assert {"shufflenet_v2_x1_0", "convnext_tiny", "resnet18", "lstm_lm"} <= set(MODELS)
    for name in MODELS:
        path = DATA / REFERENCE["models"][name]["file"]
        assert path.stat().st_size < 2_000_000, name
        assert not path.with_suffix(".weights").exists()  # weights dropped


# ------------------------------------------------------------------------------------------
# MACs and parameters: exactly torch's
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODELS)
def test_macs_and_params_equal_torch(imported, name):
    report, workload = imported(name)
    ref = REFERENCE["models"][name]
    assert workload.macs == ref["macs"]
    assert workload.params == ref["params"]
    assert workload.batch == 1
    assert not report.skipped


def test_gpt2_counts_by_hand(imported):
    _, w = imported("gpt2_small")
    # T = 256, d = 768, 12 layers, vocab 50257. Per layer: c_attn T*d*3d = 452,984,832;
    # QK^T and AV 2*T*T*d = 100,663,296; c_proj T*d*d = 150,994,944; MLP 2*T*d*4d =
    # 1,207,959,552 -> 1,912,602,624; x 12 = 22,951,231,488; lm_head on the last token only
    # (nanoGPT's inference path) 768 * 50257 = 38,597,376 -> 22,989,828,864
    assert w.macs == 22_989_828_864 == REFERENCE["models"]["gpt2_small"]["macs"]
    # params: wte 50257*768 = 38,597,376 (tied with lm_head: once), wpe 1024*768 = 786,432,
    # per layer 2 LayerNorms 3,072 + c_attn 1,771,776 + c_proj 590,592 + c_fc 2,362,368 +
    # mlp.c_proj 2,360,064 = 7,087,872, x 12 = 85,054,464; ln_f 1,536 -> 124,439,808
    assert w.params == 124_439_808
    (wte,) = by_type(w, "embedding")
    head = w.layers[-1]
    assert (wte.vocab, wte.dim, wte.params) == (50257, 768, 38_597_376)
    assert head.type == "linear" and head.shared_weights and head.params == 0
    assert head.token_count == 1 and head.weight_params == 768 * 50257
    # wpe is gathered at positions 0..255: a stored (256, 768) operand of the add, with all
    # 1024 x 768 learned rows counted
    pos = next(l for l in by_type(w, "add") if l.constant == [256, 768])
    assert pos.params == 786_432 and pos.weight_params == 256 * 768
    # the causal masked_fill: 12 where layers over the (12, 256, 256) scores, mask a buffer
    wheres = by_type(w, "where")
    assert len(wheres) == 12 and all(l.params == 0 and l.output_shape == (12, 256, 256)
                                     for l in wheres)
    # tanh-form GELU recognised and fused into c_fc, like the erf form
    fcs = [l for l in w.layers if l.name.endswith("c_fc")]
    assert len(fcs) == 12 and all(l.activation == "gelu" for l in fcs)
    assert not any(l.type == "activation" and l.function == "tanh" for l in w.layers)


def test_llama_counts_by_hand(imported):
    _, w = imported("llama_like")
    # T = 128, d = 2048, 32 heads of 64, 4 KV heads, SwiGLU 5632, vocab 32000, 4 layers.
    # Per layer: wq, wo 2*T*d*d = 1,073,741,824; wk, wv 2*T*d*256 = 134,217,728; QK^T and AV
    # over all 32 query heads 2*32*T*T*64 = 67,108,864; w1, w3, w2 3*T*d*5632 = 4,429,185,024
    # -> 5,704,253,440; x 4 = 22,817,013,760; output T*d*32000 = 8,388,608,000
    assert w.macs == 31_205_621_760 == REFERENCE["models"]["llama_like"]["macs"]
    # params: embeddings and untied output 2*32000*2048 = 131,072,000; per layer 2*d*d +
    # 2*d*256 + 3*d*5632 + 2 RMSNorm weights 2*2048 = 44,044,288, x 4 = 176,177,152; final
    # RMSNorm 2,048 -> 307,251,200
    assert w.params == 307_251_200
    norms = by_type(w, "norm")
    assert len(norms) == 9 and {l.kind for l in norms} == {"rmsnorm"}
    assert all(l.params == 2048 and l.vector_ops == 128 * 2048 * 4 for l in norms)
    # grouped-query attention: K and V of 4 heads are read 8 times each (expand views)
    expands = by_type(w, "expand")
    assert len(expands) == 8 and all(l.is_view and l.output_shape == (4, 8, 128, 64)
                                     for l in expands)
    # rotary: q * cos + rotate_half(q) * sin, with the (128, 64) tables as stored operands
    # that are buffers (0 parameters); rotate_half = two slices and a concat on the last axis
    rotary = [l for l in by_type(w, "mul") if l.constant == [128, 64]]
    assert len(rotary) == 16 and all(l.params == 0 for l in rotary)
    assert all(l.axis == -1 for l in by_type(w, "concat"))
    # SwiGLU: silu fused into w1, then an element-wise product with w3
    assert all(l.activation == "swish" for l in w.layers if l.name.endswith(".w1"))


def test_vit_class_token_position_embedding_and_token_select(imported):
    _, w = imported("vit_b_16")
    (cat,) = by_type(w, "concat")
    # the class token (1 x 768, a parameter) is a stored operand of the token concat
    assert cat.constant == [1, 768] and cat.params == 768 and cat.output_shape == (197, 768)
    pos = next(l for l in by_type(w, "add") if l.constant is not None)
    assert pos.constant == [197, 768] and pos.params == 197 * 768
    # x[:, 0] before the head: a slice view taking token 0
    select = w.layers[-2]
    assert (select.type, select.index, select.output_shape) == ("slice", 0, (768,))
    # nn.MultiheadAttention: q, k, v taken from the packed projection by Gather 0, 1, 2
    slices = [l for l in by_type(w, "slice") if l.index is not None and "attention" in l.name]
    assert len(slices) == 36 and {l.index for l in slices} == {0, 1, 2}


def test_bert_and_swin_idioms(imported):
    _, bert = imported("bert_base_like")
    (word,) = by_type(bert, "embedding")
    assert (word.vocab, word.dim) == (30522, 768)
    # learned positions 0..127 of a 512-row table: all 512 x 768 counted
    assert next(l for l in by_type(bert, "add") if l.constant).params == 512 * 768
    assert len(by_type(bert, "norm")) == 25  # embedding LayerNorm + 2 per layer
    _, swin = imported("swin_t")
    # relative-position bias: a (heads, 49, 49) stored operand gathered from a learned
    # (13*13, heads) table: 169 * heads parameters per block (heads 3, 6, 12, 24; 2, 2, 6, 2
    # blocks)
    bias = [l for l in by_type(swin, "add") if l.constant and len(l.constant) == 3
            and l.constant[1:] == [49, 49]]
    assert len(bias) == 12
    assert sum(l.params for l in bias) == 169 * (2 * 3 + 2 * 6 + 6 * 12 + 2 * 24)
    # the shifted-window mask is built from constants only: a stored operand, no parameter
    masks = [l for l in by_type(swin, "add") if l.constant and len(l.constant) == 4]
    assert masks and all(l.params == 0 for l in masks)


def test_shufflenet_channel_shuffle_moves_data_and_chunk_is_a_view(imported):
    _, w = imported("shufflenet_v2_x1_0")
    # channel shuffle = reshape (free) + transpose of (2, C/2) (moves every element once)
    transposes = by_type(w, "transpose")
    assert len(transposes) == 16 and all(l.moves_data for l in transposes)
    assert all(l.vector_ops == math.prod(l.output_shape) for l in transposes)
    # x.chunk(2, dim=1): Shape -> Gather -> Div -> Slice, folded; the halves are slice views
    assert by_type(w, "slice") and all(l.is_view for l in by_type(w, "slice"))


def test_lstm_fed_by_an_embedding_keeps_batch_one(imported):
    _, w = imported("lstm_lm")
    # token ids [35, 1] (sequence first): batch 1, 35 steps (the batch used to come out 35)
    assert w.batch == 1
    lstms = by_type(w, "lstm")
    assert [l.seq_len for l in lstms] == [35, 35]
    # 2 layers x 35 steps x (650 + 650) x 4*650 = 236,600,000; decoder 35 x 650 x 10,000
    # = 227,500,000 -> 464,100,000
    assert w.macs == 464_100_000


# ------------------------------------------------------------------------------------------
# every export runs on every engine kind
# ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ["tpu_v1", "edge_32x32", "bpu"])
@pytest.mark.parametrize("name", MODELS)
def test_runs_on_engines(imported, name, arch):
    _, workload = imported(name)
    result = api.simulate(arch, workload)
    assert result.totals.cycles > 0
    for layer in result.layers:
        if layer.macs:
            assert 0 < layer.utilization <= 1, (layer.name, layer.utilization)
        else:
            assert layer.utilization == 0, layer.name
