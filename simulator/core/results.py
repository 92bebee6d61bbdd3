"""Result models: the JSON contract of `npusim run --format json` (documented in
docs/formats.md).

A `LayerResult` holds the contract keys plus any engine-specific keys (pydantic `extra`), which
serialise inline next to the contract keys. `RunResult.from_layers` derives the totals.

The identities a result holds by construction are validators, so a result that breaks one
cannot be built (or loaded from JSON): a layer's cycles = compute + stall cycles, its stall
breakdown sums to its stall cycles, its energy is the sum of its energy breakdown; a run's
totals are the sums over its layers. Energies compare with a relative tolerance of
`ENERGY_REL_TOL` (float sums in a different order).
"""

from __future__ import annotations

import math
import operator
from typing import Any, Literal, get_origin

from pydantic import ConfigDict, Field, PrivateAttr, ValidationInfo, model_validator

from simulator.core.strict import LazyModel

#: relative tolerance of the energy identities (float sums taken in a different order)
ENERGY_REL_TOL = 1e-9


def _same_energy(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=ENERGY_REL_TOL, abs_tol=1e-9)


#: validation context of `RunResult.from_layers`, whose totals are `_layer_sums` of its layers
#: (so the validator, which recomputes them for results built or loaded any other way, skips)
_SUMMED = object()
_MAP_SUMS = ("energy_breakdown_pj", "energy_by_operand_pj", "dram_bytes_by_operand",
             "stall_breakdown_cycles")


def _layer_sums(layers: list["LayerResult"]) -> tuple[dict[str, int], dict[str, dict]]:
    """The integer totals (cycles, macs, ops, DRAM and SRAM bytes, stall cycles) and the
    by-key totals (`_MAP_SUMS`: keys in the order they first appear, values added layer by
    layer, from 0) of the layers, in one pass."""
    cycles = macs = ops = dram_read = dram_write = sram_read = sram_write = stalls = 0
    maps: dict[str, dict] = {key: {} for key in _MAP_SUMS}
    breakdown, by_operand, dram_by_operand, stall_breakdown = maps.values()
    for layer in layers:
        # the fields from the model's dict: pydantic's __getattr__ hook makes every attribute
        # read of a model about three times slower than a dict look-up
        values = layer.__dict__
        cycles += values["cycles"]
        macs += values["macs"]
        ops += values["ops"]
        dram_read += values["dram_read_bytes"]
        dram_write += values["dram_write_bytes"]
        sram_read += values["sram_read_bytes"]
        sram_write += values["sram_write_bytes"]
        stalls += values["stall_cycles"]
        _add_into(breakdown, values["energy_breakdown_pj"])
        _add_into(by_operand, values["energy_by_operand_pj"])
        _add_into(dram_by_operand, values["dram_bytes_by_operand"])
        _add_into(stall_breakdown, values["stall_breakdown_cycles"])
    return ({"cycles": cycles, "macs": macs, "ops": ops, "dram_read_bytes": dram_read,
             "dram_write_bytes": dram_write, "sram_read_bytes": sram_read,
             "sram_write_bytes": sram_write, "stall_cycles": stalls}, maps)


def _add_into(total: dict, part: dict) -> None:
    """Add `part`'s values into `total` key by key (a key new to `total` starts from 0)."""
    get = total.get
    for key, value in part.items():
        total[key] = get(key, 0) + value


def _where_cycles_go(layer: "LayerResult") -> str:
    """How a layer's cycles split: compute vs stalls, naming the stall cause that dominates,
    e.g. `73% compute, 27% stalled on weight_load`."""
    if not layer.stall_cycles:
        return "all compute, no stalls"
    compute = layer.compute_cycles / layer.cycles
    stalled = f"{compute:.0%} compute, {1 - compute:.0%} stalled"
    causes = sorted(layer.stall_breakdown_cycles.items(), key=lambda kv: -kv[1])
    if not causes:
        return stalled
    cause, n = causes[0]
    share = n / layer.stall_cycles
    if share >= 0.995:
        return f"{stalled} on {cause}"
    return f"{stalled}, mostly on {cause} ({share:.0%} of the stalls)"


class LayerResult(LazyModel):
    """One layer's figures. Engines fill the physics; `roofline.annotate` fills the roofline."""

    model_config = ConfigDict(extra="allow", defer_build=True)

    name: str
    type: str
    cycles: int = Field(ge=0, description="total cycles = compute_cycles + stall_cycles")
    compute_cycles: int = Field(ge=0)
    stall_cycles: int = Field(0, ge=0)
    stall_breakdown_cycles: dict[str, int] = Field(
        default_factory=dict, description="stall cycles by cause, e.g. {dram_bandwidth: 1200}")
    latency_s: float = 0.0
    macs: int = 0
    ops: int = Field(0, description="2 per MAC plus element-wise vector operations")
    energy_pj: float = 0.0
    energy_breakdown_pj: dict[str, float] = Field(
        default_factory=dict, description="by component: mac, register, sram:<name>, dram, ...")
    energy_by_operand_pj: dict[str, float] = Field(
        default_factory=dict, description="data-movement energy by operand: ifmap, filter, ofmap")
    dram_read_bytes: int = 0
    dram_write_bytes: int = 0
    dram_bytes_by_operand: dict[str, int] = Field(default_factory=dict)
    sram_read_bytes: int = 0
    sram_write_bytes: int = 0
    sram_bytes_by_operand: dict[str, int] = Field(default_factory=dict)
    utilization: float = Field(0.0, ge=0, description="MACs / (cycles x peak MACs per cycle)")
    operational_intensity: float = Field(0.0, description="ops per DRAM byte")
    bound: Literal["compute", "memory"] = "compute"
    attainable_ops_per_s: float = 0.0
    achieved_ops_per_s: float = 0.0
    weight_bytes: int = Field(0, ge=0, description="stored (model) weight bytes of the layer, "
                              "dense at the weight precision; 0 = none or unknown. Filled by "
                              "api.simulate for the TPU-paper roofline (MACs per weight byte)")
    type_label: str = Field("", description="the type as tables and plots show it: conv/dw, "
                            "conv/g, conv/pw for depthwise, grouped and pointwise convs (from "
                            "the layer's shape), else the type; filled by api.simulate")

    @property
    def shown_type(self) -> str:
        """`type_label`, or `type` when the result has none."""
        return self.type_label or self.type

    @property
    def dram_bytes(self) -> int:
        return self.dram_read_bytes + self.dram_write_bytes

    def engine_fields(self) -> dict[str, Any]:
        """The engine-specific (non-contract) keys of this layer."""
        return dict(self.model_extra or {})

    @model_validator(mode="after")
    def _identities(self) -> "LayerResult":
        # checked on every layer an engine builds and again when a run is assembled: the
        # fields are read from the model's dict (an attribute read of a pydantic model costs
        # three dict look-ups, through its __getattr__ hook)
        values = self.__dict__
        cycles, compute, stall_cycles = (values["cycles"], values["compute_cycles"],
                                         values["stall_cycles"])
        if cycles != compute + stall_cycles:
            raise ValueError(f"layer {self.name!r}: cycles {cycles} != compute_cycles "
                             f"{compute} + stall_cycles {stall_cycles}")
        stalls = sum(values["stall_breakdown_cycles"].values())
        if stalls != stall_cycles:
            raise ValueError(f"layer {self.name!r}: stall_breakdown_cycles sum to {stalls}, "
                             f"stall_cycles is {stall_cycles}")
        energy = sum(values["energy_breakdown_pj"].values(), 0.0)
        if not _same_energy(values["energy_pj"], energy):
            raise ValueError(f"layer {self.name!r}: energy_pj {values['energy_pj']} != the sum "
                             f"of energy_breakdown_pj {energy}")
        return self


#: LayerResult's contract fields in declaration order (what `layer_result` takes)
LAYER_FIELDS: tuple[str, ...] = tuple(LayerResult.model_fields)
_new = object.__new__
_set = object.__setattr__


def layer_result(values: dict[str, Any], extra: dict[str, Any]) -> LayerResult:
    """A LayerResult from an engine's own values, built as `LayerResult.model_construct(
    **values, **extra)` builds it (the same `__dict__`, fields set, extras and private state;
    tested equal) without its loop over the fields (a quarter of a systolic layer's
    accounting). `values` holds every contract field in declaration order (`LAYER_FIELDS`);
    it and `extra` become the result's own (not copied); nothing is validated but the
    identities (cycles = compute + stall cycles, stalls and energy sum to their breakdowns)."""
    if tuple(values) != LAYER_FIELDS:
        raise ValueError(f"layer_result needs the fields {LAYER_FIELDS} in order, got "
                         f"{tuple(values)}")
    result = _new(LayerResult)
    _set(result, "__dict__", values)
    _set(result, "__pydantic_fields_set__", set(LAYER_FIELDS))
    _set(result, "__pydantic_extra__", extra)
    _set(result, "__pydantic_private__", None)
    return result._identities()


def copy_layer(layer: LayerResult, update: dict[str, Any] | None = None) -> LayerResult:
    """`layer.model_copy(update=update)` (shallow: the copy shares the values it is not given;
    contract fields in `update` replace the layer's, other keys go into its extras, every key
    joins the fields set), without pydantic's generic copy machinery (tested equal)."""
    cls = type(layer)
    values = dict(layer.__dict__)
    extra = layer.__pydantic_extra__
    extra = None if extra is None else dict(extra)
    fields_set = set(layer.__pydantic_fields_set__)
    if update:
        fields = cls.__pydantic_fields__
        for key, value in update.items():
            if key in fields:
                values[key] = value
            else:
                if extra is None:
                    extra = {}
                extra[key] = value
        fields_set.update(update)
    copied = _new(cls)
    _set(copied, "__dict__", values)
    _set(copied, "__pydantic_extra__", extra)
    _set(copied, "__pydantic_fields_set__", fields_set)
    _set(copied, "__pydantic_private__", None)  # results hold no private attributes (tested)
    return copied


_CONTAINERS = (dict, list)
#: LayerResult's contract fields that hold a dict (of numbers, as their types declare)
_MAP_FIELDS = tuple(name for name, field in LayerResult.model_fields.items()
                    if get_origin(field.annotation) is dict)


def _own(value: Any) -> Any:
    """A copy of the dicts and lists inside `value` (numbers and strings are immutable)."""
    if isinstance(value, dict):
        copied = dict(value)  # then a copy of each container in it
        for key, item in value.items():
            if isinstance(item, _CONTAINERS):
                copied[key] = _own(item)
        return copied
    if isinstance(value, list):
        return [_own(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


def renamed_layer(layer: LayerResult, name: str) -> LayerResult:
    """A copy of `layer` for the layer `name` that shares no dict or list with it, so that a
    later change to one never reaches the other: `copy_layer(layer, update)` with `update` =
    the name and a copy of every dict and list value (field or extra, all the way down; the
    contract maps hold numbers, so a flat copy is a whole one), each joining the fields set."""
    values = dict(layer.__dict__)
    values["name"] = name
    fields_set = set(layer.__pydantic_fields_set__)
    fields_set.add("name")
    for key in _MAP_FIELDS:
        values[key] = dict(values[key])
    fields_set.update(_MAP_FIELDS)
    extra = layer.__pydantic_extra__
    if extra is not None:
        extra = dict(extra)
        for key, value in extra.items():
            if isinstance(value, _CONTAINERS):
                extra[key] = _own(value)
                fields_set.add(key)
    copied = _new(type(layer))
    _set(copied, "__dict__", values)
    _set(copied, "__pydantic_extra__", extra)
    _set(copied, "__pydantic_fields_set__", fields_set)
    _set(copied, "__pydantic_private__", None)  # results hold no private attributes (tested)
    return copied


class Totals(LazyModel):
    cycles: int
    latency_s: float
    macs: int
    ops: int
    energy_pj: float
    energy_breakdown_pj: dict[str, float]
    energy_by_operand_pj: dict[str, float]
    dram_read_bytes: int
    dram_write_bytes: int
    dram_bytes_by_operand: dict[str, int]
    sram_read_bytes: int
    sram_write_bytes: int
    stall_cycles: int
    stall_breakdown_cycles: dict[str, int]
    overlap_cycles: int = Field(
        0, ge=0, description="cycles counted in more than one layer because the layers ran at "
        "the same time (tensor cores in pipeline placement): cycles = the sum of the layers' "
        "cycles - overlap_cycles, the run's span. 0 when layers run one after another")
    utilization: float
    tops: float = Field(description="achieved tera-operations per second (2 ops per MAC)")
    tops_per_watt: float
    operational_intensity: float
    bound: Literal["compute", "memory"]
    bottleneck: str = Field("", description="the layer that takes the most cycles, and why")
    area_mm2: float | None = Field(
        None, description="modelled chip area at the arch's node, mm^2 (simulator.core.area; None: no model)")
    area_breakdown_mm2: dict[str, float] = Field(
        default_factory=dict, description="area by component: mac, pe_registers, sram:<name>, ...")
    engine_totals: dict[str, float] = Field(
        default_factory=dict,
        description="engine-specific run-level figures that are not sums over layers, with units "
                    "in their names (e.g. tensorcore: weight_preload_bytes, a one-time cost "
                    "outside the per-run cycles and traffic)")


class RunResult(LazyModel):
    """A whole run: arch and workload summaries, totals and per-layer results."""

    arch: dict[str, Any]
    workload: dict[str, Any]
    totals: Totals
    layers: list[LayerResult]
    roofline: dict[str, float] = Field(default_factory=dict,
                                       description="peak_ops_per_s, dram_bytes_per_s, ridge_ops_per_byte")
    assumptions: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    npusim_version: str = ""
    _trace_events: list[dict] | None = PrivateAttr(default=None)

    def to_pandas(self):
        """The layers as a pandas DataFrame, one row per layer (simulator.report.notebook;
        needs pandas: `pip install 'npusim[notebook]'`)."""
        from simulator.report.notebook import layers_frame
        return layers_frame(self)

    def _repr_html_(self) -> str:
        """Jupyter shows a run as its headline figures and layer table."""
        from simulator.report.notebook import run_html
        return run_html(self)

    @property
    def trace_events(self) -> list[dict] | None:
        """Chrome trace events, when the run was traced by an event-driven engine."""
        return self._trace_events

    @trace_events.setter
    def trace_events(self, events: list[dict] | None) -> None:
        self._trace_events = events

    @model_validator(mode="after")
    def _totals_are_sums(self, info: ValidationInfo) -> "RunResult":
        if info.context is _SUMMED:
            return self  # built by from_layers: its totals are these sums (the same function)
        t, layers = self.totals, self.layers
        sums, maps = _layer_sums(layers)
        layer_cycles = sums["cycles"]
        if t.cycles != layer_cycles - t.overlap_cycles:
            raise ValueError(f"totals.cycles {t.cycles} != the sum over layers {layer_cycles} "
                             f"- overlap_cycles {t.overlap_cycles}")
        for key in ("macs", "ops", "dram_read_bytes", "dram_write_bytes",
                    "sram_read_bytes", "sram_write_bytes", "stall_cycles"):
            total = sums[key]
            if getattr(t, key) != total:
                raise ValueError(f"totals.{key} {getattr(t, key)} != the sum over layers {total}")
        energy = sum((layer.energy_pj for layer in layers), 0.0)
        if not _same_energy(t.energy_pj, energy):
            raise ValueError(f"totals.energy_pj {t.energy_pj} != the sum over layers {energy}")
        for key, same in (("energy_breakdown_pj", _same_energy),
                          ("energy_by_operand_pj", _same_energy),
                          ("dram_bytes_by_operand", operator.eq),
                          ("stall_breakdown_cycles", operator.eq)):
            summed = maps[key]
            mine = getattr(t, key)
            if set(mine) != set(summed) or not all(same(mine[k], summed[k]) for k in summed):
                raise ValueError(f"totals.{key} {mine} != the sum over layers {summed}")
        return self

    @classmethod
    def from_layers(cls, *, arch: dict[str, Any], workload: dict[str, Any],
                    layers: list[LayerResult], peak_macs_per_cycle: float, clock_hz: float,
                    roofline: dict[str, float], assumptions: list[str] | None = None,
                    warnings: list[str] | None = None, version: str = "",
                    span_cycles: int | None = None) -> "RunResult":
        """Sum layers into totals (the only place totals are computed; the validator checks
        them). `span_cycles`: the run's span when the engine overlaps layers, so that their
        cycles sum to more (totals.cycles is then the span and overlap_cycles the difference);
        None: layers run one after another and totals.cycles is their sum."""
        sums, maps = _layer_sums(layers)
        layer_cycles = sums["cycles"]
        cycles = layer_cycles if span_cycles is None else span_cycles
        if cycles > layer_cycles:
            raise ValueError(f"span {cycles} exceeds the sum of the layers' cycles {layer_cycles}")
        macs, ops = sums["macs"], sums["ops"]
        energy = sum(l.energy_pj for l in layers)
        latency = cycles / clock_hz if clock_hz else 0.0
        dram_bytes = sums["dram_read_bytes"] + sums["dram_write_bytes"]
        achieved = ops / latency if latency else 0.0
        watts = (energy * 1e-12) / latency if latency else 0.0
        intensity = ops / dram_bytes if dram_bytes else float("inf")
        ridge = roofline.get("ridge_ops_per_byte", 0.0)
        slowest = max(layers, key=lambda l: l.cycles) if layers else None
        bottleneck = ""
        if slowest is not None and cycles:
            bottleneck = (f"{slowest.name} ({slowest.cycles / cycles:.0%} of cycles; "
                          f"{_where_cycles_go(slowest)})")
        totals = Totals(
            cycles=cycles, latency_s=latency, macs=macs, ops=ops, energy_pj=energy,
            energy_breakdown_pj=maps["energy_breakdown_pj"],
            energy_by_operand_pj=maps["energy_by_operand_pj"],
            dram_read_bytes=sums["dram_read_bytes"], dram_write_bytes=sums["dram_write_bytes"],
            dram_bytes_by_operand=maps["dram_bytes_by_operand"],
            sram_read_bytes=sums["sram_read_bytes"], sram_write_bytes=sums["sram_write_bytes"],
            stall_cycles=sums["stall_cycles"],
            stall_breakdown_cycles=maps["stall_breakdown_cycles"],
            overlap_cycles=layer_cycles - cycles,
            utilization=macs / (cycles * peak_macs_per_cycle) if cycles and peak_macs_per_cycle else 0.0,
            tops=achieved / 1e12, tops_per_watt=(achieved / 1e12) / watts if watts else 0.0,
            operational_intensity=intensity,
            bound="memory" if intensity < ridge else "compute", bottleneck=bottleneck)
        return cls.model_validate(
            {"arch": arch, "workload": workload, "totals": totals, "layers": layers,
             "roofline": roofline, "assumptions": assumptions or [], "warnings": warnings or [],
             "npusim_version": version}, context=_SUMMED)
