"""Reading an LLM config (`kind: llm`): a bundled preset name (`llama2_7b`, workloads/llm/) or
a YAML path, validated into `simulator.llm.config.LlmConfig` with one-line errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from simulator.core.errors import NpusimError, from_validation_error
from simulator.io.bundled import resolve_llm
from simulator.io.yaml import read_yaml
from simulator.llm.config import LlmConfig


def llm_from_dict(data: dict, source: str | Path = "<llm>") -> LlmConfig:
    """Validate plain data (as read from YAML) into an `LlmConfig`."""
    if data.get("kind", "llm") != "llm":
        raise NpusimError(f"kind is {data.get('kind')!r}, not an LLM config", file=source,
                          field="kind", fix="an LLM config has kind: llm (see docs/llm.md)")
    if "layers" in data and isinstance(data["layers"], list):
        raise NpusimError("this is a workload (a list of layers), not an LLM config",
                          file=source, field="layers",
                          fix="run it with `npusim run ARCH FILE`, or write an LLM config "
                          "(docs/llm.md)")
    try:
        return LlmConfig.model_validate(data)
    except ValidationError as exc:
        error = from_validation_error(exc, source)
        loc = exc.errors()[0].get("loc", ())
        if error.field is None and len(loc) == 1 and loc[0] in LlmConfig.model_fields:
            # `norm` and `activation` are also layer-type names, which the generic formatter
            # hides as union tags; here they are this config's fields
            error = NpusimError(error.message, file=error.file, field=str(loc[0]), fix=error.fix)
        raise error from None


def load_llm(name_or_path: str | Path) -> LlmConfig:
    """Load an LLM config from a bundled name (`gpt2_small`) or a YAML file."""
    path = resolve_llm(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        raise NpusimError("an LLM config is a YAML file", file=path,
                          fix="give a .yaml file or a bundled name (`npusim list`)")
    return llm_from_dict(read_yaml(path), path)
