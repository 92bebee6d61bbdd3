"""A decoder-only LLM, described by the dozen numbers that fix its shapes.

`LlmConfig` is what a `kind: llm` YAML file holds (bundled presets: workloads/llm/). It knows
its closed forms, used by the reports and checked by the tests against the generated workloads:
parameters (as PyTorch counts them), the weights a token passes through, MACs per decode token
and KV-cache bytes. The model it describes (docs/llm.md):

    tokens -> embedding (+ learned positions) -> layers x [
        norm -> q, k, v projections (-> rotary on q, k) -> K, V appended to the cache
        -> scores = q K^T over the context (grouped-query: `heads / kv_heads` query heads share
           one K, V head) -> softmax -> context = probs V -> output projection -> + residual
        -> norm -> FFN (gated: down(act(gate(x)) * up(x)); plain: down(act(up(x)))) -> + residual
    ] -> final norm -> LM head (tied: the embedding matrix) -> logits
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, model_validator

from simulator.core.arch import Precision, StrictModel
from simulator.core.geometry import packed_bytes
from simulator.core.limits import MAX_LAYERS

#: FFN activations an LLM config may name (a subset of the layer activations).
FFN_ACTIVATIONS = ("swish", "gelu", "relu", "sigmoid", "tanh")


class LlmConfig(StrictModel):
    """A decoder-only transformer language model (GPT-2, Llama and their relatives)."""

    kind: Literal["llm"] = Field("llm", description="marks an LLM config file")
    name: str = Field(min_length=1)
    description: str = ""
    source: str = Field("", description="where the shapes come from (paper, model card)")
    # each block becomes some twenty workload layers, built before the workload's own limit
    # (MAX_LAYERS) is checked: bound the blocks here (docs/formats.md, section 6)
    layers: PositiveInt = Field(le=MAX_LAYERS // 20, description="decoder blocks")
    d_model: PositiveInt = Field(description="hidden size (embedding width)")
    heads: PositiveInt = Field(description="query heads")
    kv_heads: PositiveInt | None = Field(
        None, description="key/value heads (grouped-query attention; 1 = multi-query); "
        "default: heads (multi-head)")
    head_dim: PositiveInt | None = Field(None, description="default: d_model / heads")
    ffn: PositiveInt = Field(description="FFN hidden size (intermediate_size)")
    ffn_type: Literal["gated", "plain"] = Field(
        "gated", description="gated: down(act(gate(x)) * up(x)) (SwiGLU with swish); plain: "
        "down(act(up(x)))")
    activation: Literal[FFN_ACTIVATIONS] = Field(  # type: ignore[valid-type]
        "swish", description="FFN activation (swish = SiLU)")
    vocab: PositiveInt
    tied_embeddings: bool = Field(False, description="the LM head reuses the embedding matrix")
    norm: Literal["layernorm", "rmsnorm"] = "rmsnorm"
    position: Literal["rotary", "learned", "none"] = Field(
        "rotary", description="rotary (RoPE, applied to q and k), learned (a table of "
        "max_context x d_model added to the embeddings, GPT-2) or none")
    bias: bool = Field(False, description="biases on the linear layers (GPT-2: yes; Llama: no)")
    max_context: PositiveInt = Field(description="longest context (prompt + generated tokens)")
    precision: Precision | None = Field(
        None, description="weight / activation precision (default: the arch's native one)")
    kv_cache_bits: Literal[4, 8, 16, 32] | None = Field(
        None, description="KV-cache element width (default: the activation width)")

    @model_validator(mode="after")
    def _shapes_fit(self) -> "LlmConfig":
        if self.head_dim is None and self.d_model % self.heads:
            raise ValueError(f"d_model {self.d_model} is not a multiple of heads {self.heads}; "
                             "give head_dim")
        if self.heads % self.n_kv_heads:
            raise ValueError(f"heads {self.heads} is not a multiple of kv_heads "
                             f"{self.n_kv_heads} (each K/V head serves a whole group of query "
                             "heads)")
        return self

    # ---- resolved shapes ---------------------------------------------------------------
    @property
    def n_kv_heads(self) -> int:
        return self.kv_heads if self.kv_heads is not None else self.heads

    @property
    def dim_head(self) -> int:
        return self.head_dim if self.head_dim is not None else self.d_model // self.heads

    @property
    def group(self) -> int:
        """Query heads per K/V head (1: multi-head attention; heads: multi-query)."""
        return self.heads // self.n_kv_heads

    @property
    def q_dim(self) -> int:
        return self.heads * self.dim_head

    @property
    def kv_dim(self) -> int:
        return self.n_kv_heads * self.dim_head

    # ---- closed forms --------------------------------------------------------------------
    @property
    def ffn_matrices(self) -> int:
        return 3 if self.ffn_type == "gated" else 2

    @property
    def block_matrix_weights(self) -> int:
        """Weights of the matrices of one block: q, k, v, o and the FFN's."""
        attn = self.d_model * self.q_dim + 2 * self.d_model * self.kv_dim + self.q_dim * self.d_model
        return attn + self.ffn_matrices * self.d_model * self.ffn

    @property
    def block_extra_params(self) -> int:
        """Biases and norm parameters of one block (PyTorch counts them)."""
        biases = (self.q_dim + 2 * self.kv_dim + self.d_model
                  + (self.ffn_matrices - 1) * self.ffn + self.d_model) if self.bias else 0
        return biases + 2 * self.norm_params

    @property
    def norm_params(self) -> int:
        return self.d_model * (2 if self.norm == "layernorm" else 1)

    @property
    def embedding_params(self) -> int:
        return self.vocab * self.d_model

    @property
    def position_params(self) -> int:
        return self.max_context * self.d_model if self.position == "learned" else 0

    @property
    def params(self) -> int:
        """Parameters as `sum(p.numel())` counts them (a tied head counted once)."""
        head = 0 if self.tied_embeddings else self.vocab * self.d_model
        return (self.embedding_params + self.position_params
                + self.layers * (self.block_matrix_weights + self.block_extra_params)
                + self.norm_params + head)

    @property
    def matrix_weights_per_token(self) -> int:
        """Weights of every matrix one token passes through: all blocks and the LM head (the
        embedding is a lookup: one row per token, no MACs)."""
        return self.layers * self.block_matrix_weights + self.d_model * self.vocab

    def decode_macs_per_token(self, context: int) -> int:
        """MACs of one decode token attending over `context` tokens: one per weight of every
        matrix it passes through, plus per block 2 x heads x head_dim x context (q K^T: one
        dot product of head_dim per cached key and head; probs V: one head_dim-long
        accumulation per cached value and head)."""
        return (self.matrix_weights_per_token
                + self.layers * 2 * self.heads * self.dim_head * context)

    def kv_elements_per_token(self) -> int:
        """Cached elements per token and sequence: K and V of every block."""
        return 2 * self.layers * self.kv_dim

    def kv_cache_bytes(self, context: int, batch: int, bits: int) -> int:
        """KV cache of `batch` sequences of `context` tokens: 2 x layers x kv_heads x
        head_dim x context x batch elements of `bits` bits."""
        return packed_bytes(self.kv_elements_per_token() * context * batch, bits)

    def weight_bytes(self, bits: int) -> int:
        """Bytes of the matrices a decode step streams (blocks and LM head) at `bits`."""
        return packed_bytes(self.matrix_weights_per_token, bits)

    def summary(self) -> dict:
        """The config with its resolved shapes and closed forms (for results)."""
        out = self.model_dump(mode="json", exclude_none=True)
        out.update(kv_heads=self.n_kv_heads, head_dim=self.dim_head, params=self.params,
                   matrix_weights_per_token=self.matrix_weights_per_token)
        return out
