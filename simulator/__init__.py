"""npusim: a cycle-approximate simulator of deep-learning accelerators.

    >>> from simulator import load_arch, load_workload, simulate
    >>> result = simulate(load_arch("tpu_v1"), load_workload("resnet50"))
    >>> result.totals.cycles

The names below are imported on first use (PEP 562), so that `import simulator` (and with it
the `npusim` command's `--help` and `--version`) costs no numpy and no pydantic model.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: The package version (pyproject.toml reads it from here).
__version__ = "0.1.0"

#: Public name -> the module that defines it.
_LAZY = {
    "simulate": "simulator.api",
    "load_arch": "simulator.api",
    "load_workload": "simulator.api",
    "NpusimError": "simulator.core.errors",
}

__all__ = ["NpusimError", "__version__", "load_arch", "load_workload", "simulate"]

if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs
    from simulator.api import load_arch, load_workload, simulate
    from simulator.core.errors import NpusimError


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value  # later look-ups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
