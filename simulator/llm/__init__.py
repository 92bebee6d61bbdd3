"""LLM inference as a workload: a decoder-only model described by a small config
(`simulator.llm.config.LlmConfig`), turned into ordinary npusim workloads for its two phases
(`simulator.llm.build`: prefill of a prompt, decode of one token at a context length), and a
generation run over both (`simulator.llm.generation.simulate_generation`) that simulates only
the decode contexts it needs (`simulator.llm.contexts`). docs/llm.md explains the model.

Importing this package imports nothing; import the submodules.
"""
