"""Export the ONNX test models from PyTorch, with PyTorch's own MAC and parameter counts.

Run by a maintainer who has torch (never in CI; the project does not depend on torch):

    python3 -m venv /work/torchenv
    /work/torchenv/bin/pip install torch torchvision onnx
    /work/torchenv/bin/python tools/export_onnx_models.py            # all models
    /work/torchenv/bin/python tools/export_onnx_models.py vit_b_16   # some of them

For every model it writes `tests/data/onnx/<name>.onnx`, a *shape-only* file: the TorchScript
exporter's output (`torch.onnx.export(..., dynamo=False)`, opset 17, batch 1, static shapes),
saved with every tensor over 1 kB as external data and the data file then deleted, so the file
keeps the graph, the shapes and the small constants but no weights. Next to the files,
`tests/data/onnx/reference.json` records per model:

- `macs`: `torch.utils.flop_counter.FlopCounterMode` FLOPs / 2 for one forward pass at batch 1,
  with the math SDPA backend forced (the fused CPU kernel has no FLOP formula, the math one
  runs as counted matmuls) and oneDNN disabled (its fused LSTM op has no formula; PyTorch's
  own LSTM runs as counted addmm ops);
- `params`: `sum(p.numel() for p in model.parameters())` (tied weights once);
- the input shape and dtype, the torch / torchvision / onnx versions, the file size and the op
  histogram of the exported graph.

Export options and why:
- `do_constant_folding=False`: the exporter's constant folding (with its "eval peephole") fuses
  BatchNorm into the conv, duplicates a tied embedding as a transposed copy and folds gathered
  parameter tables (Swin's relative-position bias) into new tensors; the parameters torch
  counts are then no longer in the file. Folding does not change MACs. npusim folds the
  constant sub-graphs itself.
- `torch.backends.mha.set_fastpath_enabled(False)`: the nn.MultiheadAttention fast path
  (`_native_multi_head_attention`) has no TorchScript ONNX symbolic.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
from collections import Counter
from pathlib import Path

import onnx
import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data" / "onnx"
OPSET = 17
INLINE_BYTES = 1024  # tensors up to this size stay in the .onnx (reshape targets, scalars)


# ------------------------------------------------------------------------------------------
# transformer models written for this script (shapes of public models)
# ------------------------------------------------------------------------------------------
class BertLike(nn.Module):
    """BERT-base shapes: word + learned position embeddings, LayerNorm, 12 post-norm
    nn.TransformerEncoder layers (d 768, 12 heads, FFN 3072, GELU), tanh pooler on token 0."""

    def __init__(self, vocab=30522, max_pos=512, d=768, heads=12, ffn=3072, layers=12):
        super().__init__()
        self.word = nn.Embedding(vocab, d)
        self.position = nn.Embedding(max_pos, d)
        self.norm = nn.LayerNorm(d)
        layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout=0.1, activation="gelu",
                                           batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.pooler = nn.Linear(d, d)

    def forward(self, ids):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.norm(self.word(ids) + self.position(positions))
        x = self.encoder(x)
        return torch.tanh(self.pooler(x[:, 0]))


class GptBlockAttention(nn.Module):
    """nanoGPT's CausalSelfAttention, the explicit path: packed c_attn, split, masked_fill."""

    def __init__(self, d, heads, block_size):
        super().__init__()
        self.c_attn = nn.Linear(d, 3 * d)
        self.c_proj = nn.Linear(d, d)
        self.heads, self.d = heads, d
        self.register_buffer("bias", torch.tril(torch.ones(block_size, block_size))
                             .view(1, 1, block_size, block_size))

    def forward(self, x):
        b, t, c = x.size()
        q, k, v = self.c_attn(x).split(self.d, dim=2)
        k = k.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        q = q.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        v = v.view(b, t, self.heads, c // self.heads).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(self.bias[:, :, :t, :t] == 0, float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(b, t, c)
        return self.c_proj(y)


class GptBlock(nn.Module):
    def __init__(self, d, heads, block_size):
        super().__init__()
        self.ln_1 = nn.LayerNorm(d)
        self.attn = GptBlockAttention(d, heads, block_size)
        self.ln_2 = nn.LayerNorm(d)
        self.c_fc = nn.Linear(d, 4 * d)
        self.gelu = nn.GELU(approximate="tanh")  # GPT-2's GELU
        self.c_proj = nn.Linear(4 * d, d)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.c_proj(self.gelu(self.c_fc(self.ln_2(x))))


class NanoGpt(nn.Module):
    """nanoGPT's GPT (GPT-2 small: 12 layers, d 768, 12 heads, vocab 50257, context 1024),
    tied lm_head, inference path: logits of the last position only."""

    def __init__(self, vocab=50257, block_size=1024, d=768, heads=12, layers=12):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(block_size, d)
        self.h = nn.ModuleList(GptBlock(d, heads, block_size) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)
        self.lm_head = nn.Linear(d, vocab, bias=False)
        self.wte.weight = self.lm_head.weight  # weight tying

    def forward(self, idx):
        pos = torch.arange(0, idx.size(1), dtype=torch.long, device=idx.device)
        x = self.wte(idx) + self.wpe(pos)
        for block in self.h:
            x = block(x)
        x = self.ln_f(x)
        return self.lm_head(x[:, [-1], :])


class RmsNorm(nn.Module):
    def __init__(self, d, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class LlamaAttention(nn.Module):
    """Grouped-query attention with rotary embeddings (Hugging Face Llama's formulation)."""

    def __init__(self, d, heads, kv_heads, max_seq, theta=10000.0):
        super().__init__()
        self.heads, self.kv_heads, self.hd = heads, kv_heads, d // heads
        self.wq = nn.Linear(d, heads * self.hd, bias=False)
        self.wk = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wv = nn.Linear(d, kv_heads * self.hd, bias=False)
        self.wo = nn.Linear(heads * self.hd, d, bias=False)
        inv_freq = 1.0 / theta ** (torch.arange(0, self.hd, 2).float() / self.hd)
        freqs = torch.outer(torch.arange(max_seq).float(), inv_freq)
        emb = torch.cat((freqs, freqs), dim=-1)
        self.register_buffer("cos_cached", emb.cos())
        self.register_buffer("sin_cached", emb.sin())

    def forward(self, x):
        b, t, _ = x.shape
        q = self.wq(x).view(b, t, self.heads, self.hd).transpose(1, 2)
        k = self.wk(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        v = self.wv(x).view(b, t, self.kv_heads, self.hd).transpose(1, 2)
        cos, sin = self.cos_cached[:t], self.sin_cached[:t]
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        rep = self.heads // self.kv_heads  # repeat_kv: expand + reshape
        k = k[:, :, None].expand(b, self.kv_heads, rep, t, self.hd).reshape(b, self.heads, t, self.hd)
        v = v[:, :, None].expand(b, self.kv_heads, rep, t, self.hd).reshape(b, self.heads, t, self.hd)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.wo(y.transpose(1, 2).reshape(b, t, -1))


class LlamaBlock(nn.Module):
    def __init__(self, d, heads, kv_heads, ffn, max_seq):
        super().__init__()
        self.attention_norm = RmsNorm(d)
        self.attention = LlamaAttention(d, heads, kv_heads, max_seq)
        self.ffn_norm = RmsNorm(d)
        self.w1 = nn.Linear(d, ffn, bias=False)
        self.w3 = nn.Linear(d, ffn, bias=False)
        self.w2 = nn.Linear(ffn, d, bias=False)

    def forward(self, x):
        x = x + self.attention(self.attention_norm(x))
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))  # SwiGLU


class LlamaLike(nn.Module):
    """A Llama-style decoder (TinyLlama-1.1B widths: d 2048, 32 heads, 4 KV heads, SwiGLU FFN
    5632, vocab 32000) with 4 of its 22 layers, untied output head."""

    def __init__(self, vocab=32000, d=2048, heads=32, kv_heads=4, ffn=5632, layers=4,
                 max_seq=2048):
        super().__init__()
        self.tok_embeddings = nn.Embedding(vocab, d)
        self.layers = nn.ModuleList(LlamaBlock(d, heads, kv_heads, ffn, max_seq)
                                    for _ in range(layers))
        self.norm = RmsNorm(d)
        self.output = nn.Linear(d, vocab, bias=False)

    def forward(self, ids):
        x = self.tok_embeddings(ids)
        for layer in self.layers:
            x = layer(x)
        return self.output(self.norm(x))


class LstmLm(nn.Module):
    """PyTorch's word_language_model (medium PTB): embedding 650, 2-layer LSTM 650,
    decoder to a 10,000-word vocabulary; sequence-first input [35, 1]."""

    def __init__(self, vocab=10000, d=650, layers=2):
        super().__init__()
        self.encoder = nn.Embedding(vocab, d)
        self.rnn = nn.LSTM(d, d, layers)
        self.decoder = nn.Linear(d, vocab)

    def forward(self, ids):
        out, _ = self.rnn(self.encoder(ids))
        return self.decoder(out)


# ------------------------------------------------------------------------------------------
# the model list
# ------------------------------------------------------------------------------------------
def _torchvision(name: str):
    import torchvision

    def build():
        return getattr(torchvision.models, name)(weights=None)
    return build


def _image():
    return torch.randn(1, 3, 224, 224)


def _tokens(seq: int, vocab: int, seq_first: bool = False):
    def make():
        shape = (seq, 1) if seq_first else (1, seq)
        return torch.randint(0, vocab, shape)
    return make


MODELS = {
    # transformers
    "vit_b_16": (_torchvision("vit_b_16"), _image),
    "swin_t": (_torchvision("swin_t"), _image),
    "bert_base_like": (BertLike, _tokens(128, 30522)),
    "gpt2_small": (NanoGpt, _tokens(256, 50257)),
    "llama_like": (LlamaLike, _tokens(128, 32000)),
    # CNNs
    "shufflenet_v2_x1_0": (_torchvision("shufflenet_v2_x1_0"), _image),
    "convnext_tiny": (_torchvision("convnext_tiny"), _image),
    "resnet18": (_torchvision("resnet18"), _image),
    "resnet50": (_torchvision("resnet50"), _image),
    "mobilenet_v2": (_torchvision("mobilenet_v2"), _image),
    "mobilenet_v3_large": (_torchvision("mobilenet_v3_large"), _image),
    "efficientnet_b0": (_torchvision("efficientnet_b0"), _image),
    "regnet_y_400mf": (_torchvision("regnet_y_400mf"), _image),
    "squeezenet1_1": (_torchvision("squeezenet1_1"), _image),
    "densenet121": (_torchvision("densenet121"), _image),
    # recurrent
    "lstm_lm": (LstmLm, _tokens(35, 10000, seq_first=True)),
}


# ------------------------------------------------------------------------------------------
# counting and exporting
# ------------------------------------------------------------------------------------------
def reference_counts(model: nn.Module, x: torch.Tensor) -> tuple[int, int]:
    """(MACs, parameters) as PyTorch counts them."""
    from torch.nn.attention import SDPBackend, sdpa_kernel
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    # oneDNN off: its fused LSTM layer op has no FLOP formula; PyTorch's own LSTM runs as
    # counted addmm ops (input projections and one hidden-state GEMM per step)
    with torch.no_grad(), sdpa_kernel(SDPBackend.MATH), torch.backends.mkldnn.flags(enabled=False), \
            counter:
        model(x)
    flops = counter.get_total_flops()
    assert flops % 2 == 0, flops
    return flops // 2, sum(p.numel() for p in model.parameters())


def export_shape_only(model: nn.Module, x: torch.Tensor, path: Path) -> dict:
    """Export with the TorchScript exporter, then keep only the graph and small tensors."""
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "full.onnx"
        with torch.no_grad():
            torch.onnx.export(model, (x,), str(full), dynamo=False, opset_version=OPSET,
                              do_constant_folding=False, input_names=["input"],
                              output_names=["output"])
        proto = onnx.load(str(full))
    proto.graph.name = path.stem
    weights = path.with_suffix(".weights")
    onnx.save_model(proto, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location=weights.name, size_threshold=INLINE_BYTES)
    os.remove(weights)  # shape-only: the weights are gone, the graph keeps their dims
    ops = Counter(node.op_type for node in proto.graph.node)
    return {"nodes": len(proto.graph.node), "ops": dict(sorted(ops.items())),
            "bytes": path.stat().st_size}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help=f"subset of: {', '.join(MODELS)}")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder")
    args = parser.parse_args(argv)
    unknown = sorted(set(args.models) - set(MODELS))
    if unknown:
        parser.error(f"unknown model(s) {unknown}")
    torch.backends.mha.set_fastpath_enabled(False)
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    ref_path = args.out / "reference.json"
    reference = json.loads(ref_path.read_text()) if ref_path.exists() else {"models": {}}
    import torchvision

    reference.update({
        "generator": "tools/export_onnx_models.py",
        "exporter": f"torch.onnx.export(dynamo=False, opset_version={OPSET}, "
                    "do_constant_folding=False), batch 1, static shapes; weights dropped",
        "macs": "torch.utils.flop_counter.FlopCounterMode total FLOPs / 2, math SDPA backend, "
                "oneDNN off (LSTM as addmm ops)",
        "params": "sum(p.numel() for p in model.parameters())",
        "versions": {"torch": torch.__version__, "torchvision": torchvision.__version__,
                     "onnx": onnx.__version__},
    })
    for name in args.models or list(MODELS):
        build, make_input = MODELS[name]
        model = build().eval()
        x = make_input()
        macs, params = reference_counts(model, x)
        path = args.out / f"{name}.onnx"
        info = export_shape_only(model, x, path)
        reference["models"][name] = {"file": path.name, "input": list(x.shape),
                                     "dtype": str(x.dtype).replace("torch.", ""),
                                     "macs": macs, "params": params, **info}
        print(f"{name:20s} {macs:>15,d} MACs {params:>12,d} params  "
              f"{info['bytes'] / 1e3:8.1f} kB  {info['nodes']:5d} nodes", flush=True)
    reference["models"] = dict(sorted(reference["models"].items()))
    ref_path.write_text(json.dumps(reference, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
