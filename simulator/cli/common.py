"""Argument helpers shared by subcommands.

Light on purpose: building the parser (`npusim --help`) imports this module and argparse only;
models and readers are imported inside the helpers that need them.
"""

from __future__ import annotations

import argparse
import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from simulator.core.arch import ArchBase, Precision
    from simulator.core.workload import Workload

#: `--precision` names -> `Precision` fields.
PRECISIONS: dict[str, dict[str, Any]] = {
    "int4": {"weight_bits": 4, "activation_bits": 4},
    "int8": {"weight_bits": 8, "activation_bits": 8},
    "int8x16": {"weight_bits": 8, "activation_bits": 16},
    "int16": {"weight_bits": 16, "activation_bits": 16},
    "fp16": {"weight_bits": 16, "activation_bits": 16, "number_format": "fp"},
    "fp32": {"weight_bits": 32, "activation_bits": 32, "number_format": "fp"},
}


@contextmanager
def start_up() -> Iterator[None]:
    """Around a command's imports and input loading: they allocate many long-lived objects
    (modules, model classes, the arch and the workload) and hardly any garbage, yet the
    collector's full passes over them cost 5-10 % of `npusim run tpu_v1 resnet50`. Collection
    is off meanwhile; then those objects are frozen out of later passes (`gc.freeze`) and
    collection resumes, so the simulation collects as usual (and faster)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def add_arch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override an arch field, e.g. --set array.rows=128 (repeatable)")
    parser.add_argument("--batch", type=int, default=None, help="override the workload batch size")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default=None,
                        help="operand precision of the run (default: the workload's, else the arch's)")


def add_compress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--compress", default=None, metavar="SPEC",
                        help="compress the workload first, e.g. prune=0.9,wbits=4,share=16,"
                        "huffman,winograd=f4 (docs/compression.md); it starts from the run's "
                        "precision")


def add_mapping_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mapping", default=None, metavar="FILE",
                        help="pin layers' mappings from a YAML/JSON file ({layer: {key: value}}) "
                        "or a run's own JSON (-o run.json), docs/formats.md")
    parser.add_argument("--map", dest="map_items", action="append", default=[],
                        metavar="LAYER.KEY=VALUE",
                        help="pin one mapping choice of one layer, e.g. --map conv1.tile_m=256 "
                        "(repeatable; wins over --mapping)")


def mapping_overrides(arch: "ArchBase", args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The per-layer mapping overrides of `--mapping FILE` and `--map LAYER.KEY=VALUE`."""
    if not args.mapping and not args.map_items:
        return {}
    from simulator.core.errors import NpusimError
    from simulator.io.mapping import merge_mappings, parse_map_items, read_mapping_file
    from simulator.kinds.registry import kind_of

    kind = kind_of(arch)
    if not kind.mapping_keys:
        raise NpusimError(f"the {arch.kind} engine's mapping is fixed by the hardware; there is "
                          "nothing to pin", field="--mapping" if args.mapping else "--map",
                          fix="drop --mapping / --map; change the arch with --set instead")
    from_file = read_mapping_file(args.mapping, kind.mapping_keys) if args.mapping else {}
    return merge_mappings(from_file, parse_map_items(args.map_items))


def name_mapping_source(error: Exception, args: argparse.Namespace) -> None:
    """Blame an engine's refusal of a mapping override (`field 'mapping.LAYER.KEY'`) on where
    the override came from: the `--map` item that set it, else the `--mapping` file."""
    from simulator.core.errors import NpusimError

    field = getattr(error, "field", None) or ""
    if not isinstance(error, NpusimError) or error.file or not field.startswith("mapping."):
        return
    target = field[len("mapping."):]
    given = [item for item in args.map_items
             if (set_at := item.partition("=")[0].strip()) == target
             or set_at.startswith(target + ".")]
    if given:
        error.file, error.field = None, f"--map {given[-1]}"
    else:
        error.file = args.mapping
    error.args = (error.one_line(),)


def compress_workload(workload: "Workload", arch: "ArchBase", spec: str | None) -> "Workload":
    """The workload after `--compress SPEC` (unchanged without one), applied at the run's
    precision: the workload's (or `--precision`'s), else the arch's native one
    (`simulator.compress.apply.compress_for_run`)."""
    if not spec:
        return workload
    from simulator.compress.apply import compress_for_run
    return compress_for_run(workload, spec, workload.precision or arch.precision)


def parse_precision(name: str | None) -> "Precision | None":
    """The `Precision` named by `--precision` (a new model each call), or None."""
    if not name:
        return None
    from simulator.core.arch import Precision
    return Precision(**PRECISIONS[name])


def input_shapes(items: list[str]) -> dict[str, list[int]] | list[int] | None:
    """`--input-shape` values (ONNX inputs): one bare `1x3x224x224`, or `NAME=SHAPE` each."""
    if not items:
        return None
    from simulator.core.errors import NpusimError
    from simulator.io.onnx.reader import parse_shape

    if len(items) == 1 and "=" not in items[0]:
        return parse_shape(items[0])
    shapes: dict[str, list[int]] = {}
    for item in items:
        if "=" not in item:
            raise NpusimError(f"--input-shape {item!r} needs a NAME= when several are given",
                              field="--input-shape", fix="write e.g. --input-shape x=1x3x224x224")
        name, text = item.rsplit("=", 1)
        shapes[name.strip()] = parse_shape(text)
    return shapes


#: What `-o FILE` writes when `--format` is not given, by the file's suffix.
SUFFIX_FORMATS = {".json": "json", ".csv": "csv", ".md": "md", ".markdown": "md",
                  ".html": "html", ".htm": "html", ".txt": "table"}


def _suffixes(formats: tuple[str, ...]) -> str:
    return ", ".join(s for s, f in SUFFIX_FORMATS.items()
                     if f in formats and s not in (".markdown", ".htm"))


def add_format_options(parser: argparse.ArgumentParser, formats: tuple[str, ...],
                       what: str = "the output") -> None:
    """`--format` (default: from the `-o` suffix, else the terminal table) and `-o FILE`."""
    suffixes = _suffixes(formats)
    parser.add_argument("--format", choices=formats, default=None,
                        help=f"format of {what} (default: from the -o suffix ({suffixes}), "
                        "else a table in the terminal)")
    parser.add_argument("-o", "--output", default=None,
                        help="write to this file instead of the terminal")


def output_format(fmt: str | None, output: str | None, formats: tuple[str, ...]) -> str:
    """The format to write: `--format` when given, else the one the `-o` suffix names
    (`x.json` -> json, `x.csv` -> csv, `x.md` -> md, `x.html` -> html, `x.txt` -> table),
    else `table` (the terminal). A suffix that names no format this command writes is a
    one-line error, never a silent guess."""
    if fmt:
        return fmt
    if output is None:
        return "table"
    suffix = Path(output).suffix.lower()
    inferred = SUFFIX_FORMATS.get(suffix)
    if inferred in formats:
        return inferred
    from simulator.core.errors import NpusimError
    raise NpusimError(f"cannot tell the output format from the file name "
                      f"({repr(suffix) if suffix else 'no suffix'})", file=output, field="-o",
                      fix=f"end the file in {_suffixes(formats)}, or give --format "
                      f"{'|'.join(formats)}")


def write_text(text: str, output: str | None) -> None:
    """Print to stdout, or write to a file when `output` is given."""
    if output is None:
        print(text)
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
    except OSError as exc:
        from simulator.core.errors import NpusimError
        raise NpusimError(f"cannot write output: {exc.strerror}", file=output,
                          fix="choose a writable path") from None


def positive_batch(batch: int | None) -> int | None:
    if batch is None:
        return batch
    from simulator.core.errors import NpusimError
    from simulator.core.limits import MAX_INT, describe_int, power_of_two
    if batch <= 0:
        raise NpusimError(f"batch must be positive, got {describe_int(batch)}", field="--batch",
                          fix="use --batch 1 or more")
    if batch > MAX_INT:
        raise NpusimError(f"batch {describe_int(batch)} is over the limit "
                          f"{power_of_two(MAX_INT)}", field="--batch",
                          fix="see Limits in docs/formats.md")
    return batch
