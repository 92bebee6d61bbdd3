"""What a kind of chip provides to the core: its arch model, its engine and its area model.

Each kind package (`simulator/kinds/<name>/__init__.py`) defines one `KIND = Kind(...)`; the
registry (`simulator.kinds.registry`) maps kind names to those packages. The engine is named by
module path and imported only when a run needs it, so loading an arch stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Callable

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.arch import ArchBase
    from simulator.core.area import AreaComponents, AreaTable
    from simulator.core.layer_base import LayerBase
    from simulator.kinds.base import Engine


@dataclass(frozen=True)
class Kind:
    """One kind of chip: `arch_model` validates its YAML, `engine_path` names its engine class
    ("module:Class"), `area` lists its components for `simulator.core.area`."""

    name: str
    arch_model: type["ArchBase"]
    engine_path: str
    area: Callable[["ArchBase", "AreaTable"], "AreaComponents"]
    #: changes worth trying on this kind of chip, for `npusim explain`'s what-ifs: a list of
    #: (plain-language change, `--set` overrides) for an arch; None: only the generic ones
    what_ifs: Callable[["ArchBase"], list[tuple[str, list[str]]]] | None = None
    #: the layers this kind of chip computes, for studies that run part of a network on it
    #: (the compression study runs AlexNet's FC layers on EIE): a predicate on a resolved layer;
    #: None: every layer. A run of the whole network is not filtered (the engine refuses or
    #: reports what it cannot run).
    runs_layer: Callable[["LayerBase"], bool] | None = None
    #: what `runs_layer` keeps, in words ("FC and LSTM layers")
    scope: str = "all layers"
    #: the keys of a layer's reported `mapping` a user may pin (`RunOptions.mapping`, the CLI's
    #: --map / --mapping); the other reported keys (objective, candidates, trips, ...) describe
    #: the choice and are dropped when a run's JSON is fed back. Empty: nothing to choose.
    mapping_keys: tuple[str, ...] = ()

    def engine_class(self) -> type["Engine"]:
        """The engine class (`simulator.kinds.base.Engine`), imported on first use; build it
        with the arch, then `run(workload, options)`."""
        module, _, name = self.engine_path.partition(":")
        return getattr(import_module(module), name)
