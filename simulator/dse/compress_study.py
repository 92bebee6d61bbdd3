"""The compression study: the same networks under a list of compression settings on several
chips, each run against the uncompressed network on the same chip (`npusim compress-study`;
docs/compression.md section 9, lab 8).

A sweep preset: one in-memory sweep per chip (`simulator.dse.runner.run_sweep`), whose
workloads are the (network, setting) variants. Each variant is made for the chip it runs on:
- the network is compressed at the chip's precision (`compress_for_run`: a network without a
  precision of its own starts from the chip's native widths, so sharing an int8 chip's weights
  keeps 8-bit codebook values);
- a chip that computes only part of a network (its kind's `runs_layer`; EIE: FC and LSTM
  layers) runs that part, compressed as in the whole network (structured pruning of the convs
  narrows the first FC layer), and the row says so (`scope`); the uncompressed baseline on that
  chip is the same part, so speed-ups compare like with like;
- a setting the network or the chip refuses (EIE's 16-entry codebook against `share=32`) is a
  row with status `refused` and the one-line reason, not a failed study;
- variants that are identical on a chip (Winograd changes no FC layer) run once.

Every figure comes from the run (`RunResult`) and the model size (`simulator.compress`): no
constant of the study is tuned. Speed-up = baseline latency / latency, energy saving =
baseline energy / energy (both above 1 when the setting helps), on the same chip.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field

from simulator.compress.apply import compress_for_run
from simulator.compress.size import model_size
from simulator.compress.spec import parse_compress_string
from simulator.core.arch import ArchBase, Precision, StrictModel
from simulator.core.errors import NpusimError
from simulator.core.workload import Workload, workload_from_dict
from simulator.dse.runner import run_sweep
from simulator.dse.spec import Sweep
from simulator.dse.store import IN_MEMORY
from simulator.io.load import load_arch, load_workload
from simulator.kinds.registry import get_kind
from simulator.kinds.spec import Kind


@dataclass(frozen=True)
class Setting:
    """A compression setting: a label for tables and plots, and the compact string
    (docs/compression.md section 2; None: uncompressed)."""

    label: str
    spec: str | None


#: The bundled settings: one per family of the compression lecture, plus Deep Compression's
#: stack. The labels are plain text (tables and plot ticks).
DEFAULT_SETTINGS: tuple[Setting, ...] = (
    Setting("none", None),
    Setting("prune 90%", "prune=0.9"),
    Setting("channels -50%", "channels=0.5"),
    Setting("int4 weights", "wbits=4"),
    Setting("share 16 + Huffman", "share=16,huffman"),
    Setting("Deep Compression", "prune=0.9,share=16,huffman"),
    Setting("Winograd F2", "winograd=f2"),
    Setting("Winograd F4", "winograd=f4"),
)
DEFAULT_CHIPS: tuple[str, ...] = ("tpu_v1", "eie", "bpu")
DEFAULT_WORKLOADS: tuple[str, ...] = ("alexnet", "resnet50")
#: A layer counts as faster (slower) when its latency moves by more than this share.
LAYER_CHANGE = 0.01


def parse_setting(text: str) -> Setting:
    """`none`, a compact string (`prune=0.9,share=16`, its own label), or `LABEL:SPEC`."""
    label, colon, spec = text.partition(":")
    if not colon:
        label, spec = text, text
    label, spec = label.strip(), spec.strip()
    if not spec:
        raise NpusimError(f"empty compression setting {text!r}", field="--settings",
                          fix="write e.g. none, prune=0.9 or 'int4:wbits=4'")
    setting = Setting(label or spec, None if spec.lower() == "none" else spec)
    _check(setting)
    return setting


def _check(setting: Setting) -> None:
    """A setting's string must parse (a typo is an error, not a refused row); whether it
    fits a network or a chip is found per row."""
    if setting.spec is not None:
        try:
            parse_compress_string(setting.spec, source=f"setting {setting.label!r}")
        except NpusimError as exc:
            raise NpusimError(exc.message, file=exc.file, field="--settings",
                              fix=exc.fix) from None


@dataclass(frozen=True)
class ChipRef:
    """A chip of the study: an arch (bundled name or file) with its own `--set` overrides,
    written `[LABEL:]NAME[@PATH=VALUE]...`, e.g. `edge_32x32@datapath.winograd=[f2,f4]` or
    `edge_wino:edge_32x32@datapath.winograd=[f2,f4]` (the label names it in tables and plots;
    default: the text itself)."""

    label: str
    name: str
    overrides: tuple[str, ...] = ()


#: `LABEL:` before a chip: two or more word characters (so `C:\x.yaml` stays a path).
_CHIP_LABEL = re.compile(r"^([\w.+-]{2,}):(?![\\/])(.+)$")


def parse_chip(text: str) -> ChipRef:
    text = text.strip()
    match = _CHIP_LABEL.match(text)
    label, body = (match.group(1), match.group(2)) if match else (text, text)
    name, *overrides = [part.strip() for part in body.split("@")]
    if not name or any(not o or "=" not in o for o in overrides):
        raise NpusimError(f"cannot read chip {text!r}", field="--chips",
                          fix="write NAME, NAME@PATH=VALUE or LABEL:NAME@PATH=VALUE, e.g. "
                              "edge_wino:edge_32x32@datapath.winograd=[f2,f4]")
    return ChipRef(label, name, tuple(overrides))


class StudyRow(StrictModel):
    """One (network, setting, chip) of the study. Figures are None when the setting was
    refused; relative figures are against the uncompressed network on the same chip."""

    workload: str
    setting: str = Field(description="the setting's label")
    spec: str | None = Field(description="the compact compression string (None: none)")
    chip: str
    kind: str
    status: str = Field(description="ok | refused")
    part: str = Field("", description="the part of the network the chip ran, when not all "
                      "of it (EIE: 'FC and LSTM layers only')")
    scope: str = Field("", description="that part in figures: layers and share of the "
                       "uncompressed network's MACs")
    note: str = Field("", description="why refused, or that the setting changes nothing this "
                      "chip runs")
    applied: str = Field("", description="the transforms applied to the layers that ran")
    latency_s: float | None = None
    energy_pj: float | None = None
    dram_bytes: int | None = None
    macs: int | None = None
    model_bytes: int | None = Field(None, description="stored weights of the layers that ran, "
                                    "after every stage applied (simulator.compress.model_size)")
    speedup: float | None = Field(None, description="baseline latency / latency")
    energy_saving: float | None = Field(None, description="baseline energy / energy")
    dram_ratio: float | None = Field(None, description="DRAM bytes / baseline DRAM bytes")
    size_ratio: float | None = Field(None, description="baseline model bytes / model bytes")
    layers_faster: int | None = Field(None, description="layers more than 1 % faster")
    layers_slower: int | None = Field(None, description="layers more than 1 % slower")
    warnings: list[str] = Field(default_factory=list)


def chip_scope(workload: Workload, kind: Kind) -> tuple[Workload, str]:
    """The part of `workload` a chip of `kind` computes, and a note saying which part in
    figures (empty when all of it). Kept layers keep their resolved input shapes, so the part
    is the same work it is inside the network."""
    if kind.runs_layer is None:
        return workload, ""
    kept = [layer for layer in workload.layers if kind.runs_layer(layer)]
    if not kept:
        raise NpusimError(f"no layer of {workload.name} runs on a {kind.name} chip "
                          f"({kind.scope} only)", field="--chips",
                          fix="give it a network with such layers, or leave the chip out")
    if len(kept) == len(workload.layers):
        return workload, ""
    data = workload.model_dump(exclude_none=True)
    dumped = {layer["name"]: layer for layer in data["layers"]}
    layers = []
    for layer in kept:
        entry = {k: v for k, v in dumped[layer.name].items() if k != "inputs"}
        entry["input"] = list(layer.input_shapes[0])
        layers.append(entry)
    data.update(layers=layers, input=None, source=workload.source)
    part = workload_from_dict(data, workload.source or "<workload>")
    share = part.macs / workload.macs if workload.macs else 0.0
    note = (f"{kind.scope} only: {len(kept)} of {len(workload.layers)} layers, "
            f"{100 * share:.1f} % of the MACs")
    return part, note


def _scope_note(net: Workload, kind: Kind) -> str:
    """`chip_scope`'s note for the uncompressed network ("" when the chip runs all of it, or
    none of it: then every row is refused with the reason)."""
    try:
        return chip_scope(net, kind)[1]
    except NpusimError:
        return ""


def _identity(workload: Workload) -> str:
    """What a run of the workload depends on: not its name, source or transform record, nor
    its per-type `defaults` (already in every layer; transforms drop them)."""
    return json.dumps(workload.model_dump(mode="json", exclude={
        "name", "description", "source", "transforms", "defaults"}), sort_keys=True)


@dataclass
class _Variant:
    row: StudyRow
    label: str | None = None          # the sweep workload label, None when refused
    workload: Workload | None = None
    identity: str = ""


@dataclass
class StudyPlan:
    """The study: per chip, its sweep and the variant behind each row, in table order."""

    settings: list[Setting]
    chips: list[ChipRef]
    workloads: list[str]
    sweeps: dict[str, Sweep] = field(default_factory=dict)
    variants: list[_Variant] = field(default_factory=list)


def _with_baseline(settings: list[Setting]) -> list[Setting]:
    """The settings with the uncompressed baseline first (added when not given)."""
    base = [s for s in settings if s.spec is None]
    rest = [s for s in settings if s.spec is not None]
    labels = [s.label for s in rest]
    if len(set(labels)) != len(labels):
        raise NpusimError("two settings have the same label", field="--settings",
                          fix="give each a label: 'LABEL:SPEC'")
    return (base[:1] or [Setting("none", None)]) + rest


def plan(workloads: list[str | Workload], chips: list[str | ChipRef],
         settings: list[Setting] | None = None, overrides: list[str] | None = None,
         batch: int | None = None) -> StudyPlan:
    """Load every chip and network (named ones at `batch`, default their own), make every
    (network, setting) variant for every chip and build one sweep per chip. Errors in a chip
    or network name stop here; a setting that does not fit is a `refused` row."""
    settings = _with_baseline(list(settings or DEFAULT_SETTINGS))
    for setting in settings:
        _check(setting)
    refs = [c if isinstance(c, ChipRef) else parse_chip(c) for c in chips]
    if len({c.label for c in refs}) != len(refs):
        raise NpusimError("a chip is listed twice", field="--chips", fix="list each chip once")
    nets = [w if isinstance(w, Workload) else load_workload(w, batch=batch) for w in workloads]
    if len({w.name for w in nets}) != len(nets):
        raise NpusimError("a network is listed twice", field="workloads",
                          fix="list each network once")
    study = StudyPlan(settings, refs, [w.name for w in nets])
    cache = _Cache()
    for chip in refs:
        arch = load_arch(chip.name, [*(overrides or []), *chip.overrides])
        kind = get_kind(arch.kind)
        # what part of each network the chip runs, said once from the uncompressed network
        scopes = {net.name: _scope_note(net, kind) for net in nets}
        variants: dict[str, Workload] = {}
        by_identity: dict[str, str] = {}
        for net in nets:
            for setting in settings:
                variant = _variant(net, setting, chip, arch, kind, cache)
                if scopes[net.name]:
                    variant.row.part = f"{kind.scope} only"
                    variant.row.scope = scopes[net.name]
                if variant.workload is not None:
                    label = by_identity.setdefault(variant.identity,
                                                   f"{net.name} | {setting.label}")
                    variants.setdefault(label, variant.workload)
                    variant.label = label
                study.variants.append(variant)
        study.sweeps[chip.label] = Sweep(
            name=f"compress-study on {chip.label}", source=chip.name,
            base_arch=arch.model_dump(mode="json"), workloads=variants, points=[{}],
            fields=[], constraints=[], objectives=["latency_s", "energy_pj"],
            spec={"compress_study": chip.label})
    return study


@dataclass
class _Cache:
    """Work shared by the chips of a plan: chips with the same precision compress a network
    alike, and identical parts have the same model size."""

    compressed: dict[tuple[str, str | None, str], Workload | NpusimError] = field(
        default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)

    def compress(self, net: Workload, spec: str | None, label: str,
                 precision: Precision) -> Workload:
        key = (net.name, spec, precision.model_dump_json())
        if key not in self.compressed:
            try:
                self.compressed[key] = (
                    compress_for_run(net, spec, precision, source=label) if spec
                    else net.model_copy(update={"precision": precision}))
            except NpusimError as exc:
                self.compressed[key] = exc
        found = self.compressed[key]
        if isinstance(found, NpusimError):
            raise found
        return found

    def model_bytes(self, part: Workload, identity: str) -> int:
        if identity not in self.sizes:
            self.sizes[identity] = model_size(part).totals.huffman
        return self.sizes[identity]


def _variant(net: Workload, setting: Setting, chip: ChipRef, arch: ArchBase,
             kind: Kind, cache: _Cache) -> _Variant:
    row = StudyRow(workload=net.name, setting=setting.label, spec=setting.spec,
                   chip=chip.label, kind=arch.kind, status="ok")
    try:
        workload = cache.compress(net, setting.spec, setting.label,
                                  net.precision or arch.precision)
        part, _ = chip_scope(workload, kind)
    except NpusimError as exc:
        row.status, row.note = "refused", exc.one_line()
        return _Variant(row)
    names = {layer.name for layer in part.layers}
    row.applied = "; ".join(
        f"{t.name} on {len(kept)} layer{'s' * (len(kept) != 1)}"
        for t in part.transforms if (kept := [n for n in t.layers if n in names]))
    identity = _identity(part)
    row.model_bytes = cache.model_bytes(part, identity)
    return _Variant(row, workload=part, identity=identity)


def _layer_latency(result: dict[str, Any]) -> dict[str, float]:
    """Latency per layer of the original network, from a stored `RunResult` JSON (a low-rank
    layer's first factor `x_lr` counts towards `x`)."""
    names = {layer["name"] for layer in result["layers"]}
    out: dict[str, float] = {}
    for layer in result["layers"]:
        name = layer["name"]
        if name.endswith("_lr") and name[:-3] in names:
            name = name[:-3]
        out[name] = out.get(name, 0.0) + layer["latency_s"]
    return out


def _ratio(num: float | None, den: float | None) -> float | None:
    return num / den if num is not None and den else None


def run_study(study: StudyPlan, workers: int | None = 1) -> list[StudyRow]:
    """Run every chip's sweep (in memory) and fill the rows: figures, ratios against the
    same network uncompressed on the same chip, layers faster / slower, warnings. A variant
    the engine refuses (`NpusimError`) becomes a `refused` row."""
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for chip, sweep in study.sweeps.items():
        if sweep.workloads:
            run_sweep(sweep, IN_MEMORY, workers=workers,
                      on_row=lambda row, c=chip: stored.__setitem__((c, row["workload"]), row))
    results: dict[tuple[str, str], dict[str, Any]] = {}
    for variant in study.variants:
        if variant.label is None:
            continue
        row = stored[(variant.row.chip, variant.label)]
        if row["status"] == "invalid":
            variant.row.status, variant.row.note = "refused", row["error"]
            continue
        if row["status"] != "ok":
            raise RuntimeError(f"compression study: {variant.row.setting} of "
                               f"{variant.row.workload} on {variant.row.chip}: {row['error']}")
        key = (variant.row.chip, variant.label)
        if key not in results:
            results[key] = json.loads(row["result_json"])
        _fill(variant.row, results[key])
    baseline_label = study.settings[0].label
    bases = {(v.row.workload, v.row.chip): v for v in study.variants
             if v.row.setting == baseline_label}
    for variant in study.variants:
        base = bases[(variant.row.workload, variant.row.chip)]
        _relate(variant, base, results)
    nets = {name: i for i, name in enumerate(study.workloads)}
    settings = {s.label: i for i, s in enumerate(study.settings)}
    chips = {c.label: i for i, c in enumerate(study.chips)}
    return sorted((v.row for v in study.variants), key=lambda r: (
        nets[r.workload], settings[r.setting], chips[r.chip]))


def _fill(row: StudyRow, result: dict[str, Any]) -> None:
    """The row's figures from its stored `RunResult` JSON."""
    t = result["totals"]
    row.latency_s, row.energy_pj = t["latency_s"], t["energy_pj"]
    row.dram_bytes, row.macs = t["dram_read_bytes"] + t["dram_write_bytes"], t["macs"]
    row.warnings = list(result["warnings"])


def _relate(variant: _Variant, base: _Variant,
            results: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Ratios against the baseline row; a variant identical to it on this chip says so."""
    row, ref = variant.row, base.row
    if row.status != "ok" or ref.status != "ok":
        if row.status == "ok":
            row.note = row.note or f"no baseline: {ref.note}"
        return
    row.speedup = _ratio(ref.latency_s, row.latency_s)
    row.energy_saving = _ratio(ref.energy_pj, row.energy_pj)
    row.dram_ratio = _ratio(row.dram_bytes, ref.dram_bytes)
    row.size_ratio = _ratio(ref.model_bytes, row.model_bytes)
    mine = _layer_latency(results[(row.chip, str(variant.label))])
    theirs = _layer_latency(results[(ref.chip, str(base.label))])
    row.layers_faster = sum(1 for n, t in theirs.items()
                            if t > 0 and mine.get(n, t) < t * (1 - LAYER_CHANGE))
    row.layers_slower = sum(1 for n, t in theirs.items()
                            if t > 0 and mine.get(n, t) > t * (1 + LAYER_CHANGE))
    if variant is not base and variant.identity == base.identity:
        row.note = "changes no layer this chip runs"


def study(workloads: list[str | Workload] | None = None, chips: list[str | ChipRef] | None = None,
          settings: list[Setting] | None = None, overrides: list[str] | None = None,
          workers: int | None = 1, batch: int | None = None) -> list[StudyRow]:
    """The study's rows, network-major, then setting, then chip (defaults: AlexNet and
    ResNet-50, the eight bundled settings, tpu_v1 / eie / bpu)."""
    return run_study(plan(list(workloads or DEFAULT_WORKLOADS), list(chips or DEFAULT_CHIPS),
                          settings, overrides, batch), workers)


__all__ = ["DEFAULT_CHIPS", "DEFAULT_SETTINGS", "DEFAULT_WORKLOADS", "ChipRef", "Setting",
           "StudyPlan", "StudyRow", "chip_scope", "parse_chip", "parse_setting", "plan",
           "run_study", "study"]
