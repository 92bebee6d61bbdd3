"""SCALE-Sim importers: topology CSVs (conv and GEMM forms) and `.cfg` architecture files.

Both return plain dicts in npusim's own formats (a workload dict, an arch dict), which the
usual pydantic models then validate; every problem with the file is a one-line
:class:`~simulator.core.errors.NpusimError` naming the file, the row or key, and the fix.

What SCALE-Sim means by its files (read from its source, `scalesim` 2.x/3.0,
`topology_utils.py` and `scale_config.py`; Samajdar et al., ISPASS 2020):

* Conv topology: a header line, then `name, IFMAP H, IFMAP W, Filter H, Filter W, Channels,
  Num Filter, Stride,` (one stride for both axes, an optional `N:M` structured-sparsity column,
  a trailing comma). The IFMAP is already padded, and the ofmap is ceil((H - R + s) / s) per axis
  (`topo_calc_hyperparams`). A layer whose name contains `DP` is depthwise: SCALE-Sim runs it as
  `Channels` separate single-channel layers of `Num Filter` filters each.
* GEMM topology (`Layer, M, N, K,`): SCALE-Sim turns a row into a conv with IFMAP M x K, a 1 x K
  filter, 1 channel and N filters (`load_arrays_gemm`), so M is the number of output rows (the
  im2col pixel count), K the reduction length and N the number of output columns (filters):
  (M x K) @ (K x N), M*N*K MACs.
* `.cfg`: configparser sections `[general]` (run_name), `[architecture_presets]` (ArrayHeight,
  ArrayWidth, IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB, Dataflow, Bandwidth, ...),
  `[run_presets]` (InterfaceBandwidth USER | CALC, ...). Words are 1 byte and kB are 1024 bytes
  (`single_layer_sim.py`: word_size = 1, size_bytes = 1024 * size_kb).
"""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from simulator.core.errors import NpusimError
from simulator.core.limits import MAX_CFG_BYTES, MAX_CSV_BYTES, MAX_INT, power_of_two
from simulator.io.files import read_input_text

#: SCALE-Sim has no clock; its bandwidth is in words (bytes) per cycle. npusim needs a clock to
#: turn cycles into seconds, so an imported arch runs at 1 GHz (1 word/cycle = 1 GB/s).
SCALESIM_CLOCK_MHZ = 1000.0
#: Bandwidth of SCALE-Sim's default `scale.cfg`, used when a CALC-mode file gives none.
SCALESIM_DEFAULT_BANDWIDTH_WORDS = 10

_CONV_COLUMNS = ("IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width", "Channels",
                 "Num Filter", "Strides")
_GEMM_COLUMNS = ("M", "N", "K")


# ------------------------------------------------------------------------------------------
# topology CSV
# ------------------------------------------------------------------------------------------
def _read_text(path: Path, what: str) -> str:
    limit = MAX_CFG_BYTES if what.endswith("file") else MAX_CSV_BYTES
    text = read_input_text(path, f"a SCALE-Sim {what}", limit, encoding="utf-8-sig")
    if not text.strip():
        raise NpusimError(f"file is empty, expected a SCALE-Sim {what}", file=path,
                          fix="see docs/formats.md for the SCALE-Sim formats")
    return text


def _fields(line: str) -> list[str]:
    """Split a CSV line, stripping spaces and the trailing empty field(s) of the final comma."""
    cells = [cell.strip() for cell in line.split(",")]
    while cells and cells[-1] == "":
        cells.pop()
    return cells


def _positive_int(text: str, path: Path, field: str) -> int:
    try:
        value = int(text) if len(text) <= 40 else None
    except ValueError:
        value = None
    if value is None:
        shown = text if len(text) <= 40 else text[:37] + "..."
        raise NpusimError(f"expected a positive integer, got {shown!r}", file=path, field=field,
                          fix="write a whole number such as 3") from None
    if value <= 0:
        raise NpusimError(f"must be positive, got {value}", file=path, field=field,
                          fix="use a value of 1 or more")
    if value > MAX_INT:
        raise NpusimError(f"{value:,} is over the limit {power_of_two(MAX_INT)}", file=path,
                          field=field, fix="see Limits in docs/formats.md")
    return value


def _density(text: str, path: Path, field: str) -> float:
    """SCALE-Sim's `N:M` structured sparsity (N non-zeros in every block of M) as a density."""
    parts = text.split(":")
    if len(parts) != 2:
        raise NpusimError(f"expected a sparsity ratio N:M, got {text!r}", file=path, field=field,
                          fix="write e.g. 2:4, or leave the column out for dense")
    n = _positive_int(parts[0].strip(), path, field)
    m = _positive_int(parts[1].strip(), path, field)
    if n > m:
        raise NpusimError(f"sparsity ratio {text!r} has N > M", file=path, field=field,
                          fix="N non-zeros per block of M needs N <= M")
    return n / m


def _unique(name: str, seen: dict[str, int]) -> str:
    """SCALE-Sim does not require unique layer names; npusim does (`conv`, `conv_2`, ...)."""
    count = seen.get(name, 0) + 1
    seen[name] = count
    return name if count == 1 else f"{name}_{count}"


def read_scalesim_topology(path: str | Path) -> dict[str, Any]:
    """Read a SCALE-Sim topology CSV (conv or GEMM form, told apart by the header) into a
    workload dict. Conv rows become `conv` layers on the already-padded IFMAP (padding 0,
    ceil_mode, and `ofmap_rule: scalesim` where the kernel is smaller than the stride, the one
    case where SCALE-Sim's ceil((H - R + s) / s) differs from PyTorch's ceil_mode); GEMM rows
    become `matmul` layers with a weight operand."""
    path = Path(path)
    text = _read_text(path, "topology CSV")
    lines = [(number, line) for number, line in enumerate(text.splitlines(), start=1)
             if line.strip()]
    header_line, header = lines[0][0], _fields(lines[0][1])
    lowered = [cell.lower() for cell in header]
    if len(lowered) >= 4 and lowered[1:4] == ["m", "n", "k"]:
        form = "gemm"
    elif len(lowered) >= 8 and "ifmap" in lowered[1]:
        form = "conv"
    else:
        raise NpusimError(f"line {header_line}: unrecognised header {', '.join(header)!r}",
                          file=path, field="header",
                          fix="the first line must be 'Layer name, IFMAP Height, IFMAP Width, "
                              "Filter Height, Filter Width, Channels, Num Filter, Strides,' or "
                              "'Layer, M, N, K,'")
    if len(lines) < 2:
        raise NpusimError("no layer rows after the header", file=path,
                          fix="add one row per layer")
    layers: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for number, line in lines[1:]:
        cells = _fields(line)
        if form == "conv":
            layers.append(_conv_row(cells, number, path, seen))
        else:
            layers.append(_gemm_row(cells, number, path, seen))
    rule = ("IFMAP sizes are already padded; ofmaps are sized ceil((H - R + stride) / stride) as "
            "SCALE-Sim does (padding 0, ceil_mode)" if form == "conv" else
            "each row is an (M x K) @ (K x N) product with stored weights")
    return {
        "name": path.stem,
        "description": f"Imported from SCALE-Sim {form} topology {path.name}: {rule}",
        "source": str(path),
        "batch": 1,
        "layers": layers,
    }


def _conv_row(cells: list[str], number: int, path: Path, seen: dict[str, int]) -> dict[str, Any]:
    where = f"line {number}"
    if len(cells) < 1 + len(_CONV_COLUMNS):
        missing = _CONV_COLUMNS[max(len(cells) - 1, 0)]
        raise NpusimError(f"row has {len(cells)} columns, expected {1 + len(_CONV_COLUMNS)}",
                          file=path, field=f"{where}.{missing}",
                          fix="give name, IFMAP H, IFMAP W, Filter H, Filter W, Channels, "
                              "Num Filter, Strides")
    if len(cells) > 2 + len(_CONV_COLUMNS):
        raise NpusimError(f"row has {len(cells)} columns, expected at most "
                          f"{2 + len(_CONV_COLUMNS)}", file=path, field=where,
                          fix="remove the extra columns")
    raw_name = cells[0] or f"layer{number}"
    name = _unique(raw_name, seen)
    h, w, r, s, c, f, stride = (_positive_int(cells[i + 1], path, f"{where} ({raw_name}).{col}")
                                for i, col in enumerate(_CONV_COLUMNS))
    if r > h or s > w:
        raise NpusimError(f"filter {r}x{s} is larger than the IFMAP {h}x{w}", file=path,
                          field=f"{where} ({raw_name}).Filter Height",
                          fix="the IFMAP must include the padding and be at least the filter size")
    layer: dict[str, Any] = {"name": name, "type": "conv", "input": [c, h, w]}
    if "DP" in raw_name:
        # SCALE-Sim: one single-channel layer of `Num Filter` filters per channel
        layer.update(out_channels=c * f, groups=c)
    else:
        layer["out_channels"] = f
    layer.update(kernel=r if r == s else [r, s], stride=stride, padding=0, ceil_mode=True)
    if r < stride or s < stride:
        layer["ofmap_rule"] = "scalesim"
    if len(cells) == 2 + len(_CONV_COLUMNS):
        density = _density(cells[-1], path, f"{where} ({raw_name}).Sparsity")
        if density < 1:
            layer["weight_density"] = density
    return layer


def _gemm_row(cells: list[str], number: int, path: Path, seen: dict[str, int]) -> dict[str, Any]:
    where = f"line {number}"
    if len(cells) < 4:
        missing = _GEMM_COLUMNS[max(len(cells) - 1, 0)]
        raise NpusimError(f"row has {len(cells)} columns, expected 4", file=path,
                          field=f"{where}.{missing}", fix="give Layer, M, N, K")
    if len(cells) > 5:
        raise NpusimError(f"row has {len(cells)} columns, expected at most 5", file=path,
                          field=where, fix="remove the extra columns")
    raw_name = cells[0] or f"layer{number}"
    m, n, k = (_positive_int(cells[i + 1], path, f"{where} ({raw_name}).{col}")
               for i, col in enumerate(_GEMM_COLUMNS))
    layer: dict[str, Any] = {"name": _unique(raw_name, seen), "type": "matmul",
                             "m": m, "k": k, "n": n, "weights": True}
    if len(cells) == 5:
        density = _density(cells[4], path, f"{where} ({raw_name}).Sparsity")
        if density < 1:
            layer["weight_density"] = density
    return layer


# ------------------------------------------------------------------------------------------
# .cfg
# ------------------------------------------------------------------------------------------
def _cfg_get(config: configparser.ConfigParser, section: str, key: str) -> str | None:
    if config.has_section(section) and config.has_option(section, key):
        return config.get(section, key).strip()
    return None


def _cfg_int(config: configparser.ConfigParser, path: Path, section: str, key: str) -> int:
    text = _cfg_get(config, section, key)
    if text is None:
        raise NpusimError("required key is missing", file=path, field=f"[{section}] {key}",
                          fix=f"add '{key} : <value>' under [{section}]")
    return _positive_int(text, path, f"[{section}] {key}")


def read_scalesim_cfg(path: str | Path) -> dict[str, Any]:
    """Read a SCALE-Sim `.cfg` into a systolic arch dict with split SRAMs.

    Kept: ArrayHeight/ArrayWidth (array rows/cols), Ifmap/Filter/OfmapSramSzkB (x 1024 bytes,
    double-buffered as SCALE-Sim's scratchpads are), Dataflow, Bandwidth (the first value, words
    of 1 byte per cycle, at an assumed 1 GHz clock). Not mapped (they do not change npusim's
    model): IfmapOffset/FilterOffset/OfmapOffset (trace addresses), Read/WriteRequestBuffer,
    MemoryBanks, the [layout] bank settings, UseRamulatorTrace, TopologyCsvLoc (give the
    workload separately), and [sparsity]."""
    path = Path(path)
    text = _read_text(path, ".cfg file")
    config = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        config.read_string(text, source=str(path))
    except configparser.MissingSectionHeaderError as exc:
        raise NpusimError(f"line {exc.lineno}: a key before any [section]", file=path,
                          field="[architecture_presets]",
                          fix="start with [general] / [architecture_presets] headers") from None
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise NpusimError(f"malformed .cfg: {first}", file=path,
                          fix="write 'Key : value' lines under [section] headers") from None
    section = "architecture_presets"
    if not config.has_section(section):
        raise NpusimError("missing section", file=path, field=f"[{section}]",
                          fix="add [architecture_presets] with ArrayHeight, ArrayWidth, "
                              "IfmapSramSzkB, FilterSramSzkB, OfmapSramSzkB, Dataflow")
    rows = _cfg_int(config, path, section, "ArrayHeight")
    cols = _cfg_int(config, path, section, "ArrayWidth")
    sram = {key: _cfg_int(config, path, section, key) * 1024
            for key in ("IfmapSramSzkB", "FilterSramSzkB", "OfmapSramSzkB")}
    dataflow = (_cfg_get(config, section, "Dataflow") or "").lower()
    if dataflow not in ("os", "ws", "is"):
        raise NpusimError(f"dataflow must be os, ws or is, got {dataflow or 'nothing'!r}",
                          file=path, field=f"[{section}] Dataflow", fix="write Dataflow : ws")
    mode = (_cfg_get(config, "run_presets", "InterfaceBandwidth") or "USER").upper()
    if mode not in ("USER", "CALC"):
        raise NpusimError(f"InterfaceBandwidth must be USER or CALC, got {mode!r}", file=path,
                          field="[run_presets] InterfaceBandwidth", fix="write USER or CALC")
    notes = []
    raw_bw = _cfg_get(config, section, "Bandwidth")
    if raw_bw:
        values = _fields(raw_bw)
        bandwidth_words = _positive_int(values[0] if values else raw_bw, path,
                                        f"[{section}] Bandwidth")
        if len(values) > 1:
            notes.append(f"first of the Bandwidth values {raw_bw} used")
    elif mode == "USER":
        raise NpusimError("required key is missing (InterfaceBandwidth is USER)", file=path,
                          field=f"[{section}] Bandwidth", fix="add 'Bandwidth : 10' (words/cycle)")
    else:
        bandwidth_words = SCALESIM_DEFAULT_BANDWIDTH_WORDS
        notes.append(f"no Bandwidth given, {bandwidth_words} words/cycle assumed")
    if mode == "CALC":
        notes.append("SCALE-Sim's CALC mode reports the stall-free bandwidth; npusim models "
                     f"stalls at {bandwidth_words} words/cycle (override dram.bandwidth_gbps)")
    name = _cfg_get(config, "general", "run_name") or path.stem
    description = (f"Imported from SCALE-Sim config {path.name}: {rows}x{cols} "
                   f"{dataflow.upper()}, SRAM ifmap/filter/ofmap "
                   f"{sram['IfmapSramSzkB'] // 1024}/{sram['FilterSramSzkB'] // 1024}/"
                   f"{sram['OfmapSramSzkB'] // 1024} KiB, {bandwidth_words} B/cycle at an assumed "
                   f"{SCALESIM_CLOCK_MHZ:g} MHz")
    if notes:
        description += "; " + "; ".join(notes)
    return {
        "name": name.strip('"'),
        "kind": "systolic",
        "description": description,
        "source": f"SCALE-Sim config {path}",
        "clock_mhz": SCALESIM_CLOCK_MHZ,
        "precision": {"weight_bits": 8, "activation_bits": 8, "accumulator_bits": 32,
                      "number_format": "int"},
        "array": {"rows": rows, "cols": cols, "dataflow": dataflow},
        "memory": {"style": "split", "ifmap_sram_bytes": sram["IfmapSramSzkB"],
                   "filter_sram_bytes": sram["FilterSramSzkB"],
                   "ofmap_sram_bytes": sram["OfmapSramSzkB"], "double_buffered": True},
        # 1-byte words: words/cycle x cycles/s = bytes/s; at 1 GHz, GB/s = words/cycle
        "dram": {"bandwidth_gbps": bandwidth_words * SCALESIM_CLOCK_MHZ / 1000.0},
    }
