"""Small LLM configs shared by the tests of simulator.llm (fast to simulate on any kind)."""

from __future__ import annotations

from simulator.llm.config import LlmConfig


def tiny_llm(**changes) -> LlmConfig:
    """A 2-block Llama-style model: d_model 128, 4 query heads of 32 sharing 2 K/V heads
    (grouped-query, group 2), SwiGLU FFN of 256, vocab 1000, context up to 2048."""
    fields = dict(name="tiny", layers=2, d_model=128, heads=4, kv_heads=2, ffn=256, vocab=1000,
                  max_context=2048)
    fields.update(changes)
    return LlmConfig(**fields)


def tiny_gpt(**changes) -> LlmConfig:
    """A 2-block GPT-2-style model: LayerNorm, learned positions, biases, GELU FFN, tied head."""
    fields = dict(name="tiny_gpt", layers=2, d_model=64, heads=4, ffn=256, ffn_type="plain",
                  activation="gelu", vocab=500, tied_embeddings=True, norm="layernorm",
                  position="learned", bias=True, max_context=512)
    fields.update(changes)
    return LlmConfig(**fields)
