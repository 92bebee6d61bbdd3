"""npusim: a cycle-approximate simulator of deep-learning accelerators.

    >>> from simulator import load_arch, load_workload, simulate
    >>> result = simulate(load_arch("tpu_v1"), load_workload("resnet50"))
    >>> result.totals.cycles
"""

from simulator.api import __version__, simulate
from simulator.core.errors import NpusimError
from simulator.io.load import load_arch, load_workload

__all__ = ["NpusimError", "__version__", "load_arch", "load_workload", "simulate"]
