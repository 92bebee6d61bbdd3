"""The two phases of LLM inference as ordinary npusim workloads, built from the existing layer
types (docs/llm.md, section 2, lists every layer with its shapes).

- `prefill_workload(config, prompt, batch)`: the prompt's P tokens of each of the B sequences
  in one pass: every projection is a (B*P) x K x N GEMM; causal attention computes the full
  P x P scores per head (as PyTorch's math attention and FLOP counters do) and masks them with
  one select per score; the K and V of all P tokens are copied into the cache; the LM head
  runs on the last position only (it yields the first generated token).
- `decode_workload(config, context, batch)`: one new token per sequence, attending over
  `context` cached tokens (the new one included): every projection is a B x K x N GEMV
  against the full weight matrix; the attention matmuls carry `kv_cache: true`, their K x N
  operand being the cache of `context` tokens; the new token's K and V are copied into the
  cache.

Conventions shared by both phases:
- grouped-query attention: query heads are grouped by the K/V head they share, so each
  attention matmul runs `count = kv_heads` products of (group x T) rows against one head's
  keys (head_dim x context) or values (context x head_dim): MACs = T x heads x head_dim x
  context each, and the cache read per step is exactly kv_heads x head_dim x context per block;
- heads are split and merged in place: an attention matmul reads the projection's output per
  head with strides, and the output projection reads the heads' contexts as its T x q_dim
  input (attention kernels do not transpose Q, K and V);
- rotary embedding (x cos + rotate_half(x) sin) is one element-wise pass over q and k,
  counted as 2 operations per element, with a fixed cos/sin table (no parameters; one row of
  the projection's width is read per pass); the softmax scale 1/sqrt(head_dim) is folded into
  the q weights;
- the cache append is a plain copy (a `pad` layer with no padding: one write per element, as
  vLLM's reshape_and_cache kernel does) whose output no later layer reads: the engine stores it
  where it stores results that leave the step (on tpu_v1: DRAM).
"""

from __future__ import annotations

from typing import Any

from simulator.core.errors import NpusimError
from simulator.core.workload import Workload, workload_from_dict
from simulator.llm.config import LlmConfig

PHASES = ("prefill", "decode")

#: Which part of the model a generated layer belongs to, by the last part of its name.
PARTS: dict[str, str] = {
    "embed": "embedding", "pos": "embedding",
    "q": "qkvo", "k": "qkvo", "v": "qkvo", "o": "qkvo",
    "q_rope": "attention", "k_rope": "attention", "k_append": "kv_append",
    "v_append": "kv_append", "scores": "attention", "mask": "attention",
    "softmax": "attention", "context": "attention",
    "gate": "ffn", "up": "ffn", "gated": "ffn", "down": "ffn",
    "norm1": "norm_residual", "norm2": "norm_residual", "res1": "norm_residual",
    "res2": "norm_residual", "norm_f": "norm_residual",
    "last": "lm_head", "lm_head": "lm_head",
}
#: The parts, in the order reports list them.
PART_ORDER = ("embedding", "qkvo", "attention", "kv_append", "ffn", "norm_residual", "lm_head")


def part_of(layer_name: str) -> str:
    """The model part (`PART_ORDER`) a generated layer belongs to."""
    return PARTS.get(layer_name.rsplit(".", 1)[-1], "other")


def check_context(config: LlmConfig, tokens: int, what: str, field: str,
                  source: str = "<llm>") -> None:
    """A context longer than the model's `max_context` is an error, not a silent result."""
    if tokens > config.max_context:
        raise NpusimError(f"{what} of {tokens:,} tokens exceeds {config.name}'s max_context "
                          f"of {config.max_context:,}", file=source, field=field,
                          fix=f"keep it at or below {config.max_context:,} tokens, or raise "
                          "max_context in the model config")


def _block(cfg: LlmConfig, i: int, x: str, tokens: int, context: int,
           decode: bool) -> tuple[list[dict[str, Any]], str]:
    """The layers of decoder block `i` reading the residual stream `x`; returns the layers and
    the name of the block's output."""
    d, hd, kv, g = cfg.d_model, cfg.dim_head, cfg.n_kv_heads, cfg.group
    p = f"blk{i}."
    kv_bits = {"activation_bits": cfg.kv_cache_bits} if cfg.kv_cache_bits else {}
    norm = {"type": "norm", "kind": cfg.norm}
    lin = {"type": "linear", "bias": cfg.bias}
    out: list[dict[str, Any]] = [
        {"name": p + "norm1", **norm, "inputs": [x]},
        {"name": p + "q", **lin, "in_features": d, "out_features": cfg.q_dim,
         "inputs": [p + "norm1"]},
        {"name": p + "k", **lin, "in_features": d, "out_features": cfg.kv_dim,
         "inputs": [p + "norm1"]},
        {"name": p + "v", **lin, "in_features": d, "out_features": cfg.kv_dim,
         "inputs": [p + "norm1"]},
    ]
    q, k = p + "q", p + "k"
    if cfg.position == "rotary":
        # x cos + rotate_half(x) sin: 2 operations per element with the position's cos/sin
        # values (a fixed table, no parameters; one row of the projection's width is read)
        out += [
            {"name": p + "q_rope", "type": "mul", "inputs": [q, q],
             "constant": [1, cfg.q_dim], "constant_params": 0},
            {"name": p + "k_rope", "type": "mul", "inputs": [k, k],
             "constant": [1, cfg.kv_dim], "constant_params": 0},
        ]
        q, k = p + "q_rope", p + "k_rope"
    rows = g * tokens  # the query rows that share one K/V head
    # the cache append copies the new keys / values (a linear keeps its token axis only for
    # several tokens; the rotary pass with its [1, width] table keeps two axes)
    rank = 2 if tokens > 1 or cfg.position == "rotary" else 1
    zeros_k, zeros_v = [0] * rank, [0] * (2 if tokens > 1 else 1)
    out += [
        {"name": p + "k_append", "type": "pad", "before": zeros_k, "after": zeros_k,
         "inputs": [k], **kv_bits},
        {"name": p + "v_append", "type": "pad", "before": zeros_v, "after": zeros_v,
         "inputs": [p + "v"], **kv_bits},
        {"name": p + "scores", "type": "matmul", "m": rows, "k": hd, "n": context, "count": kv,
         "inputs": [q] if decode else [q, k], "kv_cache": decode,
         **kv_bits},
    ]
    probs_in = p + "scores"
    if not decode:  # causal mask: one select per score, the mask generated from indices
        out.append({"name": p + "mask", "type": "where", "inputs": [p + "scores"]})
        probs_in = p + "mask"
    out += [
        {"name": p + "softmax", "type": "activation", "function": "softmax",
         "inputs": [probs_in]},
        {"name": p + "context", "type": "matmul", "m": rows, "k": context, "n": hd, "count": kv,
         "inputs": [p + "softmax"] if decode else [p + "softmax", p + "v"],
         "kv_cache": decode, **kv_bits},
        {"name": p + "o", **lin, "in_features": cfg.q_dim, "out_features": d,
         "tokens": tokens, "inputs": [p + "context"]},
        {"name": p + "res1", "type": "add", "inputs": [p + "o", x]},
        {"name": p + "norm2", **norm, "inputs": [p + "res1"]},
    ]
    if cfg.ffn_type == "gated":
        out += [
            {"name": p + "gate", **lin, "in_features": d, "out_features": cfg.ffn,
             "activation": cfg.activation, "inputs": [p + "norm2"]},
            {"name": p + "up", **lin, "in_features": d, "out_features": cfg.ffn,
             "inputs": [p + "norm2"]},
            {"name": p + "gated", "type": "mul", "inputs": [p + "gate", p + "up"]},
            {"name": p + "down", **lin, "in_features": cfg.ffn, "out_features": d,
             "inputs": [p + "gated"]},
        ]
    else:
        out += [
            {"name": p + "up", **lin, "in_features": d, "out_features": cfg.ffn,
             "activation": cfg.activation, "inputs": [p + "norm2"]},
            {"name": p + "down", **lin, "in_features": cfg.ffn, "out_features": d,
             "inputs": [p + "up"]},
        ]
    out.append({"name": p + "res2", "type": "add", "inputs": [p + "down", p + "res1"]})
    return out, p + "res2"


def _phase(cfg: LlmConfig, phase: str, tokens: int, context: int, batch: int) -> Workload:
    decode = phase == "decode"
    layers: list[dict[str, Any]] = [
        {"name": "embed", "type": "embedding", "vocab": cfg.vocab, "dim": cfg.d_model,
         "input": [tokens]}]
    x = "embed"
    if cfg.position == "learned":
        layers.append({"name": "pos", "type": "add", "inputs": ["embed"],
                       "constant": [tokens, cfg.d_model],
                       "constant_params": cfg.max_context * cfg.d_model})
        x = "pos"
    for i in range(cfg.layers):
        block, x = _block(cfg, i, x, tokens, context, decode)
        layers += block
    layers.append({"name": "norm_f", "type": "norm", "kind": cfg.norm, "inputs": [x]})
    head_in = "norm_f"
    if tokens > 1:  # only the last position's logits give the next token
        layers.append({"name": "last", "type": "slice", "axis": 0, "index": -1,
                       "inputs": ["norm_f"]})
        head_in = "last"
    layers.append({"name": "lm_head", "type": "linear", "in_features": cfg.d_model,
                   "out_features": cfg.vocab, "bias": False, "inputs": [head_in],
                   "shared_weights": cfg.tied_embeddings})
    what = (f"decode of one token at context {context:,}" if decode
            else f"prefill of a {tokens:,}-token prompt")
    data: dict[str, Any] = {
        "name": f"{cfg.name}.{phase}", "batch": batch, "layers": layers,
        "description": f"{cfg.name}: {what}, batch {batch} (generated by simulator.llm)",
        "source": cfg.source or cfg.name}
    if cfg.precision is not None:
        data["precision"] = cfg.precision.model_dump()
    return workload_from_dict(data, f"<{cfg.name}.{phase}>")


def prefill_workload(config: LlmConfig, prompt: int, batch: int = 1,
                     source: str = "<llm>") -> Workload:
    """The prefill of a `prompt`-token prompt for `batch` sequences."""
    _positive(prompt, "prompt", source)
    _positive(batch, "batch", source)
    check_context(config, prompt, "a prompt", "prompt", source)
    return _phase(config, "prefill", prompt, prompt, batch)


def decode_workload(config: LlmConfig, context: int, batch: int = 1,
                    source: str = "<llm>") -> Workload:
    """One decode step of `batch` sequences whose new token attends over `context` tokens
    (the cached ones plus itself)."""
    _positive(context, "context", source)
    _positive(batch, "batch", source)
    check_context(config, context, "a context", "context", source)
    return _phase(config, "decode", 1, context, batch)


def phase_workload(config: LlmConfig, phase: str, *, prompt: int | None = None,
                   context: int | None = None, batch: int = 1,
                   source: str = "<llm>") -> Workload:
    """`prefill_workload` or `decode_workload` by name (sweeps name the phase in YAML)."""
    if phase == "prefill":
        if prompt is None:
            raise NpusimError("a prefill needs the prompt length", file=source, field="prompt",
                              fix="add prompt: TOKENS")
        return prefill_workload(config, prompt, batch, source)
    if phase == "decode":
        if context is None:
            raise NpusimError("a decode step needs the context length", file=source,
                              field="context", fix="add context: TOKENS")
        return decode_workload(config, context, batch, source)
    raise NpusimError(f"unknown phase {phase!r}", file=source, field="phase",
                      fix="use prefill or decode")


def _positive(value: int, field: str, source: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise NpusimError(f"{field} must be a positive number of tokens or sequences, got "
                          f"{value!r}", file=source, field=field, fix=f"use {field} >= 1")
