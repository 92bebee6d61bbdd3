"""The sweep file (YAML): base arch, workloads, fields to vary, links, constraints, objectives.

Everything is validated before any work: every field path is checked by applying each design
point's overrides to the base arch and validating it with the arch model, ranges must not be
empty, metrics in constraints and objectives must exist. See docs/sweeps.md for the format.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import operator
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import Field, NonNegativeInt, PositiveInt, ValidationError, model_validator

from simulator.core.arch import ArchBase, StrictModel
from simulator.core.errors import NpusimError, from_validation_error
from simulator.core.limits import MAX_SWEEP_ROWS
from simulator.core.metrics import ALIASES, OBJECTIVES, objective_name
from simulator.core.workload import Workload
from simulator.io.bundled import YAML_SUFFIXES, arch_dir, resolve_bundled
from simulator.io.load import load_workload, resolve_arch_paths
from simulator.io.overrides import set_dotted
from simulator.io.yaml import read_yaml
from simulator.kinds.registry import arch_from_dict

# ---- metrics ----------------------------------------------------------------------------------

def metric_name(text: str, where: str, file: str | Path | None = None) -> str:
    """Resolve a metric name or alias (`latency`, `area_mm2`, `TOPS/W`): the figures of
    `simulator.core.metrics.OBJECTIVES`."""
    name = objective_name(text)
    if name is None:
        raise NpusimError(f"unknown metric {text!r}", file=file, field=where,
                          fix=f"use one of: {', '.join(sorted(set(OBJECTIVES) | set(ALIASES)))}")
    return name


_OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt,
        "==": operator.eq}
_CONSTRAINT_RE = re.compile(r"^\s*([A-Za-z_/][A-Za-z0-9_/]*)\s*(<=|>=|==|<|>)\s*([-+0-9.eE_]+)\s*$")


@dataclass(frozen=True)
class Constraint:
    metric: str
    op: str
    value: float

    def holds(self, row: dict[str, Any]) -> bool:
        got = row.get(self.metric)
        return got is not None and _OPS[self.op](got, self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


def parse_constraint(text: str, where: str = "constraints",
                     file: str | Path | None = None) -> Constraint:
    """Parse `area_mm2 <= 50` (metric, comparison, number)."""
    match = _CONSTRAINT_RE.match(str(text))
    if not match:
        raise NpusimError(f"cannot read constraint {str(text)[:80]!r}", file=file, field=where,
                          fix="write METRIC OP NUMBER, e.g. 'area_mm2 <= 50'")
    try:
        value = float(match.group(3))
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise NpusimError(f"constraint {text!r} has no valid finite number", file=file,
                          field=where, fix="write METRIC OP NUMBER, e.g. 'area_mm2 <= 50'")
    return Constraint(metric_name(match.group(1), where, file), match.group(2), value)


# ---- value axes -------------------------------------------------------------------------------


class RangeSpec(StrictModel):
    """`{start, stop, step}` (arithmetic), `{start, stop, num, log}` (linear or log-spaced) or
    `{start, stop, factor}` (geometric, e.g. factor 2 for powers of two). `stop` is included
    when the sequence lands on it. Integer endpoints give integer values."""

    start: float
    stop: float
    step: float | None = None
    num: NonNegativeInt | None = None
    log: bool = False
    factor: float | None = Field(None, description="multiply by this (> 1) from start to stop")

    @model_validator(mode="after")
    def _one_kind(self) -> "RangeSpec":
        given = [n for n in ("step", "num", "factor") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of step, num or factor")
        if self.step is not None and self.step == 0:
            raise ValueError("step must not be 0")
        if self.factor is not None and self.factor <= 1:
            raise ValueError("factor must be greater than 1")
        if (self.log or self.factor) and (self.start <= 0 or self.stop <= 0):
            raise ValueError("log-spaced and geometric ranges need positive start and stop")
        return self

    def count(self) -> float:
        """How many values the range has, in closed form, before any is made (the sweep's size
        is checked against its cap first; docs/sweeps.md). May be inf."""
        if self.step is not None:
            ratio = (self.stop - self.start) / self.step
            return math.floor(ratio + 1e-9) + 1 if math.isfinite(ratio) and ratio >= -1 \
                else (0 if math.isfinite(ratio) else math.inf)
        if self.factor is not None:
            steps = (math.log(self.stop) - math.log(self.start)) / math.log(self.factor)
            return max(math.floor(steps + 1e-9) + 1, 0) if math.isfinite(steps) else math.inf
        return self.num or 0

    def values(self, integers: bool) -> list[float]:
        out: list[float] = []
        if self.step is not None:
            count = math.floor((self.stop - self.start) / self.step + 1e-9) + 1
            out = [self.start + i * self.step for i in range(max(count, 0))]
        elif self.factor is not None:
            value = self.start
            while value <= self.stop * (1 + 1e-9):
                out.append(value)
                value *= self.factor
        elif self.num:
            if self.num == 1:
                out = [self.start]
            elif self.log:
                ratio = (self.stop / self.start) ** (1 / (self.num - 1))
                out = [self.start * ratio ** i for i in range(self.num)]
            else:
                out = [self.start + i * (self.stop - self.start) / (self.num - 1)
                       for i in range(self.num)]
        if integers:
            out = list(dict.fromkeys(int(round(v)) for v in out))
        return out


class LinkSpec(StrictModel):
    """A field that follows another: `target = scale x source`."""

    same_as: str
    scale: float = 1.0


class WorkloadRef(StrictModel):
    """A workload by name, or one phase of an LLM (`llm:` config, `phase:`, and the prompt
    length of a prefill or the context length of a decode step; docs/llm.md)."""

    name: str | None = Field(None, description="bundled name or path")
    batch: PositiveInt | None = None
    llm: str | None = Field(None, description="LLM config (bundled name or path)")
    phase: Literal["prefill", "decode"] | None = None
    prompt: PositiveInt | None = Field(None, description="prefill: prompt tokens")
    context: PositiveInt | None = Field(None, description="decode: context tokens")

    @model_validator(mode="after")
    def _one_source(self) -> "WorkloadRef":
        if (self.name is None) == (self.llm is None):
            raise ValueError("give either name (a workload) or llm (an LLM config)")
        if self.llm is None and (self.phase or self.prompt or self.context):
            raise ValueError("phase, prompt and context go with llm")
        if self.llm is not None and self.phase is None:
            raise ValueError("an LLM workload needs phase: prefill or decode")
        return self

    def label(self) -> str:
        """The workload's name in the results: `resnet50@b4`, `llama2_7b.decode@L2048@b8`."""
        if self.llm is None:
            return Path(str(self.name)).stem + (f"@b{self.batch}" if self.batch else "")
        size = f"@P{self.prompt}" if self.phase == "prefill" else f"@L{self.context}"
        return (f"{Path(self.llm).stem}.{self.phase}{size if (self.prompt or self.context) else ''}"
                + (f"@b{self.batch}" if self.batch else ""))


class SweepFile(StrictModel):
    """The sweep file as written (see docs/sweeps.md)."""

    name: str = "sweep"
    description: str = ""
    base: str = Field(description="base arch: bundled name or path (relative to the sweep file)")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="fixed overrides applied to the base arch")
    # WorkloadRef first: a bad entry's first error is then about its fields, not "not a string"
    workloads: list[Union[WorkloadRef, str]] = Field(min_length=1)
    vary: dict[str, Union[RangeSpec, list[Any], str, int, float, bool]] = Field(
        default_factory=dict)
    link: dict[str, Union[str, LinkSpec]] = Field(default_factory=dict)
    constraints: list[str] = Field(default_factory=list)
    objectives: list[str] = Field(default_factory=lambda: ["latency_s", "energy_pj", "area_mm2"])
    kind: Literal["sweep"] = "sweep"


# ---- the resolved sweep -----------------------------------------------------------------------


def canonical(value: Any) -> Any:
    """Integral floats become ints so 262144 and 262144.0 name the same point."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def point_key(point: dict[str, Any], workload: str) -> str:
    """Stable key of a (design point, workload) row."""
    text = json.dumps({"point": point, "workload": workload}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def point_json(point: dict[str, Any]) -> str:
    return json.dumps(point, sort_keys=True)


def apply_point(base: dict, point: dict[str, Any], source: str | Path = "<sweep>") -> dict:
    """A deep copy of the base arch dict with the point's dotted overrides set."""
    data = copy.deepcopy(base)
    for path, value in point.items():
        set_dotted(data, path.split("."), value, source)
    return data


@dataclass
class Sweep:
    """A validated sweep: base arch dict, resolved workloads, every design point."""

    name: str
    source: str
    base_arch: dict[str, Any]
    workloads: dict[str, Workload]
    points: list[dict[str, Any]]
    fields: list[str]
    constraints: list[Constraint]
    objectives: list[str]
    spec: dict[str, Any]

    def fingerprint(self, version: str) -> str:
        """Identifies what points are evaluated on (not which points): base arch, workloads,
        npusim version. A store with another fingerprint must not be resumed."""
        blob = json.dumps({"base": self.base_arch,
                           # the workload's file path is not part of its identity
                           "workloads": {k: w.model_dump(mode="json", exclude={"source"})
                                         for k, w in sorted(self.workloads.items())},
                           "version": version}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()

    def points_hash(self) -> str:
        """Identifies which rows the sweep has: its (design point, workload) keys. Objectives
        and constraints are not part of it (they only change the report)."""
        keys = sorted(key for key, _, _ in self.tasks())
        return hashlib.sha256("\n".join(keys).encode()).hexdigest()

    def tasks(self) -> list[tuple[str, dict[str, Any], str]]:
        """(key, point, workload label) for every row of the results table."""
        return [(point_key(p, w), p, w) for p in self.points for w in self.workloads]

    def arch_for(self, point: dict[str, Any]) -> ArchBase:
        return arch_from_dict(apply_point(self.base_arch, point, self.source), self.source)


def _resolve_relative(text: str, sweep_dir: Path) -> str:
    candidate = sweep_dir / text
    return str(candidate) if candidate.exists() and not Path(text).is_absolute() else text


def sweep_row_cap() -> int:
    """The most rows (design points x workloads) a sweep may have: `MAX_SWEEP_ROWS`, or the
    environment variable NPUSIM_MAX_SWEEP_ROWS."""
    text = os.environ.get("NPUSIM_MAX_SWEEP_ROWS", "").strip()
    if not text:
        return MAX_SWEEP_ROWS
    try:
        cap = int(text)
    except ValueError:
        cap = 0
    if cap < 1:
        raise NpusimError(f"NPUSIM_MAX_SWEEP_ROWS must be a positive integer, got {text[:40]!r}",
                          field="NPUSIM_MAX_SWEEP_ROWS", fix="unset it or give e.g. 5000000")
    return cap


def _axis_size(spec: Any) -> float:
    if isinstance(spec, RangeSpec):
        return spec.count()
    return len(spec) if isinstance(spec, list) else 1


def check_sweep_size(file: SweepFile, source: str, cap: int) -> int:
    """The number of rows (design points x workloads) the sweep file asks for, computed from
    the axis sizes before any point is made; more than `cap` is refused."""
    rows: float = len(file.workloads)
    for path, spec in file.vary.items():
        size = _axis_size(spec)
        rows *= size
        if size > cap or rows > cap:
            what = "values" if size > cap else "rows with the axes before it"
            count = size if size > cap else rows
            shown = ("infinitely many" if count == math.inf else
                     f"{count:,.0f}" if count < 1e15 else f"{count:.3g}")
            raise NpusimError(f"the sweep would have {shown} {what}, over the cap of {cap:,} "
                              "rows", file=source, field=f"vary.{path}",
                              fix="narrow the ranges (check step, num and factor), or raise the "
                              "cap with --max-rows / NPUSIM_MAX_SWEEP_ROWS")
    return int(rows)


def _axis_values(path: str, spec: Any, source: str) -> list[Any]:
    where = f"vary.{path}"
    if isinstance(spec, RangeSpec):
        integers = all(float(v).is_integer() for v in (spec.start, spec.stop)) and (
            spec.step is None or float(spec.step).is_integer())
        values = spec.values(integers)
    elif isinstance(spec, list):
        values = [canonical(v) for v in spec]
    else:
        values = [canonical(spec)]
    if not values:
        raise NpusimError("the range is empty (no values to sweep)", file=source, field=where,
                          fix="check start/stop/step (stop is included; step sign matters) "
                              "or give a non-empty list")
    unique = dict.fromkeys(json.dumps(v, sort_keys=True) for v in values)
    return [json.loads(text) for text in unique]


def _expand(file: SweepFile, source: str) -> list[dict[str, Any]]:
    axes = {path: _axis_values(path, spec, source) for path, spec in file.vary.items()}
    links = {target: (LinkSpec(same_as=spec) if isinstance(spec, str) else spec)
             for target, spec in file.link.items()}
    for target, link in links.items():
        if target in axes:
            raise NpusimError("a linked field cannot also be varied", file=source,
                              field=f"link.{target}", fix="remove it from vary or from link")
        if link.same_as not in axes:
            raise NpusimError(f"links to {link.same_as!r}, which is not a varied field",
                              file=source, field=f"link.{target}",
                              fix="link to a field listed under vary")
    points = []
    for combo in itertools.product(*axes.values()):
        point = dict(zip(axes, combo))
        for target, link in links.items():
            value = point[link.same_as]
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                if link.scale != 1:
                    raise NpusimError("only numeric fields can be linked with a scale",
                                      file=source, field=f"link.{target}")
                point[target] = value
            else:
                scaled = value * link.scale
                point[target] = int(round(scaled)) if isinstance(value, int) and float(
                    scaled).is_integer() else canonical(scaled)
        points.append(dict(sorted(point.items())))
    return points


def load_sweep(path: str | Path, max_rows: int | None = None) -> Sweep:
    """Read and validate a sweep file completely (no simulation happens here). A sweep of more
    than `max_rows` rows (default `sweep_row_cap()`) is refused before it is expanded."""
    path = Path(path)
    raw = read_yaml(path)
    try:
        file = SweepFile.model_validate(raw)
    except ValidationError as exc:
        raise from_validation_error(exc, path) from None
    return build_sweep(file, path, max_rows)


def build_sweep(file: SweepFile, path: str | Path = "<sweep>",
                max_rows: int | None = None) -> Sweep:
    """Resolve the base arch and workloads, expand and validate every design point."""
    source = str(path)
    check_sweep_size(file, source, max_rows or sweep_row_cap())
    sweep_dir = Path(path).parent if source != "<sweep>" else Path.cwd()
    base_path = resolve_bundled(_resolve_relative(file.base, sweep_dir), arch_dir(),
                                YAML_SUFFIXES, "arch")
    base = resolve_arch_paths(read_yaml(base_path), base_path)
    for dotted, value in file.set.items():
        set_dotted(base, dotted.split("."), value, source)
    # the base itself must be valid (names the file and field if not)
    arch_from_dict(copy.deepcopy(base), source)

    workloads: dict[str, Workload] = {}
    for i, ref in enumerate(file.workloads):
        ref = WorkloadRef(name=ref) if isinstance(ref, str) else ref
        if ref.llm is not None:
            from simulator.io.llm import load_llm
            from simulator.llm.build import phase_workload
            workload = phase_workload(load_llm(_resolve_relative(ref.llm, sweep_dir)),
                                      str(ref.phase), prompt=ref.prompt, context=ref.context,
                                      batch=ref.batch or 1, source=f"{source}: workloads[{i}]")
        else:
            workload = load_workload(_resolve_relative(str(ref.name), sweep_dir),
                                     batch=ref.batch)
        label = ref.label()
        if label in workloads:
            raise NpusimError(f"workload {label!r} is listed twice", file=source,
                              field="workloads", fix="list each workload once")
        workloads[label] = workload

    points = _expand(file, source)
    seen: set[str] = set()
    for point in points:  # every point must be a valid arch: catches bad paths and values
        text = point_json(point)
        if text in seen:
            continue
        seen.add(text)
        try:
            arch_from_dict(apply_point(base, point, source), source)
        except NpusimError as exc:
            raise NpusimError(f"design point {text}: {exc.message}", file=source,
                              field=exc.field, fix=exc.fix or "check the vary/link paths "
                              "against the arch fields (docs/formats.md)") from None
    unique = [json.loads(t) for t in dict.fromkeys(point_json(p) for p in points)]

    constraints = [parse_constraint(c, f"constraints[{i}]", source)
                   for i, c in enumerate(file.constraints)]
    objectives = list(dict.fromkeys(metric_name(o, f"objectives[{i}]", source)
                                    for i, o in enumerate(file.objectives)))
    if not objectives:
        raise NpusimError("no objectives", file=source, field="objectives",
                          fix="list at least one, e.g. [latency, energy, area]")
    fields = sorted({k for p in unique for k in p})
    return Sweep(name=file.name, source=source, base_arch=base, workloads=workloads,
                 points=unique, fields=fields, constraints=constraints, objectives=objectives,
                 spec=file.model_dump(mode="json"))
